package demo

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/relance-io/relance/generate"
	"github.com/relance-io/relance/schemas"
	"github.com/relance-io/relance/sinks"
	relsql "github.com/relance-io/relance/sql"
	"github.com/relance-io/relance/stream"
)

// utc parses "2025-10-31 23:30" as a UTC time.
func utc(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// date parses "2025-10-01" as an invoice due date.
func date(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.DateOnly, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// events builds reminders and payments tersely for hand-made data sets.
type events struct {
	t  *testing.T
	ds generate.Dataset
}

func (e *events) remind(id, invoice, customer, sent, due string, level int32, channel string, amount int64, holdout bool) {
	e.ds.Reminders = append(e.ds.Reminders, schemas.Reminder{
		EventID: "e-" + id, ReminderID: id, InvoiceID: invoice, CustomerID: customer, SentAt: utc(e.t, sent),
		Channel: channel, Level: level, Plan: "PME", Sender: "Claire", AmountDueMinor: amount, Currency: "EUR",
		InvoiceDueDate: date(e.t, due), Holdout: holdout,
	})
}

// pay adds a payment; allocs alternate invoice id and amount.
func (e *events) pay(id, customer, paid string, allocs ...any) {
	p := schemas.Payment{EventID: "e-" + id, PaymentID: id, CustomerID: customer, PaidAt: utc(e.t, paid), Method: "transfer", Currency: "EUR"}
	for i := 0; i < len(allocs); i += 2 {
		p.Allocations = append(p.Allocations, schemas.Allocation{InvoiceID: allocs[i].(string), AmountMinor: int64(allocs[i+1].(int))})
	}
	e.ds.Payments = append(e.ds.Payments, p)
}

// boundaryEvents sit where the report time zone changes the answer: Paris
// is UTC+1 in November 2025, so 23:30 UTC is already the next day there.
// Days past due (dpd) = date(sent_at) - due date.
func boundaryEvents(t *testing.T) *generate.Dataset {
	e := &events{t: t}
	// A cohort month boundary: RA2 is October in UTC, November in Paris
	// (dpd 30 and 31: 30-60 either way). PA is credited to it, so its
	// cohort's collected amount moves with it; RA1 keeps invoice A in
	// October, so in Paris A is reminded in two months. RH, withheld on
	// another invoice at the same moment and level, is its control group.
	e.remind("RA1", "INV-A", "C1", "2025-10-20 09:00", "2025-10-01", 1, "email", 100_000, false)
	e.remind("RA2", "INV-A", "C1", "2025-10-31 23:30", "2025-10-01", 2, "sms", 100_000, false)
	e.remind("RH", "INV-H", "C8", "2025-10-31 23:45", "2025-10-01", 2, "sms", 50_000, true)
	e.pay("PA", "C1", "2025-11-03 10:00", "INV-A", 100_000)
	e.pay("PH", "C8", "2025-11-05 12:00", "INV-H", 30_000)
	// The default edge 30: RB is dpd 29 (0-30) in UTC, 30 (30-60) in Paris;
	// with edges [0,15,45] it is 15-45 in both.
	e.remind("RB", "INV-B", "C2", "2025-11-14 23:30", "2025-10-16", 1, "email", 80_000, false)
	e.pay("PB", "C2", "2025-11-16 09:00", "INV-B", 60_000)
	// The custom edge 15: RC is dpd 14 (0-15) in UTC, 15 (15-45) in Paris;
	// with the default edges it is 0-30 in both.
	e.remind("RC", "INV-C", "C3", "2025-11-15 23:30", "2025-11-01", 1, "letter", 40_000, false)
	e.pay("PC", "C3", "2025-11-20 14:00", "INV-C", 40_000)
	// The first edge: RD is preventive (dpd -1) in UTC, 0 in Paris.
	e.remind("RD", "INV-D", "C4", "2025-11-19 23:30", "2025-11-20", 0, "email", 25_000, false)
	e.pay("PD", "C4", "2025-11-21 08:00", "INV-D", 25_000)
	// A payment month boundary: PE, one payment settling a reminded
	// invoice (E) and an unreminded one (F), is November in UTC and
	// December in Paris.
	e.remind("RE", "INV-E", "C5", "2025-11-25 10:00", "2025-11-10", 1, "phone", 70_000, false)
	e.pay("PE", "C5", "2025-11-30 23:30", "INV-E", 70_000, "INV-F", 20_000)
	// Later events move the end of the data (and rate_drop's windows) on.
	e.remind("RG", "INV-G", "C7", "2025-12-10 10:00", "2025-12-01", 1, "email", 15_000, false)
	e.pay("PG", "C7", "2025-12-12 10:00", "INV-G", 15_000)
	return &e.ds
}

// Rule: months and days past due are taken in the report time zone (the
// tz parameter) and dpd buckets are cut at the dpd_edges parameter, in
// every named query. On events placed at month and dpd-bucket boundaries
// (31 October 23:30 UTC is 1 November in Paris), run through the real
// pipeline, every query equals the oracle under tz=Europe/Paris and under
// tz=UTC, with the default and with custom edges, over all months and over
// one month (from = to); and the two time zones give different results.
func TestPipeline_KPIsFollowTimeZoneAndDPDEdges(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	ds := boundaryEvents(t)
	pipeline(t, ctx, store, ds)
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	custom := []int{0, 15, 45}

	// One horizon is enough: every payment here is within 7 days of the
	// reminder it is credited to, and time zones do not depend on it.
	h := stream.DefaultHorizons[0]
	compared := map[string]int{} // per query and time zone
	for _, tz := range []*time.Location{paris, time.UTC} {
		add := func(q string, n int) { compared[q+" "+tz.String()] += n }
		for _, p := range []kpiParams{{tz: tz}, {tz: tz, edges: custom}, {tz: tz, from: "2025-11-01", to: "2025-11-01"}} {
			dims := []string{"dpd_bucket"}
			if p.edges == nil && p.from == "" {
				dims = append(dims, "channel")
			}
			for _, dim := range dims {
				add("post_reminder_rate", checkRates(t, ctx, store, ds, h, dim, p))
				n, both := checkUplift(t, ctx, store, ds, h, dim, p)
				if both == 0 && p.from == "" {
					t.Errorf("holdout_uplift %s %s: no row has both sent and withheld reminders", dim, p)
				}
				add("holdout_uplift", n)
				add("days_to_pay", checkDaysToPay(t, ctx, store, ds, h, dim, p))
				if p.from == "" {
					add("rate_drop", checkRateDrop(t, ctx, store, ds, h, dim, p))
				}
			}
			if p.edges == nil {
				add("reminder_dependency", checkDependency(t, ctx, store, ds, h, p))
			}
		}
	}
	checkOutcomes(t, ctx, store, ds, h)
	names, err := relsql.QueryNames()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range names {
		for _, tz := range []string{"Europe/Paris", "UTC"} {
			if compared[q+" "+tz] == 0 {
				t.Errorf("%s was not compared with the oracle under tz=%s", q, tz)
			}
		}
	}
	t.Logf("rows compared with the oracle: %v", compared)

	// Equality with the oracle in both zones proves that the zone is
	// applied only where the zones disagree on the data: every query's
	// rows must differ between them.
	for _, q := range names {
		_, declared := loadQuery(t, q)
		for _, e := range [][]int{nil, custom} {
			if e != nil && !declared["dpd_edges"] {
				continue
			}
			result := func(tz string) string {
				v := map[string]string{"horizon": "7d", "tz": tz}
				if declared["dimension"] {
					v["dimension"] = "dpd_bucket"
				}
				if e != nil {
					v["dpd_edges"] = edgesParam(e)
				}
				if declared["min_invoices"] {
					v["min_invoices"] = "1"
				}
				return fmt.Sprint(namedQuery(t, ctx, store, q, v).Data)
			}
			if p, u := result("Europe/Paris"), result("UTC"); p == u {
				t.Errorf("%s (dpd_edges %v): Europe/Paris and UTC give the same rows %s; the time zone is not applied", q, e, p)
			}
		}
	}
}

// Rule: collected_total of the reminder dependency share is every
// allocation paid in the month (SPEC §4), including a payment that arrived
// beyond retention: it has no attribution fact (its invoice's state is long
// gone; it is recorded in late_events) but it is in payment_allocations,
// and it counts as collected without reminder.
func TestPipeline_DependencyCountsPaymentsBeyondRetention(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	e := &events{t: t}
	e.remind("R1", "INV-1", "C1", "2025-11-03 10:00", "2025-10-20", 1, "email", 50_000, false)
	e.pay("P1", "C1", "2025-11-05 10:00", "INV-1", 50_000)
	e.pay("P2", "C2", "2025-11-20 10:00", "INV-2", 30_000)
	e.remind("R3", "INV-3", "C1", "2025-12-10 10:00", "2025-12-01", 1, "email", 10_000, false)
	e.remind("R4", "INV-4", "C2", "2025-12-10 11:00", "2025-12-01", 1, "email", 10_000, false)
	first := e.ds
	st, ends := pipeline(t, ctx, store, &first)
	// The watermark is now 10 December: a payment of 6 November on an
	// invoice without state is more than the 7-day retention behind it.
	late := &events{t: t}
	late.pay("PL", "C1", "2025-11-06 12:00", "INV-L", 12_345)
	more, err := st.Produce(ctx, &late.ds)
	if err != nil {
		t.Fatal(err)
	}
	for topic, ps := range more {
		if ends[topic] == nil {
			ends[topic] = map[int32]int64{}
		}
		for p, end := range ps {
			ends[topic][p] = max(ends[topic][p], end)
		}
	}
	if err := consume(ctx, st, ends); err != nil {
		t.Fatal(err)
	}
	ds := &generate.Dataset{Reminders: first.Reminders, Payments: append(first.Payments, late.ds.Payments...)}

	if got := dataOf(t, ctx, store, "SELECT topic, reason FROM late_events FINAL WHERE event_id = 'e-PL'"); got != "[[payments beyond_retention]]" {
		t.Fatalf("late_events for PL: %s, want it recorded as beyond_retention", got)
	}
	if got := dataOf(t, ctx, store, "SELECT count() FROM attribution_facts FINAL WHERE payment_id = 'PL'"); got != "[[0]]" {
		t.Fatalf("PL has facts (%s rows): it was not beyond retention", got)
	}
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range stream.DefaultHorizons {
		for _, tz := range []*time.Location{paris, time.UTC} {
			if checkDependency(t, ctx, store, ds, h, kpiParams{tz: tz}) == 0 {
				t.Errorf("%s %s: no reminder_dependency row", h, tz)
			}
		}
	}
	// The same figures by hand: November is P1 (after R1), P2 and PL.
	rows := namedQuery(t, ctx, store, "reminder_dependency", map[string]string{"horizon": "7d"})
	var got []string
	for _, r := range rows.Data {
		got = append(got, fmt.Sprint(cell(t, rows, r, "month"), " ", cell(t, rows, r, "collected_total_minor"), " ",
			cell(t, rows, r, "collected_after_reminder_minor"), " ", cell(t, rows, r, "collected_without_reminder_minor"), " ", cell(t, rows, r, "collected_unattributed_minor"), " ", cell(t, rows, r, "allocations")))
	}
	// PL is without reminder and, having no fact, unattributed.
	if want := "[2025-11-01 92345 50000 42345 12345 3]"; fmt.Sprint(got) != want {
		t.Errorf("reminder_dependency 7d (month total after without unattributed allocations) = %v, want %s", got, want)
	}
}

// dataOf runs q on store and prints its rows, e.g. "[[PL 7d 0]]".
func dataOf(t *testing.T, ctx context.Context, store sinks.Store, q string) string {
	t.Helper()
	rows, err := store.Query(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(rows.Data)
}
