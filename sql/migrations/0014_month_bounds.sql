-- Month bounds for the named queries that take from and to: a month in any
-- time zone (UTC-12 to UTC+14) lies within a day of the same month in UTC,
-- so rows outside [relance_months_from(from), relance_months_until(to))
-- cannot be in the months asked for. The queries narrow their tables to
-- these bounds on the raw time columns (partition pruning), then apply the
-- exact month test in the report time zone.
--
-- Re-runnable: CREATE OR REPLACE.

-- relance_months_from: a day before the first instant, in UTC, of from's month.
CREATE OR REPLACE FUNCTION relance_months_from AS (from_date) -> toDateTime64(toStartOfMonth(from_date), 3, 'UTC') - INTERVAL 1 DAY;

-- relance_months_until: a day after the end, in UTC, of to's month.
CREATE OR REPLACE FUNCTION relance_months_until AS (to_date) -> toDateTime64(toStartOfMonth(to_date), 3, 'UTC') + INTERVAL 1 MONTH + INTERVAL 1 DAY;
