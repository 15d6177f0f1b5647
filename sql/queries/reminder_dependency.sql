-- Reminder dependency share (SPEC §4), per payment month and currency, for
-- one horizon.
--   collected_total_minor            = all allocations paid in the month;
--   collected_after_reminder_minor   = those with at least one candidate
--                                      reminder within the horizon;
--   collected_without_reminder_minor = the difference;
--   share = collected_after_reminder_minor / collected_total_minor.
-- Read from attribution facts (one row per allocation is taken, whatever
-- the model), so the three amounts always cover the same allocations.
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
    if(sum(amount_minor) = 0, NULL, round(sumIf(amount_minor, matched = 1) / sum(amount_minor), 6)) AS share,
    count() AS allocations,
    uniqExact(payment_id) AS payments,
    uniqExactIf(payment_id, matched = 1) AS payments_after_reminder
FROM (
    SELECT payment_id, allocation_index,
           any(toStartOfMonth(paid_at, {tz:String})) AS month,
           any(currency) AS currency,
           any(amount_minor) AS amount_minor,
           max(matched) AS matched
    FROM attribution_facts FINAL
    WHERE horizon = {horizon:String}
    GROUP BY payment_id, allocation_index
)
WHERE month BETWEEN toStartOfMonth({from:Date}) AND {to:Date}
GROUP BY month, currency
ORDER BY month, currency
