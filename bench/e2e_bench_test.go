package bench

import (
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/relance-io/relance/generate"

	"github.com/relance-io/relance/sinks/chdb/chdbtest"
)

func TestMain(m *testing.M) { chdbtest.Main(m) }

// BenchmarkEndToEnd runs EndToEnd (kfake → decode → join → chDB, producing
// not timed) over a generated book once per iteration: the end-to-end row
// of `relance bench` as a go test benchmark, for profiles (-cpuprofile).
// RELANCE_BENCH_EVENTS sets the book's size (default 100 000 events).
//
//	go test -run '^$' -bench EndToEnd -benchtime 3x -cpuprofile cpu.prof ./bench/
func BenchmarkEndToEnd(b *testing.B) {
	ds := benchBook(b)
	store := chdbtest.NewStore(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, _, err := EndToEnd(ctx, store, ds, "relance_bench_e2e_test")
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(r.PerCore(), "events/cpu-s")
		b.ReportMetric(r.AllocsPerEvent, "allocs/event")
		if i == 0 {
			// Rows written per event: what the sink's cost scales with.
			for _, t := range []string{"reminders", "payment_allocations", "invoices", "attribution_facts", "reminder_outcomes", "late_events"} {
				rows, err := store.Query(ctx, "SELECT count() FROM "+t)
				if err != nil {
					b.Fatal(err)
				}
				b.Logf("%s: %s rows for %d events", t, rows.Data[0][0], r.Events)
			}
		}
	}
}

// BenchmarkSink writes the batches end to end would write for the same
// book (Batches) into a fresh chDB database per iteration: the chDB sink
// alone, for profiles. RELANCE_BENCH_EVENTS as for BenchmarkEndToEnd.
//
//	go test -run '^$' -bench Sink -benchtime 3x -cpuprofile cpu.prof ./bench/
func BenchmarkSink(b *testing.B) {
	ds := benchBook(b)
	store := chdbtest.NewStore(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := SinkRate(context.Background(), store, ds, "relance_bench_sink_test", 1)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(r.PerCore(), "events/cpu-s")
		b.ReportMetric(float64(r.EngineCPUPerEvent)/float64(r.CPUPerEvent), "engine-share")
	}
}

// benchBook is the generated book of the chDB benchmarks: about
// RELANCE_BENCH_EVENTS events (default 100 000).
func benchBook(b *testing.B) *generate.Dataset {
	n := 100_000
	if s := os.Getenv("RELANCE_BENCH_EVENTS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	ds, err := Dataset(n)
	if err != nil {
		b.Fatal(err)
	}
	return ds
}
