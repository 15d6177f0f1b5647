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

ALTER TABLE attribution_facts ADD INDEX IF NOT EXISTS idx_sent_at sent_at TYPE minmax GRANULARITY 1;

ALTER TABLE attribution_facts MATERIALIZE INDEX idx_sent_at;
