// Package report renders relance's KPIs as one self-contained, offline HTML
// file for a credit manager: inline CSS, charts drawn server-side as inline
// SVG, no script or font fetched from anywhere.
//
// Every number comes from the named KPI queries of sql/queries (through
// sinks.QueryNamed): post_reminder_rate (tiles, segment charts, month ×
// segment tables, rankings), reminder_dependency (dependency tiles and
// chart), holdout_uplift (uplift table, dimension level) and days_to_pay
// (p50/p90). The report adds no KPI SQL of its own: it only sums minor
// units across months and divides.
//
// Elements that show a KPI carry its exact value for tests and scrapers:
// data-value (tiles: a fraction for rates, minor units for amounts) and
// data-reminded / data-collected / data-rate / data-invoices /
// data-reminders / data-payments on the month × segment table cells.
package report
