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

CREATE TABLE IF NOT EXISTS reminders
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
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(sent_at)
ORDER BY (invoice_id, reminder_id)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'Reminder events (topic reminders), one row per reminder. Dedup key (invoice_id, reminder_id): read with FINAL.';

CREATE TABLE IF NOT EXISTS payment_allocations
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
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(paid_at)
ORDER BY (payment_id, allocation_index)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'Payment events (topic payments), one row per allocation (payment x invoice). Dedup key (payment_id, allocation_index): read with FINAL.';

CREATE TABLE IF NOT EXISTS invoices
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
ENGINE = ReplacingMergeTree
ORDER BY invoice_id
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'Invoice events (topic invoices, optional enrichment), one row per invoice, the last written wins. Read with FINAL.';
