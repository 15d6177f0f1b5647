// Package generate builds a synthetic but realistic year of a B2B company's
// receivables: invoices, the reminders ("relances") of their dunning plans,
// and the payments that settle them. It feeds `relance demo`, the
// `generate`/`produce` subcommand and the tests of the pipeline.
//
// # What it owns
//
// The business model of the demo data, in one place:
//
//   - Customers have a segment (PME, ETI, Grands Comptes), a country, a
//     business unit, a payment behaviour (punctual, slow, needs_reminders,
//     very_late, never_pays), a preferred payment method and an assigned
//     collector, who is the sender of their reminders.
//   - Invoices are issued monthly-ish (Poisson around a billing day, on
//     business days), due 30 or 45 days later (a date: midnight UTC), with
//     log-normal amounts in minor units clamped to 200–50 000 EUR.
//   - Each segment follows a dunning plan: preventive e-mail at D-5 (level
//     0), then e-mail, SMS, phone, letter and a final notice (level 5) up to
//     D+60; Grands Comptes get no SMS and an earlier call. A step is emitted
//     only if the invoice is still unpaid at its scheduled time, in Paris
//     business hours expressed in UTC. amount_due_minor is the outstanding
//     amount at that moment.
//   - Holdouts: a share of post-due steps is withheld (holdout=true). They
//     are emitted but change nothing for the customer: the control group.
//   - Payments come from a day-by-day hazard model: the customer's own
//     habit, plus a boost for 10 days after each sent reminder that depends
//     on the channel (phone > letter > SMS > e-mail) and, for calls, on the
//     collector's skill. Some payments are partial instalments, some settle
//     2–3 invoices at once, some invoices are never paid, and punctual
//     payers often pay before any reminder.
//   - A few deliberate edge cases: a payment at the exact millisecond of a
//     reminder, a payment exactly 7 days after one, and two reminders of
//     one invoice with the same sent_at (see Params.EdgeCases).
//
// Invariants: money is int64 minor units; an invoice is never over-paid;
// a customer's id is the same on all its events (it is the Kafka key); every
// event falls in [Start, Start+Months); slices are sorted by event time then
// id; the same Params give byte-identical output (math/rand/v2 PCG streams
// seeded from Params.Seed, one per customer; no map iteration, no clock).
//
// # Volumes
//
// With DefaultParams (seed 1, 2000 customers, 12 months) a run gives about
// 29 600 invoices, 69 000 reminders (2 300 of them holdouts, 5 % of the
// post-due ones) and 22 000 payments (24 700 allocations), in about 0.2 s
// on one core. Volumes scale linearly with Customers and Months. The first
// two months are a ramp-up: no invoice predates Start, so post-due
// reminders only start in February.
//
// # What it must not do
//
// No I/O of any kind (no files, no network, no tz database: Europe/Paris is
// computed from the EU summer-time rule), no Kafka, no Avro encoding, no
// ClickHouse: it returns values, and other packages ship them.
package generate
