-- Days to pay after a reminder (SPEC §4): the distribution of paid_at -
-- sent_at over the credited allocations, per reminder cohort month, segment
-- value and currency, for one horizon (only payments within the horizon
-- are credited, so the lags are at most the horizon).
--   p50 / p90 = quantileExact: the lag at position floor(q × n) of the n
--   sorted lags (0-based), i.e. the upper median for an even n.
-- Each credited (allocation, reminder) row counts once, whatever its amount.
--
-- Months are Date32 (enable_extended_results_for_datetime_functions): the
-- facts' granules also hold unmatched rows, whose sent_at is 1970-01-01
-- 00:00 UTC, a date before 1970 in zones west of UTC that a Date month
-- wraps to 2149; the skip index on sent_at then judged every granule out
-- of the months asked for, and the query returned nothing for any from/to
-- in such zones (America/New_York included).
--
-- do_not_merge_across_partitions_select_final: FINAL merges a key's rows
-- within their partition (month), as background merges do (see migration
-- 0001), which lets the month bounds below skip whole partitions.
--
-- param: horizon String = 30d              -- observation window label, e.g. 7d, 15d, 30d
-- param: dimension String = channel        -- channel, level, final_notice, dpd_bucket, sender, plan, all, or an attribute key
-- param: tz String = Europe/Paris          -- report time zone: months and dpd dates are taken there
-- param: dpd_edges Array(Int32) = [0,30,60,90] -- dpd bucket edges
-- param: from Date = 1970-01-01            -- first cohort month (inclusive)
-- param: to Date = 2199-12-31              -- last cohort month (inclusive)
SELECT
    toStartOfMonth(sent_at, {tz:String}) AS month,
    relance_segment({dimension:String}, channel, level, final_notice, plan, sender,
                    dateDiff('day', invoice_due_date, toDate(sent_at, {tz:String})),
                    {dpd_edges:Array(Int32)}, attributes) AS segment,
    currency,
    count() AS credited_allocations,
    sum(credited_minor) AS collected_minor,
    quantileExact(0.5)(lag_ms) AS p50_lag_ms,
    quantileExact(0.9)(lag_ms) AS p90_lag_ms,
    round(p50_lag_ms / 86400000, 2) AS p50_days,
    round(p90_lag_ms / 86400000, 2) AS p90_days
FROM attribution_facts FINAL
WHERE horizon = {horizon:String} AND matched = 1 AND credited_minor > 0
  -- within a day of the months (any time zone), then the exact months
  AND sent_at >= relance_months_from({from:Date})
  AND sent_at < relance_months_until({to:Date})
  -- paid within the horizon after sent_at: the facts' partitions
  AND paid_at >= relance_months_from({from:Date})
  AND paid_at <= relance_months_until({to:Date}) + toIntervalMillisecond(toInt64(parseTimeDelta({horizon:String}) * 1000))
  AND toStartOfMonth(sent_at, {tz:String}) BETWEEN toStartOfMonth({from:Date}) AND {to:Date}
GROUP BY month, segment, currency
ORDER BY month, segment, currency
SETTINGS enable_extended_results_for_datetime_functions = 1, do_not_merge_across_partitions_select_final = 1
