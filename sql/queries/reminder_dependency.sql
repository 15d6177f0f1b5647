-- Reminder dependency share (SPEC §4), per payment month and currency, for
-- one horizon.
--   collected_total_minor            = all allocations paid in the month;
--   collected_after_reminder_minor   = those with at least one candidate
--                                      reminder within the horizon;
--   collected_without_reminder_minor = the difference;
--   share = collected_after_reminder_minor / collected_total_minor.
-- The allocations and their amounts come from the raw payment_allocations,
-- so a payment that arrived beyond retention (no attribution fact) still
-- counts in the total, as does one still waiting for the watermark; both
-- count as without reminder (the first for good, the second until its
-- facts are written), and collected_unattributed_minor says how much of
-- "without" is such allocations with no fact. Whether an
-- allocation had a candidate comes from attribution_facts (one flag per
-- allocation, whatever the model; join_use_nulls = 0 gives an allocation
-- without a fact matched = 0). The raw amount is used on both sides, so
-- after + without = total exactly. A fact belongs to the allocation of its
-- month (UTC, the partition): a payment re-sent with paid_at moved to
-- another month is in the raw table twice (migration 0001), and the copy
-- the joiner did not keep is collected unattributed in its own month.
--
-- do_not_merge_across_partitions_select_final: FINAL merges a key's rows
-- within their partition (month), as background merges do (see migration
-- 0001), which lets the month bounds below skip whole partitions.
--
-- param: horizon String = 7d      -- observation window label, e.g. 7d, 15d, 30d
-- param: tz String = Europe/Paris -- report time zone: months are taken there
-- param: from Date = 1970-01-01   -- first payment month (inclusive)
-- param: to Date = 2199-12-31     -- last payment month (inclusive)
SELECT
    month,
    currency,
    sum(amount_minor) AS collected_total_minor,
    sumIf(amount_minor, matched = 1) AS collected_after_reminder_minor,
    sumIf(amount_minor, matched = 0) AS collected_without_reminder_minor,
    sumIf(amount_minor, attributed = 0) AS collected_unattributed_minor,
    if(sum(amount_minor) = 0, NULL, round(sumIf(amount_minor, matched = 1) / sum(amount_minor), 6)) AS share,
    count() AS allocations,
    uniqExact(payment_id) AS payments,
    uniqExactIf(payment_id, matched = 1) AS payments_after_reminder
FROM (
    SELECT a.payment_id AS payment_id,
           toStartOfMonth(a.paid_at, {tz:String}) AS month,
           a.currency AS currency,
           a.amount_minor AS amount_minor,
           f.matched AS matched,
           f.payment_id != '' AS attributed
    -- Allocations and facts paid within a day of the months (any time
    -- zone): only their partitions are read. The exact month test is below.
    FROM (SELECT payment_id, allocation_index, paid_at, currency, amount_minor FROM payment_allocations FINAL
          WHERE paid_at >= relance_months_from({from:Date})
            AND paid_at < relance_months_until({to:Date})) AS a
    LEFT JOIN (
        SELECT payment_id, allocation_index, toYYYYMM(paid_at) AS part, max(matched) AS matched
        FROM attribution_facts FINAL
        WHERE horizon = {horizon:String}
          -- the whole UTC months (partitions) of the allocations' bounds
          AND toYYYYMM(paid_at) >= toYYYYMM(relance_months_from({from:Date}))
          AND toYYYYMM(paid_at) <= toYYYYMM(relance_months_until({to:Date}))
        GROUP BY payment_id, allocation_index, part
    ) AS f ON f.payment_id = a.payment_id AND f.allocation_index = a.allocation_index AND f.part = toYYYYMM(a.paid_at)
)
WHERE month BETWEEN toStartOfMonth({from:Date}) AND {to:Date}
GROUP BY month, currency
ORDER BY month, currency
SETTINGS join_use_nulls = 0, do_not_merge_across_partitions_select_final = 1
