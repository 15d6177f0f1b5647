// Package csvimport turns historical CSV exports (reminders, payments with
// their allocations, invoices) into the pipeline's events, validated, with
// stable event ids, ready to be produced to the Kafka topics (Records,
// Produce). `relance import` and `relance demo --input` use it.
//
// It only parses and validates: a file is read whole, each row becomes an
// event or a Reject (line, row, reason), and a FileSummary counts both.
// Nothing is produced when a file as a whole is unusable (unreadable, or a
// required column missing).
//
// # Default layout
//
// UTF-8 (a BOM is skipped), comma-separated, one header line naming the
// columns (case-insensitive, any order; unknown columns are ignored).
// Columns marked * are required; the others may be absent or empty.
//
// reminders.csv — one row per reminder (topic reminders):
//
//	event_id          optional; default "rem-" + sha256(reminder_id "|" invoice_id)[:16]
//	reminder_id*      the reminder's id in the source system
//	invoice_id*
//	customer_id*      the Kafka key
//	sent_at*          timestamp (below)
//	channel           email, sms, phone, letter, portal, … (open set)
//	level             whole number, 0 = preventive; empty = 0
//	final_notice      boolean (below); empty = false
//	plan              dunning plan name
//	sender            collector
//	amount_due*       decimal in major units, "1234.56" (below)
//	currency*         ISO 4217, e.g. EUR (upper-cased)
//	invoice_due_date* date (below)
//	holdout           boolean; empty = false
//	attr.KEY          any number of columns: attribute KEY (e.g. attr.country)
//
// payments.csv — one row per allocation; the rows of one payment_id (in
// any order, not necessarily adjacent) make one payment whose allocations
// are in file order, and must agree on customer_id, paid_at, method,
// currency and event_id (topic payments):
//
//	event_id      optional; default "pay-" + sha256(payment_id)[:16]
//	payment_id*
//	customer_id*
//	paid_at*      timestamp
//	method        transfer, card, direct_debit, cheque, …
//	currency*
//	invoice_id*   the invoice this allocation settles
//	amount*       the allocated amount, decimal in major units
//
// invoices.csv — one row per invoice event (topic invoices, optional):
//
//	event_id      optional; default "inv-" + sha256(invoice_id "|" status)[:16]
//	invoice_id*
//	customer_id*
//	issued_at*    timestamp
//	due_date*     date
//	amount*       decimal in major units
//	currency*
//	status        issued (default), cancelled, credited, disputed
//	attr.KEY      attributes
//
// Values:
//   - Timestamps: RFC 3339 ("2026-10-05T09:00:00Z", "2026-10-05T11:00:00+02:00"),
//     or "2026-10-05 09:00:00", "2026-10-05T09:00:00", "2026-10-05 09:00",
//     "2026-10-05" read in the time zone (relance import --tz, default
//     Europe/Paris). Kept to the millisecond.
//   - Dates: "2026-09-30" (a calendar date, no time zone).
//   - Amounts: a decimal number with a point, no thousands separator,
//     optionally signed: "1234.56", "80000", "12.5". It is converted to
//     minor units exactly, without floating point, with the currency's
//     ISO 4217 decimals (2 for EUR, 0 for JPY, 3 for KWD…); more decimals
//     than that are rejected unless zeros ("12.500" EUR is 1250).
//   - Booleans: true/false, 1/0, yes/no, y/n, oui/non, vrai/faux, x/empty,
//     case-insensitive.
//
// # Other layouts
//
// A YAML mapping file (Mapping; relance import --mapping) describes another
// layout: separator, decimal comma, thousands separators, amounts already
// in minor units, date and timestamp formats ("DD/MM/YYYY HH:mm"), time
// zone, and per file its name, column renames, constants (e.g. a currency
// the export does not carry), attribute columns and value translations
// ("Courriel" → email; the source value's case and surrounding spaces do
// not matter). Unknown keys are errors, and so is a column the mapping
// names that the file lacks, even for an optional field. Thousands
// separators must stand between groups of three digits ("1 234,56"): an
// amount such as "1234.56" under thousands "." is rejected (bad_amount),
// never read 100 times too large. See Mapping for an example and
// testdata/mapped for a tested one.
//
// # Validation and rejects
//
// A row is rejected, with a stable reason, when a required field is empty
// (missing_<field>), a value does not parse (bad_timestamp, bad_date,
// bad_amount, bad_integer, bad_boolean, amount_overflow), a cell is not
// UTF-8 (bad_encoding: a Windows-1252 or Latin-1 export; save it as
// UTF-8), its cell count
// differs from the header's (wrong_field_count), the line is not valid CSV
// (bad_csv; an unclosed quote names the lines it swallowed), or the event fails the schemas' Validate (unknown_currency,
// negative_amount, zero_timestamp, far_future_timestamp, …, the checks the
// pipeline's dead-letter path applies). The same business key twice in a
// file is a duplicate (skipped) when the rows make the same event, and a
// conflicting_duplicate (rejected; the first row is kept) otherwise. A
// payment is imported whole or not at all: when one of its rows is
// rejected the others are too (payment_rejected), and rows that disagree
// on the payment's fields reject it (inconsistent_payment). An empty
// reminder_id or payment_id is rejected, where the pipeline would accept
// it (docs/SEMANTICS.md §7).
//
// # Idempotence
//
// Event ids are derived from the business key (above), not drawn at
// random, and the keys are those by which the pipeline recognises
// duplicates ((invoice_id, reminder_id) for reminders, payment_id for
// payments; the raw tables are keyed the same way). Importing the same
// files again produces the same events again; the pipeline absorbs them,
// and no KPI changes. A row changed between two imports under the same
// ids is not a correction (the pipeline keeps the first version for
// attribution): give the corrected event a new reminder_id or payment_id.
package csvimport
