package oracle

import (
	"testing"
	"time"

	"github.com/relance-io/relance/generate"
	"github.com/relance-io/relance/schemas"
)

// Rule: dpd buckets are [edge_i, edge_i+1), "preventive" below the first
// edge and "<last>+" from the last one.
func TestDPDBucket(t *testing.T) {
	f := func(dpd int, want string) {
		t.Helper()
		if got := DPDBucket(dpd, DefaultDPDEdges); got != want {
			t.Errorf("DPDBucket(%d) = %q, want %q", dpd, got, want)
		}
	}
	f(-1, "preventive")
	f(0, "0-30")
	f(29, "0-30")
	f(30, "30-60")
	f(89, "60-90")
	f(90, "90+")
	f(400, "90+")
}

// Rule: custom edges cut the buckets the same way, and the dpd_bucket
// segment uses the edges it is given, with dpd taken in the report time
// zone: 23:30 UTC on due+14 is due+15 in Paris, across the 15 edge.
func TestSegmentWith_CustomEdges(t *testing.T) {
	edges := []int{0, 15, 45}
	for dpd, want := range map[int]string{-3: "preventive", 0: "0-15", 14: "0-15", 15: "15-45", 44: "15-45", 45: "45+", 100: "45+"} {
		if got := DPDBucket(dpd, edges); got != want {
			t.Errorf("DPDBucket(%d, %v) = %q, want %q", dpd, edges, got, want)
		}
	}
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	due := time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC)
	r := &schemas.Reminder{SentAt: due.Add(14*24*time.Hour + 23*time.Hour + 30*time.Minute), InvoiceDueDate: due}
	for _, c := range []struct {
		tz    *time.Location
		edges []int
		want  string
	}{
		{time.UTC, edges, "0-15"},
		{paris, edges, "15-45"},
		{time.UTC, DefaultDPDEdges, "0-30"},
		{paris, DefaultDPDEdges, "0-30"},
	} {
		if got := SegmentWith(r, "dpd_bucket", c.tz, c.edges); got != c.want {
			t.Errorf("SegmentWith(dpd_bucket, %s, %v) = %q, want %q", c.tz, c.edges, got, c.want)
		}
	}
	if got := Segment(r, "dpd_bucket", paris); got != "0-30" {
		t.Errorf("Segment(dpd_bucket, Paris) = %q, want the default edges' 0-30", got)
	}
}

// Rule: dpd is counted from the date of sent_at in the report time zone
// (late evening UTC is the next day in Paris).
func TestDPD_DateInTimeZone(t *testing.T) {
	tz, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	r := &schemas.Reminder{SentAt: time.Date(2026, 3, 31, 23, 30, 0, 0, time.UTC), InvoiceDueDate: time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)}
	if got := DPD(r, tz); got != 1 {
		t.Errorf("DPD = %d, want 1", got)
	}
	if got := MonthOf(r.SentAt, tz); got != "2026-04-01" {
		t.Errorf("MonthOf = %s, want 2026-04-01", got)
	}
	if got := Segment(r, "final_notice", tz); got != "not_final" {
		t.Errorf("final_notice = %s", got)
	}
}

// Rule: last_touch takes the latest candidate (both window bounds
// inclusive, holdouts never), ties going to the higher level, then the
// greater reminder_id.
func TestLastTouch_Ties(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	h := 7 * 24 * time.Hour
	rem := func(id string, sent time.Time, level int32, holdout bool) *schemas.Reminder {
		return &schemas.Reminder{ReminderID: id, SentAt: sent, Level: level, Holdout: holdout, Currency: "EUR"}
	}
	f := func(paid time.Time, want string, rs ...*schemas.Reminder) {
		t.Helper()
		got := ""
		if l := LastTouch(rs, paid, "EUR", h); l != nil {
			got = l.ReminderID
		}
		if got != want {
			t.Errorf("LastTouch = %q, want %q", got, want)
		}
	}
	f(t0, "a", rem("a", t0, 1, false))
	f(t0.Add(h), "a", rem("a", t0, 1, false))
	f(t0.Add(h+time.Millisecond), "", rem("a", t0, 1, false))
	f(t0.Add(-time.Millisecond), "", rem("a", t0, 1, false))
	f(t0.Add(time.Hour), "a", rem("a", t0, 1, false), rem("h", t0.Add(time.Minute), 2, true))
	f(t0.Add(time.Hour), "b", rem("a", t0, 1, false), rem("b", t0.Add(time.Minute), 1, false))
	f(t0.Add(time.Hour), "a", rem("a", t0, 2, false), rem("b", t0, 1, false))
	f(t0.Add(time.Hour), "b", rem("a", t0, 1, false), rem("b", t0, 1, false))
	usd := rem("u", t0.Add(time.Minute), 3, false)
	usd.Currency = "USD"
	f(t0.Add(time.Hour), "a", rem("a", t0, 1, false), usd) // another currency is no candidate
}

// Rule: SPEC §4's worked examples. In October, 80 000 EUR reminded and
// 50 000 EUR collected after a reminder give a rate of 62.5 %; 120 000 EUR
// collected in total, 50 000 EUR of it after a reminder, give a dependency
// share of 41.67 %.
func TestRatesAndDependency_WorkedExamples(t *testing.T) {
	tz, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	at := func(day int) time.Time { return time.Date(2026, 10, day, 9, 0, 0, 0, time.UTC) }
	rem := func(id, inv string, sent time.Time, amount int64) schemas.Reminder {
		return schemas.Reminder{ReminderID: id, InvoiceID: inv, SentAt: sent, Channel: "email", Level: 1, AmountDueMinor: amount, Currency: "EUR"}
	}
	pay := func(id, inv string, paid time.Time, amount int64) schemas.Payment {
		return schemas.Payment{PaymentID: id, PaidAt: paid, Currency: "EUR", Allocations: []schemas.Allocation{{InvoiceID: inv, AmountMinor: amount}}}
	}
	ds := &generate.Dataset{
		Reminders: []schemas.Reminder{rem("R1", "A", at(5), 50_000_00), rem("R2", "B", at(10), 30_000_00), rem("R3", "A", at(6), 50_000_00)},
		Payments:  []schemas.Payment{pay("P1", "A", at(8), 50_000_00), pay("P2", "C", at(20), 70_000_00)},
	}
	h := 7 * 24 * time.Hour
	r := Rates(ds, h, "all", tz)[Key{"2026-10-01", "all", "EUR"}]
	if r == nil || r.Reminded != 80_000_00 || r.Collected != 50_000_00 || r.Invoices != 2 || r.Reminders != 3 || r.Value() != 0.625 {
		t.Fatalf("October rate cell %+v, want 80 000 reminded, 50 000 collected, 2 invoices, 3 reminders, 0.625", r)
	}
	d := Dependency(ds, h, tz)[Key{Period: "2026-10-01", Currency: "EUR"}]
	if d == nil || d.Total != 120_000_00 || d.After != 50_000_00 || d.Payments != 2 || d.Allocations != 2 {
		t.Fatalf("October dependency cell %+v, want 120 000 total, 50 000 after", d)
	}
	if got := int(10000*d.Share() + 0.5); got != 4167 {
		t.Errorf("share %.4f, want 0.4167", d.Share())
	}
	o := Outcomes(ds, h)
	if o[0] != (Outcome{Collected: 50_000_00}) || o[2] != (Outcome{Collected: 50_000_00, Credited: 50_000_00}) {
		t.Errorf("outcomes %+v: both A reminders see the payment, the later one is credited", o)
	}
}
