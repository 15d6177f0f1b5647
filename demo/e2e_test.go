package demo

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/relance-io/relance/generate"
	"github.com/relance-io/relance/schemas"
	"github.com/relance-io/relance/sinks"
	relsql "github.com/relance-io/relance/sql"
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
	tz, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	p0 := kpiParams{tz: tz}
	for _, h := range stream.DefaultHorizons {
		for _, dim := range []string{"channel", "plan", "level", "dpd_bucket", "customer_segment"} {
			compared += checkRates(t, ctx, store, ds, h, dim, p0)
		}
		n, both := checkUplift(t, ctx, store, ds, h, "level", p0)
		if both == 0 {
			t.Errorf("%s uplift: no row has both sent and withheld reminders; the data set proves nothing", h)
		}
		compared += n
		compared += checkOutcomes(t, ctx, store, ds, h)
		compared += checkDaysToPay(t, ctx, store, ds, h, "channel", p0)
		compared += checkRateDrop(t, ctx, store, ds, h, "channel", p0)
		compared += checkDependency(t, ctx, store, ds, h, p0)
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
	pipeline(t, ctx, store, ds)

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
// 0 in a new consumer group, which rewrites every fact and outcome with a
// higher version) leaves every KPI unchanged: every named query, at several
// horizons and segment dimensions, and the reminder_outcomes table under
// FINAL.
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
	names, err := relsql.QueryNames()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"days_to_pay", "holdout_uplift", "post_reminder_rate", "rate_drop", "reminder_dependency"} {
		if !slices.Contains(names, q) {
			t.Fatalf("named query %s is gone (have %v): update this test", q, names)
		}
	}
	// snapshot is every result as text, by what produced it. version and
	// written_at are left out of reminder_outcomes: a replay rewrites them.
	snapshot := func() map[string]string {
		out := map[string]string{}
		for _, q := range names {
			n, err := relsql.Load(q)
			if err != nil {
				t.Fatal(err)
			}
			dims := []string{""}
			if slices.ContainsFunc(n.Params, func(p relsql.Param) bool { return p.Name == "dimension" }) {
				dims = []string{"channel", "dpd_bucket", "customer_segment"}
			}
			for _, h := range []string{"7d", "30d"} {
				for _, dim := range dims {
					v := map[string]string{"horizon": h}
					if dim != "" {
						v["dimension"] = dim
					}
					rows := namedQuery(t, ctx, store, q, v)
					if rows.Len() == 0 {
						t.Fatalf("%s %s %s: no rows; the comparison would prove nothing", q, h, dim)
					}
					out[q+" "+h+" "+dim] = fmt.Sprint(rows.Columns, rows.Data)
				}
			}
		}
		rows, err := store.Query(ctx, "SELECT * EXCEPT (version, written_at) FROM reminder_outcomes FINAL ORDER BY invoice_id, reminder_id, horizon")
		if err != nil {
			t.Fatal(err)
		}
		if rows.Len() != 3*len(ds.Reminders) {
			t.Fatalf("%d outcomes, want 3 horizons × %d reminders", rows.Len(), len(ds.Reminders))
		}
		out["reminder_outcomes"] = fmt.Sprint(rows.Columns, rows.Data)
		return out
	}
	// written counts the rows stored, before FINAL collapses them.
	written := func() string {
		rows, err := store.Query(ctx, "SELECT (SELECT count() FROM attribution_facts), (SELECT count() FROM reminder_outcomes)")
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(rows.Data)
	}
	if err := consumeGroup(ctx, st, ends, "first"); err != nil {
		t.Fatal(err)
	}
	before, wrote := snapshot(), written()
	if err := consumeGroup(ctx, st, ends, "replay"); err != nil {
		t.Fatal(err)
	}
	after := snapshot()
	if w := written(); w == wrote {
		t.Fatalf("the replay wrote no facts or outcomes (stored rows %s): it proves nothing", w)
	}
	for k, b := range before {
		if a := after[k]; a != b {
			t.Errorf("%s changed after a replay:\nbefore %s\nafter  %s", k, b, a)
		}
	}
	t.Logf("%d results compared", len(before))
}
