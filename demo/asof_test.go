package demo

import (
	"context"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/relance-io/relance/generate"
	"github.com/relance-io/relance/sinks"
	"github.com/relance-io/relance/stream"
)

// Rule: for last_touch, the attribution facts equal ClickHouse's own ASOF
// JOIN over the raw tables (each allocation joined to the latest non-holdout
// reminder on its invoice sent at or before the payment, matched for a
// horizon when the lag is within it), on more than 100 000 allocations.
// ASOF JOIN has no tie-break, so invoices with two non-holdout reminders at
// the same sent_at are compared only on whether they matched (the
// tie-break itself is proved against the brute-force oracle in stream/).
func TestFacts_EqualClickHouseAsofJoin(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the 100 000-allocation ASOF JOIN comparison runs in the full suite (make test)")
	}
	ctx := context.Background()
	store := newStore(t)
	p := generate.DefaultParams()
	p.Customers, p.Months, p.Seed = 8500, 12, 11
	p.Start = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	ds, err := generate.Generate(p)
	if err != nil {
		t.Fatal(err)
	}

	// Events go to the joiner in event-time order, interleaved, as the
	// pipeline would deliver them; the raw tables get the same events.
	j, err := stream.NewJoiner()
	if err != nil {
		t.Fatal(err)
	}
	type ev struct {
		at  time.Time
		rem int
		pay int
	}
	var evs []ev
	for i, r := range ds.Reminders {
		evs = append(evs, ev{r.SentAt, i, -1})
	}
	for i, py := range ds.Payments {
		evs = append(evs, ev{py.PaidAt, -1, i})
	}
	sort.SliceStable(evs, func(a, b int) bool { return evs[a].at.Before(evs[b].at) })
	batch := &sinks.Batch{Reminders: ds.Reminders, Payments: ds.Payments}
	for k, e := range evs {
		if e.rem >= 0 {
			j.AddReminder(ds.Reminders[e.rem], int64(k))
		} else {
			j.AddPayment(ds.Payments[e.pay], int64(k))
		}
	}
	j.Flush()
	batch.Facts, batch.Late = j.Drain()
	if len(batch.Late) != 0 {
		t.Fatalf("%d late events in an in-order run", len(batch.Late))
	}
	if err := store.Write(ctx, batch); err != nil {
		t.Fatal(err)
	}

	scalar := func(q string) int64 {
		t.Helper()
		rows, err := store.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		n, err := strconv.ParseInt(rows.Data[0][0], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	allocs := scalar("SELECT count() FROM payment_allocations FINAL")
	if allocs < 100_000 {
		t.Fatalf("only %d allocations; the rule is proved on at least 100 000", allocs)
	}
	const asof = `
		WITH asof AS (
			SELECT a.payment_id AS payment_id, a.allocation_index AS allocation_index, a.invoice_id AS invoice_id,
			       r.reminder_id AS reminder_id,
			       if(r.reminder_id = '', -1, dateDiff('millisecond', r.sent_at, a.paid_at)) AS lag_ms
			FROM (SELECT * FROM payment_allocations FINAL) AS a
			ASOF LEFT JOIN (SELECT invoice_id, currency, sent_at, reminder_id FROM reminders FINAL WHERE holdout = 0) AS r
			ON a.invoice_id = r.invoice_id AND a.currency = r.currency AND a.paid_at >= r.sent_at
		),
		tied AS (
			SELECT DISTINCT invoice_id FROM reminders FINAL WHERE holdout = 0
			GROUP BY invoice_id, sent_at HAVING count() > 1
		),
		expected AS (
			SELECT payment_id, allocation_index, invoice_id, h.1 AS horizon,
			       if(lag_ms >= 0 AND lag_ms <= h.2, reminder_id, '') AS reminder_id
			FROM asof ARRAY JOIN [('7d', 7*86400000), ('15d', 15*86400000), ('30d', 30*86400000)] AS h
		),
		got AS (
			SELECT payment_id, allocation_index, horizon, reminder_id FROM attribution_facts FINAL
		)
		SELECT
			count() AS compared,
			countIf(g.reminder_id IS NULL) AS missing,
			countIf(g.reminder_id IS NOT NULL AND e.invoice_id NOT IN tied AND e.reminder_id != g.reminder_id) AS differ,
			countIf(g.reminder_id IS NOT NULL AND e.invoice_id IN tied AND (e.reminder_id = '') != (g.reminder_id = '')) AS differ_tied,
			countIf(e.invoice_id IN tied) AS tied_rows,
			countIf(e.reminder_id != '') AS matched
		FROM expected AS e
		LEFT JOIN got AS g USING (payment_id, allocation_index, horizon)
		SETTINGS join_use_nulls = 1`
	rows, err := store.Query(ctx, asof)
	if err != nil {
		t.Fatal(err)
	}
	get := func(c string) int64 {
		n, _ := strconv.ParseInt(rows.Data[0][rows.Col(c)], 10, 64)
		return n
	}
	t.Logf("%d allocations, %d (allocation, horizon) rows compared, %d matched, %d on tied invoices",
		allocs, get("compared"), get("matched"), get("tied_rows"))
	if get("compared") != 3*allocs {
		t.Fatalf("compared %d rows, want 3 × %d allocations", get("compared"), allocs)
	}
	if get("matched") == 0 || get("matched") == get("compared") {
		t.Fatalf("matched %d of %d: the data set does not exercise both outcomes", get("matched"), get("compared"))
	}
	// join_use_nulls = 1 above: with 0, a missing fact would read as
	// reminder_id '' and pass for "collected without reminder".
	if m := get("missing"); m != 0 {
		t.Fatalf("%d (allocation, horizon) rows have no attribution fact", m)
	}
	if n := scalar("SELECT count() FROM attribution_facts FINAL"); n != 3*allocs {
		t.Fatalf("%d facts, want one per allocation and horizon (3 × %d): facts outside the raw allocations", n, allocs)
	}
	if d := get("differ"); d != 0 {
		t.Fatalf("%d (allocation, horizon) rows differ from ClickHouse's ASOF JOIN", d)
	}
	if d := get("differ_tied"); d != 0 {
		t.Fatalf("%d rows on tied invoices disagree on whether they matched", d)
	}
	if n := scalar("SELECT count() FROM (SELECT payment_id, allocation_index, horizon FROM attribution_facts FINAL GROUP BY ALL HAVING count() != 1)"); n != 0 {
		t.Fatalf("%d (allocation, horizon) keys have more than one last_touch fact", n)
	}
}
