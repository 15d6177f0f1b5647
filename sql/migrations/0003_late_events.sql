-- Events that arrived after their invoice state was dropped (beyond
-- retention): they cannot correct the attribution any more, so they are
-- counted, logged and kept here, never silently dropped (SPEC section 3).

CREATE TABLE IF NOT EXISTS late_events
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
ENGINE = ReplacingMergeTree
ORDER BY (topic, `partition`, `offset`, event_id)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'Events too late to be applied (beyond retention), keyed by Kafka record and event_id so a replay does not duplicate them. Read with FINAL.';
