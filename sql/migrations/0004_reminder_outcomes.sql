-- Reminder outcomes: what became of each reminder within each horizon. One
-- row per (reminder, horizon), holdouts included (they are the control
-- group: collected but never credited). A row is provisional until the
-- pipeline's watermark passes sent_at + horizon, then final. A late event
-- within retention can still rewrite it with a higher version.
--
-- Idempotence: ReplacingMergeTree(version) keyed by (invoice_id,
-- reminder_id, horizon). Read with FINAL.

CREATE TABLE IF NOT EXISTS reminder_outcomes
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
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(sent_at)
ORDER BY (invoice_id, reminder_id, horizon)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'Reminder outcomes: per reminder and horizon, amount due, collected within the horizon, credited, final or provisional. Read with FINAL.';
