package demo

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/relance-io/relance/stream"
)

// Rule: amounts of two currencies are never added (SEMANTICS §3). A
// payment in USD on an invoice reminded in EUR is no credit for the EUR
// reminder: collected without reminder in USD, left out of the EUR
// reminder's outcome and of the holdout uplift. Before, the USD 40.00 was
// credited to the EUR reminder, so the USD post-reminder rate read 0.9
// (9 000 collected on 10 000 reminded) where the USD reminders brought in
// 5 000, and the EUR outcome counted USD cents as euros.
func TestPipeline_PaymentInAnotherCurrencyIsNotAttributed(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	e := &events{t: t}
	e.remind("R-G1", "INV-G", "C1", "2026-10-10 09:00", "2026-10-01", 1, "email", 10_000, false)
	e.ds.Reminders[len(e.ds.Reminders)-1].Currency = "USD"
	e.pay("PG1", "C1", "2026-10-12 09:00", "INV-G", 5_000)
	e.ds.Payments[len(e.ds.Payments)-1].Currency = "USD"
	e.remind("R-H1", "INV-H", "C1", "2026-10-10 09:00", "2026-10-01", 1, "email", 10_000, false)
	e.pay("PH1", "C1", "2026-10-12 10:00", "INV-H", 4_000)
	e.ds.Payments[len(e.ds.Payments)-1].Currency = "USD"
	// A withheld EUR reminder paid in USD: nothing for the control group.
	e.remind("R-K1", "INV-K", "C1", "2026-10-10 09:00", "2026-10-01", 1, "email", 10_000, true)
	e.pay("PK1", "C1", "2026-10-12 11:00", "INV-K", 3_000)
	e.ds.Payments[len(e.ds.Payments)-1].Currency = "USD"
	// Both inputs move on past every horizon: the outcomes above are final.
	e.remind("R-Z", "INV-Z", "C1", "2026-11-30 09:00", "2026-11-01", 1, "email", 1_000, false)
	e.pay("PZ", "C1", "2026-11-30 10:00", "INV-Z", 1_000)
	pipeline(t, ctx, store, &e.ds)

	if got := dataOf(t, ctx, store, "SELECT payment_id, horizon, matched, reminder_id, credited_minor FROM attribution_facts FINAL WHERE payment_id = 'PH1' AND horizon = '7d'"); got != "[[PH1 7d 0  0]]" {
		t.Errorf("facts of PH1 (USD on a EUR invoice): %s, want collected without reminder", got)
	}
	if got := dataOf(t, ctx, store, "SELECT reminder_id, currency, collected_minor, credited_minor FROM reminder_outcomes FINAL WHERE horizon = '7d' AND sent_at < '2026-11-01' ORDER BY reminder_id"); got != "[[R-G1 USD 5000 5000] [R-H1 EUR 0 0] [R-K1 EUR 0 0]]" {
		t.Errorf("7d outcomes (reminder currency collected credited): %s, want only the USD payment on the USD reminder", got)
	}
	rows := namedQuery(t, ctx, store, "post_reminder_rate", map[string]string{"horizon": "7d", "dimension": "all", "tz": "UTC"})
	var got []string
	for _, r := range rows.Data {
		got = append(got, fmt.Sprint(cell(t, rows, r, "currency"), " ", cell(t, rows, r, "reminded_minor"), " ", cell(t, rows, r, "collected_minor")))
	}
	if want := "[EUR 10000 0 USD 10000 5000 EUR 1000 1000]"; fmt.Sprint(got) != want {
		t.Errorf("post_reminder_rate 7d (currency reminded collected) = %v, want %s", got, want)
	}

	// And every KPI equals the brute force, which applies the same rule.
	for _, h := range stream.DefaultHorizons {
		p := kpiParams{tz: time.UTC}
		checkRates(t, ctx, store, &e.ds, h, "channel", p)
		checkDependency(t, ctx, store, &e.ds, h, p)
		checkUplift(t, ctx, store, &e.ds, h, "level", p)
		checkOutcomes(t, ctx, store, &e.ds, h)
	}
}
