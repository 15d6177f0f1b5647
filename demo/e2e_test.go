package demo

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/relance-io/relance/generate"
	"github.com/relance-io/relance/internal/oracle"
	"github.com/relance-io/relance/schemas"
	"github.com/relance-io/relance/sinks"
	"github.com/relance-io/relance/stream"
)

func cell(t *testing.T, rows *sinks.Rows, r []string, col string) string {
	t.Helper()
	i := rows.Col(col)
	if i < 0 {
		t.Fatalf("no column %q in %v", col, rows.Columns)
	}
	return r[i]
}

func num(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("not an integer: %q", s)
	}
	return n
}

func checkRatio(t *testing.T, what, got string, a, b int64) {
	t.Helper()
	want := float64(a) / float64(b)
	g, err := strconv.ParseFloat(got, 64)
	if err != nil || math.Abs(g-want) > 1e-6 {
		t.Errorf("%s = %s, want %.6f (%d/%d)", what, got, want, a, b)
	}
}

// Rule: generated events, produced over the Kafka protocol and run through
// the real pipeline into chDB, give KPI tables (every named-query row, every
// horizon, several segment dimensions) equal to a brute-force computation
// over the generated events.
func TestPipeline_KPIsEqualBruteForce(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	p := generate.DefaultParams()
	p.Customers, p.Months, p.Seed = 250, 8, 7
	p.Start = time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC)
	sum, err := Run(ctx, store, Options{Params: p, Dir: t.TempDir(), Partitions: 3})
	if err != nil {
		t.Fatal(err)
	}
	ds := sum.Dataset
	if n := total(sum.Ingest.DeadLetters); n != 0 {
		t.Fatalf("%d dead letters on clean generated data: %v", n, sum.Ingest.DeadLetters)
	}
	if got, want := sum.Ingest.Records["reminders"], uint64(len(ds.Reminders)); got != want {
		t.Fatalf("read %d reminders, produced %d", got, want)
	}
	if len(ds.Payments) < 500 || sum.Ingest.Joiner.Facts < uint64(len(ds.Payments)) {
		t.Fatalf("too little data to prove anything: %d payments, %d facts", len(ds.Payments), sum.Ingest.Joiner.Facts)
	}
	t.Logf("%d invoices, %d reminders, %d payments, %d facts", len(ds.Invoices), len(ds.Reminders), len(ds.Payments), sum.Ingest.Joiner.Facts)
	compared := 0
	defer func() { t.Logf("%d KPI rows compared with the oracle", compared) }()
	tz, _ := time.LoadLocation("Europe/Paris")
	for _, h := range stream.DefaultHorizons {
		for _, dim := range []string{"channel", "plan", "level", "dpd_bucket", "customer_segment"} {
			want := oracle.Rates(ds, h.Duration(), dim, tz)
			rows, err := sinks.QueryNamed(ctx, store, "post_reminder_rate", map[string]string{"horizon": h.String(), "dimension": dim})
			if err != nil {
				t.Fatal(err)
			}
			if rows.Len() != len(want) {
				t.Errorf("%s/%s: %d rows, oracle has %d", h, dim, rows.Len(), len(want))
			}
			for _, r := range rows.Data {
				k := oracle.Key{Period: cell(t, rows, r, "month"), Segment: cell(t, rows, r, "segment"), Currency: cell(t, rows, r, "currency")}
				w := want[k]
				if w == nil {
					t.Errorf("%s/%s: row %v not in the oracle", h, dim, k)
					continue
				}
				compared++
				what := fmt.Sprintf("%s/%s %v", h, dim, k)
				if got := num(t, cell(t, rows, r, "reminded_minor")); got != w.Reminded {
					t.Errorf("%s reminded = %d, want %d", what, got, w.Reminded)
				}
				if got := num(t, cell(t, rows, r, "collected_minor")); got != w.Collected {
					t.Errorf("%s collected = %d, want %d", what, got, w.Collected)
				}
				if got := num(t, cell(t, rows, r, "invoices")); got != int64(w.Invoices) {
					t.Errorf("%s invoices = %d, want %d", what, got, w.Invoices)
				}
				if got := num(t, cell(t, rows, r, "reminders")); got != int64(w.Reminders) {
					t.Errorf("%s reminders = %d, want %d", what, got, w.Reminders)
				}
				checkRatio(t, what+" rate", cell(t, rows, r, "rate"), w.Collected, w.Reminded)
			}
		}

		compared += checkUplift(t, ctx, store, ds, h, tz)
		compared += checkOutcomes(t, ctx, store, ds, h)
		compared += checkDaysToPay(t, ctx, store, ds, h, tz)

		want := oracle.Dependency(ds, h.Duration(), tz)
		rows, err := sinks.QueryNamed(ctx, store, "reminder_dependency", map[string]string{"horizon": h.String()})
		if err != nil {
			t.Fatal(err)
		}
		if rows.Len() != len(want) {
			t.Errorf("%s dependency: %d rows, oracle has %d", h, rows.Len(), len(want))
		}
		for _, r := range rows.Data {
			k := oracle.Key{Period: cell(t, rows, r, "month"), Currency: cell(t, rows, r, "currency")}
			w := want[k]
			if w == nil {
				t.Errorf("%s dependency: row %v not in the oracle", h, k)
				continue
			}
			compared++
			what := fmt.Sprintf("%s dependency %v", h, k)
			if got := num(t, cell(t, rows, r, "collected_total_minor")); got != w.Total {
				t.Errorf("%s total = %d, want %d", what, got, w.Total)
			}
			if got := num(t, cell(t, rows, r, "collected_after_reminder_minor")); got != w.After {
				t.Errorf("%s after = %d, want %d", what, got, w.After)
			}
			if got := num(t, cell(t, rows, r, "collected_without_reminder_minor")); got != w.Without() {
				t.Errorf("%s without = %d, want %d", what, got, w.Without())
			}
			if got := num(t, cell(t, rows, r, "allocations")); got != int64(w.Allocations) {
				t.Errorf("%s allocations = %d, want %d", what, got, w.Allocations)
			}
			checkRatio(t, what+" share", cell(t, rows, r, "share"), w.After, w.Total)
		}
	}
}

// Rule: SPEC §4's worked examples, through the real pipeline. In October,
// 80 000 EUR reminded and 50 000 EUR collected after a reminder give a
// post-reminder collection rate of 62.5 %; 120 000 EUR collected in total,
// 50 000 EUR of it after a reminder, give a reminder dependency share of
// 41.67 %.
func TestPipeline_WorkedExamples(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	at := func(day, hour int) time.Time { return time.Date(2026, 10, day, hour, 0, 0, 0, time.UTC) }
	due := time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC)
	rem := func(id, inv, cust string, sent time.Time, amount int64) schemas.Reminder {
		return schemas.Reminder{EventID: "e-" + id, ReminderID: id, InvoiceID: inv, CustomerID: cust, SentAt: sent,
			Channel: "email", Level: 1, Plan: "PME", Sender: "Claire", AmountDueMinor: amount, Currency: "EUR", InvoiceDueDate: due}
	}
	pay := func(id, inv, cust string, paid time.Time, amount int64) schemas.Payment {
		return schemas.Payment{EventID: "e-" + id, PaymentID: id, CustomerID: cust, PaidAt: paid, Method: "transfer", Currency: "EUR",
			Allocations: []schemas.Allocation{{InvoiceID: inv, AmountMinor: amount}}}
	}
	ds := &generate.Dataset{
		Reminders: []schemas.Reminder{
			rem("R1", "INV-A", "C1", at(5, 9), 50_000_00),  // paid 3 days later
			rem("R2", "INV-B", "C2", at(10, 9), 30_000_00), // never paid
		},
		Payments: []schemas.Payment{
			pay("P1", "INV-A", "C1", at(8, 9), 50_000_00),
			pay("P2", "INV-C", "C3", at(20, 9), 70_000_00), // no reminder
		},
	}
	st, err := StartStack(ctx, t.TempDir(), 2, store)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ends, err := st.Produce(ctx, ds)
	if err != nil {
		t.Fatal(err)
	}
	if err := consume(ctx, st, ends); err != nil {
		t.Fatal(err)
	}

	rate, err := sinks.QueryNamed(ctx, store, "post_reminder_rate", map[string]string{"horizon": "7d", "dimension": "all"})
	if err != nil {
		t.Fatal(err)
	}
	if rate.Len() != 1 {
		t.Fatalf("want one October row, got %v", rate.Data)
	}
	r := rate.Data[0]
	if m := cell(t, rate, r, "month"); m != "2026-10-01" {
		t.Fatalf("month %s", m)
	}
	if cell(t, rate, r, "reminded_minor") != "8000000" || cell(t, rate, r, "collected_minor") != "5000000" || cell(t, rate, r, "rate") != "0.625" {
		t.Fatalf("October: reminded %s, collected %s, rate %s; want 8000000, 5000000, 0.625",
			cell(t, rate, r, "reminded_minor"), cell(t, rate, r, "collected_minor"), cell(t, rate, r, "rate"))
	}

	dep, err := sinks.QueryNamed(ctx, store, "reminder_dependency", map[string]string{"horizon": "7d"})
	if err != nil {
		t.Fatal(err)
	}
	if dep.Len() != 1 {
		t.Fatalf("want one October row, got %v", dep.Data)
	}
	d := dep.Data[0]
	if cell(t, dep, d, "collected_total_minor") != "12000000" || cell(t, dep, d, "collected_after_reminder_minor") != "5000000" {
		t.Fatalf("October: total %s, after reminder %s; want 12000000, 5000000",
			cell(t, dep, d, "collected_total_minor"), cell(t, dep, d, "collected_after_reminder_minor"))
	}
	share, _ := strconv.ParseFloat(cell(t, dep, d, "share"), 64)
	if got := fmt.Sprintf("%.2f %%", 100*share); got != "41.67 %" {
		t.Fatalf("dependency share %s, want 41.67 %%", got)
	}
}

// Rule: processing the same topics a second time (a full replay from offset
// 0 in a new consumer group) leaves every KPI unchanged.
func TestPipeline_ReplayChangesNothing(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	p := generate.DefaultParams()
	p.Customers, p.Months, p.Seed = 80, 5, 3
	p.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ds, err := generate.Generate(p)
	if err != nil {
		t.Fatal(err)
	}
	st, err := StartStack(ctx, t.TempDir(), 2, store)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ends, err := st.Produce(ctx, ds)
	if err != nil {
		t.Fatal(err)
	}
	snapshot := func() string {
		var s []string
		for _, q := range []string{"post_reminder_rate", "reminder_dependency"} {
			for _, h := range []string{"7d", "30d"} {
				rows, err := sinks.QueryNamed(ctx, store, q, map[string]string{"horizon": h})
				if err != nil {
					t.Fatal(err)
				}
				s = append(s, fmt.Sprint(rows.Data))
			}
		}
		sort.Strings(s)
		return fmt.Sprint(s)
	}
	if err := consumeGroup(ctx, st, ends, "first"); err != nil {
		t.Fatal(err)
	}
	before := snapshot()
	if err := consumeGroup(ctx, st, ends, "replay"); err != nil {
		t.Fatal(err)
	}
	if after := snapshot(); after != before {
		t.Fatalf("KPIs changed after a replay:\nbefore %s\nafter  %s", before, after)
	}
}

// checkUplift compares the holdout_uplift query with a brute-force reading
// of SPEC §3: per reminder, sent or withheld, the allocations on its invoice
// paid within [sent_at, sent_at+H], capped at its amount due.
func checkUplift(t *testing.T, ctx context.Context, store sinks.Store, ds *generate.Dataset, h stream.Horizon, tz *time.Location) int {
	t.Helper()
	type acc struct{ due, paid [2]int64 }
	want := map[oracle.Key]*acc{}
	outcomes := oracle.Outcomes(ds, h.Duration())
	for i := range ds.Reminders {
		r := &ds.Reminders[i]
		k := oracle.Key{Period: oracle.MonthOf(r.SentAt, tz), Segment: oracle.Segment(r, "level", tz), Currency: r.Currency}
		if want[k] == nil {
			want[k] = &acc{}
		}
		paid := outcomes[i].Collected
		g := 0
		if r.Holdout {
			g = 1
		}
		want[k].due[g] += r.AmountDueMinor
		want[k].paid[g] += min(paid, r.AmountDueMinor)
	}
	rows, err := sinks.QueryNamed(ctx, store, "holdout_uplift", map[string]string{"horizon": h.String(), "dimension": "level"})
	if err != nil {
		t.Fatal(err)
	}
	if rows.Len() != len(want) {
		t.Errorf("%s uplift: %d rows, oracle has %d", h, rows.Len(), len(want))
	}
	holdouts := 0
	for _, r := range rows.Data {
		k := oracle.Key{Period: cell(t, rows, r, "month"), Segment: cell(t, rows, r, "segment"), Currency: cell(t, rows, r, "currency")}
		w := want[k]
		if w == nil {
			t.Errorf("%s uplift: row %v not in the oracle", h, k)
			continue
		}
		for g, prefix := range []string{"sent", "holdout"} {
			if got := num(t, cell(t, rows, r, prefix+"_due_minor")); got != w.due[g] {
				t.Errorf("%s uplift %v %s due = %d, want %d", h, k, prefix, got, w.due[g])
			}
			if got := num(t, cell(t, rows, r, prefix+"_paid_minor")); got != w.paid[g] {
				t.Errorf("%s uplift %v %s paid = %d, want %d", h, k, prefix, got, w.paid[g])
			}
		}
		if w.due[0] > 0 && w.due[1] > 0 {
			holdouts++
			want := float64(w.paid[0])/float64(w.due[0]) - float64(w.paid[1])/float64(w.due[1])
			if g, err := strconv.ParseFloat(cell(t, rows, r, "uplift"), 64); err != nil || math.Abs(g-want) > 2e-6 {
				t.Errorf("%s uplift %v = %s, want %.6f", h, k, cell(t, rows, r, "uplift"), want)
			}
		}
	}
	if holdouts == 0 {
		t.Errorf("%s uplift: no row has both sent and withheld reminders; the data set proves nothing", h)
	}
	return rows.Len()
}

// checkOutcomes compares reminder_outcomes (read with FINAL) with a brute
// force over the events: per reminder, the allocations on its invoice paid
// within the horizon, and the last_touch credit it received. Every outcome
// of a reminder whose horizon ended before the last event is final.
func checkOutcomes(t *testing.T, ctx context.Context, store sinks.Store, ds *generate.Dataset, h stream.Horizon) int {
	t.Helper()
	type key struct{ invoice, reminder string }
	type want struct {
		collected, credited int64
		final               bool
	}
	end := oracle.End(ds)
	ws := map[key]*want{}
	for i, o := range oracle.Outcomes(ds, h.Duration()) {
		r := &ds.Reminders[i]
		w := ws[key{r.InvoiceID, r.ReminderID}]
		if w == nil {
			w = &want{}
			ws[key{r.InvoiceID, r.ReminderID}] = w
		}
		w.final = !r.SentAt.Add(h.Duration()).After(end)
		w.collected += o.Collected
		w.credited += o.Credited
	}
	rows, err := store.Query(ctx, "SELECT invoice_id, reminder_id, collected_minor, credited_minor, is_final FROM reminder_outcomes FINAL WHERE horizon = '"+h.String()+"'")
	if err != nil {
		t.Fatal(err)
	}
	if rows.Len() != len(ws) {
		t.Errorf("%s outcomes: %d rows, want one per reminder (%d)", h, rows.Len(), len(ws))
	}
	for _, r := range rows.Data {
		w := ws[key{r[0], r[1]}]
		if w == nil {
			t.Errorf("%s outcome for unknown reminder %s/%s", h, r[0], r[1])
			continue
		}
		if num(t, r[2]) != w.collected || num(t, r[3]) != w.credited || (r[4] == "1") != w.final {
			t.Errorf("%s outcome %s/%s = collected %s credited %s final %s; want %+v", h, r[0], r[1], r[2], r[3], r[4], *w)
		}
	}
	return rows.Len()
}

// checkDaysToPay compares the days_to_pay query with the lags of the
// brute-force last_touch credits: per cohort month and channel, the lag at
// position floor(q × n) of the sorted lags (ClickHouse's quantileExact).
func checkDaysToPay(t *testing.T, ctx context.Context, store sinks.Store, ds *generate.Dataset, h stream.Horizon, tz *time.Location) int {
	t.Helper()
	lags := map[oracle.Key][]int64{}
	for _, c := range oracle.Credits(ds, h.Duration()) {
		if c.Reminder != nil {
			k := oracle.Key{Period: oracle.MonthOf(c.Reminder.SentAt, tz), Segment: c.Reminder.Channel, Currency: c.Payment.Currency}
			lags[k] = append(lags[k], c.Lag().Milliseconds())
		}
	}
	rows, err := sinks.QueryNamed(ctx, store, "days_to_pay", map[string]string{"horizon": h.String()})
	if err != nil {
		t.Fatal(err)
	}
	if rows.Len() != len(lags) {
		t.Errorf("%s days_to_pay: %d rows, oracle has %d", h, rows.Len(), len(lags))
	}
	for _, r := range rows.Data {
		k := oracle.Key{Period: cell(t, rows, r, "month"), Segment: cell(t, rows, r, "segment"), Currency: cell(t, rows, r, "currency")}
		xs := lags[k]
		if len(xs) == 0 {
			t.Errorf("%s days_to_pay: row %v not in the oracle", h, k)
			continue
		}
		if got := num(t, cell(t, rows, r, "credited_allocations")); got != int64(len(xs)) {
			t.Errorf("%s days_to_pay %v: %d allocations, want %d", h, k, got, len(xs))
		}
		if got, want := num(t, cell(t, rows, r, "p50_lag_ms")), oracle.QuantileExact(xs, 0.5); got != want {
			t.Errorf("%s days_to_pay %v: p50 %d ms, want %d", h, k, got, want)
		}
		if got, want := num(t, cell(t, rows, r, "p90_lag_ms")), oracle.QuantileExact(xs, 0.9); got != want {
			t.Errorf("%s days_to_pay %v: p90 %d ms, want %d", h, k, got, want)
		}
	}
	return rows.Len()
}
