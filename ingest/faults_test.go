package ingest_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/relance-io/relance/ingest"
	"github.com/relance-io/relance/stream"
)

// Rule: Kafka misbehaving — fetch, produce (dead letters), offset commit
// and offset fetch errors, the group coordinator answering "not
// coordinator", and the broker restarting from its data dir in the middle
// of the run — changes no result: the facts equal those of a clean run.
func TestConsumer_KafkaFaultsAndBrokerRestartChangeNothing(t *testing.T) {
	st := newStack(t)
	ds := dataset(t, 17)
	recs := st.records(t, ds)

	// The reference: a clean run on the healthy stack.
	clean, want := st.cleanRun(t, ends{}, recs)

	// The faulty run, on a broker of its own persisted in a data dir.
	kc, dir, addr := persistentBroker(t)
	prod, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	half := len(recs) / 2
	copyOf := func(rs []*kgo.Record) []*kgo.Record {
		out := make([]*kgo.Record, len(rs))
		for i, r := range rs {
			out[i] = &kgo.Record{Topic: r.Topic, Key: r.Key, Value: r.Value}
		}
		return out
	}
	if err := prod.ProduceSync(context.Background(), append(copyOf(recs[:half]), &kgo.Record{Topic: "payments", Key: []byte("C1"), Value: []byte("not avro")})...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	faults := map[string]*kfake.FaultHandle{
		"fetch":        kc.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Fetch}, Err: kerr.NotLeaderForPartition, Count: 4}),
		"produce":      kc.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: ingest.DefaultDeadLetterTopic, Err: kerr.NotEnoughReplicas, Count: 2}),
		"commit":       kc.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetCommit}, Err: kerr.NotCoordinator, Count: 3}),
		"offset fetch": kc.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetFetch}, Err: kerr.CoordinatorLoadInProgress, TopLevel: true, Count: 2}),
	}
	hits := map[string]int{}
	store := newStore(t, "faulty")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// Run, not RunUntil: the broker restarts under a running consumer. No
	// allowed lateness and a short idle timeout let every fact out while it
	// runs, as the clean bounded run does at its end.
	c, err := ingest.New(st.serde, store, ingest.Brokers(addr), ingest.Group("faulty"), ingest.FlushInterval(100*time.Millisecond),
		ingest.IdleTimeout(500*time.Millisecond), ingest.JoinerOpts(stream.AllowedLateness(0)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	rows := func() int {
		n, _ := strconv.Atoi(count(t, store, "SELECT count() FROM attribution_facts FINAL"))
		return n
	}
	waitRows := func(what string, ok func(n int) bool) {
		t.Helper()
		waitRunning(t, ctx, done, what, func() bool { return ok(rows()) }, func() string { return fmt.Sprintf("%d fact rows", rows()) })
	}
	waitRows("the first facts", func(n int) bool { return n > 0 })
	// The first commit follows the first write: see it meet its fault.
	if err := faults["commit"].Wait(ctx, 1); err != nil {
		t.Fatalf("no offset commit reached the broker before the restart: %v", err)
	}
	for name, h := range faults {
		hits[name] = h.Hits()
	}
	kc.Close()
	restartBroker(t, dir, addr)
	if err := prod.ProduceSync(context.Background(), copyOf(recs[half:])...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	waitRows("every fact", func(n int) bool { return n == len(want) })
	time.Sleep(500 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run under faults: %v", err)
	}
	for name, n := range hits {
		if n == 0 {
			t.Errorf("the %s fault was never hit: that part proves nothing", name)
		}
	}
	if got := query(t, store, factsQuery); !slices.Equal(got, want) {
		t.Fatalf("facts under Kafka faults and a broker restart differ from a clean run:\n%s", diff(got, want))
	}
	if n := count(t, store, "SELECT count() FROM payment_allocations FINAL"); n != count(t, clean, "SELECT count() FROM payment_allocations FINAL") {
		t.Fatalf("payment allocations: %s rows", n)
	}
	t.Logf("faults hit %v; %d fact rows equal to a clean run after a broker restart", hits, len(want))
}
