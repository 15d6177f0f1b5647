package clickhouse

import (
	"testing"
	"time"

	"github.com/relance-io/relance/generate"
	"github.com/relance-io/relance/sinks"
	"github.com/relance-io/relance/stream"
)

// genBatch generates a small receivables book (invoices, reminders with
// holdouts, multi-invoice payments, edge cases), runs it through the joiner
// and returns everything as one Batch: raw events, facts, late events and
// reminder outcomes.
func genBatch(t testing.TB) *sinks.Batch {
	t.Helper()
	p := generate.DefaultParams()
	p.Customers, p.Months, p.Seed = 60, 4, 11
	p.Start = time.Date(2025, 9, 1, 0, 0, 0, 0, time.UTC)
	ds, err := generate.Generate(p)
	if err != nil {
		t.Fatal(err)
	}
	j, err := stream.NewJoiner()
	if err != nil {
		t.Fatal(err)
	}
	ri, pi := 0, 0
	for ri < len(ds.Reminders) || pi < len(ds.Payments) {
		if pi == len(ds.Payments) || ri < len(ds.Reminders) && !ds.Payments[pi].PaidAt.Before(ds.Reminders[ri].SentAt) {
			j.AddReminder(ds.Reminders[ri], int64(ri))
			ri++
		} else {
			j.AddPayment(ds.Payments[pi], int64(pi))
			pi++
		}
	}
	j.Flush()
	facts, late := j.Drain()
	return &sinks.Batch{
		Token:     "gen:0-" + time.Now().Format("150405.000000"),
		Reminders: ds.Reminders,
		Payments:  ds.Payments,
		Invoices:  ds.Invoices,
		Facts:     facts,
		Late:      late,
		Outcomes:  j.DrainOutcomes(),
	}
}
