-- Post-reminder collection rate (SPEC §4), per reminder cohort month, segment
-- value and currency, for one horizon.
--   reminded_minor  = amount due of the cohort's non-holdout reminders, each
--                     invoice counted once per (month, segment value): at its
--                     first reminder there (earliest sent_at, then smallest
--                     reminder_id);
--   collected_minor = amounts credited (under the attribution model) to the
--                     cohort's reminders within the horizon;
--   rate            = collected_minor / reminded_minor.
-- Counts sit beside the rate so that small segments can be told apart.
-- Rows are first narrowed to sent_at within a day of the months asked for
-- (a month in any time zone lies there), so that only their partitions and
-- granules are read; the exact month test follows.
--
-- do_not_merge_across_partitions_select_final: FINAL merges a key's rows
-- within their partition (month), as background merges do (see migration
-- 0001), which lets the month bounds below skip whole partitions.
--
-- param: horizon String = 7d               -- observation window label, e.g. 7d, 15d, 30d
-- param: dimension String = channel        -- channel, level, final_notice, dpd_bucket, sender, plan, all, or an attribute key
-- param: tz String = Europe/Paris          -- report time zone: months and dpd dates are taken there
-- param: dpd_edges Array(Int32) = [0,30,60,90] -- dpd bucket edges
-- param: from Date = 1970-01-01            -- first cohort month (inclusive)
-- param: to Date = 2199-12-31              -- last cohort month (inclusive)
WITH
    reminded AS (
        SELECT month, segment, currency,
               sum(first_amount_due) AS reminded_minor,
               count() AS invoices,
               sum(n) AS reminders
        FROM (
            SELECT toStartOfMonth(sent_at, {tz:String}) AS month,
                   relance_segment({dimension:String}, channel, level, final_notice, plan, sender,
                                   dateDiff('day', invoice_due_date, toDate(sent_at, {tz:String})),
                                   {dpd_edges:Array(Int32)}, attributes) AS segment,
                   currency,
                   invoice_id,
                   argMin(amount_due_minor, (sent_at, reminder_id)) AS first_amount_due,
                   count() AS n
            FROM reminders FINAL
            WHERE holdout = 0
              AND sent_at >= relance_months_from({from:Date})
              AND sent_at < relance_months_until({to:Date})
            GROUP BY month, segment, currency, invoice_id
        )
        WHERE month BETWEEN toStartOfMonth({from:Date}) AND {to:Date}
        GROUP BY month, segment, currency
    ),
    collected AS (
        SELECT toStartOfMonth(sent_at, {tz:String}) AS month,
               relance_segment({dimension:String}, channel, level, final_notice, plan, sender,
                               dateDiff('day', invoice_due_date, toDate(sent_at, {tz:String})),
                               {dpd_edges:Array(Int32)}, attributes) AS segment,
               currency,
               sum(credited_minor) AS collected_minor,
               uniqExact(payment_id) AS payments
        FROM attribution_facts FINAL
        WHERE horizon = {horizon:String} AND matched = 1
          AND sent_at >= relance_months_from({from:Date})
          AND sent_at < relance_months_until({to:Date})
          -- paid within the horizon after sent_at: the facts' partitions
          AND paid_at >= relance_months_from({from:Date})
          AND paid_at <= relance_months_until({to:Date}) + toIntervalMillisecond(toInt64(parseTimeDelta({horizon:String}) * 1000))
        GROUP BY month, segment, currency
    )
SELECT
    r.month AS month,
    r.segment AS segment,
    r.currency AS currency,
    r.reminded_minor AS reminded_minor,
    coalesce(c.collected_minor, 0) AS collected_minor,
    if(r.reminded_minor = 0, NULL, round(coalesce(c.collected_minor, 0) / r.reminded_minor, 6)) AS rate,
    r.reminders AS reminders,
    r.invoices AS invoices,
    coalesce(c.payments, 0) AS payments
FROM reminded AS r
LEFT JOIN collected AS c ON c.month = r.month AND c.segment = r.segment AND c.currency = r.currency
ORDER BY month, segment, currency
SETTINGS join_use_nulls = 1, do_not_merge_across_partitions_select_final = 1
