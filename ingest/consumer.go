package ingest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/relance-io/relance/schemas"
	"github.com/relance-io/relance/sinks"
	"github.com/relance-io/relance/stream"
)

// Topics is what the consumer reads: the two joined topics and the optional
// invoice enrichment.
var Topics = []string{schemas.TopicReminders, schemas.TopicPayments, schemas.TopicInvoices}

// Consumer is the pipeline's ingest stage: Kafka → decode → Joiner → Sink,
// with offsets committed after the sink acknowledged the rows.
type Consumer struct {
	cfg cfg
	// cl is set by New and, first, by the assignment callback: kgo can join
	// the group and assign partitions before NewClient has returned.
	cl    atomic.Pointer[kgo.Client]
	serde *schemas.Serde
	sink  sinks.Sink

	mu       sync.Mutex
	joiners  map[int32]*stream.Joiner
	lastSeen map[int32]*[2]time.Time // per joined partition, wall time of the last record of each input
	batch    sinks.Batch
	dead     []*kgo.Record
	next     map[string]map[int32]int64 // next offset to consume, per topic and partition
	start    map[string]map[int32]int64 // committed offset found at assignment
	// kafkaFailingSince is when polls began to fail without a record (zero
	// while they succeed), kafkaErr the last failure: see Status.
	kafkaFailingSince time.Time
	kafkaErr          error
	// writing is the write under way, read by Status without mu (the
	// flush holds mu through the write and its retries): since when
	// (UnixNano, 0 when none) and its last failed attempt.
	writing struct {
		since   atomic.Int64
		lastErr atomic.Pointer[error]
		what    atomic.Pointer[string] // e.g. "writing a batch to the store"
	}
	// registry is the same for a record waiting for the schema registry
	// (see waitRegistry), which holds mu as well.
	registry struct {
		since   atomic.Int64
		lastErr atomic.Pointer[error]
	}
	// status is the last answer of Status computed under mu, given while
	// a flush holds it.
	status   atomic.Pointer[statusAnswer]
	lastPing time.Time             // of the brokers, while failing
	resume   map[int32]resumeState // resume state found at assignment, per joined partition
	// partitions is the joined topics' partition count, read at
	// assignment (see checkPartitions).
	partitions int32
	committed  map[string]map[int32]commitEntry
	assignErr  error
	ids        map[string][16]byte // topic ids, for OffsetCommit/OffsetFetch v10+
	runCtx     context.Context
	stopping   bool      // the run context ended while a record was being retried
	window     []decoded // handleAll's buffers, reused
	touchIDs   []string
	lastFlush  time.Time
	stats      Stats

	m          *metrics
	published  stream.Stats // joiner counters already added to the metrics
	polled     map[topicPartition]int
	batchBytes int
	assigned   bool  // partitions were assigned and their resume state read
	flushErr   error // the last flush's error, nil once one succeeds
	// heldRecs are the records the joiner of a partition holds until its
	// replay ends, kept to dead-letter those that prove duplicates.
	heldRecs map[int32]map[heldKey]*kgo.Record

	// Join-state snapshots (see snapshot.go).
	snapAt     map[int32]time.Time // when partition p was last snapshotted (or restored)
	seek       map[int32]snapRef   // where restored partitions resume reading
	stateParts int32               // partitions of the state topic, 0 until known
	snapBuf    []byte
}

type topicPartition struct {
	topic     string
	partition int32
}

// Stats are cumulative counters of a Consumer.
type Stats struct {
	Records     map[string]uint64 // per topic
	DeadLetters map[string]uint64 // per reason
	// KeyMismatches are reminders and payments, per topic, whose record
	// key is not their customer_id (see checkKey).
	KeyMismatches map[string]uint64
	Batches       uint64
	Rows          uint64
	Commits       uint64
	Retries       uint64
	Joiner        stream.Stats // summed over partitions currently owned
}

// New connects a Consumer to Kafka; nothing is read until Run.
func New(serde *schemas.Serde, sink sinks.Sink, opts ...Opt) (*Consumer, error) {
	c := &Consumer{cfg: defaultCfg(), serde: serde, sink: sink}
	for _, o := range opts {
		o(&c.cfg)
	}
	if err := c.cfg.validate(); err != nil {
		return nil, err
	}
	// Fail on a bad joiner option now rather than at the first record.
	if _, err := stream.NewJoiner(c.cfg.joinerOpts...); err != nil {
		return nil, fmt.Errorf("ingest: joiner: %w", err)
	}
	c.reset()
	c.m = newMetrics(c.cfg.registerer)
	// Readiness as a series, read at each scrape: a stall (a write or a
	// dead-letter produce retried for ever, Kafka gone) freezes the other
	// gauges, which are updated by the poll loop.
	c.cfg.registerer.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "relance_ingest_ready",
		Help: "1 when the consumer is ready (what /readyz answers), 0 otherwise; /readyz's body says why."},
		func() float64 {
			if ok, _ := c.Status(); ok {
				return 1
			}
			return 0
		}))
	c.polled = map[topicPartition]int{}
	c.stats.Records = map[string]uint64{}
	c.stats.DeadLetters = map[string]uint64{}
	c.stats.KeyMismatches = map[string]uint64{}
	kopts := []kgo.Opt{
		kgo.SeedBrokers(c.cfg.brokers...),
		kgo.ConsumerGroup(c.cfg.group),
		kgo.ConsumeTopics(Topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		// Rebalance callbacks run between polls, never during processing, so
		// a revoke can flush and commit a consistent batch.
		kgo.BlockRebalanceOnPoll(),
		// Partition p of every topic on one member (the join needs both
		// sides of a customer in one place), sticky and cooperative: a
		// rebalance only stops the partitions that move.
		kgo.Balancers(CoPartitionedBalancer()),
		kgo.OnPartitionsAssigned(c.onAssigned),
		kgo.OnPartitionsRevoked(c.onRevoked),
		kgo.OnPartitionsLost(c.onLost),
		kgo.AdjustFetchOffsetsFn(c.adjustOffsets),
		kgo.RecordPartitioner(statePartitioner{topic: c.cfg.stateTopic, def: kgo.StickyKeyPartitioner(nil)}),
		kgo.FetchMaxWait(200 * time.Millisecond),
		kgo.ProducerLinger(0),
	}
	cl, err := kgo.NewClient(append(kopts, c.cfg.kgoOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("ingest: Kafka client: %w", err)
	}
	c.cl.CompareAndSwap(nil, cl)
	return c, nil
}

func (c *Consumer) reset() {
	c.joiners = map[int32]*stream.Joiner{}
	c.lastSeen = map[int32]*[2]time.Time{}
	c.next = map[string]map[int32]int64{}
	c.start = map[string]map[int32]int64{}
	c.resume = map[int32]resumeState{}
	c.committed = map[string]map[int32]commitEntry{}
	c.snapAt = map[int32]time.Time{}
	c.seek = map[int32]snapRef{}
	c.heldRecs = map[int32]map[heldKey]*kgo.Record{}
}

// Close leaves the group and closes the Kafka client. Run flushes and
// commits before it returns; Close does not write anything.
func (c *Consumer) Close() { c.cl.Load().Close() }

// Stats returns a snapshot of the counters.
func (c *Consumer) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Records = copyMap(c.stats.Records)
	s.DeadLetters = copyMap(c.stats.DeadLetters)
	for _, j := range c.joiners {
		s.Joiner = s.Joiner.Add(j.Stats())
	}
	return s
}

// Run consumes until ctx is cancelled, then writes and commits what it has
// and returns nil. It returns an error only when the sink or Kafka fails in a
// way retries cannot fix; bad records never stop it.
func (c *Consumer) Run(ctx context.Context) error { return c.run(ctx, nil) }

// RunUntil consumes until every partition listed in ends has been read up to
// its end offset (exclusive), then declares the end of input to every
// joiner (emitting all pending facts), writes, commits and returns. It is how
// a bounded data set (the demo, an import, a test) is processed to the end.
func (c *Consumer) RunUntil(ctx context.Context, ends map[string]map[int32]int64) error {
	return c.run(ctx, ends)
}

func (c *Consumer) run(ctx context.Context, ends map[string]map[int32]int64) error {
	c.lastFlush = time.Now()
	c.runCtx = ctx
	for {
		pollCtx, cancel := context.WithTimeout(ctx, c.cfg.flushInterval)
		fs := c.cl.Load().PollRecords(pollCtx, c.cfg.pollRecords)
		cancel()
		if fs.IsClientClosed() {
			return errors.New("ingest: the Kafka client was closed while running")
		}
		var fatal error
		var fetchErr error
		fs.EachError(func(topic string, p int32, err error) {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				return
			}
			fetchErr = err
			if topic == "" {
				// Not about a partition: the brokers or the group.
				c.cfg.log.Warn("Kafka unreachable or refusing; the client retries", "brokers", strings.Join(c.cfg.brokers, ","), "err", err)
				return
			}
			c.cfg.log.Warn("fetch error; the client retries", "topic", topic, "partition", p, "err", err)
		})
		c.kafkaHealth(ctx, fetchErr, fs.NumRecords() > 0)
		if c.assignErr != nil {
			// Unblock the group before returning, or Close would wait
			// forever to leave it.
			c.cl.Load().AllowRebalance()
			return fmt.Errorf("ingest: cannot resume the assigned partitions: %w", c.assignErr)
		}
		c.mu.Lock()
		c.handleAll(fs)
		c.observePoll(fs)
		c.markIdle(time.Now())
		var err error
		done := ends != nil && c.reached(ends)
		if done {
			// Every partition is at its end: the newest event time of all
			// of them ends every partition's input.
			var end time.Time
			for _, j := range c.joiners {
				if m := j.MaxEventTime(); m.After(end) {
					end = m
				}
			}
			for _, j := range c.joiners {
				j.FlushTo(end)
			}
		}
		if done || ctx.Err() != nil || c.batch.Len()+len(c.dead) >= c.cfg.flushRows || c.batchBytes >= c.cfg.flushBytes || time.Since(c.lastFlush) >= c.cfg.flushInterval {
			wctx, cancel := c.writeContext(ctx)
			force := noPartition
			if done || ctx.Err() != nil {
				force = allPartitions
			}
			err = c.flush(wctx, force)
			cancel()
		}
		c.mu.Unlock()
		c.cl.Load().AllowRebalance()
		if err != nil {
			return err
		}
		if fatal != nil {
			return fatal
		}
		if done || ctx.Err() != nil {
			return nil
		}
	}
}

// writeContext is the context of a flush of a run whose context is ctx. A
// stop (SIGTERM cancels ctx) does not abandon a write under way, which
// would fail the run with rows half written: the write and its retries
// get the shutdown timeout from the moment of the stop; the flush that
// follows a stop gets it from its start.
func (c *Consumer) writeContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if ctx.Err() != nil {
		return context.WithTimeout(context.WithoutCancel(ctx), c.cfg.shutdown)
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var timer *time.Timer
	var mu sync.Mutex
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		timer = time.AfterFunc(c.cfg.shutdown, cancel)
	})
	return wctx, func() {
		stop()
		mu.Lock()
		if timer != nil {
			timer.Stop()
		}
		mu.Unlock()
		cancel()
	}
}

// kafkaHealth records what a poll says of Kafka: records are proof it
// answers, an error (with no record) that it fails. An empty poll says
// nothing (kgo reports a failing connection every few seconds, not at each
// poll; a quiet topic is healthy): while failing, the brokers are pinged
// at most once a second to see them back. Called without mu.
func (c *Consumer) kafkaHealth(ctx context.Context, err error, gotRecords bool) {
	c.mu.Lock()
	failing := !c.kafkaFailingSince.IsZero()
	switch {
	case gotRecords:
		c.kafkaUp()
	case err != nil:
		if !failing {
			c.kafkaFailingSince = time.Now()
		}
		c.kafkaErr = err
	}
	// While the group is still being joined a poll returns no error even
	// when no broker answers (the client retries inside the join): ask the
	// brokers, or an unreachable cluster would look like a slow join for
	// ever, unlogged.
	joining := !c.assigned && !gotRecords && err == nil
	every := time.Second
	if !failing {
		every = 5 * time.Second // a member left without partitions joins for ever
	}
	ping := (failing || joining) && !gotRecords && time.Since(c.lastPing) >= every
	if ping {
		c.lastPing = time.Now()
	}
	c.mu.Unlock()
	if !ping {
		return
	}
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	perr := c.cl.Load().Ping(pctx)
	if ctx.Err() != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case perr == nil:
		c.kafkaUp()
	case joining:
		if c.kafkaFailingSince.IsZero() {
			c.kafkaFailingSince = time.Now()
			c.cfg.log.Warn("Kafka unreachable or refusing; the client retries", "brokers", strings.Join(c.cfg.brokers, ","), "err", perr)
		}
		c.kafkaErr = perr
	}
}

// kafkaUp records that Kafka answers. Called with mu held.
func (c *Consumer) kafkaUp() {
	if !c.kafkaFailingSince.IsZero() {
		c.cfg.log.Info("Kafka answers again", "after", time.Since(c.kafkaFailingSince).Round(time.Second).String())
	}
	c.kafkaFailingSince, c.kafkaErr = time.Time{}, nil
}

func (c *Consumer) reached(ends map[string]map[int32]int64) bool {
	for topic, ps := range ends {
		for p, end := range ps {
			next, ok := c.next[topic][p]
			if !ok {
				// Nothing read yet: the group resumes at its commit.
				next, ok = c.start[topic][p]
			}
			if end > 0 && (!ok || next < end) {
				return false
			}
		}
	}
	return true
}

// decoded is one record and what decoding it gave.
type decoded struct {
	r   *kgo.Record
	rem schemas.Reminder
	pay schemas.Payment
	inv schemas.Invoice
	err error
}

// touchWindow is how many records are decoded ahead of being applied, so
// that each joiner reads the state all of them will need at once (see
// stream.Joiner.TouchInvoices).
const touchWindow = 32

// handleAll handles the records of a poll in order: decoded touchWindow
// at a time, then applied. Called with mu held.
func (c *Consumer) handleAll(fs kgo.Fetches) {
	win := c.window[:0]
	apply := func() {
		c.touch(win)
		for i := range win {
			c.handle(&win[i])
			win[i] = decoded{}
		}
		win = win[:0]
	}
	fs.EachRecord(func(r *kgo.Record) {
		if c.stopping {
			return // not read: the next run starts at this record again
		}
		d := decoded{r: r}
		if !c.decode(&d) {
			// The records before it are applied: they were read.
			c.stopping = true
			return
		}
		win = append(win, d)
		if len(win) == touchWindow {
			apply()
		}
	})
	apply()
	c.window = win
}

// touch has each joiner read ahead the join state of the invoices the
// records of win it will be fed name.
func (c *Consumer) touch(win []decoded) {
	for i := range win {
		p := win[i].r.Partition
		j := c.joiners[p]
		if j == nil || (i > 0 && slices.ContainsFunc(win[:i], func(d decoded) bool { return d.r.Partition == p })) {
			continue // a new joiner holds nothing; partition done already
		}
		ids := c.touchIDs[:0]
		for k := i; k < len(win); k++ {
			d := &win[k]
			if d.r.Partition != p || d.err != nil {
				continue
			}
			switch d.r.Topic {
			case schemas.TopicReminders:
				ids = append(ids, d.rem.InvoiceID)
			case schemas.TopicPayments:
				for _, al := range d.pay.Allocations {
					ids = append(ids, al.InvoiceID)
				}
			}
		}
		j.TouchInvoices(ids)
		clear(ids)
		c.touchIDs = ids[:0]
	}
}

// decode decodes d.r into d. A registry outage is waited out before the
// record counts as read: decode returns false when the run ends first.
func (c *Consumer) decode(d *decoded) bool {
	r := d.r
	return c.waitRegistry(r, func() error {
		switch r.Topic {
		case schemas.TopicReminders:
			d.rem, d.err = c.serde.DecodeReminder(r.Value)
		case schemas.TopicPayments:
			d.pay, d.err = c.serde.DecodePayment(r.Value)
		case schemas.TopicInvoices:
			d.inv, d.err = c.serde.DecodeInvoice(r.Value)
		default:
			d.err = fmt.Errorf("record from unexpected topic %q", r.Topic)
		}
		return d.err
	})
}

// handle validates and routes one decoded record. Called with mu held.
func (c *Consumer) handle(d *decoded) {
	r, rem, pay, inv, err := d.r, d.rem, d.pay, d.inv, d.err
	c.stats.Records[r.Topic]++
	c.polled[topicPartition{r.Topic, r.Partition}]++
	c.batchBytes += len(r.Value)
	if c.next[r.Topic] == nil {
		c.next[r.Topic] = map[int32]int64{}
	}
	c.next[r.Topic][r.Partition] = r.Offset + 1
	now := c.cfg.now()
	skew := schemas.MaxSkew(c.cfg.futureSkew)
	if err == nil {
		switch r.Topic {
		case schemas.TopicReminders:
			err = rem.Validate(now, skew)
		case schemas.TopicPayments:
			err = pay.Validate(now, skew)
		case schemas.TopicInvoices:
			err = inv.Validate(now, skew)
		}
	}
	if err != nil {
		c.reject(r, err)
		c.replayedPast(r)
		return
	}
	// Raw rows are written even for a duplicate: the raw tables' keys
	// absorb a second copy, and the record is dead-lettered besides.
	switch r.Topic {
	case schemas.TopicReminders:
		c.checkKey(r, rem.CustomerID)
		j := c.joiner(r.Partition)
		held := j.Held()
		j.AddReminder(rem, r.Offset)
		c.afterAdd(r, j, held)
		c.lastSeen[r.Partition][stream.Reminders] = time.Now()
		c.batch.Reminders = append(c.batch.Reminders, rem)
		c.batch.ReminderAt = append(c.batch.ReminderAt, sinks.Origin{Partition: r.Partition, Offset: r.Offset})
	case schemas.TopicPayments:
		c.checkKey(r, pay.CustomerID)
		j := c.joiner(r.Partition)
		held := j.Held()
		j.AddPayment(pay, r.Offset)
		c.afterAdd(r, j, held)
		c.lastSeen[r.Partition][stream.Payments] = time.Now()
		c.batch.Payments = append(c.batch.Payments, pay)
		c.batch.PaymentAt = append(c.batch.PaymentAt, sinks.Origin{Partition: r.Partition, Offset: r.Offset})
	case schemas.TopicInvoices:
		c.batch.Invoices = append(c.batch.Invoices, inv)
		c.batch.InvoiceAt = append(c.batch.InvoiceAt, sinks.Origin{Partition: r.Partition, Offset: r.Offset})
	}
}

// checkKey counts and reports a reminder or payment whose record key is
// not its customer_id. The join matches a payment with the reminders of the
// same-numbered partition, so both topics must be partitioned by customer:
// a record keyed otherwise (or not keyed) may land where its invoice's
// other events are not, and its match is then lost without a trace. Such
// records are still used (with one partition per topic, or a partitioner
// that agrees, they are matched) but counted, and the first one of each
// topic is logged. Called with mu held.
func (c *Consumer) checkKey(r *kgo.Record, customerID string) {
	if string(r.Key) == customerID {
		return
	}
	c.m.keyMismatches.WithLabelValues(r.Topic).Inc()
	c.stats.KeyMismatches[r.Topic]++
	if c.stats.KeyMismatches[r.Topic] == 1 {
		c.cfg.log.Warn("record key is not the customer_id: produce reminders and payments keyed by customer_id, or matches across partitions are lost (counted in relance_ingest_key_mismatches_total; this is logged once per topic)",
			"topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "key", string(r.Key), "customer_id", customerID)
	}
}

// replayedPast ends the replay of r's joined input when r, rejected, was
// the last record the previous owner had read: the joiner, which never sees
// r, would otherwise hold new events (and Ready stay false) until the idle
// timeout. Called with mu held.
func (c *Consumer) replayedPast(r *kgo.Record) {
	s, ok := c.resume[r.Partition]
	src, end := stream.Reminders, s.remindersEnd
	switch r.Topic {
	case schemas.TopicReminders:
	case schemas.TopicPayments:
		src, end = stream.Payments, s.paymentsEnd
	default:
		return
	}
	if !ok || end == 0 || r.Offset < end-1 {
		return
	}
	j := c.joiner(r.Partition)
	if j.Replaying() {
		j.ReplayDone(src)
		c.duplicates(r.Partition, j, nil)
	}
}

// afterAdd keeps r if the joiner held it (a new event read during a
// replay, applied when the replay ends: only then is it known to be a
// duplicate), and dead-letters the duplicates the joiner found. held is
// Joiner.Held before r was added. Called with mu held.
func (c *Consumer) afterAdd(r *kgo.Record, j *stream.Joiner, held int) {
	if j.Held() > held {
		if c.heldRecs[r.Partition] == nil {
			c.heldRecs[r.Partition] = map[heldKey]*kgo.Record{}
		}
		c.heldRecs[r.Partition][heldKey{r.Topic, r.Offset}] = r
	}
	c.duplicates(r.Partition, j, r)
}

// heldKey names a record of a joined partition held by its joiner.
type heldKey struct {
	topic  string
	offset int64
}

// duplicates dead-letters the duplicates joined partition p's joiner
// found: the record just added (cur, nil if none) or records it held.
// Called with mu held.
func (c *Consumer) duplicates(p int32, j *stream.Joiner, cur *kgo.Record) {
	for _, d := range j.DrainDuplicates() {
		topic := d.Source.String()
		r := cur
		if r == nil || r.Topic != topic || r.Offset != d.Offset {
			r = c.heldRecs[p][heldKey{topic, d.Offset}]
		}
		if r == nil {
			// Every record the joiner can report later is kept above.
			c.cfg.log.Error("a duplicate event cannot be dead-lettered: its record is gone", "topic", topic, "partition", p, "offset", d.Offset, "event_id", d.EventID)
			continue
		}
		c.reject(r, &duplicateError{d})
	}
	if j.Held() == 0 {
		delete(c.heldRecs, p)
	}
}

// markIdle tells each joiner which of its inputs has been silent for the
// idle timeout. Called with mu held.
func (c *Consumer) markIdle(now time.Time) {
	for p, j := range c.joiners {
		for _, src := range []stream.Source{stream.Reminders, stream.Payments} {
			if now.Sub(c.lastSeen[p][src]) >= c.cfg.idleTimeout {
				// Silent that long, it has nothing left to replay either
				// (its last replayed offset may be a gap, e.g. a
				// transaction marker, never delivered as a record).
				j.ReplayDone(src)
				j.Idle(src)
			}
		}
		// The end of a replay applies the events it held.
		c.duplicates(p, j, nil)
	}
}

// waitRegistry runs decode and retries it, with backoff, while the schema
// registry cannot be asked about the record's schema id: an outage says
// nothing about the record, so it must not be dead-lettered. It returns
// false when the run ends first.
func (c *Consumer) waitRegistry(r *kgo.Record, decode func() error) bool {
	backoff := c.cfg.retryBackoff
	for {
		err := decode()
		var de *schemas.DecodeError
		if err == nil || !errors.As(err, &de) || !de.Retryable() {
			c.registry.since.Store(0)
			return true
		}
		c.registry.since.CompareAndSwap(0, time.Now().UnixNano())
		c.registry.lastErr.Store(&err)
		c.stats.Retries++
		c.m.retries.WithLabelValues("registry").Inc()
		c.cfg.log.Warn("schema registry unavailable; retrying the record", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "err", err)
		select {
		case <-c.runCtx.Done():
			return false
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, c.cfg.retryMax)
	}
}

func (c *Consumer) reject(r *kgo.Record, err error) {
	var de *schemas.DecodeError
	if errors.As(err, &de) {
		de.Topic, de.Partition, de.Offset = r.Topic, r.Partition, r.Offset
	}
	reason := reasonOf(err)
	c.stats.DeadLetters[reason]++
	c.m.deadLetters.WithLabelValues(reason).Inc()
	c.dead = append(c.dead, deadLetter(c.cfg.deadLetters, r, reason, err))
	c.cfg.log.Debug("dead letter", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "reason", reason, "err", err)
}

func (c *Consumer) joiner(p int32) *stream.Joiner {
	j := c.joiners[p]
	if j == nil {
		j, _ = stream.NewJoiner(c.cfg.joinerOpts...) // options validated in New
		if s, ok := c.resume[p]; ok {
			s.apply(j)
		}
		c.joiners[p] = j
		now := time.Now()
		c.lastSeen[p] = &[2]time.Time{now, now}
	}
	return j
}

// flush writes dead letters, then the batch, then the snapshots that are
// due (and those force selects: all at the end of a run, the revoked ones
// on revoke), then commits. Called with mu held. The order is
// what makes "nothing lost" hold: an offset is committed only once
// everything its record produced is durable somewhere.
func (c *Consumer) flush(ctx context.Context, force func(p int32) bool) error {
	c.lastFlush = time.Now()
	parts := make([]int32, 0, len(c.joiners))
	for p := range c.joiners {
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, k int) bool { return parts[i] < parts[k] })
	logged, lates := 0, 0
	for _, p := range parts {
		f, late := c.joiners[p].Drain()
		c.batch.Facts = append(c.batch.Facts, f...)
		c.batch.Late = append(c.batch.Late, late...)
		c.batch.Outcomes = append(c.batch.Outcomes, c.joiners[p].DrainOutcomes()...)
		logged = c.logLate(p, late, logged)
		lates += len(late)
		c.duplicates(p, c.joiners[p], nil)
	}
	if n := lates - logged; n > 0 {
		// A flood of late data (a backfill, a stuck producer) must not
		// drown the logs: past the cap, one line says how many more.
		c.cfg.log.Warn("more late events in this batch, not logged one by one: see the late_events table",
			"count", n, "logged", logged)
	}
	if len(c.dead) > 0 {
		// Retried as long as it fails (a missing dead-letter topic, say):
		// nothing is committed meanwhile, and Status says so.
		c.writingStarts("producing dead letters to " + c.cfg.deadLetters)
		err := c.retry(ctx, "dead letters", func() error { return c.produceDead(ctx) })
		c.writingEnds()
		if err != nil {
			return err
		}
		c.dead = c.dead[:0]
	}
	if c.batch.Len() > 0 {
		c.batch.Token = c.token()
		start := time.Now()
		c.writingStarts("writing a batch to the store")
		err := c.retry(ctx, "sink write", func() error { return c.sink.Write(ctx, &c.batch) })
		c.writingEnds()
		if err != nil {
			c.flushErr = err
			return err
		}
		c.m.batchWritten(&c.batch, c.batchBytes, time.Since(start))
		c.stats.Batches++
		c.stats.Rows += uint64(c.batch.Len())
		c.batch = sinks.Batch{}
	}
	// Everything the joiners handed out went into the batch, now written
	// and dropped (or into late events and logs, which Recycle leaves
	// alone): give it back for reuse. A flush that fails returns above
	// with the batch kept for the retry, so nothing still held is given
	// back.
	for _, j := range c.joiners {
		j.Recycle()
	}
	c.batchBytes = 0
	c.flushErr = nil
	c.snapshot(ctx, force)
	return c.commit(ctx)
}

// writingStarts and writingEnds bracket a step of a flush that is retried
// until it succeeds, for Status (which reads them without mu).
func (c *Consumer) writingStarts(what string) {
	c.writing.what.Store(&what)
	c.writing.since.Store(time.Now().UnixNano())
}

func (c *Consumer) writingEnds() {
	c.writing.since.Store(0)
	c.writing.lastErr.Store(nil)
}

// maxLateLogs caps the late events logged one by one per batch.
const maxLateLogs = 20

// logLate logs the late events of joined partition p, one line each while
// fewer than maxLateLogs were logged in this batch (logged so far), and
// returns the new count. SPEC §3: too-late events are counted, logged and
// written, never dropped silently.
func (c *Consumer) logLate(p int32, late []stream.LateEvent, logged int) int {
	for i := range late {
		if logged >= maxLateLogs {
			break
		}
		e := &late[i]
		c.cfg.log.Warn("late event: its invoice's join state was dropped (retention); written to late_events", "reason", e.Reason,
			"topic", e.Source.String(), "partition", p, "offset", e.Offset, "event_id", e.EventID,
			"event_time", e.EventTime.UTC().Format(time.RFC3339), "watermark", c.joiners[p].Watermark().Format(time.RFC3339))
		logged++
	}
	return logged
}

// observePoll publishes what one poll read, the lag behind each partition's
// high watermark, and the joiners' counters and state. Called with mu held.
func (c *Consumer) observePoll(fs kgo.Fetches) {
	for tp, n := range c.polled {
		c.m.records.WithLabelValues(tp.topic, strconv.Itoa(int(tp.partition))).Add(float64(n))
		delete(c.polled, tp)
	}
	fs.EachPartition(func(p kgo.FetchTopicPartition) {
		if next, ok := c.next[p.Topic][p.Partition]; ok && p.HighWatermark >= next {
			c.m.lag.WithLabelValues(p.Topic, strconv.Itoa(int(p.Partition))).Set(float64(p.HighWatermark - next))
		}
	})
	var cur stream.Stats
	c.m.joinerStats(time.Now(), c.joiners, &c.published, &cur)
}

// Ready reports whether the consumer has its partitions, has restored their
// state, and its last write (if any) succeeded: the readiness probe. A
// partition's state is restored once its snapshot is loaded (if any) and
// the events after it, up to where the previous owner had read, are
// re-read: until then its facts wait, and a restart looks like an outage.
func (c *Consumer) Ready() bool {
	ok, _ := c.Status()
	return ok
}

// Status is Ready, and when not ready why, for an operator: no partition
// assigned yet, a partition's state still being replayed, the last write
// failed, or Kafka failing for UnreachableAfter.
func (c *Consumer) Status() (ready bool, why string) {
	// A write that has not finished for UnreachableAfter (a store that does
	// not answer, or retries of a failing one) makes the consumer not
	// ready; that is known without mu, which the write holds.
	if since := c.writing.since.Load(); since != 0 && time.Since(time.Unix(0, since)) >= c.cfg.unreachable {
		what := "writing a batch to the store"
		if w := c.writing.what.Load(); w != nil {
			what = *w
		}
		why := fmt.Sprintf("%s for %s", what, time.Since(time.Unix(0, since)).Round(time.Second))
		if e := c.writing.lastErr.Load(); e != nil {
			why += " (retrying: " + (*e).Error() + ")"
		}
		return false, why
	}
	if since := c.registry.since.Load(); since != 0 && time.Since(time.Unix(0, since)) >= c.cfg.unreachable {
		why := fmt.Sprintf("schema registry unavailable or refusing for %s, a record waits for its writer schema", time.Since(time.Unix(0, since)).Round(time.Second))
		if e := c.registry.lastErr.Load(); e != nil {
			why += ": " + (*e).Error()
		}
		return false, why
	}
	last := c.status.Load()
	wait := statusWait
	if last == nil {
		wait = 4 * statusWait // no answer to give yet: wait longer for one
	}
	if !c.lockWithin(wait) {
		// A flush holds mu (a write, or its retries): answer as last time
		// rather than make a probe wait for the write.
		if last != nil {
			return last.ready, last.why
		}
		return false, "starting (a first write is under way)"
	}
	defer c.mu.Unlock()
	ready, why = c.statusLocked()
	c.status.Store(&statusAnswer{ready, why})
	return ready, why
}

// statusWait is how long Status waits for mu: handling a poll holds it for
// milliseconds, a write for as long as the store takes.
const statusWait = 250 * time.Millisecond

// lockWithin takes mu if it can within d.
func (c *Consumer) lockWithin(d time.Duration) bool {
	for deadline := time.Now().Add(d); ; time.Sleep(time.Millisecond) {
		if c.mu.TryLock() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// statusAnswer is an answer of Status.
type statusAnswer struct {
	ready bool
	why   string
}

// statusLocked is Status, called with mu held.
func (c *Consumer) statusLocked() (ready bool, why string) {
	if !c.kafkaFailingSince.IsZero() && time.Since(c.kafkaFailingSince) >= c.cfg.unreachable {
		return false, fmt.Sprintf("Kafka unreachable or refusing for %s: %v", time.Since(c.kafkaFailingSince).Round(time.Second), c.kafkaErr)
	}
	switch {
	case c.assignErr != nil:
		return false, "the assigned partitions cannot be resumed: " + c.assignErr.Error()
	case c.flushErr != nil:
		return false, "the last write failed: " + c.flushErr.Error()
	case !c.assigned:
		return false, "no partition assigned yet (joining the consumer group)"
	}
	for p, s := range c.resume {
		if j := c.joiners[p]; j != nil {
			if j.Replaying() {
				return false, fmt.Sprintf("partition %d: replaying the join state", p)
			}
		} else if s.remindersFrom < s.remindersEnd || s.paymentsFrom < s.paymentsEnd {
			return false, fmt.Sprintf("partition %d: the replay of the join state has not started", p) // a replay that has not started
		}
	}
	return true, ""
}

// token names the batch by the offsets it covers and the versions of its
// facts, for the store's deduplication of retried inserts. The versions make
// it unique to this computation: a replay of the same offsets recomputes the
// facts with new versions, so its insert is never mistaken for a retry.
func (c *Consumer) token() string {
	var b strings.Builder
	var maxV uint64
	for i := range c.batch.Facts {
		maxV = max(maxV, c.batch.Facts[i].Version)
	}
	fmt.Fprintf(&b, "v%d;n%d;", maxV, c.batch.Len())
	for _, topic := range Topics {
		ps := make([]int32, 0, len(c.next[topic]))
		for p := range c.next[topic] {
			ps = append(ps, p)
		}
		sort.Slice(ps, func(i, k int) bool { return ps[i] < ps[k] })
		for _, p := range ps {
			fmt.Fprintf(&b, "%s/%d:%d-%d;", topic, p, c.committed[topic][p].offset, c.next[topic][p])
		}
	}
	return b.String()
}

// commit stores, per partition, the oldest offset still needed: for the
// joined topics that is the oldest event the joiner holds in state (on a
// restart, replaying from there rebuilds the state exactly; the store's keys
// absorb the rows written twice), otherwise the next offset to read.
func (c *Consumer) commit(ctx context.Context) error {
	offsets := map[string]map[int32]commitEntry{}
	for topic, ps := range c.next {
		for p, next := range ps {
			e := commitEntry{offset: next}
			if j := c.joiners[p]; j != nil && topic != schemas.TopicInvoices {
				src := stream.Reminders
				if topic == schemas.TopicPayments {
					src = stream.Payments
				}
				if lw, ok := j.LowWater(src); ok && lw < e.offset {
					e.offset = lw
				}
				e.meta = c.resumeOf(p, j).String()
			}
			if prev, ok := c.committed[topic][p]; ok && prev == e {
				continue
			}
			if offsets[topic] == nil {
				offsets[topic] = map[int32]commitEntry{}
			}
			offsets[topic][p] = e
		}
	}
	if len(offsets) == 0 {
		return nil // nothing new: not a commit, not timed
	}
	start := time.Now()
	err := c.commitWithMeta(ctx, offsets)
	c.m.commitSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		c.m.commitErrors.Inc()
		// Not fatal: the rows are written and idempotent; the next flush
		// commits again (or a restart replays from the previous commit).
		c.cfg.log.Warn("offset commit failed; will commit again at the next flush", "err", err)
		return nil
	}
	for topic, ps := range offsets {
		if c.committed[topic] == nil {
			c.committed[topic] = map[int32]commitEntry{}
		}
		for p, e := range ps {
			c.committed[topic][p] = e
		}
	}
	c.stats.Commits++
	c.m.lastCommit.SetToCurrentTime()
	return nil
}

// resumeOf is the resume state of joined partition p now: its watermark
// and how far each topic has been read (never less than what a previous
// owner had read, which this owner may still be replaying).
func (c *Consumer) resumeOf(p int32, j *stream.Joiner) resumeState {
	s := c.resume[p]
	s.partitions = c.partitions
	if wm := j.Watermark(); !wm.IsZero() {
		s.watermarkMs = max(s.watermarkMs, wm.UnixMilli())
	}
	if n, ok := c.next[schemas.TopicReminders][p]; ok {
		s.remindersEnd = max(s.remindersEnd, n)
	}
	if n, ok := c.next[schemas.TopicPayments][p]; ok {
		s.paymentsEnd = max(s.paymentsEnd, n)
	}
	return s
}

// retry runs fn until it succeeds, fails with a non-retryable error, or ctx
// ends; the backoff doubles with jitter up to retryMax.
func (c *Consumer) retry(ctx context.Context, what string, fn func() error) error {
	backoff := c.cfg.retryBackoff
	for {
		err := fn()
		if err == nil {
			return nil
		}
		retryable := sinks.IsRetryable(err) || isKafkaRetryable(err)
		if what == "sink write" {
			c.m.sinkErrors.WithLabelValues(strconv.FormatBool(retryable)).Inc()
		}
		if c.writing.since.Load() != 0 {
			c.writing.lastErr.Store(&err)
		}
		if !retryable {
			return fmt.Errorf("ingest: %s failed and cannot be retried (offsets not committed, nothing lost: restart replays it): %w", what, err)
		}
		c.stats.Retries++
		c.m.retries.WithLabelValues(what).Inc()
		c.cfg.log.Warn(what+" failed; retrying", "err", err, "backoff", backoff)
		sleep := backoff/2 + time.Duration(rand.Int64N(int64(backoff)))
		select {
		case <-ctx.Done():
			return fmt.Errorf("ingest: %s: gave up on shutdown: %w", what, err)
		case <-time.After(sleep):
		}
		backoff = min(2*backoff, c.cfg.retryMax)
	}
}

// onRevoked writes and commits what the revoked partitions produced, then
// drops their join state: the next owner rebuilds it from the commit.
func (c *Consumer) onRevoked(ctx context.Context, cl *kgo.Client, revoked map[string][]int32) {
	c.cl.CompareAndSwap(nil, cl)
	c.mu.Lock()
	defer c.mu.Unlock()
	moving := map[int32]bool{}
	for _, p := range revoked[schemas.TopicReminders] {
		moving[p] = true
	}
	for _, p := range revoked[schemas.TopicPayments] {
		moving[p] = true
	}
	switch {
	case c.flushErr != nil:
		// The run already stopped on this batch and said its offsets were
		// not committed: writing it now, on the way out, would make that
		// untrue. The next owner replays it from the last commit.
		c.cfg.log.Warn("not flushing on revoke after a failed write; the new owner replays from the last commit", "err", c.flushErr)
	default:
		if err := c.flush(ctx, func(p int32) bool { return moving[p] }); err != nil {
			c.cfg.log.Error("flush on revoke failed; the new owner replays from the last commit", "err", err)
		}
	}
	c.drop(revoked)
}

// onLost drops state without committing: the partitions are already gone.
func (c *Consumer) onLost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.batch = sinks.Batch{}
	c.dead = nil
	c.batchBytes = 0
	c.drop(lost)
}

func (c *Consumer) drop(ps map[string][]int32) {
	for topic, parts := range ps {
		for _, p := range parts {
			// Their series go too: another instance reports them now, and
			// a stale lag here would be summed with its (RelanceConsumerLagHigh).
			c.m.forget(topic, p)
			delete(c.next[topic], p)
			delete(c.start[topic], p)
			delete(c.committed[topic], p)
			if topic != schemas.TopicInvoices {
				delete(c.joiners, p)
				delete(c.lastSeen, p)
				delete(c.resume, p)
				delete(c.snapAt, p)
				delete(c.seek, p)
				delete(c.heldRecs, p)
			}
		}
	}
}

func copyMap(m map[string]uint64) map[string]uint64 {
	out := make(map[string]uint64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
