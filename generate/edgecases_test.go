package generate

import (
	"testing"
	"time"
)

// The deliberate edge cases are present in the default data, so every demo
// exercises the join's inclusive bounds and its tie-breaks: a payment at the
// exact millisecond of a sent reminder (lower bound), a payment exactly 7
// days after one (upper bound of the 7-day horizon), and two reminders of
// one invoice with the same sent_at (last_touch tie-break, ASOF JOIN caveat).
func TestGenerate_EdgeCases(t *testing.T) {
	ds := mustDefault(t)
	type key struct {
		invoice string
		at      time.Time
	}
	sent := map[key]int{}
	for _, r := range ds.Reminders {
		if !r.Holdout {
			sent[key{r.InvoiceID, r.SentAt}]++
		}
	}
	var sameMillisecond, sevenDays, samePair int
	for _, n := range sent {
		if n >= 2 {
			samePair++
		}
	}
	for _, pay := range ds.Payments {
		for _, a := range pay.Allocations {
			if sent[key{a.InvoiceID, pay.PaidAt}] > 0 {
				sameMillisecond++
			}
			if sent[key{a.InvoiceID, pay.PaidAt.Add(-7 * 24 * time.Hour)}] > 0 {
				sevenDays++
			}
		}
	}
	want := DefaultParams().EdgeCases
	f := func(what string, got int) {
		t.Helper()
		// Injected ones reach the quota; a natural one more is possible.
		if got < want || got > 2*want {
			t.Errorf("%s: %d occurrences, want %d..%d", what, got, want, 2*want)
		}
	}
	f("payment at a reminder's sent_at", sameMillisecond)
	f("payment exactly 7 days after a reminder", sevenDays)
	f("two reminders of one invoice with the same sent_at", samePair)
}

// EdgeCases = 0 turns the injection off.
func TestGenerate_NoEdgeCases(t *testing.T) {
	p := DefaultParams()
	p.Customers = 300
	p.EdgeCases = 0
	ds, err := Generate(p)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]time.Time{}
	for _, r := range ds.Reminders {
		k := r.InvoiceID + r.SentAt.String()
		if _, dup := seen[k]; dup {
			t.Fatalf("%s: same sent_at as another reminder of %s with edge cases off", r.ReminderID, r.InvoiceID)
		}
		seen[k] = r.SentAt
	}
}
