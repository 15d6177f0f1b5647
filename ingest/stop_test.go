package ingest_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relance-io/relance/ingest"
	"github.com/relance-io/relance/sinks"
)

// stalledSink is the real store whose first write waits until the test
// lets it go, then honours its context as a real store does: a write
// under way when the run is stopped.
type stalledSink struct {
	sinks.Store
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (s *stalledSink) Write(ctx context.Context, b *sinks.Batch) error {
	first := false
	s.once.Do(func() { first = true; close(s.entered) })
	if first {
		<-s.release
		time.Sleep(20 * time.Millisecond)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.Store.Write(ctx, b)
}

// Rule: while a write hangs (a store that does not answer), Status still
// answers at once — a readiness probe must not hang with it — and says
// not ready once the write has gone on for UnreachableAfter, naming it;
// ready again when the write is done.
func TestConsumer_StatusAnswersWhileAWriteHangs(t *testing.T) {
	st := newStack(t)
	e := ends{}
	st.produce(t, e, st.records(t, dataset(t, 37))...)
	sink := &stalledSink{Store: newStore(t, "hang"), entered: make(chan struct{}), release: make(chan struct{})}
	c, err := ingest.New(st.serde, sink, ingest.Brokers(st.brokers...), ingest.Group("hang"), ingest.FlushInterval(50*time.Millisecond),
		ingest.UnreachableAfter(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	select {
	case <-sink.entered:
	case <-ctx.Done():
		t.Fatal("no write started")
	}
	status := func() (bool, string) {
		t.Helper()
		start := time.Now()
		ok, why := c.Status()
		if d := time.Since(start); d > 1500*time.Millisecond {
			t.Fatalf("Status took %s while a write hangs", d)
		}
		return ok, why
	}
	waitRunning(t, ctx, done, "not ready, naming the write", func() bool {
		ok, why := status()
		return !ok && strings.HasPrefix(why, "writing a batch to the store for")
	}, func() string { _, why := status(); return why })
	close(sink.release)
	waitRunning(t, ctx, done, "ready once the write is done", func() bool { ok, _ := status(); return ok }, func() string { _, why := status(); return why })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// Rule: a stop (SIGTERM) while a batch is being written does not abandon
// the write: it finishes, the run ends without error, and what was read
// is committed — a later run of the group reads nothing again, and the
// results equal the brute force.
func TestConsumer_StopDuringAWriteFinishesIt(t *testing.T) {
	st := newStack(t)
	recs := st.records(t, dataset(t, 23))
	e := ends{}
	_, want := st.cleanRun(t, e, recs)

	store := newStore(t, "stop")
	sink := &stalledSink{Store: store, entered: make(chan struct{}), release: make(chan struct{})}
	c, err := ingest.New(st.serde, sink, ingest.Brokers(st.brokers...), ingest.Group("stop"), ingest.FlushInterval(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	select {
	case <-sink.entered:
	case <-time.After(8 * time.Second):
		t.Fatal("no write started")
	}
	cancel() // the signal arrives while the write is under way
	close(sink.release)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run stopped during a write: %v, want nil (the write finished)", err)
		}
	case <-time.After(8 * time.Second):
		t.Fatal("Run did not return after the stop")
	}
	read := total(c.Stats().Records)
	c.Close() // leaves the group, as the stopped process would
	// What the stopped run wrote is committed (up to the state it still
	// needed, which the next owner replays): the next run of the group
	// ends with every fact exactly once.
	again, err := st.consume(t, store, "stop", e)
	if err != nil {
		t.Fatal(err)
	}
	if first, next := read, total(again.Records); first == 0 || first+next < uint64(len(recs)) {
		t.Errorf("records read: %d by the stopped run, %d by the next: want %d at least in all", first, next, len(recs))
	}
	if got := query(t, store, factsQuery); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%d fact rows after the stop and the next run, %d in an uninterrupted run, or they differ", len(got), len(want))
	}
}
