package stream

import (
	"maps"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/relance-io/relance/schemas"
)

// Rule: the worked example of docs/SEMANTICS.md §3 is what the Joiner
// computes. The figures below are the doc's, derived there by hand from
// SPEC §3 (e.g. time_decay: 2^(-4/7) and 2^(-9/7) weigh the SMS and the
// e-mail, floor(60001 × 0.67295 / 1.08312) = 37279 and floor(22721.88) =
// 22721, the remainder 1 to the SMS): they are not the code's output.
func TestJoiner_SemanticsWorkedExample(t *testing.T) {
	at := func(d int) time.Time { return time.Date(2026, 10, d, 9, 0, 0, 0, time.UTC) }
	rem := func(id, channel string, level int32, sent time.Time) schemas.Reminder {
		return schemas.Reminder{EventID: "e-" + id, ReminderID: id, InvoiceID: "INV-42", CustomerID: "C42", SentAt: sent,
			Channel: channel, Level: level, AmountDueMinor: 100000, Currency: "EUR",
			InvoiceDueDate: time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC)}
	}
	h7, h15, h30 := DefaultHorizons[0], DefaultHorizons[1], DefaultHorizons[2]

	// credits maps a horizon to its credits by reminder_id ("" for the
	// collected-without-reminder row); candidates to its candidate count.
	type credits map[Horizon]map[string]int64
	f := func(name string, paid time.Time, m Model, want credits, candidates map[Horizon]int) {
		t.Helper()
		// The default half-life (7 days) is the doc's.
		j, err := NewJoiner(Attribution(m))
		if err != nil {
			t.Fatal(err)
		}
		j.AddReminder(rem("R-email", "email", 1, at(5)), 0)
		j.AddReminder(rem("R-sms", "sms", 2, at(10)), 1)
		j.AddPayment(schemas.Payment{EventID: "e-P1", PaymentID: "P1", CustomerID: "C42", PaidAt: paid, Currency: "EUR", Method: "transfer",
			Allocations: []schemas.Allocation{{InvoiceID: "INV-42", AmountMinor: 60001}}}, 0)
		j.Flush()
		facts, late := j.Drain()
		if len(late) > 0 {
			t.Fatalf("%s %s: late events %+v", name, m, late)
		}
		got := credits{}
		gotCands := map[Horizon]int{}
		for _, fa := range facts {
			if got[fa.Horizon] == nil {
				got[fa.Horizon] = map[string]int64{}
			}
			id := ""
			if fa.Matched {
				id = fa.Reminder.ReminderID
			}
			got[fa.Horizon][id] = fa.CreditedMinor
			gotCands[fa.Horizon] = fa.Candidates
		}
		for _, h := range DefaultHorizons {
			if !maps.Equal(got[h], want[h]) {
				t.Errorf("%s %s %s: credits %v, the doc says %v", name, m, h, got[h], want[h])
			}
		}
		if !maps.Equal(gotCands, candidates) {
			t.Errorf("%s %s: candidates %v, the doc says %v", name, m, gotCands, candidates)
		}
	}

	// Paid on 14 Oct: the SMS is 4 days old, the e-mail 9.
	both := map[Horizon]int{h7: 1, h15: 2, h30: 2}
	sms := map[string]int64{"R-sms": 60001}
	f("14 Oct", at(14), LastTouch, credits{h7: sms, h15: sms, h30: sms}, both)
	f("14 Oct", at(14), FirstTouch, credits{h7: sms, h15: {"R-email": 60001}, h30: {"R-email": 60001}}, both)
	f("14 Oct", at(14), Linear, credits{h7: sms, h15: {"R-sms": 30001, "R-email": 30000}, h30: {"R-sms": 30001, "R-email": 30000}}, both)
	f("14 Oct", at(14), TimeDecay, credits{h7: sms, h15: {"R-sms": 37280, "R-email": 22721}, h30: {"R-sms": 37280, "R-email": 22721}}, both)

	// The variant paid on 20 Oct: lags 10 and exactly 15 days. No candidate
	// for 7d; the e-mail is one for 15d as the upper bound is inclusive;
	// time_decay splits as before (only the 5-day gap matters).
	none := map[string]int64{"": 0}
	late := map[Horizon]int{h7: 0, h15: 2, h30: 2}
	f("20 Oct", at(20), LastTouch, credits{h7: none, h15: sms, h30: sms}, late)
	f("20 Oct", at(20), FirstTouch, credits{h7: none, h15: {"R-email": 60001}, h30: {"R-email": 60001}}, late)
	f("20 Oct", at(20), Linear, credits{h7: none, h15: {"R-sms": 30001, "R-email": 30000}, h30: {"R-sms": 30001, "R-email": 30000}}, late)
	f("20 Oct", at(20), TimeDecay, credits{h7: none, h15: {"R-sms": 37280, "R-email": 22721}, h30: {"R-sms": 37280, "R-email": 22721}}, late)
}

// Rule: under time_decay, candidates sent at the same instant weigh the
// same, so their shares are equal: with every candidate tied, time_decay
// splits exactly as linear does (the remainder to the latest). These are
// the audit's cases (3 000 over two reminders 17 h before the payment was
// split 1 501 / 1 499, 300 over three 102 / 99 / 99), then random ones.
func TestAttribute_TimeDecayTiesSplitEvenly(t *testing.T) {
	paid := time.Date(2026, 10, 10, 9, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		ago    time.Duration
		amount int64
		ids    []string
		want   map[string]int64
	}{
		{17 * time.Hour, 3000, []string{"R-email", "R-sms"}, map[string]int64{"R-email": 1500, "R-sms": 1500}},
		{3 * time.Hour, 300, []string{"R-a", "R-b", "R-c"}, map[string]int64{"R-a": 100, "R-b": 100, "R-c": 100}},
	} {
		j, err := NewJoiner(Attribution(TimeDecay))
		if err != nil {
			t.Fatal(err)
		}
		for i, id := range c.ids {
			j.AddReminder(schemas.Reminder{EventID: "e-" + id, ReminderID: id, InvoiceID: "INV-T", CustomerID: "C1",
				SentAt: paid.Add(-c.ago), Channel: id, Level: 1, AmountDueMinor: c.amount, Currency: "EUR"}, int64(i))
		}
		j.AddPayment(schemas.Payment{EventID: "e-P", PaymentID: "P", CustomerID: "C1", PaidAt: paid, Currency: "EUR",
			Allocations: []schemas.Allocation{{InvoiceID: "INV-T", AmountMinor: c.amount}}}, 0)
		j.Flush()
		facts, _ := j.Drain()
		got := map[string]int64{}
		for _, f := range facts {
			if f.Horizon == DefaultHorizons[0] && f.Reminder != nil {
				got[f.Reminder.ReminderID] = f.CreditedMinor
			}
		}
		if !maps.Equal(got, c.want) {
			t.Errorf("%d paid %s after %d tied reminders: credits %v, want %v", c.amount, c.ago, len(c.ids), got, c.want)
		}
	}

	rng := rand.New(rand.NewPCG(8, 15))
	for range 20000 {
		n := 2 + rng.IntN(5)
		lag := rng.Int64N(30 * 86_400_000)
		amount := 1 + rng.Int64N(1_000_000_000)
		halfLife := float64(1 + rng.Int64N(30*86_400_000))
		cands := make([]candidate, n)
		for i := range cands {
			cands[i] = candidate{rem: &reminderState{sentMs: int64(i)}, lagMs: lag}
		}
		decay := attribute(TimeDecay, amount, cands, halfLife, nil)
		linear := attribute(Linear, amount, cands, halfLife, nil)
		for i := range decay {
			if decay[i] != linear[i] {
				t.Fatalf("%d over %d candidates tied at lag %d ms (half-life %.0f ms): time_decay gives %v, linear %v",
					amount, n, lag, halfLife, decay, linear)
			}
		}
	}
}

// Rule: a fact's candidates column is the same whatever the arrival order.
// An earlier reminder read after the payment's facts were written is a
// candidate that does not win last_touch: no credit changes, but the count
// does, and the rows are rewritten with it. It used to stay at 1 where the
// events in order give 2 (the audit's crash loop saw 2/3/4 against 1/2/3).
func TestJoiner_CandidatesDoNotDependOnArrivalOrder(t *testing.T) {
	t0 := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	r0, r1 := reminderAt("R0", "I1", t0), reminderAt("R1", "I1", t0.Add(24*time.Hour))
	p := paymentAt("P1", "I1", t0.Add(48*time.Hour), 1000)
	later := paymentAt("P2", "I9", t0.Add(96*time.Hour), 1)
	r9 := reminderAt("R9", "I9", t0.Add(96*time.Hour))
	candidates := func(order []any) map[Horizon]int {
		var clock uint64
		j := mustJoiner(t, AllowedLateness(0), VersionClock(func() uint64 { clock++; return clock }))
		var facts []Fact
		for i, e := range order {
			switch e := e.(type) {
			case schemas.Reminder:
				j.AddReminder(e, int64(i))
			case schemas.Payment:
				j.AddPayment(e, int64(i))
			}
			f, _ := j.Drain()
			facts = append(facts, f...)
		}
		out := map[Horizon]int{}
		last := map[Horizon]uint64{}
		for _, f := range facts {
			if f.PaymentID == "P1" && !f.Deleted && f.Version >= last[f.Horizon] {
				out[f.Horizon], last[f.Horizon] = f.Candidates, f.Version
			}
		}
		return out
	}
	inOrder := candidates([]any{r0, r1, p, r9, later})
	late := candidates([]any{r1, p, r9, later, r0})
	if !maps.Equal(inOrder, late) || inOrder[DefaultHorizons[0]] != 2 {
		t.Errorf("candidates per horizon: in order %v, with R0 late %v; want both 2", inOrder, late)
	}
}
