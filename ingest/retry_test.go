package ingest_test

import (
	"context"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/relance-io/relance/ingest"
	"github.com/relance-io/relance/sinks"
)

// flakySink is the real store behind a connection that breaks: every
// second write lands only part of the batch (its raw reminders and facts)
// before failing with a connection reset, so the consumer retries the
// whole batch over rows that are already there.
type flakySink struct {
	sinks.Store
	writes, failures int
}

func (f *flakySink) Write(ctx context.Context, b *sinks.Batch) error {
	f.writes++
	if f.writes%2 == 1 {
		part := &sinks.Batch{Token: b.Token, Reminders: b.Reminders, Facts: b.Facts}
		if err := f.Store.Write(ctx, part); err != nil {
			return err
		}
		f.failures++
		return &sinks.Error{Op: "insert payment_allocations", Err: syscall.ECONNRESET}
	}
	return f.Store.Write(ctx, b)
}

// Rule: a batch that failed halfway and was retried leaves every KPI and
// every table exactly as a run where nothing failed.
func TestConsumer_RetriedPartialBatchChangesNothing(t *testing.T) {
	st := newStack(t)
	ds := dataset(t, 11)
	e := ends{}
	st.produce(t, e, st.records(t, ds)...)

	clean := newStore(t, "clean")
	if _, err := st.consume(t, clean, "clean", e, ingest.FlushRows(500)); err != nil {
		t.Fatal(err)
	}
	snapshot := func(s sinks.Store) []string {
		var out []string
		for _, q := range []string{"post_reminder_rate", "reminder_dependency", "holdout_uplift", "days_to_pay"} {
			rows, err := sinks.QueryNamed(context.Background(), s, q, map[string]string{"horizon": "15d"})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rows.Data {
				out = append(out, q+" "+joinRow(r))
			}
		}
		out = append(out, query(t, s, factsQuery)...)
		out = append(out, count(t, s, "SELECT count() FROM payment_allocations FINAL"), count(t, s, "SELECT count() FROM reminders FINAL"))
		return out
	}
	want := snapshot(clean)

	flaky := &flakySink{Store: newStore(t, "flaky")}
	stats, err := st.consume(t, flaky, "flaky", e, ingest.FlushRows(500))
	if err != nil {
		t.Fatal(err)
	}
	if flaky.failures == 0 || stats.Retries == 0 {
		t.Fatalf("no write failed (%d writes): the test proves nothing", flaky.writes)
	}
	if got := snapshot(flaky.Store); !slices.Equal(got, want) {
		t.Fatalf("after %d failed and retried writes the KPIs differ:\n%s", flaky.failures, diff(got, want))
	}
}

func joinRow(r []string) string { return strings.Join(r, "|") }
