package ingest_test

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/relance-io/relance/generate"
	"github.com/relance-io/relance/ingest"
	"github.com/relance-io/relance/schemas"
	"github.com/relance-io/relance/sinks"
	"github.com/relance-io/relance/sinks/chdb/chdbtest"
)

func TestMain(m *testing.M) { chdbtest.Main(m) }

// newStore makes a fresh, migrated database current in the shared chDB
// session and returns the store; suffix only documents which of several
// databases of one test it is.
func newStore(tb testing.TB, suffix string) sinks.Store {
	tb.Helper()
	_ = suffix
	return chdbtest.NewStore(tb)
}

// stack is the embedded Kafka broker and schema registry of one test.
type stack struct {
	brokers []string
	reg     *srfake.Registry
	src     *sr.Client
	serde   *schemas.Serde
	cl      *kgo.Client // producer and admin client, no group
}

// newStack starts kfake with every topic of the pipeline (two partitions
// each) and srfake with the schemas registered; both stop at the end of tb.
func newStack(tb testing.TB) *stack { return newStackOf(tb, 2) }

// newStackOf is newStack with partitions partitions per topic.
func newStackOf(tb testing.TB, partitions int32) *stack {
	tb.Helper()
	topics := append(append([]string{}, ingest.Topics...), ingest.DefaultDeadLetterTopic)
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topics...))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(kc.Close)
	reg := srfake.New()
	tb.Cleanup(reg.Close)
	src, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		tb.Fatal(err)
	}
	serde, err := schemas.NewSerde(context.Background(), src)
	if err != nil {
		tb.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(kc.ListenAddrs()...), kgo.ProducerLinger(0))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(cl.Close)
	return &stack{brokers: kc.ListenAddrs(), reg: reg, src: src, serde: serde, cl: cl}
}

// newStackOn is newStack on a broker of its own with one partition of each
// of topics only (a test may leave a topic out), returned for faults.
func newStackOn(tb testing.TB, topics ...string) (*stack, *kfake.Cluster) {
	tb.Helper()
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topics...))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(kc.Close)
	st := newStack(tb)
	st.brokers = kc.ListenAddrs()
	cl, err := kgo.NewClient(kgo.SeedBrokers(st.brokers...), kgo.ProducerLinger(0))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(cl.Close)
	st.cl = cl
	return st, kc
}

// ends are, per topic and partition, the offset after the last record.
type ends map[string]map[int32]int64

func (e ends) add(r *kgo.Record) {
	if e[r.Topic] == nil {
		e[r.Topic] = map[int32]int64{}
	}
	e[r.Topic][r.Partition] = max(e[r.Topic][r.Partition], r.Offset+1)
}

// produce produces recs in order, waits for every ack, fills in their
// partition and offset, and adds them to e.
func (s *stack) produce(tb testing.TB, e ends, recs ...*kgo.Record) {
	tb.Helper()
	res := s.cl.ProduceSync(context.Background(), recs...)
	if err := res.FirstErr(); err != nil {
		tb.Fatal(err)
	}
	for _, r := range res {
		e.add(r.Record)
	}
}

// consume runs a fresh Consumer of group until it reached e and returns its
// counters. The deadline turns a hang into a failure.
func (s *stack) consume(tb testing.TB, store sinks.Store, group string, e ends, opts ...ingest.Opt) (ingest.Stats, error) {
	tb.Helper()
	return s.consumeWith(tb, s.serde, store, group, e, opts...)
}

// consumeWith is consume with another Serde.
func (s *stack) consumeWith(tb testing.TB, serde *schemas.Serde, store sinks.Store, group string, e ends, opts ...ingest.Opt) (ingest.Stats, error) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	c, err := ingest.New(serde, store, append([]ingest.Opt{
		ingest.Brokers(s.brokers...), ingest.Group(group), ingest.FlushInterval(100 * time.Millisecond),
	}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	err = c.RunUntil(ctx, e)
	if ctx.Err() != nil {
		tb.Fatalf("RunUntil(%v) of group %q did not return within its deadline: %v", e, group, err)
	}
	return c.Stats(), err
}

// committed reads the offsets group committed, per topic and partition.
func (s *stack) committed(tb testing.TB, group string) ends {
	tb.Helper()
	offsets, _ := s.commits(tb, group)
	return offsets
}

// commits reads what group committed, per topic and partition: the offsets
// and their metadata.
func (s *stack) commits(tb testing.TB, group string) (ends, map[string]map[int32]string) {
	tb.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	resp, err := req.RequestWith(context.Background(), s.cl)
	if err != nil {
		tb.Fatal(err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		tb.Fatal(err)
	}
	out, meta := ends{}, map[string]map[int32]string{}
	put := func(topic string, p int32, at int64, m *string, code int16) {
		if err := kerr.ErrorForCode(code); err != nil {
			tb.Fatalf("committed offset of %s/%d: %v", topic, p, err)
		}
		if at < 0 {
			return // nothing committed
		}
		if out[topic] == nil {
			out[topic], meta[topic] = map[int32]int64{}, map[int32]string{}
		}
		out[topic][p] = at
		if m != nil {
			meta[topic][p] = *m
		}
	}
	for _, g := range resp.Groups {
		if err := kerr.ErrorForCode(g.ErrorCode); err != nil {
			tb.Fatal(err)
		}
		for _, t := range g.Topics {
			for _, p := range t.Partitions {
				put(t.Topic, p.Partition, p.Offset, p.Metadata, p.ErrorCode)
			}
		}
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			put(t.Topic, p.Partition, p.Offset, p.Metadata, p.ErrorCode)
		}
	}
	return out, meta
}

// records encodes a data set as the producers would: keyed by customer id,
// the three topics interleaved in event-time order.
func (s *stack) records(tb testing.TB, ds *generate.Dataset) []*kgo.Record {
	tb.Helper()
	type timed struct {
		at  time.Time
		rec *kgo.Record
	}
	var all []timed
	add := func(at time.Time, topic, key string, b []byte, err error) {
		if err != nil {
			tb.Fatal(err)
		}
		all = append(all, timed{at, &kgo.Record{Topic: topic, Key: []byte(key), Value: b}})
	}
	for i := range ds.Invoices {
		v := &ds.Invoices[i]
		b, err := s.serde.EncodeInvoice(v)
		add(v.IssuedAt, schemas.TopicInvoices, v.CustomerID, b, err)
	}
	for i := range ds.Reminders {
		v := &ds.Reminders[i]
		b, err := s.serde.EncodeReminder(v)
		add(v.SentAt, schemas.TopicReminders, v.CustomerID, b, err)
	}
	for i := range ds.Payments {
		v := &ds.Payments[i]
		b, err := s.serde.EncodePayment(v)
		add(v.PaidAt, schemas.TopicPayments, v.CustomerID, b, err)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].at.Before(all[j].at) })
	out := make([]*kgo.Record, len(all))
	for i := range all {
		out[i] = all[i].rec
	}
	return out
}

// cleanRun produces recs (adding them to e) and returns the store and the
// facts of an uninterrupted run of the group "clean" over them: the
// reference a run under faults must equal.
func (s *stack) cleanRun(tb testing.TB, e ends, recs []*kgo.Record) (sinks.Store, []string) {
	tb.Helper()
	s.produce(tb, e, recs...)
	clean := newStore(tb, "clean")
	if _, err := s.consume(tb, clean, "clean", e); err != nil {
		tb.Fatal(err)
	}
	return clean, query(tb, clean, factsQuery)
}

// persistentBroker starts a kfake broker of its own, with every topic of
// the pipeline (two partitions each), persisted in a data dir so that
// restartBroker can bring it back on the same address.
func persistentBroker(tb testing.TB) (kc *kfake.Cluster, dir, addr string) {
	tb.Helper()
	dir = tb.TempDir()
	topics := append(append([]string{}, ingest.Topics...), ingest.DefaultDeadLetterTopic)
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DataDir(dir), kfake.SeedTopics(2, topics...))
	if err != nil {
		tb.Fatal(err)
	}
	return kc, dir, kc.ListenAddrs()[0]
}

// restartBroker starts again, from its data dir and on its address, a
// broker of persistentBroker that was closed; it stops at the end of tb.
func restartBroker(tb testing.TB, dir, addr string) *kfake.Cluster {
	tb.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		tb.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DataDir(dir), kfake.Ports(p))
	if err != nil {
		tb.Fatalf("restarting the broker from its data dir: %v", err)
	}
	tb.Cleanup(kc.Close)
	return kc
}

// waitRunning waits until cond holds while a run goes on, failing the test
// if the run ends (done) or ctx expires first; state, when the wait times
// out, says where things stood.
func waitRunning(tb testing.TB, ctx context.Context, done <-chan error, what string, cond func() bool, state func() string) {
	tb.Helper()
	for !cond() {
		select {
		case err := <-done:
			tb.Fatalf("Run stopped while waiting for %s: %v", what, err)
		case <-ctx.Done():
			tb.Fatalf("timed out waiting for %s (%s)", what, state())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// dataset is a small generated data set, entirely in the past.
func dataset(tb testing.TB, seed int64) *generate.Dataset {
	tb.Helper()
	p := generate.DefaultParams()
	p.Customers, p.Months, p.Seed = 60, 4, seed
	p.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ds, err := generate.Generate(p)
	if err != nil {
		tb.Fatal(err)
	}
	if len(ds.Payments) < 50 || len(ds.Reminders) < 50 {
		tb.Fatalf("too little data to prove anything: %d reminders, %d payments", len(ds.Reminders), len(ds.Payments))
	}
	return ds
}

// factsQuery is the part of attribution_facts the KPIs are computed from.
const factsQuery = "SELECT payment_id, allocation_index, horizon, reminder_id, credited_minor FROM attribution_facts FINAL ORDER BY ALL"

// query returns the rows of q as one line per row.
func query(tb testing.TB, store sinks.Store, q string) []string {
	tb.Helper()
	rows, err := store.Query(context.Background(), q)
	if err != nil {
		tb.Fatal(err)
	}
	out := make([]string, len(rows.Data))
	for i, r := range rows.Data {
		out[i] = strings.Join(r, "\t")
	}
	return out
}

// count returns the single integer q selects.
func count(tb testing.TB, store sinks.Store, q string) string {
	tb.Helper()
	r := query(tb, store, q)
	if len(r) != 1 {
		tb.Fatalf("%s: %d rows, want 1", q, len(r))
	}
	return r[0]
}

// diff describes how two sorted row lists differ, for failure messages.
func diff(got, want []string) string {
	in := func(rows []string) map[string]int {
		m := map[string]int{}
		for _, r := range rows {
			m[r]++
		}
		return m
	}
	g, w := in(got), in(want)
	var b strings.Builder
	fmt.Fprintf(&b, "%d rows, want %d", len(got), len(want))
	n := 0
	for _, r := range got {
		if g[r] > w[r] && n < 10 {
			fmt.Fprintf(&b, "\n  extra:   %s", r)
			n++
		}
	}
	for _, r := range want {
		if w[r] > g[r] && n < 20 {
			fmt.Fprintf(&b, "\n  missing: %s", r)
			n++
		}
	}
	return b.String()
}

func total(m map[string]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}
