package main

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/relance-io/relance/generate"
	"github.com/relance-io/relance/ingest"
	"github.com/relance-io/relance/schemas"
	"github.com/relance-io/relance/stream"
)

// liveStack is what the process-level tests run `relance run` against: a
// kfake broker with the pipeline's topics, srfake with the schemas, a
// producer, and a generated book encoded as records in event-time order.
type liveStack struct {
	kc     *kfake.Cluster
	reg    *srfake.Registry
	serde  *schemas.Serde
	prod   *kgo.Client
	events []*kgo.Record // in event-time order, as live producers send them
	times  []time.Time   // event time of each of events
	ds     *generate.Dataset

	// What was produced: per topic and partition the end offset, per
	// partition number the newest event time.
	end    map[string]map[int32]int64
	newest map[int32]int64
}

func newLiveStack(t *testing.T, partitions int32, customers int, seed int64, opts ...kfake.Opt) *liveStack {
	t.Helper()
	topics := append(append([]string{}, ingest.Topics...), ingest.DefaultDeadLetterTopic)
	kc, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(partitions, topics...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close)
	reg := srfake.New()
	t.Cleanup(reg.Close)
	src, _ := sr.NewClient(sr.URLs(reg.URL()))
	serde, err := schemas.NewSerde(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	p := generate.DefaultParams()
	p.Customers, p.Months, p.Seed = customers, 6, seed
	p.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ds, err := generate.Generate(p)
	if err != nil {
		t.Fatal(err)
	}
	type ev struct {
		at  time.Time
		rec *kgo.Record
	}
	var evs []ev
	for i := range ds.Reminders {
		b, _ := serde.EncodeReminder(&ds.Reminders[i])
		evs = append(evs, ev{ds.Reminders[i].SentAt, &kgo.Record{Topic: schemas.TopicReminders, Key: []byte(ds.Reminders[i].CustomerID), Value: b}})
	}
	for i := range ds.Payments {
		b, _ := serde.EncodePayment(&ds.Payments[i])
		evs = append(evs, ev{ds.Payments[i].PaidAt, &kgo.Record{Topic: schemas.TopicPayments, Key: []byte(ds.Payments[i].CustomerID), Value: b}})
	}
	slices.SortStableFunc(evs, func(a, b ev) int { return a.at.Compare(b.at) })
	prod, err := kgo.NewClient(kgo.SeedBrokers(kc.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(prod.Close)
	s := &liveStack{kc: kc, reg: reg, serde: serde, prod: prod, ds: ds, end: map[string]map[int32]int64{}, newest: map[int32]int64{}}
	for _, e := range evs {
		s.events = append(s.events, e.rec)
		s.times = append(s.times, e.at)
	}
	return s
}

// produce sends events[from:to] and waits for the acks.
func (s *liveStack) produce(from, to int) error {
	from, to = min(from, len(s.events)), min(to, len(s.events))
	var recs []*kgo.Record
	for _, r := range s.events[from:to] {
		recs = append(recs, &kgo.Record{Topic: r.Topic, Key: r.Key, Value: r.Value})
	}
	if err := s.prod.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		return err
	}
	for i, r := range recs {
		if s.end[r.Topic] == nil {
			s.end[r.Topic] = map[int32]int64{}
		}
		s.end[r.Topic][r.Partition] = max(s.end[r.Topic][r.Partition], r.Offset+1)
		s.newest[r.Partition] = max(s.newest[r.Partition], s.times[from+i].UnixMilli())
	}
	return nil
}

// commitState is what a group's commits say of one partition number
// (both joined topics' commits carry it in their metadata): the watermark,
// and the offsets reminders (rn) and payments (pn) were read up to.
type commitState struct{ wm, rn, pn int64 }

// commitStates reads the group's commits from the broker, per partition
// number (nil if the broker cannot be asked).
func (s *liveStack) commitStates(group string) map[int32]commitState {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	resp, err := req.RequestWith(context.Background(), s.prod)
	if err != nil {
		return nil
	}
	out := map[int32]commitState{}
	put := func(topic string, p int32, m *string) {
		if m == nil || (topic != schemas.TopicReminders && topic != schemas.TopicPayments) {
			return
		}
		cs := out[p]
		for _, f := range strings.Fields(*m) {
			k, v, _ := strings.Cut(f, "=")
			n, _ := strconv.ParseInt(v, 10, 64)
			switch k {
			case "wm":
				cs.wm = max(cs.wm, n)
			case "rn":
				cs.rn = max(cs.rn, n)
			case "pn":
				cs.pn = max(cs.pn, n)
			}
		}
		out[p] = cs
	}
	for _, g := range resp.Groups {
		for _, t := range g.Topics {
			for _, p := range t.Partitions {
				put(t.Topic, p.Partition, p.Metadata)
			}
		}
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			put(t.Topic, p.Partition, p.Metadata)
		}
	}
	return out
}

// readToTheEnd reports whether the commits say that every partition of
// both joined topics was read up to the end of what was produced.
func (s *liveStack) readToTheEnd(states map[int32]commitState) bool {
	for p := range s.newest {
		if cs := states[p]; cs.rn != s.end[schemas.TopicReminders][p] || cs.pn != s.end[schemas.TopicPayments][p] {
			return false
		}
	}
	return true
}

// released reports whether group has read everything produced and written
// the facts of every allocation, from what its commits say (commits follow
// the writes they cover): for every partition number, both topics were
// read to their end and the watermark reached the partition's newest event
// time, which the idle timeout does once nothing more arrives (allowed
// lateness 0 in these tests).
func (s *liveStack) released(group string) bool {
	states := s.commitStates(group)
	if !s.readToTheEnd(states) {
		return false
	}
	for p, newest := range s.newest {
		if states[p].wm < newest {
			return false
		}
	}
	return true
}

// referenceFacts are the facts of one uninterrupted joiner over every
// event in order (the joiner itself is proved against the brute-force
// oracle in package stream), as "payment index horizon reminder credited".
func (s *liveStack) referenceFacts(t *testing.T) []string {
	t.Helper()
	j, _ := stream.NewJoiner()
	for i, r := range s.events {
		if r.Topic == schemas.TopicReminders {
			rem, err := s.serde.DecodeReminder(r.Value)
			if err != nil {
				t.Fatal(err)
			}
			j.AddReminder(rem, int64(i))
		} else {
			p, err := s.serde.DecodePayment(r.Value)
			if err != nil {
				t.Fatal(err)
			}
			j.AddPayment(p, int64(i))
		}
	}
	j.Flush()
	facts, _ := j.Drain()
	var out []string
	for _, f := range facts {
		id := ""
		if f.Reminder != nil {
			id = f.Reminder.ReminderID
		}
		out = append(out, fmt.Sprintf("%s %d %s %s %d", f.PaymentID, f.AllocationIndex, f.Horizon, id, f.CreditedMinor))
	}
	slices.Sort(out)
	return out
}

// factsQuery selects the facts in the reference's shape.
const factsQuery = "SELECT payment_id, allocation_index, horizon, reminder_id, credited_minor FROM attribution_facts FINAL ORDER BY ALL"

// fields normalises rows to single-space separated fields, so that the
// query command's aligned table and the reference compare.
func fields(rows []string) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = strings.Join(strings.Fields(r), " ")
	}
	slices.Sort(out)
	return out
}

// queryChDB runs `relance query` on a chDB directory (another process: the
// test process holds its own chDB session) and returns the data rows.
func queryChDB(t *testing.T, bin, dir, q string) []string {
	t.Helper()
	out, err := exec.Command(bin, "query", "--chdb-dir", dir, q).CombinedOutput()
	if err != nil {
		t.Fatalf("relance query: %v\n%s", err, out)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")[1:]
}
