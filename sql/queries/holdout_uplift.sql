-- Holdout uplift (SPEC §3), per reminder cohort month, segment value and
-- currency, for one horizon: how much more of the amount due is paid within
-- the horizon after a reminder that was sent than after one that was
-- scheduled but deliberately withheld (the control group).
--   paid within H after a reminder = allocations on its invoice, in its
--     currency, paid in [sent_at, sent_at + H], capped at the reminder's
--     amount due;
--   rate  = sum(paid within H) / sum(amount due), for sent and for withheld;
--   uplift = sent_rate - holdout_rate.
-- Compare like with like: segment by level (or plan, channel …) so that a
-- withheld level-3 call is compared with sent level-3 calls. Counts sit
-- beside the rates: the control group is small by design.
--
-- do_not_merge_across_partitions_select_final: FINAL merges a key's rows
-- within their partition (month), as background merges do (see migration
-- 0001), which lets the month bounds below skip whole partitions.
--
-- param: horizon String = 7d               -- observation window, e.g. 7d, 15d, 30d (any parseTimeDelta text)
-- param: dimension String = level          -- channel, level, final_notice, dpd_bucket, sender, plan, all, or an attribute key
-- param: tz String = Europe/Paris          -- report time zone: months and dpd dates are taken there
-- param: dpd_edges Array(Int32) = [0,30,60,90] -- dpd bucket edges
-- param: from Date = 1970-01-01            -- first cohort month (inclusive)
-- param: to Date = 2199-12-31              -- last cohort month (inclusive)
WITH per_allocation AS (
    -- One row per reminder and allocation on its invoice: the amount paid
    -- within the horizon after it. A payment re-sent with its paid_at
    -- moved to another month is in the raw table twice (migration 0001);
    -- it counts once, its earliest copy within the horizon. A reminder
    -- re-sent that way is two reminders, one per month (its sent_at is in
    -- the key).
    SELECT
        r.invoice_id AS invoice_id,
        r.reminder_id AS reminder_id,
        r.sent_at AS sent_at,
        any(r.holdout) AS r_holdout,
        any(r.currency) AS r_currency,
        any(r.amount_due_minor) AS r_due,
        any(r.channel) AS r_channel,
        any(r.level) AS r_level,
        any(r.final_notice) AS r_final_notice,
        any(r.plan) AS r_plan,
        any(r.sender) AS r_sender,
        any(r.invoice_due_date) AS r_invoice_due_date,
        any(r.attributes) AS r_attributes,
        argMinIf(a.amount_minor, a.paid_at,
                 a.paid_at >= r.sent_at
                 AND dateDiff('millisecond', r.sent_at, a.paid_at) <= toInt64(parseTimeDelta({horizon:String}) * 1000)) AS amount
    -- Reminders sent within a day of the months (any time zone), and the
    -- allocations that can be within the horizon after them: only their
    -- partitions are read. The exact month test is below.
    FROM (SELECT * FROM reminders FINAL
          WHERE sent_at >= relance_months_from({from:Date})
            AND sent_at < relance_months_until({to:Date})) AS r
    LEFT JOIN (SELECT payment_id, allocation_index, invoice_id, currency, paid_at, amount_minor FROM payment_allocations FINAL
               WHERE paid_at >= relance_months_from({from:Date})
                 AND paid_at <= relance_months_until({to:Date})
                               + toIntervalMillisecond(toInt64(parseTimeDelta({horizon:String}) * 1000))) AS a
        ON a.invoice_id = r.invoice_id AND a.currency = r.currency
    GROUP BY r.invoice_id, r.reminder_id, r.sent_at, a.payment_id, a.allocation_index
),
per_reminder AS (
    SELECT
        any(r_holdout) AS holdout,
        any(r_currency) AS currency,
        any(r_due) AS due,
        toStartOfMonth(sent_at, {tz:String}) AS month,
        any(relance_segment({dimension:String}, r_channel, r_level, r_final_notice, r_plan, r_sender,
                            dateDiff('day', r_invoice_due_date, toDate(sent_at, {tz:String})),
                            {dpd_edges:Array(Int32)}, r_attributes)) AS segment,
        least(sum(amount), any(r_due)) AS paid
    FROM per_allocation
    GROUP BY invoice_id, reminder_id, sent_at
)
SELECT
    month,
    segment,
    currency,
    sumIf(due, holdout = 0) AS sent_due_minor,
    sumIf(paid, holdout = 0) AS sent_paid_minor,
    countIf(holdout = 0) AS sent_reminders,
    sumIf(due, holdout = 1) AS holdout_due_minor,
    sumIf(paid, holdout = 1) AS holdout_paid_minor,
    countIf(holdout = 1) AS holdout_reminders,
    if(sent_due_minor = 0, NULL, round(sent_paid_minor / sent_due_minor, 6)) AS sent_rate,
    if(holdout_due_minor = 0, NULL, round(holdout_paid_minor / holdout_due_minor, 6)) AS holdout_rate,
    if(sent_due_minor = 0 OR holdout_due_minor = 0, NULL,
       round(sent_paid_minor / sent_due_minor - holdout_paid_minor / holdout_due_minor, 6)) AS uplift
FROM per_reminder
WHERE month BETWEEN toStartOfMonth({from:Date}) AND {to:Date}
GROUP BY month, segment, currency
ORDER BY month, segment, currency
SETTINGS join_use_nulls = 0, do_not_merge_across_partitions_select_final = 1
