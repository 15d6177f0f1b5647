package ingest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/relance-io/relance/ingest"
	"github.com/relance-io/relance/schemas"
)

// snapshotRun reads the first half of a data set with one consumer, then
// the rest with a second one of the same group (a restart, or the next
// owner of the partitions), and returns the second consumer's counters, its
// metrics, the store's facts, and the facts of a clean single run.
func snapshotRun(t *testing.T, prepare func(*stack), second ...ingest.Opt) (stats ingest.Stats, reg *prometheus.Registry, newRecords map[string]uint64, got, want []string) {
	t.Helper()
	st := newStack(t)
	recs := st.records(t, dataset(t, 5))
	half := len(recs) / 2
	store := newStore(t, "")
	first := ends{}
	st.produce(t, first, recs[:half]...)
	if _, err := st.consume(t, store, "g", first); err != nil {
		t.Fatal(err)
	}
	_, meta := st.commits(t, "g")
	if len(meta) == 0 {
		t.Fatal("the first run committed nothing")
	}
	for topic, metas := range meta {
		if topic == schemas.TopicInvoices {
			continue
		}
		for p, m := range metas {
			if !strings.Contains(m, " sn=") {
				t.Fatalf("the commit of %s/%d names no snapshot: %q", topic, p, m)
			}
		}
	}
	all := ends{}
	for topic, ps := range first {
		for p, end := range ps {
			all.add(&kgo.Record{Topic: topic, Partition: p, Offset: end - 1})
		}
	}
	newRecords = map[string]uint64{}
	for _, r := range recs[half:] {
		newRecords[r.Topic]++
	}
	st.produce(t, all, recs[half:]...)
	if prepare != nil {
		prepare(st)
	}
	reg = prometheus.NewRegistry()
	stats, err := st.consume(t, store, "g", all, append([]ingest.Opt{ingest.Metrics(reg)}, second...)...)
	if err != nil {
		t.Fatal(err)
	}
	got = query(t, store, factsQuery)
	clean := newStore(t, "")
	if _, err := st.consume(t, clean, "clean", all); err != nil {
		t.Fatal(err)
	}
	want = query(t, clean, factsQuery)
	if len(want) == 0 {
		t.Fatal("a clean run wrote no facts")
	}
	return stats, reg, newRecords, got, want
}

// Rule: a partition's next owner restores its join state from the snapshot
// the last commit names and reads only what came after it — not the events
// still held in state — with the same facts as a clean run.
func TestConsumer_RestoresStateFromSnapshot(t *testing.T) {
	stats, reg, fresh, got, want := snapshotRun(t, nil)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("facts after a restore differ from a clean run: %s", diff(got, want))
	}
	for _, topic := range []string{schemas.TopicReminders, schemas.TopicPayments} {
		if stats.Records[topic] != fresh[topic] {
			t.Errorf("%s: the restored consumer read %d records, want only the %d new ones", topic, stats.Records[topic], fresh[topic])
		}
	}
	if n := sum(t, reg, "relance_stream_snapshot_duration_seconds", map[string]string{"op": "restore"}); n != 2 {
		t.Errorf("%v restores measured, want one per partition (2)", n)
	}
	if n := sum(t, reg, "relance_stream_snapshot_errors_total", nil); n != 0 {
		t.Errorf("%v snapshot errors", n)
	}
}

// Rule: a snapshot that cannot be used — damaged, or gone from the state
// topic — is reported and the state rebuilt by replaying from the
// committed offsets: more is read, the facts are the same.
func TestConsumer_UnusableSnapshotFallsBackToReplay(t *testing.T) {
	// The second consumer looks for its snapshots in another topic, where
	// partition 0 holds a chunk with the right key and garbage inside, and
	// partition 1 nothing.
	other := "other.state"
	garbage := func(st *stack) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(st.brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.AllowAutoTopicCreation(), kgo.DefaultProduceTopic(other))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = other, 2, 1
		req.Topics = append(req.Topics, rt)
		if _, err := req.RequestWith(context.Background(), cl); err != nil {
			t.Fatal(err)
		}
		r := &kgo.Record{Topic: other, Partition: 0, Key: []byte("g/0/0"), Value: []byte("RLNS\x01 not a snapshot"),
			Headers: []kgo.RecordHeader{{Key: "relance-snapshot-chunks", Value: []byte("1")}}}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if r.Offset != 0 {
			t.Fatalf("the garbage chunk is at offset %d, the test needs it where the snapshot was (0)", r.Offset)
		}
	}
	stats, reg, fresh, got, want := snapshotRun(t, garbage, ingest.Snapshots(other, time.Minute))
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("facts after a fallback replay differ from a clean run: %s", diff(got, want))
	}
	if n := sum(t, reg, "relance_stream_snapshot_errors_total", map[string]string{"op": "restore"}); n != 2 {
		t.Errorf("%v restore errors, want 2 (one per partition)", n)
	}
	if stats.Records[schemas.TopicReminders] <= fresh[schemas.TopicReminders] {
		t.Errorf("read %d reminders, want more than the %d new ones (a replay)", stats.Records[schemas.TopicReminders], fresh[schemas.TopicReminders])
	}
}
