-- Collection-rate drop per segment (SPEC §6, business alerting): the
-- post-reminder collection rate (SPEC §4) of a recent window of reminders
-- compared with the trailing baseline just before it, per segment value and
-- currency, for one horizon.
--   observed_until = the earlier of as_of and the latest event in the store
--                    (max sent_at of reminders, max paid_at of payments);
--   recent window  = reminders sent in [recent_end - recent_days, recent_end),
--                    recent_end = observed_until - horizon, or earlier where
--                    the join has not got that far: the sent_at of the
--                    earliest reminder whose outcome for the horizon is still
--                    provisional (the pipeline's watermark trails the latest
--                    event by the allowed lateness and waits for an input
--                    that is behind; payments it has not passed are not
--                    attributed yet). So every reminder compared has had its
--                    whole horizon observed and its payments attributed;
--   baseline       = reminders sent in the baseline_days before the recent window;
--   per window, as in post_reminder_rate: reminded_minor = amount due of the
--     non-holdout reminders, each invoice counted once per (period of
--     recent_days, segment value) at its first reminder there: once in the
--     recent window, once per slice of recent_days of the baseline (counted
--     back from the recent window's start; the oldest slice may be shorter).
--     Counted once in the whole baseline, an invoice reminded again weeks
--     later would weigh less there than in the recent window, and a steady
--     rate would look like a drop; collected_minor = amounts credited to
--     those reminders; rate = collected_minor / reminded_minor;
--     invoices = the (invoice, period) pairs counted;
--   drop   = 1 - recent_rate / baseline_rate (0.25 = the rate fell by a quarter);
--   firing = 1 when both windows have at least min_invoices invoices and
--            drop > max_drop, else 0.
-- One row per segment value and currency seen in either window; the
-- invoice counts sit beside the rates so that small segments can be told apart.
--
-- do_not_merge_across_partitions_select_final: FINAL merges a key's rows
-- within their partition (month), as background merges do (see migration
-- 0001), so that the windows read only their months' partitions.
--
-- param: horizon String = 7d               -- observation window label, e.g. 7d, 15d, 30d (any parseTimeDelta text)
-- param: dimension String = channel        -- channel, level, final_notice, dpd_bucket, sender, plan, all, or an attribute key
-- param: tz String = Europe/Paris          -- report time zone: dpd dates are taken there
-- param: dpd_edges Array(Int32) = [0,30,60,90] -- dpd bucket edges
-- param: as_of DateTime('UTC') = 2100-01-01 00:00:00 -- end of observation (UTC), e.g. now; later than the data = up to the latest event
-- param: recent_days UInt32 = 28           -- length of the recent window, in days (range 1..3660)
-- param: baseline_days UInt32 = 84         -- length of the trailing baseline window, in days (range 1..3660)
-- param: min_invoices UInt32 = 100         -- minimum invoices reminded in each window for a segment to fire
-- param: max_drop Float64 = 0.2            -- fire when recent_rate < baseline_rate x (1 - max_drop): 0.2 is 20 % (range 0..1)
WITH
    least(toDateTime64({as_of:DateTime('UTC')}, 3, 'UTC'),
          greatest((SELECT max(sent_at) FROM reminders FINAL),
                   (SELECT max(paid_at) FROM payment_allocations FINAL))) AS observed_until,
    subtractMilliseconds(observed_until, toInt64(parseTimeDelta({horizon:String}) * 1000)) AS observed_end,
    least(observed_end,
          coalesce((SELECT minOrNull(sent_at) FROM reminder_outcomes FINAL
                    WHERE horizon = {horizon:String} AND is_final = 0
                      AND sent_at >= subtractDays(observed_end, {recent_days:UInt32} + {baseline_days:UInt32})),
                   observed_end)) AS recent_end,
    subtractDays(recent_end, {recent_days:UInt32}) AS recent_start,
    subtractDays(recent_start, {baseline_days:UInt32}) AS baseline_start,
    reminded AS (
        SELECT period, segment, currency,
               sum(first_amount_due) AS reminded_minor,
               count() AS invoices
        FROM (
            SELECT if(sent_at >= recent_start, 'recent', 'baseline') AS period,
                   -- the baseline in slices as long as the recent window,
                   -- back from its start: an invoice counts once per slice
                   if(sent_at >= recent_start, 0,
                      intDiv(dateDiff('millisecond', sent_at, recent_start) - 1,
                             toInt64({recent_days:UInt32}) * 86400000)) AS slice,
                   relance_segment({dimension:String}, channel, level, final_notice, plan, sender,
                                   dateDiff('day', invoice_due_date, toDate(sent_at, {tz:String})),
                                   {dpd_edges:Array(Int32)}, attributes) AS segment,
                   currency,
                   invoice_id,
                   argMin(amount_due_minor, (sent_at, reminder_id)) AS first_amount_due
            FROM reminders FINAL
            WHERE holdout = 0 AND sent_at >= baseline_start AND sent_at < recent_end
            GROUP BY period, slice, segment, currency, invoice_id
        )
        GROUP BY period, segment, currency
    ),
    collected AS (
        SELECT if(sent_at >= recent_start, 'recent', 'baseline') AS period,
               relance_segment({dimension:String}, channel, level, final_notice, plan, sender,
                               dateDiff('day', invoice_due_date, toDate(sent_at, {tz:String})),
                               {dpd_edges:Array(Int32)}, attributes) AS segment,
               currency,
               sum(credited_minor) AS collected_minor
        FROM attribution_facts FINAL
        WHERE horizon = {horizon:String} AND matched = 1 AND sent_at >= baseline_start AND sent_at < recent_end
          -- paid within the horizon after sent_at: the facts' partitions
          AND paid_at >= baseline_start
          AND paid_at <= recent_end + toIntervalMillisecond(toInt64(parseTimeDelta({horizon:String}) * 1000))
        GROUP BY period, segment, currency
    )
SELECT
    r.segment AS segment,
    r.currency AS currency,
    sumIf(r.invoices, r.period = 'baseline') AS baseline_invoices,
    sumIf(r.reminded_minor, r.period = 'baseline') AS baseline_reminded_minor,
    sumIf(coalesce(c.collected_minor, 0), r.period = 'baseline') AS baseline_collected_minor,
    sumIf(r.invoices, r.period = 'recent') AS recent_invoices,
    sumIf(r.reminded_minor, r.period = 'recent') AS recent_reminded_minor,
    sumIf(coalesce(c.collected_minor, 0), r.period = 'recent') AS recent_collected_minor,
    if(baseline_reminded_minor = 0, NULL, round(baseline_collected_minor / baseline_reminded_minor, 6)) AS baseline_rate,
    if(recent_reminded_minor = 0, NULL, round(recent_collected_minor / recent_reminded_minor, 6)) AS recent_rate,
    if(baseline_collected_minor = 0 OR recent_reminded_minor = 0, NULL,
       round(1 - (recent_collected_minor / recent_reminded_minor) / (baseline_collected_minor / baseline_reminded_minor), 6)) AS drop,
    toUInt8(baseline_invoices >= {min_invoices:UInt32} AND recent_invoices >= {min_invoices:UInt32}
            AND coalesce(drop, 0) > {max_drop:Float64}) AS firing,
    any(recent_start) AS recent_from,
    any(recent_end) AS recent_to
FROM reminded AS r
LEFT JOIN collected AS c ON c.period = r.period AND c.segment = r.segment AND c.currency = r.currency
GROUP BY segment, currency
ORDER BY segment, currency
SETTINGS join_use_nulls = 1, do_not_merge_across_partitions_select_final = 1
