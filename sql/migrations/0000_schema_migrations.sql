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

CREATE TABLE IF NOT EXISTS schema_migrations
(
    version    UInt32                  COMMENT 'Migration version: the NNNN prefix of the file name in sql/migrations.',
    name       String                  COMMENT 'Migration file name without the .sql suffix, e.g. 0001_raw_events.',
    applied_at DateTime64(3, 'UTC')   COMMENT 'When the migration finished applying, UTC, millisecond precision.',
    checksum   String                  COMMENT 'SHA-256 (hex) of the migration file as applied. A different checksum for an applied version means the file was edited after release.'
)
ENGINE = ReplacingMergeTree(applied_at)
ORDER BY version
COMMENT 'Ledger of applied schema migrations (sql/migrations). One row per version, read with FINAL.';
