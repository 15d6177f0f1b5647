package ingest_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/relance-io/relance/generate"
	"github.com/relance-io/relance/ingest"
	"github.com/relance-io/relance/sinks"
)

// downSink is the real store behind a connection that refuses every write
// while down is set.
type downSink struct {
	sinks.Store
	down atomic.Bool
}

func (d *downSink) Write(ctx context.Context, b *sinks.Batch) error {
	if d.down.Load() {
		return &sinks.Error{Op: "insert", Err: syscall.ECONNREFUSED}
	}
	return d.Store.Write(ctx, b)
}

// Rule: while the store is down the consumer stops fetching (no record is
// read past the batch it is retrying) and its memory stays bounded however
// much arrives; when the store is back it catches up by itself, and the
// results equal those of a run without outage.
func TestConsumer_SinkOutagePausesFetchingThenCatchesUp(t *testing.T) {
	st := newStack(t)
	p := generate.DefaultParams()
	p.Customers, p.Months, p.Seed = 600, 6, 8
	p.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ds, err := generate.Generate(p)
	if err != nil {
		t.Fatal(err)
	}
	recs := st.records(t, ds)
	e := ends{}
	_, want := st.cleanRun(t, e, recs)

	sink := &downSink{Store: newStore(t, "outage")}
	sink.down.Store(true)
	reg := prometheus.NewRegistry()
	c, err := ingest.New(st.serde, sink, ingest.Brokers(st.brokers...), ingest.Group("outage"),
		ingest.FlushRows(1000), ingest.Metrics(reg), ingest.KafkaOpts(kgo.FetchMaxBytes(1<<20), kgo.FetchMaxPartitionBytes(256<<10)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan error, 1)
	first := ends{}
	for tp, ps := range e {
		first[tp] = map[int32]int64{}
		for p, o := range ps {
			first[tp][p] = o
		}
	}
	go func() { done <- c.RunUntil(ctx, first) }()

	// Down: the consumer reads one batch, fails to write it, and retries.
	for sum(t, reg, "relance_ingest_retries_total", nil) == 0 {
		time.Sleep(20 * time.Millisecond)
	}
	read := sum(t, reg, "relance_ingest_records_total", nil)
	runtime.GC()
	var m0 runtime.MemStats
	runtime.ReadMemStats(&m0)
	// Much more arrives while it is down (the same events again: the
	// duplicates a producer retry would send).
	st.produce(t, ends{}, st.records(t, ds)...)
	time.Sleep(1500 * time.Millisecond)
	if got := sum(t, reg, "relance_ingest_records_total", nil); got != read {
		t.Fatalf("the consumer read %v records while the store was down (had %v): fetching did not pause", got, read)
	}
	runtime.GC()
	var m1 runtime.MemStats
	runtime.ReadMemStats(&m1)
	if grew := int64(m1.HeapAlloc) - int64(m0.HeapAlloc); grew > 32<<20 {
		t.Fatalf("heap grew by %d MiB while the store was down", grew>>20)
	}
	if read >= float64(len(recs)) {
		t.Fatalf("everything (%v records) was read before the outage began: the test proves nothing", read)
	}

	sink.down.Store(false)
	if err := <-done; err != nil {
		t.Fatalf("after the outage: %v", err)
	}
	if got := query(t, sink.Store, factsQuery); !slices.Equal(got, want) {
		t.Fatalf("facts after an outage differ from a run without one:\n%s", diff(got, want))
	}
	t.Logf("paused at %v of %d records during the outage; %d fact rows equal after catching up", read, 2*len(recs), len(want))
}

// Rule: when Kafka goes away under a running consumer, the consumer says
// so — after UnreachableAfter of failing polls it is not ready, and why
// names Kafka — and it is ready again once the broker is back. Flushes
// with nothing new to commit are not timed as commits (the commit latency
// histogram would otherwise fill with no-ops, outage or not).
func TestConsumer_KafkaOutageMakesItNotReadyUntilBack(t *testing.T) {
	st := newStack(t) // the registry and serde; the broker is the one below
	kc, dir, addr := persistentBroker(t)
	prod, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	recs := st.records(t, dataset(t, 29))
	if err := prod.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	prod.Close()
	reg := prometheus.NewRegistry()
	c, err := ingest.New(st.serde, newStore(t, "outage"), ingest.Brokers(addr), ingest.Group("outage"), ingest.Metrics(reg),
		ingest.FlushInterval(50*time.Millisecond), ingest.UnreachableAfter(500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitFor, stop := running(t, c)
	waitFor("every record read", func() bool { return total(c.Stats().Records) == uint64(len(recs)) })
	waitFor("ready", c.Ready)
	time.Sleep(500 * time.Millisecond) // about ten flushes with nothing new
	// The run goes on: a commit may land between two reads.
	before := sum(t, reg, "relance_ingest_commit_duration_seconds", nil)
	commits := float64(c.Stats().Commits)
	after := sum(t, reg, "relance_ingest_commit_duration_seconds", nil)
	if commits < before || commits > after {
		t.Errorf("%v to %v commits timed, %v made: flushes with nothing to commit are timed too", before, after, commits)
	}

	kc.Close()
	waitFor("not ready, naming Kafka", kafkaNamed(c))
	restartBroker(t, dir, addr)
	waitFor("ready once the broker is back", c.Ready)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// running runs c until stop, which returns Run's error; waitFor waits
// until cond holds while c runs, failing the test with c's status if Run
// ends or a minute passes first.
func running(t *testing.T, c *ingest.Consumer) (waitFor func(what string, cond func() bool), stop func() error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	waitFor = func(what string, cond func() bool) {
		t.Helper()
		waitRunning(t, ctx, done, what, cond, func() string { ok, why := c.Status(); return fmt.Sprintf("ready %v: %s", ok, why) })
	}
	return waitFor, func() error { cancel(); return <-done }
}

// kafkaNamed holds while c is not ready because of Kafka.
func kafkaNamed(c *ingest.Consumer) func() bool {
	return func() bool {
		ok, why := c.Status()
		return !ok && strings.Contains(why, "Kafka unreachable or refusing for")
	}
}

// Rule: brokers that never answer, from the start, are reported as such:
// not ready after UnreachableAfter, why naming Kafka (while the group is
// being joined a poll returns no error, and the consumer looked like it
// was slowly joining for ever).
func TestConsumer_BrokersDownFromTheStartMakeItNotReady(t *testing.T) {
	st := newStack(t) // for the serde
	c, err := ingest.New(st.serde, newStore(t, "nobroker"), ingest.Brokers("127.0.0.1:1"), ingest.Group("nobroker"),
		ingest.FlushInterval(50*time.Millisecond), ingest.UnreachableAfter(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitFor, stop := running(t, c)
	waitFor("not ready, naming Kafka", kafkaNamed(c))
	stop()
}
