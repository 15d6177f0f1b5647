package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/relance-io/relance/schemas"
	"github.com/relance-io/relance/stream"
)

// Join-state snapshots live in a compacted Kafka topic, so that a
// partition's state moves with the partition to whichever instance is
// assigned it. A snapshot of joined partition p is written as chunks keyed
// "<group>/<p>/<i>" to partition p (modulo the topic's partition count);
// the commit that follows names the chunks' offsets and the input offsets
// the snapshot was taken at. The next owner reads those chunks, restores
// the Joiner and seeks the inputs to the snapshot's offsets: only what came
// after the snapshot is re-read, not the whole retention.
//
// A snapshot is only ever a shortcut. The commit still carries the offsets
// of the oldest events held and the watermark, so a snapshot that is
// missing (compacted after a newer one was written but not committed),
// damaged or unreadable is logged and the state rebuilt by the replay
// from the committed offsets, as without snapshots.

// DefaultStateTopic is where snapshots go unless StateTopic says otherwise.
const DefaultStateTopic = "relance.state"

// snapshotChunk is the largest record value written: well below the
// default message.max.bytes (1 MiB) of brokers and topics.
const snapshotChunk = 512 << 10

// snapRef locates a committed snapshot: where its chunks are in the state
// topic and the input offsets it was taken at.
type snapRef struct {
	part        int32
	first, last int64
	reminders   int64
	payments    int64
}

func (r snapRef) String() string {
	return fmt.Sprintf("sn=%d:%d:%d so=%d:%d", r.part, r.first, r.last, r.reminders, r.payments)
}

// parseInts parses "a:b:…" into exactly n integers.
func parseInts(s string, n int) ([]int64, bool) {
	out := make([]int64, 0, n)
	for f := range bytes.SplitSeq([]byte(s), []byte(":")) {
		v, err := strconv.ParseInt(string(f), 10, 64)
		if err != nil {
			return nil, false
		}
		out = append(out, v)
	}
	return out, len(out) == n
}

// statePartitioner sends snapshot chunks to the partition set on the
// record (a partition's snapshot must be found where its commit says) and
// every other record where the default partitioner would.
type statePartitioner struct {
	topic string
	def   kgo.Partitioner
}

func (p statePartitioner) ForTopic(t string) kgo.TopicPartitioner {
	if t == p.topic {
		return kgo.ManualPartitioner().ForTopic(t)
	}
	return p.def.ForTopic(t)
}

// logRange returns the first and next offsets of a state-topic partition.
func (c *Consumer) logRange(ctx context.Context, part int32) (start, end int64, err error) {
	get := func(ts int64) (int64, error) {
		req := kmsg.NewPtrListOffsetsRequest()
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = c.cfg.stateTopic
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = part, ts
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, c.cl.Load())
		if err != nil {
			return 0, err
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					return 0, err
				}
				return p.Offset, nil
			}
		}
		return 0, fmt.Errorf("no offsets answered for %s/%d", c.cfg.stateTopic, part)
	}
	if start, err = get(-2); err != nil {
		return 0, 0, err
	}
	end, err = get(-1)
	return start, end, err
}

func (c *Consumer) chunkKey(p int32, i int) string {
	return c.cfg.group + "/" + strconv.Itoa(int(p)) + "/" + strconv.Itoa(i)
}

// ensureStateTopic creates the state topic (compacted, as many partitions
// as the reminders topic) unless it exists, and learns its partition count.
func (c *Consumer) ensureStateTopic(ctx context.Context) error {
	if c.stateParts > 0 {
		return nil
	}
	cl := c.cl.Load()
	parts := func(topic string) (int32, error) {
		meta, err := topicMetadata(ctx, cl, topic)
		if err != nil {
			return 0, err
		}
		t, ok := meta[topic]
		if !ok {
			return 0, fmt.Errorf("metadata for %s: not in the answer", topic)
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			return 0, err
		}
		return int32(len(t.Partitions)), nil
	}
	n, err := parts(c.cfg.stateTopic)
	if err == nil && n > 0 {
		c.stateParts = n
		return nil
	}
	if err != nil && !errors.Is(err, kerr.UnknownTopicOrPartition) {
		return err
	}
	want, err := parts(schemas.TopicReminders)
	if err != nil {
		return fmt.Errorf("partitions of %s: %w", schemas.TopicReminders, err)
	}
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 30_000
	t := kmsg.NewCreateTopicsRequestTopic()
	t.Topic = c.cfg.stateTopic
	t.NumPartitions = max(want, 1)
	t.ReplicationFactor = -1 // the broker's default
	for k, v := range map[string]string{"cleanup.policy": "compact", "max.message.bytes": strconv.Itoa(2 * snapshotChunk)} {
		cf := kmsg.NewCreateTopicsRequestTopicConfig()
		cf.Name, cf.Value = k, kmsg.StringPtr(v)
		t.Configs = append(t.Configs, cf)
	}
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	for _, rt := range resp.Topics {
		if err := kerr.ErrorForCode(rt.ErrorCode); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("create %s: %w", c.cfg.stateTopic, err)
		}
	}
	if n, err = parts(c.cfg.stateTopic); err != nil {
		return err
	}
	c.stateParts = n
	c.cfg.log.Info("created the join-state topic", "topic", c.cfg.stateTopic, "partitions", n)
	return nil
}

// position is the offset reading of topic partition p has reached: the
// next to read, or where reading starts if nothing was read yet.
func (c *Consumer) position(topic string, p int32) int64 {
	if n, ok := c.next[topic][p]; ok {
		return n
	}
	if s, ok := c.start[topic][p]; ok {
		return s
	}
	return 0
}

func noPartition(int32) bool   { return false }
func allPartitions(int32) bool { return true }

// snapshot writes the snapshots that are due, and those of the partitions
// force selects (leaving this instance: revoked, or the end of a run),
// after the batch they follow was written. Failures are logged and
// counted, never fatal: the commit then keeps the previous snapshot's
// reference. Called with mu held.
func (c *Consumer) snapshot(ctx context.Context, force func(p int32) bool) {
	if c.cfg.stateTopic == "" {
		return
	}
	now := time.Now()
	for p, j := range c.joiners {
		if !force(p) && now.Sub(c.snapAt[p]) < c.cfg.snapshotEvery {
			continue
		}
		r, q := c.position(schemas.TopicReminders, p), c.position(schemas.TopicPayments, p)
		if prev := c.resume[p]; prev.hasSnap && prev.snap.reminders == r && prev.snap.payments == q {
			c.snapAt[p] = now // nothing read since
			continue
		}
		if j.Replaying() {
			continue // not the state at r, q yet
		}
		ref, err := c.writeSnapshot(ctx, p, j, r, q)
		if err != nil {
			c.m.snapshotErrors.WithLabelValues("write").Inc()
			c.cfg.log.Warn("writing a join-state snapshot failed; the commit keeps the previous one (a restart replays more)", "partition", p, "topic", c.cfg.stateTopic, "err", err)
			continue
		}
		s := c.resume[p]
		s.snap, s.hasSnap = ref, true
		c.resume[p], c.snapAt[p] = s, now
	}
}

func (c *Consumer) writeSnapshot(ctx context.Context, p int32, j *stream.Joiner, r, q int64) (snapRef, error) {
	if err := c.ensureStateTopic(ctx); err != nil {
		return snapRef{}, err
	}
	start := time.Now()
	var err error
	c.snapBuf, err = j.AppendSnapshot(c.snapBuf[:0], r, q)
	if err != nil {
		return snapRef{}, err
	}
	data := c.snapBuf
	n := (len(data) + snapshotChunk - 1) / snapshotChunk
	part := p % c.stateParts
	recs := make([]*kgo.Record, 0, n)
	for i := range n {
		chunk := data[i*snapshotChunk : min(len(data), (i+1)*snapshotChunk)]
		recs = append(recs, &kgo.Record{
			Topic: c.cfg.stateTopic, Partition: part, Key: []byte(c.chunkKey(p, i)),
			Value:   chunk, // snapBuf is not reused before ProduceSync returns
			Headers: []kgo.RecordHeader{{Key: "relance-snapshot-chunks", Value: []byte(strconv.Itoa(n))}},
		})
	}
	if err := c.retry(ctx, "snapshot", func() error { return c.cl.Load().ProduceSync(ctx, recs...).FirstErr() }); err != nil {
		return snapRef{}, err
	}
	c.m.snapshotBytes.Observe(float64(len(data)))
	c.m.lastSnapshot.SetToCurrentTime()
	c.m.snapshotSeconds.WithLabelValues("write").Observe(time.Since(start).Seconds())
	return snapRef{part: part, first: recs[0].Offset, last: recs[n-1].Offset, reminders: r, payments: q}, nil
}

// readSnapshot fetches the chunks ref names and checks they are one
// snapshot of joined partition p, whole and in order.
func (c *Consumer) readSnapshot(ctx context.Context, p int32, ref snapRef) ([]byte, error) {
	if ref.last < ref.first {
		return nil, fmt.Errorf("bad reference %s", ref)
	}
	// Records compacted or deleted since the commit would be waited for
	// forever: check they are still there.
	if start, end, err := c.logRange(ctx, ref.part); err != nil {
		return nil, err
	} else if ref.first < start || ref.last >= end {
		return nil, fmt.Errorf("%s/%d holds offsets %d-%d, the snapshot was at %d-%d", c.cfg.stateTopic, ref.part, start, end-1, ref.first, ref.last)
	}
	opts := []kgo.Opt{kgo.SeedBrokers(c.cfg.brokers...)}
	for _, o := range c.cfg.kgoOpts {
		if _, group := o.(kgo.GroupOpt); !group {
			opts = append(opts, o)
		}
	}
	opts = append(opts,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{c.cfg.stateTopic: {ref.part: kgo.NewOffset().At(ref.first)}}),
		kgo.FetchMaxBytes(64<<20), kgo.FetchMaxPartitionBytes(64<<20))
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, c.cfg.snapshotLoad)
	defer cancel()
	var data []byte
	want, chunks := 0, -1
	for {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("reading %s/%d offsets %d-%d: %w", c.cfg.stateTopic, ref.part, ref.first, ref.last, err)
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return nil, ferr
		}
		done := false
		var bad error
		fs.EachRecord(func(r *kgo.Record) {
			if done || bad != nil || r.Offset < ref.first {
				return
			}
			if r.Offset > ref.last {
				done = true
				return
			}
			if string(r.Key) != c.chunkKey(p, want) {
				bad = fmt.Errorf("offset %d holds %q, expected chunk %q", r.Offset, r.Key, c.chunkKey(p, want))
				return
			}
			n := -1
			for _, h := range r.Headers {
				if h.Key == "relance-snapshot-chunks" {
					n, _ = strconv.Atoi(string(h.Value))
				}
			}
			if chunks == -1 {
				chunks = n
			}
			if n != chunks || n < 1 {
				bad = fmt.Errorf("offset %d: chunk count %d, expected %d", r.Offset, n, chunks)
				return
			}
			data = append(data, r.Value...)
			want++
			if r.Offset == ref.last {
				done = true
			}
		})
		if bad != nil {
			return nil, bad
		}
		if done {
			break
		}
	}
	if want != chunks {
		return nil, fmt.Errorf("%d of %d chunks found (compacted away?)", want, chunks)
	}
	return data, nil
}

// restore rebuilds joined partition p from the snapshot its commit names,
// and arranges for reading to resume at the snapshot's offsets. It returns
// false when there is no usable snapshot: the caller replays instead.
// Called without mu (it reads from Kafka).
func (c *Consumer) restore(ctx context.Context, p int32, s resumeState) (*stream.Joiner, bool) {
	if c.cfg.stateTopic == "" || !s.hasSnap {
		return nil, false
	}
	start := time.Now()
	data, err := c.readSnapshot(ctx, p, s.snap)
	if err == nil {
		var j *stream.Joiner
		j, err = stream.NewJoiner(c.cfg.joinerOpts...)
		if err == nil {
			var wm time.Time
			if s.watermarkMs != 0 {
				wm = time.UnixMilli(s.watermarkMs).UTC()
			}
			err = j.Restore(data, wm,
				stream.ResumeRange{From: s.snap.reminders, End: max(s.remindersEnd, s.snap.reminders)},
				stream.ResumeRange{From: s.snap.payments, End: max(s.paymentsEnd, s.snap.payments)})
		}
		if err == nil {
			_, held, _ := j.StateSize()
			c.m.snapshotSeconds.WithLabelValues("restore").Observe(time.Since(start).Seconds())
			c.cfg.log.Info("restored the join state from a snapshot", "partition", p, "reminders", held, "bytes", len(data),
				"took", time.Since(start).Round(time.Millisecond), "resume_reminders_at", s.snap.reminders, "resume_payments_at", s.snap.payments)
			return j, true
		}
	}
	c.m.snapshotErrors.WithLabelValues("restore").Inc()
	c.cfg.log.Warn("the committed join-state snapshot cannot be used; rebuilding the state by replaying from the committed offsets (slower, same results)",
		"partition", p, "snapshot", s.snap.String(), "err", err)
	return nil, false
}

// adjustOffsets moves the start of reading of partitions restored from a
// snapshot to the snapshot's offsets (kgo calls it after onAssigned).
func (c *Consumer) adjustOffsets(_ context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for topic, ps := range offsets {
		if topic != schemas.TopicReminders && topic != schemas.TopicPayments {
			continue
		}
		for p := range ps {
			ref, ok := c.seek[p]
			if !ok {
				continue
			}
			at := ref.reminders
			if topic == schemas.TopicPayments {
				at = ref.payments
			}
			ps[p] = kgo.NewOffset().At(at).WithEpoch(-1)
		}
	}
	return offsets, nil
}
