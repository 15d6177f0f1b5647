-- KPI helper functions shared by every named query in sql/queries/.
-- SQL UDFs are server-wide objects (not per database), so CREATE OR REPLACE keeps
-- this migration re-runnable and lets a later version change a definition.

-- relance_dpd_bucket labels days past due with configurable edges, e.g.
-- edges [0,30,60,90]: < 0 'preventive', [0,30) '0-30', … , >= 90 '90+'.
CREATE OR REPLACE FUNCTION relance_dpd_bucket AS (dpd, edges) -> multiIf(dpd < edges[1], 'preventive', dpd >= edges[-1], concat(toString(edges[-1]), '+'), concat(toString(edges[arrayCount(e -> e <= dpd, edges)]), '-', toString(edges[arrayCount(e -> e <= dpd, edges) + 1])));

-- relance_segment returns a reminder's value for a segment dimension: one of
-- channel, level, final_notice, dpd_bucket, sender, plan, all, or else the
-- name of an attribute key. dpd is computed by the caller from sent_at and
-- invoice_due_date in the report time zone.
CREATE OR REPLACE FUNCTION relance_segment AS (dimension, channel, level, final_notice, plan, sender, dpd, edges, attributes) -> multiIf(dimension = 'channel', toString(channel), dimension = 'level', toString(level), dimension = 'final_notice', if(final_notice != 0, 'final', 'not_final'), dimension = 'dpd_bucket', relance_dpd_bucket(dpd, edges), dimension = 'sender', toString(sender), dimension = 'plan', toString(plan), dimension = 'all', 'all', attributes[dimension]);
