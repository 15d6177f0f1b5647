-- migration 0000_schema_migrations (sha256 35b428a92f17)

CREATE DATABASE IF NOT EXISTS relance ON CLUSTER relance_cluster;

-- Bootstrap: the ledger of applied migrations. sinks.Migrate runs this file
-- first on every call (it is re-runnable) and then applies, in version
-- order, every migration not yet recorded here.
--
-- Conventions for every migration file in this folder:
--   * name: NNNN_what.sql, versions increasing, never renumbered or edited
--     once released (the checksum is recorded: add a new file instead)
--   * statements end with a semicolon at the end of a line, and there is
--     no semicolon anywhere else (not in comments, not in strings)
--   * every statement is re-runnable (IF NOT EXISTS) and tables are
--     unqualified: the store selects the database
--   * every table and every column has a COMMENT stating meaning and unit

CREATE TABLE IF NOT EXISTS schema_migrations ON CLUSTER relance_cluster
(
    version    UInt32                  COMMENT 'Migration version: the NNNN prefix of the file name in sql/migrations.',
    name       String                  COMMENT 'Migration file name without the .sql suffix, e.g. 0001_raw_events.',
    applied_at DateTime64(3, 'UTC')   COMMENT 'When the migration finished applying, UTC, millisecond precision.',
    checksum   String                  COMMENT 'SHA-256 (hex) of the migration file as applied. A different checksum for an applied version means the file was edited after release.'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/{database}/schema_migrations', '{shard}-{replica}', applied_at)
ORDER BY version
COMMENT 'Ledger of applied schema migrations (sql/migrations). One row per version, read with FINAL.';

-- migration 0001_raw_events (sha256 1b79d23b241f)

-- Raw events as consumed from Kafka (topics reminders, payments, invoices),
-- one table per topic. They are the ground truth the attribution is
-- computed from, and the input of the ASOF JOIN oracle (SPEC section 3).
--
-- Idempotence: each table is a ReplacingMergeTree whose ORDER BY is the
-- business key of the event, so a replayed or duplicated event collapses to
-- one row under FINAL (or after merges). Read with FINAL.
-- Caveat: rows collapse only within one partition, so a corrected event
-- whose partition month changed (sent_at, paid_at) keeps both versions.
--
-- source_partition and source_offset locate the Kafka record. They are -1
-- until the pipeline passes them to the sink.

CREATE TABLE IF NOT EXISTS reminders_local ON CLUSTER relance_cluster
(
    event_id          String                          COMMENT 'Unique id of the reminder event (producer-assigned). Two rows with the same (invoice_id, reminder_id) are the same reminder.',
    reminder_id       String                          COMMENT 'Id of the dunning action in the source system.',
    invoice_id        String                          COMMENT 'Invoice the reminder is about.',
    customer_id       String                          COMMENT 'Customer owing the invoice (the Kafka key).',
    sent_at           DateTime64(3, 'UTC')            COMMENT 'When the reminder was sent (or, for a holdout, when it would have been), UTC, millisecond precision.',
    channel           LowCardinality(String)          COMMENT 'Channel used: email, sms, phone, letter, portal, ... (open set).',
    level             Int32                           COMMENT 'Reminder level: 0 = preventive notice before the due date, 1..n = reminders after it.',
    final_notice      UInt8                           COMMENT '1 when this is the last reminder before a formal demand, else 0.',
    plan              LowCardinality(String)          COMMENT 'Name of the dunning plan the reminder belongs to, e.g. PME.',
    sender            LowCardinality(String)          COMMENT 'Collector (person or team) who sent the reminder.',
    amount_due_minor  Int64                           COMMENT 'Outstanding amount reminded, in minor units of currency (cents for EUR).',
    currency          LowCardinality(String)          COMMENT 'ISO 4217 currency code of amount_due_minor, e.g. EUR.',
    invoice_due_date  Date                            COMMENT 'Due date of the invoice (calendar date). dpd = date(sent_at) - invoice_due_date, in days.',
    holdout           UInt8                           COMMENT '1 when the reminder was scheduled but deliberately not sent (control group): never credited.',
    attributes        Map(String, String)             COMMENT 'Custom segment fields of the reminder, e.g. customer_segment, business_unit, country.',
    ingested_at       DateTime64(3, 'UTC') DEFAULT now64(3) COMMENT 'When relance wrote the row, UTC, millisecond precision.',
    source_partition  Int32 DEFAULT -1                COMMENT 'Kafka partition of the reminders topic the event was read from, -1 when unknown.',
    source_offset     Int64 DEFAULT -1                COMMENT 'Kafka offset of the event in source_partition, -1 when unknown.'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/reminders', '{replica}')
PARTITION BY toYYYYMM(sent_at)
ORDER BY (invoice_id, reminder_id)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'Reminder events (topic reminders), one row per reminder. Dedup key (invoice_id, reminder_id): read with FINAL.';

CREATE TABLE IF NOT EXISTS reminders ON CLUSTER relance_cluster AS reminders_local
ENGINE = Distributed(relance_cluster, relance, reminders_local, cityHash64(invoice_id))
COMMENT 'Reminder events (topic reminders), one row per reminder. Dedup key (invoice_id, reminder_id): read with FINAL.';

CREATE TABLE IF NOT EXISTS payment_allocations_local ON CLUSTER relance_cluster
(
    event_id          String                          COMMENT 'Unique id of the payment event (producer-assigned).',
    payment_id        String                          COMMENT 'Id of the bank payment in the source system.',
    allocation_index  UInt16                          COMMENT 'Position (0-based) of this allocation in the payment allocations array.',
    customer_id       String                          COMMENT 'Customer who paid (the Kafka key).',
    invoice_id        String                          COMMENT 'Invoice this allocation settles (partially or fully).',
    paid_at           DateTime64(3, 'UTC')            COMMENT 'When the payment was made, UTC, millisecond precision.',
    method            LowCardinality(String)          COMMENT 'Payment method: transfer, card, direct_debit, cheque, ... (open set).',
    currency          LowCardinality(String)          COMMENT 'ISO 4217 currency code of amount_minor, e.g. EUR.',
    amount_minor      Int64                           COMMENT 'Amount of the payment allocated to invoice_id, in minor units of currency (cents for EUR).',
    allocations_count UInt16                          COMMENT 'Number of allocations in the payment (how many invoices it settles).',
    source_partition  Int32 DEFAULT -1                COMMENT 'Kafka partition of the payments topic the event was read from, -1 when unknown.',
    source_offset     Int64 DEFAULT -1                COMMENT 'Kafka offset of the event in source_partition, -1 when unknown.',
    ingested_at       DateTime64(3, 'UTC') DEFAULT now64(3) COMMENT 'When relance wrote the row, UTC, millisecond precision.'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/payment_allocations', '{replica}')
PARTITION BY toYYYYMM(paid_at)
ORDER BY (payment_id, allocation_index)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'Payment events (topic payments), one row per allocation (payment x invoice). Dedup key (payment_id, allocation_index): read with FINAL.';

CREATE TABLE IF NOT EXISTS payment_allocations ON CLUSTER relance_cluster AS payment_allocations_local
ENGINE = Distributed(relance_cluster, relance, payment_allocations_local, cityHash64(payment_id))
COMMENT 'Payment events (topic payments), one row per allocation (payment x invoice). Dedup key (payment_id, allocation_index): read with FINAL.';

CREATE TABLE IF NOT EXISTS invoices_local ON CLUSTER relance_cluster
(
    event_id          String                          COMMENT 'Unique id of the invoice event (producer-assigned).',
    invoice_id        String                          COMMENT 'Id of the invoice in the source system.',
    customer_id       String                          COMMENT 'Customer owing the invoice (the Kafka key).',
    issued_at         DateTime64(3, 'UTC')            COMMENT 'When the invoice was issued, UTC, millisecond precision.',
    due_date          Date                            COMMENT 'Due date of the invoice (calendar date).',
    amount_minor      Int64                           COMMENT 'Invoice total, in minor units of currency (cents for EUR).',
    currency          LowCardinality(String)          COMMENT 'ISO 4217 currency code of amount_minor, e.g. EUR.',
    status            LowCardinality(String)          COMMENT 'Invoice status: issued, cancelled, credited or disputed.',
    attributes        Map(String, String)             COMMENT 'Custom segment fields of the invoice, e.g. customer_segment, business_unit, country.',
    ingested_at       DateTime64(3, 'UTC') DEFAULT now64(3) COMMENT 'When relance wrote the row, UTC, millisecond precision. The latest written row of an invoice wins under FINAL.',
    source_partition  Int32 DEFAULT -1                COMMENT 'Kafka partition of the invoices topic the event was read from, -1 when unknown.',
    source_offset     Int64 DEFAULT -1                COMMENT 'Kafka offset of the event in source_partition, -1 when unknown.'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/invoices', '{replica}')
ORDER BY invoice_id
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'Invoice events (topic invoices, optional enrichment), one row per invoice, the last written wins. Read with FINAL.';

CREATE TABLE IF NOT EXISTS invoices ON CLUSTER relance_cluster AS invoices_local
ENGINE = Distributed(relance_cluster, relance, invoices_local, cityHash64(invoice_id))
COMMENT 'Invoice events (topic invoices, optional enrichment), one row per invoice, the last written wins. Read with FINAL.';

-- migration 0002_attribution (sha256 7069795b2fdf)

-- Attribution facts: the output of the joiner (stream.Fact), one row per
-- (allocation x horizon x credited reminder), or one row with reminder_id ''
-- when the allocation has no candidate within the horizon (collected without
-- reminder). Under last_touch and first_touch there is one row per
-- (allocation, horizon), under linear and time_decay one per candidate.
--
-- Idempotence and corrections: ReplacingMergeTree(version, is_deleted) keyed
-- by (payment_id, allocation_index, horizon, reminder_id). A rewrite of a key
-- carries a higher version, a retraction (the credit moved to another
-- reminder after a late event) carries is_deleted = 1. Queries MUST read the
-- table with FINAL, which keeps the highest version and drops deleted keys.

CREATE TABLE IF NOT EXISTS attribution_facts_local ON CLUSTER relance_cluster
(
    payment_event_id          String                  COMMENT 'event_id of the payment event the allocation comes from.',
    payment_id                String                  COMMENT 'Id of the bank payment.',
    allocation_index          UInt16                  COMMENT 'Position (0-based) of the allocation in the payment, as in payment_allocations.',
    invoice_id                String                  COMMENT 'Invoice the allocation settles.',
    customer_id               String                  COMMENT 'Customer who paid.',
    paid_at                   DateTime64(3, 'UTC')    COMMENT 'When the payment was made, UTC, millisecond precision. Its month is the payment month of the KPIs.',
    amount_minor              Int64                   COMMENT 'Amount of the allocation (not the credit), in minor units of currency. Repeated on every row of the allocation: sum it over DISTINCT (payment_id, allocation_index).',
    currency                  LowCardinality(String)  COMMENT 'ISO 4217 currency code of every amount on the row, e.g. EUR.',
    method                    LowCardinality(String)  COMMENT 'Payment method: transfer, card, direct_debit, cheque, ...',
    horizon                   LowCardinality(String)  COMMENT 'Observation horizon label: whole days as 7d, 15d, 30d, else a Go duration such as 36h0m0s.',
    horizon_seconds           UInt32                  COMMENT 'Observation horizon in seconds (7d = 604800).',
    model                     LowCardinality(String)  COMMENT 'Attribution model: last_touch, first_touch, linear or time_decay.',
    matched                   UInt8                   COMMENT '1 when the allocation has at least one candidate reminder within the horizon, 0 when collected without reminder.',
    candidates                UInt16                  COMMENT 'Number of candidate (sent, non-holdout) reminders on the invoice within the horizon before paid_at.',
    reminder_id               String                  COMMENT 'Credited reminder, empty string when matched = 0.',
    reminder_event_id         String                  COMMENT 'event_id of the credited reminder event, empty string when matched = 0.',
    sent_at                   DateTime64(3, 'UTC')    COMMENT 'When the credited reminder was sent, UTC, 1970-01-01 00:00:00.000 when matched = 0. Its month is the reminder cohort of the KPIs.',
    lag_ms                    Int64                   COMMENT 'paid_at - sent_at in milliseconds (days-to-pay after reminder), 0 when matched = 0.',
    credited_minor            Int64                   COMMENT 'Part of the allocation credited to this reminder under the model, in minor units of currency. Credits of one allocation and horizon sum exactly to amount_minor when matched, 0 otherwise.',
    channel                   LowCardinality(String)  COMMENT 'Channel of the credited reminder, empty when matched = 0.',
    level                     Int32                   COMMENT 'Level of the credited reminder (0 = preventive, 1..n after the due date), 0 when matched = 0.',
    final_notice              UInt8                   COMMENT '1 when the credited reminder was a final notice, else 0.',
    plan                      LowCardinality(String)  COMMENT 'Dunning plan of the credited reminder, empty when matched = 0.',
    sender                    LowCardinality(String)  COMMENT 'Collector who sent the credited reminder, empty when matched = 0.',
    reminder_amount_due_minor Int64                   COMMENT 'Outstanding amount stated by the credited reminder, in minor units of currency, 0 when matched = 0.',
    invoice_due_date          Date                    COMMENT 'Invoice due date as stated by the credited reminder, 1970-01-01 when matched = 0.',
    dpd                       Int32                   COMMENT 'Days past due of the credited reminder: date(sent_at) - invoice_due_date in days, negative for preventive reminders, 0 when matched = 0.',
    attributes                Map(String, String)     COMMENT 'Custom segment fields of the credited reminder (customer_segment, business_unit, ...), empty when matched = 0.',
    version                   UInt64                  COMMENT 'Version of this key (payment_id, allocation_index, horizon, reminder_id): the highest wins under FINAL.',
    is_deleted                UInt8                   COMMENT '1 retracts the key (the credit moved elsewhere): FINAL then hides it.',
    written_at                DateTime64(3, 'UTC') DEFAULT now64(3) COMMENT 'When relance wrote the row, UTC, millisecond precision.'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/attribution_facts', '{replica}', version, is_deleted)
PARTITION BY toYYYYMM(paid_at)
ORDER BY (payment_id, allocation_index, horizon, reminder_id)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'Attribution facts: allocation x horizon x credited reminder (or none), with credited amount and the dimensions of the payment and of the reminder. Read with FINAL.';

CREATE TABLE IF NOT EXISTS attribution_facts ON CLUSTER relance_cluster AS attribution_facts_local
ENGINE = Distributed(relance_cluster, relance, attribution_facts_local, cityHash64(invoice_id))
COMMENT 'Attribution facts: allocation x horizon x credited reminder (or none), with credited amount and the dimensions of the payment and of the reminder. Read with FINAL.';

-- migration 0003_late_events (sha256 6c719279a3fc)

-- Events that arrived after their invoice state was dropped (beyond
-- retention): they cannot correct the attribution any more, so they are
-- counted, logged and kept here, never silently dropped (SPEC section 3).

CREATE TABLE IF NOT EXISTS late_events_local ON CLUSTER relance_cluster
(
    topic        LowCardinality(String)  COMMENT 'Kafka topic the event was read from: reminders, payments or invoices.',
    `partition`  Int32 DEFAULT -1        COMMENT 'Kafka partition of the record, -1 when unknown.',
    `offset`     Int64                   COMMENT 'Kafka offset of the record in its partition.',
    event_id     String                  COMMENT 'event_id of the late event.',
    event_time   DateTime64(3, 'UTC')    COMMENT 'Event time of the late event (sent_at, paid_at or issued_at), UTC, millisecond precision.',
    reason       LowCardinality(String)  COMMENT 'Why the event could not be applied, e.g. beyond_retention.',
    payload_json String                  COMMENT 'The decoded event as JSON, for replay or manual correction.',
    recorded_at  DateTime64(3, 'UTC') DEFAULT now64(3) COMMENT 'When relance recorded the late event, UTC, millisecond precision.'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/late_events', '{replica}')
ORDER BY (topic, `partition`, `offset`, event_id)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'Events too late to be applied (beyond retention), keyed by Kafka record and event_id so a replay does not duplicate them. Read with FINAL.';

CREATE TABLE IF NOT EXISTS late_events ON CLUSTER relance_cluster AS late_events_local
ENGINE = Distributed(relance_cluster, relance, late_events_local, cityHash64(event_id))
COMMENT 'Events too late to be applied (beyond retention), keyed by Kafka record and event_id so a replay does not duplicate them. Read with FINAL.';

-- migration 0004_reminder_outcomes (sha256 55df22712e64)

-- Reminder outcomes: what became of each reminder within each horizon. One
-- row per (reminder, horizon), holdouts included (they are the control
-- group: collected but never credited). A row is provisional until the
-- pipeline's watermark passes sent_at + horizon, then final. A late event
-- within retention can still rewrite it with a higher version.
--
-- Idempotence: ReplacingMergeTree(version) keyed by (invoice_id,
-- reminder_id, horizon). Read with FINAL.

CREATE TABLE IF NOT EXISTS reminder_outcomes_local ON CLUSTER relance_cluster
(
    reminder_id       String                  COMMENT 'Id of the reminder.',
    reminder_event_id String                  COMMENT 'event_id of the reminder event.',
    invoice_id        String                  COMMENT 'Invoice the reminder is about.',
    customer_id       String                  COMMENT 'Customer reminded.',
    sent_at           DateTime64(3, 'UTC')    COMMENT 'When the reminder was sent (or, for a holdout, scheduled), UTC. Its month is the reminder cohort.',
    horizon           LowCardinality(String)  COMMENT 'Observation horizon label: 7d, 15d, 30d, or a Go duration such as 36h0m0s.',
    horizon_seconds   UInt32                  COMMENT 'Observation horizon in seconds.',
    model             LowCardinality(String)  COMMENT 'Attribution model the credited amount follows.',
    holdout           UInt8                   COMMENT '1 when the reminder was withheld (control group): never credited.',
    channel           LowCardinality(String)  COMMENT 'Channel of the reminder.',
    level             Int32                   COMMENT 'Level of the reminder (0 = preventive).',
    final_notice      UInt8                   COMMENT '1 when the reminder was a final notice.',
    plan              LowCardinality(String)  COMMENT 'Dunning plan of the reminder.',
    sender            LowCardinality(String)  COMMENT 'Collector who sent the reminder.',
    currency          LowCardinality(String)  COMMENT 'ISO 4217 currency of the amounts.',
    amount_due_minor  Int64                   COMMENT 'Outstanding amount stated by the reminder, in minor units.',
    invoice_due_date  Date                    COMMENT 'Due date of the invoice.',
    attributes        Map(String, String)     COMMENT 'Custom segment fields of the reminder.',
    collected_minor   Int64                   COMMENT 'Allocations on the invoice paid in [sent_at, sent_at + horizon], whoever is credited, in minor units (may exceed amount_due_minor: cap it when reading a rate).',
    allocations       UInt32                  COMMENT 'Number of allocations counted in collected_minor.',
    credited_minor    Int64                   COMMENT 'Part of collected_minor credited to this reminder under the model, in minor units, 0 for holdouts.',
    is_final          UInt8                   COMMENT '1 once the watermark has passed sent_at + horizon (the outcome is complete), 0 while provisional.',
    version           UInt64                  COMMENT 'Version of this key: the highest wins under FINAL.',
    written_at        DateTime64(3, 'UTC') DEFAULT now64(3) COMMENT 'When relance wrote the row, UTC.'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/reminder_outcomes', '{replica}', version)
PARTITION BY toYYYYMM(sent_at)
ORDER BY (invoice_id, reminder_id, horizon)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'Reminder outcomes: per reminder and horizon, amount due, collected within the horizon, credited, final or provisional. Read with FINAL.';

CREATE TABLE IF NOT EXISTS reminder_outcomes ON CLUSTER relance_cluster AS reminder_outcomes_local
ENGINE = Distributed(relance_cluster, relance, reminder_outcomes_local, cityHash64(invoice_id))
COMMENT 'Reminder outcomes: per reminder and horizon, amount due, collected within the horizon, credited, final or provisional. Read with FINAL.';

-- migration 0010_kpi_functions (sha256 e0f9d6eba818)

-- KPI helper functions shared by every named query in sql/queries/.
-- SQL UDFs are server-wide objects (not per database), so CREATE OR REPLACE keeps
-- this migration re-runnable and lets a later version change a definition.

-- relance_dpd_bucket labels days past due with configurable edges, e.g.
-- edges [0,30,60,90]: < 0 'preventive', [0,30) '0-30', … , >= 90 '90+'.
CREATE OR REPLACE FUNCTION relance_dpd_bucket ON CLUSTER relance_cluster AS (dpd, edges) -> multiIf(dpd < edges[1], 'preventive', dpd >= edges[-1], concat(toString(edges[-1]), '+'), concat(toString(edges[arrayCount(e -> e <= dpd, edges)]), '-', toString(edges[arrayCount(e -> e <= dpd, edges) + 1])));

-- relance_segment returns a reminder's value for a segment dimension: one of
-- channel, level, final_notice, dpd_bucket, sender, plan, all, or else the
-- name of an attribute key. dpd is computed by the caller from sent_at and
-- invoice_due_date in the report time zone.
CREATE OR REPLACE FUNCTION relance_segment ON CLUSTER relance_cluster AS (dimension, channel, level, final_notice, plan, sender, dpd, edges, attributes) -> multiIf(dimension = 'channel', toString(channel), dimension = 'level', toString(level), dimension = 'final_notice', if(final_notice != 0, 'final', 'not_final'), dimension = 'dpd_bucket', relance_dpd_bucket(dpd, edges), dimension = 'sender', toString(sender), dimension = 'plan', toString(plan), dimension = 'all', 'all', attributes[dimension]);

-- migration 0011_attribution_skip_indexes (sha256 dcb24e7ced62)

-- A data-skipping index for the dashboards' reads of attribution_facts.
--
-- The table is ordered by payment (the key of its deduplication), so a
-- filter on the reminder's sent_at (the collection-rate drop windows, the
-- cohort months of days to pay, a dashboard time range) cannot use the
-- primary index. Within a payment-month partition the reminders' sent_at
-- spans roughly that month and the horizon before it: a minmax index per
-- granule lets such a filter skip the granules of other months. It is used
-- under FINAL too: use_skip_indexes_if_final and its exact mode are on by
-- default in ClickHouse 26.5, the release relance is tested on.
--
-- No index on horizon: every allocation's rows for all its horizons are
-- adjacent in the sort order, so every granule holds every horizon and a
-- set index on it would skip nothing.
--
-- Re-runnable: ADD INDEX IF NOT EXISTS is a no-op once the index exists,
-- and MATERIALIZE INDEX (which builds it for the parts written before this
-- migration, as a background mutation) only rebuilds it.

ALTER TABLE attribution_facts_local ON CLUSTER relance_cluster ADD INDEX IF NOT EXISTS idx_sent_at sent_at TYPE minmax GRANULARITY 1;

ALTER TABLE attribution_facts_local ON CLUSTER relance_cluster MATERIALIZE INDEX idx_sent_at;

-- migration 0012_dpd_comment (sha256 514f3bb51777)

-- The comment of attribution_facts.dpd said how it is computed but not in
-- which time zone: the stored value takes the date of sent_at in UTC, while
-- the named queries take it in their report time zone (tz), so the two can
-- differ by a day for a reminder sent near midnight (SEMANTICS §5). The
-- column is kept as it is, and its comment now says so, where data engineers
-- read it.
--
-- Re-runnable: setting a comment again is a no-op.

ALTER TABLE attribution_facts_local ON CLUSTER relance_cluster COMMENT COLUMN dpd 'Days past due of the credited reminder: the UTC date of sent_at - invoice_due_date, in days, negative for preventive reminders, 0 when matched = 0. The named queries compute dpd from the date in their report time zone (tz) instead: near midnight the two can differ by a day.';

-- The comment of attribution_facts.dpd said how it is computed but not in
-- which time zone: the stored value takes the date of sent_at in UTC, while
-- the named queries take it in their report time zone (tz), so the two can
-- differ by a day for a reminder sent near midnight (SEMANTICS §5). The
-- column is kept as it is, and its comment now says so, where data engineers
-- read it.
--
-- Re-runnable: setting a comment again is a no-op.

ALTER TABLE attribution_facts ON CLUSTER relance_cluster COMMENT COLUMN dpd 'Days past due of the credited reminder: the UTC date of sent_at - invoice_due_date, in days, negative for preventive reminders, 0 when matched = 0. The named queries compute dpd from the date in their report time zone (tz) instead: near midnight the two can differ by a day.';

-- migration 0013_currency_units (sha256 c977e60af45d)

-- they used to divide by 100 whatever the currency, so yen amounts read a
-- hundred times too small. The lists are schemas.MinorDigits' (a test
-- checks that the two agree on every known code).
--
-- Re-runnable: CREATE OR REPLACE.
CREATE OR REPLACE FUNCTION relance_minor_per_unit ON CLUSTER relance_cluster AS (currency) -> multiIf(currency IN ('BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG', 'RWF', 'UGX', 'VND', 'VUV', 'XAF', 'XOF', 'XPF'), 1, currency IN ('BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND'), 1000, 100);

-- migration 0014_month_bounds (sha256 a8816e1845bc)

-- Month bounds for the named queries that take from and to: a month in any
-- time zone (UTC-12 to UTC+14) lies within a day of the same month in UTC,
-- so rows outside [relance_months_from(from), relance_months_until(to))
-- cannot be in the months asked for. The queries narrow their tables to
-- these bounds on the raw time columns (partition pruning), then apply the
-- exact month test in the report time zone.
--
-- Re-runnable: CREATE OR REPLACE.

-- relance_months_from: a day before the first instant, in UTC, of from's month.
CREATE OR REPLACE FUNCTION relance_months_from ON CLUSTER relance_cluster AS (from_date) -> toDateTime64(toStartOfMonth(from_date), 3, 'UTC') - INTERVAL 1 DAY;

-- relance_months_until: a day after the end, in UTC, of to's month.
CREATE OR REPLACE FUNCTION relance_months_until ON CLUSTER relance_cluster AS (to_date) -> toDateTime64(toStartOfMonth(to_date), 3, 'UTC') + INTERVAL 1 MONTH + INTERVAL 1 DAY;

