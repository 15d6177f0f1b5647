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

CREATE TABLE IF NOT EXISTS attribution_facts
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
ENGINE = ReplacingMergeTree(version, is_deleted)
PARTITION BY toYYYYMM(paid_at)
ORDER BY (payment_id, allocation_index, horizon, reminder_id)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'Attribution facts: allocation x horizon x credited reminder (or none), with credited amount and the dimensions of the payment and of the reminder. Read with FINAL.';
