package ingest

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/relance-io/relance/schemas"
	"github.com/relance-io/relance/stream"
)

// resumeState is what a commit of a joined partition carries in its offset
// metadata, so that the next owner can tell replayed events from new ones:
// the joiner's watermark and, per topic, the offset read up to.
type resumeState struct {
	watermarkMs  int64
	remindersEnd int64
	paymentsEnd  int64
	// partitions is the partition count of the joined topics when the
	// commit was made (0 in commits of older versions): a customer's
	// partition depends on it (see checkPartitions).
	partitions int32
	// Where reading resumes (the committed offsets); not stored in the
	// metadata, filled in at assignment.
	remindersFrom, paymentsFrom int64
	// The last join-state snapshot written, if any (see snapshot.go).
	snap    snapRef
	hasSnap bool
	// Below this offset of the payments log an earlier owner may have
	// written facts it did not commit (see stream.Joiner.Uncertain): the
	// end of the log at assignment, or 0 when the group had never
	// committed the partition. Filled in at assignment.
	uncertainBelow int64
}

const metaPrefix = "relance/1 "

func (s resumeState) String() string {
	m := fmt.Sprintf("%swm=%d rn=%d pn=%d", metaPrefix, s.watermarkMs, s.remindersEnd, s.paymentsEnd)
	if s.partitions > 0 {
		m += fmt.Sprintf(" np=%d", s.partitions)
	}
	if s.hasSnap {
		m += " " + s.snap.String()
	}
	return m
}

// parseResume reads commit metadata; ok is false for metadata relance did
// not write (an empty or foreign commit: start without resume state).
func parseResume(meta string) (s resumeState, ok bool) {
	rest, found := strings.CutPrefix(meta, metaPrefix)
	if !found {
		return s, false
	}
	for _, f := range strings.Fields(rest) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "sn":
			ns, ok := parseInts(v, 3)
			if !ok {
				return s, false
			}
			s.snap.part, s.snap.first, s.snap.last = int32(ns[0]), ns[1], ns[2]
			s.hasSnap = true
			continue
		case "so":
			ns, ok := parseInts(v, 2)
			if !ok {
				return s, false
			}
			s.snap.reminders, s.snap.payments = ns[0], ns[1]
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return s, false
		}
		switch k {
		case "wm":
			s.watermarkMs = n
		case "rn":
			s.remindersEnd = n
		case "pn":
			s.paymentsEnd = n
		case "np":
			s.partitions = int32(n)
		}
	}
	return s, true
}

func (s resumeState) apply(j *stream.Joiner) {
	var wm time.Time
	if s.watermarkMs != 0 {
		wm = time.UnixMilli(s.watermarkMs).UTC()
	}
	j.Resume(wm, stream.ResumeRange{From: s.remindersFrom, End: s.remindersEnd}, stream.ResumeRange{From: s.paymentsFrom, End: s.paymentsEnd})
	s.uncertain(j)
}

// uncertain tells j up to where an earlier owner may have read.
func (s resumeState) uncertain(j *stream.Joiner) { j.Uncertain(s.uncertainBelow) }

// latestOffset is the timestamp of ListOffsets asking for the end of a log.
const latestOffset = -1

// listOffsets returns the offset of each partition of parts at timestamp
// which (latestOffset: the end of the log, the next offset to be written).
func (c *Consumer) listOffsets(ctx context.Context, parts map[string][]int32, which int64) (map[string]map[int32]int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	for topic, ps := range parts {
		t := kmsg.NewListOffsetsRequestTopic()
		t.Topic = topic
		for _, p := range ps {
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition = p
			rp.Timestamp = which
			rp.CurrentLeaderEpoch = -1
			t.Partitions = append(t.Partitions, rp)
		}
		req.Topics = append(req.Topics, t)
	}
	// The client sends each partition to its leader and merges the answers.
	resp, err := req.RequestWith(ctx, c.cl.Load())
	if err != nil {
		return nil, err
	}
	out := map[string]map[int32]int64{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, fmt.Errorf("list offsets of %s/%d: %w", t.Topic, p.Partition, err)
			}
			if out[t.Topic] == nil {
				out[t.Topic] = map[int32]int64{}
			}
			out[t.Topic][p.Partition] = p.Offset
		}
	}
	return out, nil
}

// topicIDs returns the ids of the topics (OffsetCommit and OffsetFetch name
// topics by id from v10 on), cached after the first lookup.
func (c *Consumer) topicIDs(ctx context.Context, topics []string) (map[string][16]byte, error) {
	missing := false
	for _, t := range topics {
		if _, ok := c.ids[t]; !ok {
			missing = true
		}
	}
	if !missing {
		return c.ids, nil
	}
	meta, err := topicMetadata(ctx, c.cl.Load(), topics...)
	if err != nil {
		return nil, err
	}
	ids := map[string][16]byte{}
	for k, v := range c.ids {
		ids[k] = v
	}
	for _, name := range topics {
		t, ok := meta[name]
		if !ok {
			return nil, fmt.Errorf("metadata for topic %s: not in the answer", name)
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			return nil, fmt.Errorf("metadata for topic %s: %w", name, err)
		}
		ids[name] = t.TopicID
	}
	c.ids = ids
	return ids, nil
}

// checkCoPartitioned refuses topics whose partition counts differ: partition
// p of reminders and of payments would then hold different customers, and
// payments would silently miss their reminders.
func (c *Consumer) checkCoPartitioned(ctx context.Context) error {
	meta, err := topicMetadata(ctx, c.cl.Load(), schemas.TopicReminders, schemas.TopicPayments)
	if err != nil {
		return nil // not known now; the next assignment checks again
	}
	rt, okR := meta[schemas.TopicReminders]
	pt, okP := meta[schemas.TopicPayments]
	if okP && pt.ErrorCode == 0 {
		c.partitions = int32(len(pt.Partitions))
	}
	if r, p := len(rt.Partitions), len(pt.Partitions); okR && okP && rt.ErrorCode == 0 && pt.ErrorCode == 0 && r != p {
		return fmt.Errorf("topic %s has %d partitions and %s has %d: the join needs them co-partitioned (the same partition count, records keyed by customer id); give both the same count, then re-produce or replay from the start",
			schemas.TopicReminders, r, schemas.TopicPayments, p)
	}
	return nil
}

// checkPartitions refuses commits made when the joined topics had another
// partition count: records are partitioned by a hash of the customer id
// modulo the count, so once partitions are added a customer's new events
// land where its invoices' earlier events are not, and every payment of
// theirs would be collected without reminder, silently.
func (c *Consumer) checkPartitions(got map[string]map[int32]commitEntry) error {
	if c.partitions == 0 {
		return nil // not known now
	}
	for _, topic := range []string{schemas.TopicReminders, schemas.TopicPayments} {
		for p, e := range got[topic] {
			if s, ok := parseResume(e.meta); ok && s.partitions != 0 && s.partitions != c.partitions {
				return fmt.Errorf("%s has %d partitions, but the group %q committed %s/%d when it had %d: customers' records now go to other partitions than their earlier events, and their payments would no longer meet their reminders. Go back to %d partitions, or re-produce every event into topics of %d partitions and consume them with a new group into a fresh database",
					topic, c.partitions, c.cfg.group, topic, p, s.partitions, s.partitions, c.partitions)
			}
		}
	}
	return nil
}

type commitEntry struct {
	offset int64
	meta   string
}

// commitWithMeta commits offsets with metadata for the current group
// generation. kgo's commit API carries no metadata, so this sends the
// OffsetCommit request itself, with the member id and generation kgo holds.
func (c *Consumer) commitWithMeta(ctx context.Context, offsets map[string]map[int32]commitEntry) error {
	var topics []string
	for t := range offsets {
		topics = append(topics, t)
	}
	ids, err := c.topicIDs(ctx, topics)
	if err != nil {
		return err
	}
	member, gen := c.cl.Load().GroupMetadata()
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group = c.cfg.group
	req.Generation = gen
	req.MemberID = member
	for topic, ps := range offsets {
		t := kmsg.NewOffsetCommitRequestTopic()
		t.Topic = topic
		t.TopicID = ids[topic]
		for p, e := range ps {
			pp := kmsg.NewOffsetCommitRequestTopicPartition()
			pp.Partition = p
			pp.Offset = e.offset
			pp.LeaderEpoch = -1
			meta := e.meta
			pp.Metadata = &meta
			t.Partitions = append(t.Partitions, pp)
		}
		req.Topics = append(req.Topics, t)
	}
	resp, err := req.RequestWith(ctx, c.cl.Load())
	if err != nil {
		return err
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return fmt.Errorf("commit %s/%d: %w", nameOf(ids, t.Topic, t.TopicID), p.Partition, err)
			}
		}
	}
	return nil
}

func nameOf(ids map[string][16]byte, name string, id [16]byte) string {
	if name != "" {
		return name
	}
	for n, v := range ids {
		if v == id {
			return n
		}
	}
	return fmt.Sprintf("topic-id-%x", id)
}

// fetchCommitted reads the group's committed offsets and metadata for the
// given partitions.
func (c *Consumer) fetchCommitted(ctx context.Context, parts map[string][]int32) (map[string]map[int32]commitEntry, error) {
	if len(parts) == 0 {
		// A cooperative rebalance may assign nothing new. An offset fetch
		// naming no topic means every committed partition of the group:
		// this instance would take resume state for partitions it does not
		// own, and never be ready.
		return map[string]map[int32]commitEntry{}, nil
	}
	var topics []string
	for t := range parts {
		topics = append(topics, t)
	}
	ids, err := c.topicIDs(ctx, topics)
	if err != nil {
		return nil, err
	}
	req := kmsg.NewPtrOffsetFetchRequest()
	g := kmsg.NewOffsetFetchRequestGroup()
	g.Group = c.cfg.group
	for topic, ps := range parts {
		t := kmsg.NewOffsetFetchRequestGroupTopic()
		t.Topic = topic
		t.TopicID = ids[topic]
		t.Partitions = ps
		g.Topics = append(g.Topics, t)
	}
	req.Groups = append(req.Groups, g)
	resp, err := req.RequestWith(ctx, c.cl.Load())
	if err != nil {
		return nil, err
	}
	out := map[string]map[int32]commitEntry{}
	for _, rg := range resp.Groups {
		if err := kerr.ErrorForCode(rg.ErrorCode); err != nil {
			return nil, fmt.Errorf("offset fetch for group %s: %w", rg.Group, err)
		}
		for _, t := range rg.Topics {
			name := nameOf(ids, t.Topic, t.TopicID)
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					return nil, fmt.Errorf("offset fetch %s/%d: %w", name, p.Partition, err)
				}
				if out[name] == nil {
					out[name] = map[int32]commitEntry{}
				}
				meta := ""
				if p.Metadata != nil {
					meta = *p.Metadata
				}
				out[name][p.Partition] = commitEntry{offset: p.Offset, meta: meta}
			}
		}
	}
	return out, nil
}

// uncertainty returns, for each payments partition of parts, the offset
// below which an earlier owner may have written facts it did not commit
// (see stream.Joiner.Uncertain): the end of the log, which no owner can
// have read past, or 0 for a partition the group never committed (no
// owner of this group read it before; see ARCHITECTURE for the one case
// this leaves: a group's first owner dying between its first write and
// its first commit).
func (c *Consumer) uncertainty(ctx context.Context, parts []int32, committed map[int32]commitEntry) map[int32]int64 {
	out := map[int32]int64{}
	if len(parts) == 0 {
		return out
	}
	var known []int32
	for _, p := range parts {
		if e, ok := committed[p]; ok && e.offset >= 0 {
			out[p] = math.MaxInt64
			known = append(known, p)
		}
	}
	if len(known) == 0 {
		return out
	}
	ends, err := c.listOffsets(ctx, map[string][]int32{schemas.TopicPayments: known}, latestOffset)
	if err != nil {
		// Safe, at a cost: every allocation's first emission retracts the
		// keys an earlier owner may have written.
		c.cfg.log.Warn("reading the log ends on assignment failed; treating every payment as possibly written before", "err", err)
		return out
	}
	for p, end := range ends[schemas.TopicPayments] {
		if _, ok := out[p]; ok {
			out[p] = end
		}
	}
	return out
}

// onAssigned loads, for each newly assigned partition, where the group
// resumes and the resume state of its joiner.
func (c *Consumer) onAssigned(ctx context.Context, cl *kgoClient, assigned map[string][]int32) {
	c.cl.CompareAndSwap(nil, cl)
	if err := c.checkCoPartitioned(ctx); err != nil {
		c.cfg.log.Error("the joined topics are not co-partitioned; stopping", "err", err)
		c.assignErr = err
		return
	}
	// A coordinator that is moving or loading answers with retriable
	// errors for a while: retry before giving up on the assignment.
	got, err := c.fetchCommitted(ctx, assigned)
	for wait := c.cfg.retryBackoff; err != nil && isKafkaRetryable(err) && wait < 30*time.Second; wait *= 2 {
		c.cfg.log.Warn("reading committed offsets on assignment failed; retrying", "err", err, "backoff", wait)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		got, err = c.fetchCommitted(ctx, assigned)
	}
	if err != nil {
		// Without resume state a restart re-emits facts of replayed events
		// from partial state; refuse to guess and let the group retry.
		c.cfg.log.Error("reading committed offsets on assignment failed; leaving the group to retry", "err", err)
		c.assignErr = err
		return
	}
	if err := c.checkPartitions(got); err != nil {
		c.cfg.log.Error("the joined topics' partition count changed; stopping", "err", err)
		c.assignErr = err
		return
	}
	uncertain := c.uncertainty(ctx, assigned[schemas.TopicPayments], got[schemas.TopicPayments])
	c.mu.Lock()
	for topic, ps := range got {
		for p, e := range ps {
			if e.offset >= 0 {
				if c.start[topic] == nil {
					c.start[topic] = map[int32]int64{}
				}
				c.start[topic][p] = e.offset
			}
			if topic != schemas.TopicInvoices {
				// Both joined topics carry the state; the newer one wins.
				if s, ok := parseResume(e.meta); ok && s.watermarkMs >= c.resume[p].watermarkMs {
					s.remindersFrom, s.paymentsFrom = c.resume[p].remindersFrom, c.resume[p].paymentsFrom
					c.resume[p] = s
				}
				s := c.resume[p]
				if topic == schemas.TopicReminders {
					s.remindersFrom = max(e.offset, 0)
				} else {
					s.paymentsFrom = max(e.offset, 0)
				}
				c.resume[p] = s
			}
		}
	}
	// Set after the commits' resume state, which replaces the entry.
	for p, below := range uncertain {
		s := c.resume[p]
		s.uncertainBelow = below
		c.resume[p] = s
	}
	// Partitions whose commit names a snapshot restore it (reading from
	// Kafka, so without the lock); the others replay as they are read.
	restorable := map[int32]resumeState{}
	for _, p := range assigned[schemas.TopicReminders] {
		if s, ok := c.resume[p]; ok && s.hasSnap && c.joiners[p] == nil {
			restorable[p] = s
		}
	}
	c.mu.Unlock()
	restored := map[int32]*stream.Joiner{}
	for p, s := range restorable {
		if j, ok := c.restore(ctx, p, s); ok {
			restored[p] = j
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	for p, j := range restored {
		s := c.resume[p]
		s.remindersFrom, s.paymentsFrom = s.snap.reminders, s.snap.payments
		c.resume[p] = s
		s.uncertain(j)
		c.joiners[p] = j
		c.lastSeen[p] = &[2]time.Time{now, now}
		c.snapAt[p] = now
		c.seek[p] = s.snap
		for _, topic := range []string{schemas.TopicReminders, schemas.TopicPayments} {
			if c.start[topic] == nil {
				c.start[topic] = map[int32]int64{}
			}
			c.start[topic][p] = s.snap.reminders
			if topic == schemas.TopicPayments {
				c.start[topic][p] = s.snap.payments
			}
		}
	}
	for topic, ps := range assigned {
		for _, p := range ps {
			c.m.own(topic, p)
		}
	}
	c.assigned = true
}
