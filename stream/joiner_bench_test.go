package stream_test

import (
	"os"
	"strconv"
	"testing"

	"github.com/relance-io/relance/bench"
	"github.com/relance-io/relance/stream"
)

// The Joiner benchmarks measure the join alone, on pre-decoded events, one
// goroutine: b.N events of a steady synthetic stream (invoices come and
// expire, the open state stays the same size), Drain every 1024 events,
// then Recycle (the output is dropped, as a sink does once it is written);
// the Joiner is told the invoices of the next 32 events ahead
// (TouchInvoices), as ingest does.
// ns/op is per event; allocs/op must be 0 on the hot path.

func benchmarkSteady(b *testing.B, open int) {
	src := bench.NewSynthetic(open)
	j, err := stream.NewJoiner()
	if err != nil {
		b.Fatal(err)
	}
	var off int64
	src.Warm(j, &off)
	// Pre-take a window of events and replay it, continuing the stream
	// when b.N is larger.
	const window = 1 << 18
	evs := src.Take(window)
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	// As ingest does, the Joiner is told about the next events ahead
	// (RELANCE_BENCH_TOUCH=n: n events, 0: never).
	touch := bench.TouchWindow
	if v, err := strconv.Atoi(os.Getenv("RELANCE_BENCH_TOUCH")); err == nil {
		touch = v
	}
	var ids []string
	for b.Loop() {
		if i == len(evs) {
			b.StopTimer()
			evs = src.Take(window)
			i = 0
			b.StartTimer()
		}
		if touch > 0 && i%touch == 0 {
			ids = bench.Touch(j, evs[i:min(i+touch, len(evs))], ids)
		}
		evs[i].Feed(j, off)
		off++
		i++
		if off%bench.DrainEvery == 0 {
			j.Drain()
			j.DrainOutcomes()
			j.Recycle() // the output is dropped: its buffers are reused
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkJoiner is the joiner-only figure: 100 000 open reminders.
func BenchmarkJoiner(b *testing.B) { benchmarkSteady(b, 100_000) }

// BenchmarkJoiner_OpenState is throughput as open state grows. 10 000 000
// is included when RELANCE_BENCH_10M=1 (about 4 GB of heap, a minute of
// warm-up).
func BenchmarkJoiner_OpenState(b *testing.B) {
	sizes := []int{10_000, 100_000, 1_000_000}
	if os.Getenv("RELANCE_BENCH_10M") == "1" {
		sizes = append(sizes, 10_000_000)
	}
	for _, n := range sizes {
		b.Run("open="+strconv.Itoa(n), func(b *testing.B) { benchmarkSteady(b, n) })
	}
}

// BenchmarkJoiner_GeneratedBook feeds a generated receivables book (about
// 200 000 reminders and payments) in event-time order to a fresh Joiner
// per iteration; ns/op is per event.
func BenchmarkJoiner_GeneratedBook(b *testing.B) {
	ds, err := bench.Dataset(200_000)
	if err != nil {
		b.Fatal(err)
	}
	evs := bench.Ordered(ds)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := bench.JoinOnce(evs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(evs))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkJoiner_StateBytes reports the live heap per open reminder
// (bytes/reminder) over 1 000 000 reminders held.
func BenchmarkJoiner_StateBytes(b *testing.B) {
	var per float64
	for b.Loop() {
		var err error
		if per, err = bench.StateBytes(1_000_000); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(per, "bytes/reminder")
}

// BenchmarkJoiner_Restore restores a snapshot of 1 000 000 open reminders
// (payments and outcome state included) into a new Joiner; the target of
// issue 7 is under 10 s. The figure is s/restore (median of b.N restores);
// ns/op also counts warming the Joiner up and taking the snapshot.
func BenchmarkJoiner_Restore(b *testing.B) {
	r, err := bench.RestoreRate(1_000_000, max(1, b.N))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(r.RestoreDur.Seconds(), "s/restore")
	b.ReportMetric(float64(r.Bytes)/float64(r.Reminders), "snapshot-bytes/reminder")
}
