-- The comment of attribution_facts.dpd said how it is computed but not in
-- which time zone: the stored value takes the date of sent_at in UTC, while
-- the named queries take it in their report time zone (tz), so the two can
-- differ by a day for a reminder sent near midnight (SEMANTICS §5). The
-- column is kept as it is, and its comment now says so, where data engineers
-- read it.
--
-- Re-runnable: setting a comment again is a no-op.

ALTER TABLE attribution_facts COMMENT COLUMN dpd 'Days past due of the credited reminder: the UTC date of sent_at - invoice_due_date, in days, negative for preventive reminders, 0 when matched = 0. The named queries compute dpd from the date in their report time zone (tz) instead: near midnight the two can differ by a day.';
