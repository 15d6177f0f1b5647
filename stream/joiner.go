package stream

import (
	"math"
	"time"

	"github.com/relance-io/relance/schemas"
)

// Source is one of a Joiner's two inputs: a partition of the reminders topic
// and the same-numbered partition of the payments topic (the topics are
// co-partitioned by customer id).
type Source uint8

const (
	Reminders Source = iota
	Payments
)

func (s Source) String() string {
	if s == Reminders {
		return schemas.TopicReminders
	}
	return schemas.TopicPayments
}

// LateEvent is an event that arrived after the state it needed may have
// been dropped. Reason "beyond_retention": it changed nothing (a payment
// paid before watermark - retention, a reminder sent before watermark -
// retention - the largest horizon). Reason "partially_applied": a reminder
// sent before watermark - retention, applied to the state still held and to
// later payments, though payments it would have matched may already be
// gone. The caller writes both to the late-events table, so that nothing is
// silently lost.
type LateEvent struct {
	Source    Source
	EventID   string
	EventTime time.Time
	Offset    int64
	Reason    string
	Reminder  *schemas.Reminder // set when Source == Reminders
	Payment   *schemas.Payment  // set when Source == Payments
}

// Duplicate is an event whose reminder_id (on its invoice) or payment_id
// was already in state when it was read at Offset: it changed nothing (the
// first copy wins). The caller reports it (package ingest dead-letters the
// record). Events re-read by a replay after a restart are never reported:
// the previous owner reported them when they were new.
type Duplicate struct {
	Source  Source
	EventID string
	// ID is the reminder_id or payment_id already held.
	ID     string
	Offset int64
}

// Stats are cumulative counters of a Joiner.
type Stats struct {
	Reminders, Payments, Allocations uint64
	// Duplicates are events whose reminder_id or payment_id was already in
	// state: absorbed, never double counted, and returned by
	// DrainDuplicates. Replayed events are not counted again.
	Duplicates uint64
	// Late are events that arrived behind the watermark but within
	// retention: applied, as corrections where facts had been written.
	Late uint64
	// TooLate are events beyond retention, returned as LateEvent.
	TooLate uint64
	// PartlyLate are reminders sent before watermark - retention but still
	// within the largest horizon of it: applied to the state held and to
	// later payments, and returned as LateEvent ("partially_applied").
	PartlyLate uint64
	// Corrections counts allocations whose facts were rewritten.
	Corrections uint64
	Facts       uint64
	// Replayed are events re-read after a restart that only rebuilt state.
	Replayed uint64
}

// Joiner matches payment allocations to the reminders sent on their invoice
// within each Horizon and attributes the amounts, in event time, for one pair
// of co-partitioned input partitions. It does no I/O: events in, Facts out.
//
// Buffering: an allocation is held until the watermark (the newest event
// time of the slower input, minus the allowed lateness) reaches its paid_at;
// then its Facts are emitted. Reminders are kept until the watermark passes
// sent_at + the largest horizon + retention, allocations until it passes
// paid_at + retention, so that a late reminder can correct facts already
// written (the corrected rows carry a higher Version, and keys that no longer
// hold are retracted with Deleted). An event older than watermark - retention
// is returned as a LateEvent and changes nothing.
//
// Within the allowed lateness the emitted facts are exactly SPEC §3 applied
// to the full data set, whatever the arrival order. A Joiner is not safe for
// concurrent use: one goroutine owns a partition.
type Joiner struct {
	cfg      cfg
	hmaxMs   int64
	retainMs int64
	lateMs   int64
	halfMs   float64

	hMs []int64 // horizons in ms, ascending

	invoices   invoiceTable
	pending    pendingHeap
	expiry     timedHeap[invRef]
	finals     []finalQueue // per horizon, see scheduleFinal
	finalsLate timedHeap[*reminderState]
	dirty      []*reminderState
	profiles   profiles

	seen [2]bool
	idle [2]bool
	// After a restart (see Resume): events of a source below replayEnd
	// were processed before and rebuild state without output; replaying
	// says which sources have not been re-read up to there yet; held are
	// new events waiting for the replay of both sources to finish.
	replayEnd [2]int64
	replaying [2]bool
	held      []heldEvent
	// replayPending: dead invoices re-read by the replay are still to drop.
	replayPending bool
	quiet         bool
	// uncertainBelow: for payments below this offset, an earlier owner
	// may have written facts it did not commit (see Uncertain).
	uncertainBelow int64
	maxSeen        [2]int64
	wm             int64

	facts  []Fact
	outBuf []Outcome // outcomes' buffer, see handOut
	// Output given back by Recycle (see recycler); recycling is set by
	// the first Recycle call.
	recycling bool
	factsRec  recycler[Fact]
	outRec    recycler[Outcome]
	slabRec   recycler[schemas.Reminder]
	warmSum   uint64   // see warm
	touchHs   []uint32 // TouchInvoices' buffers
	touchRefs []uint32
	late      []LateEvent
	dups      []Duplicate
	stats     Stats
	scratch   []candidate
	credits   []credit
	// emit's buffers, reused: the rows of every horizon in a row, where
	// each horizon's rows end, candidates per horizon.
	rows    []emitted
	ends    []int32
	counts  []int
	skip    []bool
	payInvs []*invoiceState // applyPayment's invoices, reused
	// Reminders rebuilt for Facts and Outcomes (see reminder).
	slab    []schemas.Reminder
	lastRem *reminderState
	lastMat *schemas.Reminder

	// The state's items come from slabs and go back to them when their
	// invoice is dropped; doomed invoices were dropped while some of their
	// reminders still await an outcome update, and go back after it.
	rems   slab[reminderState]
	allocs slab[allocState]
	pays   slab[paymentState]
	invs   invSlab
	// moreRems holds, by index in invs, the reminders of the invoices
	// that have more than their inline room holds.
	moreRems map[uint32][]*reminderState
	outVals  valsPool
	ids      arena
	doomed   []*invoiceState
}

// NewJoiner returns a Joiner, or an error naming the invalid option.
func NewJoiner(opts ...Opt) (*Joiner, error) {
	c := defaultCfg()
	for _, o := range opts {
		o(&c)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	hMs := make([]int64, len(c.horizons))
	for i, h := range c.horizons {
		hMs[i] = time.Duration(h).Milliseconds()
	}
	j := &Joiner{
		cfg:      c,
		hMs:      hMs,
		profiles: newProfiles(),
		hmaxMs:   time.Duration(c.horizons[len(c.horizons)-1]).Milliseconds(),
		retainMs: c.retention.Milliseconds(),
		lateMs:   c.lateness.Milliseconds(),
		halfMs:   float64(c.halfLife.Milliseconds()),
		wm:       math.MinInt64,
		outVals:  valsPool{n: len(hMs)},
		finals:   make([]finalQueue, len(hMs)),
	}
	j.invoices = newInvoiceTable(&j.invs)
	return j, nil
}

// Horizons returns the configured horizons, ascending.
func (j *Joiner) Horizons() []Horizon { return j.cfg.horizons }

// Watermark is the event time up to which allocations have been emitted. It
// never moves backwards. The zero time means no watermark yet.
func (j *Joiner) Watermark() time.Time {
	if j.wm == math.MinInt64 {
		return time.Time{}
	}
	return time.UnixMilli(j.wm).UTC()
}

// Stats returns the cumulative counters.
func (j *Joiner) Stats() Stats { return j.stats }

// Add returns the field-by-field sum of s and o.
func (s Stats) Add(o Stats) Stats {
	return Stats{
		Reminders: s.Reminders + o.Reminders, Payments: s.Payments + o.Payments, Allocations: s.Allocations + o.Allocations,
		Duplicates: s.Duplicates + o.Duplicates, Late: s.Late + o.Late, TooLate: s.TooLate + o.TooLate,
		PartlyLate: s.PartlyLate + o.PartlyLate, Corrections: s.Corrections + o.Corrections, Facts: s.Facts + o.Facts,
		Replayed: s.Replayed + o.Replayed,
	}
}

// Drain returns the facts and late events produced since the last Drain and
// hands their ownership to the caller.
func (j *Joiner) Drain() ([]Fact, []LateEvent) {
	l := j.late
	j.late = nil
	return j.handOutFacts(), l
}

func (j *Joiner) handOutFacts() []Fact {
	if j.recycling {
		return j.factsRec.handOut(&j.facts)
	}
	return handOut(&j.facts)
}

// Recycle declares that the caller no longer references any Fact, Outcome
// or schemas.Reminder that Drain and DrainOutcomes handed out so far (nor
// the slices holding them): the Joiner may overwrite them to build later
// output. LateEvents and Duplicates are not concerned: they are never
// reused. Once Recycle has been called, Drain and DrainOutcomes hand out
// their internal buffers instead of copies, and the schemas.Reminder
// values of Facts and Outcomes are carved from slabs given back by
// Recycle; a Joiner whose owner never calls it behaves as if it did not
// exist. Calling it before the first Drain turns recycling on from the
// start. The owner should keep calling it after each drained output is
// consumed: output handed out between two calls is only reused after the
// second.
func (j *Joiner) Recycle() {
	if !j.recycling {
		// Nothing handed out so far was tracked: it is left to the GC.
		j.recycling = true
		return
	}
	j.factsRec.recycle()
	j.outRec.recycle()
	// The slab in use is given back too: everything carved from it was
	// handed out.
	if j.slab != nil {
		j.slabRec.give(j.slab)
		j.slab = nil
	}
	j.slabRec.recycle()
	j.lastRem, j.lastMat = nil, nil
}

// DrainDuplicates returns the duplicates found since the last call and
// hands their ownership to the caller. A new event held during a replay is
// judged when the replay ends, so its Duplicate may come out of a later
// call than the one that fed it.
func (j *Joiner) DrainDuplicates() []Duplicate {
	d := j.dups
	j.dups = nil
	return d
}

// keepBuf is the largest output buffer (in items) kept for reuse.
const keepBuf = 1 << 16

// handOut returns a copy of *buf, exactly its size (nil when empty), and
// empties *buf for reuse: the output is built in a buffer that does not
// grow again at every drain, and what the caller keeps wastes no capacity.
func handOut[T any](buf *[]T) []T {
	if len(*buf) == 0 {
		return nil
	}
	out := make([]T, len(*buf))
	copy(out, *buf)
	clear(*buf)
	*buf = (*buf)[:0]
	if cap(*buf) > keepBuf {
		*buf = nil
	}
	return out
}

// recycler keeps output buffers handed out since the last Recycle (given)
// and those given back (free). It holds at most maxRecycled of each; any
// more are left to the GC, so that an owner who stops calling Recycle
// makes it hold a bounded amount.
type recycler[T any] struct {
	given, free [][]T
}

// maxRecycled bounds the buffers a recycler holds in each list.
const maxRecycled = 64

// give records buf (its elements up to len) as handed out.
func (r *recycler[T]) give(buf []T) {
	if len(r.given) < maxRecycled && cap(buf) <= keepBuf {
		r.given = append(r.given, buf)
	}
}

// recycle moves the buffers handed out to the free list, cleared (so that
// they keep nothing alive).
func (r *recycler[T]) recycle() {
	for i, b := range r.given {
		clear(b)
		if len(r.free) < maxRecycled {
			r.free = append(r.free, b[:0])
		}
		r.given[i] = nil
	}
	r.given = r.given[:0]
}

// take returns an empty free buffer, nil when none is.
func (r *recycler[T]) take() []T {
	k := len(r.free)
	if k == 0 {
		return nil
	}
	b := r.free[k-1]
	r.free[k-1] = nil
	r.free = r.free[:k-1]
	return b
}

// handOut returns *buf itself (capacity cut to its length, so that the
// caller's appends never write into room the Joiner reuses), records it
// as handed out, and gives *buf a free buffer.
func (r *recycler[T]) handOut(buf *[]T) []T {
	b := *buf
	if len(b) == 0 {
		return nil
	}
	r.give(b)
	*buf = r.take()
	return b[:len(b):len(b)]
}

// DrainOutcomes returns the reminder outcomes that changed since the last
// call (new reminders, new or corrected payments within their horizons,
// outcomes turned final). They are computed here, once per drain, not per
// event.
func (j *Joiner) DrainOutcomes() []Outcome { return j.outcomes() }

// Resume restores what a previous owner of the partition committed: its
// watermark, and per source the offset reading resumes from and the offset
// it had read up to (end). Events in [from, end) were processed then and
// their facts written: re-read, they rebuild the join state without
// producing facts again, and those older than watermark - retention (their
// invoice's state had been dropped) are skipped, not reported as late. New
// events (offset >= end) are held until both sources are re-read up to
// their end, so that they meet the whole rebuilt state. Call it before the
// first event.
func (j *Joiner) Resume(watermark time.Time, reminders, payments ResumeRange) {
	if ms := watermark.UnixMilli(); !watermark.IsZero() && ms > j.wm {
		j.wm = ms
	}
	j.replayEnd = [2]int64{reminders.End, payments.End}
	j.replaying = [2]bool{reminders.From < reminders.End, payments.From < payments.End}
	j.replayPending = j.replaying[Reminders] || j.replaying[Payments]
}

// Uncertain declares that the store may hold facts for payments read below
// offset paymentsBelow by an earlier owner that did not commit them (it
// wrote, then died before its commit; or the store outlived the group's
// commits). Those facts were computed from the events as that owner read
// them, the two sources interleaved its way. An allocation's first
// emission waits for the watermark, which follows both sources: the
// reminders known by then, and so the key credited, depend on how far each
// was read, and a key no longer true would stay in the store beside the
// new one. So the first emission of an allocation paid from that range, or
// pending when Uncertain is called, also retracts every key it does not
// hold (no reminder, and each candidate not credited). Corrections need
// nothing more: one is made when a reminder is read, and the reminders
// read before it, in partition order, are the same for every owner. Call
// it after Resume, with the end of the log at assignment, which no earlier
// owner can have read past.
func (j *Joiner) Uncertain(paymentsBelow int64) {
	j.uncertainBelow = paymentsBelow
	if paymentsBelow > 0 {
		for _, e := range j.pending {
			e.a.uncertain = true
		}
	}
}

// ResumeRange is, for one source, the offset reading resumes from and the
// offset the previous owner had read up to.
type ResumeRange struct{ From, End int64 }

// heldEvent is a new event waiting for the end of a replay.
type heldEvent struct {
	src    Source
	rem    schemas.Reminder
	pay    schemas.Payment
	offset int64
}

// gate decides whether an event is processed now. Replayed events are;
// new ones are held while a source is still being re-read.
func (j *Joiner) gate(e heldEvent) bool {
	if j.replaying[e.src] && e.offset >= j.replayEnd[e.src]-1 {
		// The last replayed record of this source, or past it (offsets
		// may have gaps): its replay is over.
		j.replaying[e.src] = false
		if e.offset == j.replayEnd[e.src]-1 {
			return true
		}
	}
	if e.offset < j.replayEnd[e.src] {
		return true
	}
	if j.replaying[Reminders] || j.replaying[Payments] {
		j.held = append(j.held, e)
		return false
	}
	return true
}

// ReplayDone declares that src has nothing more to replay even though its
// end offset was not seen (offsets can have gaps, e.g. transaction markers,
// and the caller knows when a partition is caught up).
func (j *Joiner) ReplayDone(src Source) {
	j.replaying[src] = false
	j.release()
}

// release processes the held events once no source is replaying.
func (j *Joiner) release() {
	if j.replaying[Reminders] || j.replaying[Payments] {
		return
	}
	if j.replayPending {
		// The replay re-read some events of invoices whose state had been
		// dropped before the restart: drop them again.
		j.replayPending = false
		var dead []*invoiceState
		for inv := range j.invoices.all {
			if inv.expiryMs < j.wm {
				dead = append(dead, inv)
			}
		}
		for _, inv := range dead {
			j.drop(inv)
		}
	}
	if len(j.held) == 0 {
		return
	}
	held := j.held
	j.held = nil
	for _, e := range held {
		if e.src == Reminders {
			j.addReminder(e.rem, e.offset)
		} else {
			j.addPayment(e.pay, e.offset)
		}
	}
}

// AddReminder feeds one reminder read at offset of the reminders partition.
func (j *Joiner) AddReminder(r schemas.Reminder, offset int64) {
	if j.gate(heldEvent{src: Reminders, rem: r, offset: offset}) {
		j.addReminder(r, offset)
	}
	j.release()
}

// AddPayment feeds one payment read at offset of the payments partition.
func (j *Joiner) AddPayment(p schemas.Payment, offset int64) {
	if j.gate(heldEvent{src: Payments, pay: p, offset: offset}) {
		j.addPayment(p, offset)
	}
	j.release()
}

func (j *Joiner) addReminder(r schemas.Reminder, offset int64) {
	j.stats.Reminders++
	ms := toMs(r.SentAt)
	j.quiet = offset < j.replayEnd[Reminders]
	defer func() { j.quiet = false }()
	inv := j.invoices.get(r.InvoiceID)
	if j.quiet {
		j.stats.Replayed++
	} else if inv == nil && j.wm != math.MinInt64 {
		// The invoice has no state: either it never had any, or it was
		// dropped, and with it payments this reminder may have matched.
		switch {
		case ms+j.hmaxMs+j.retainMs < j.wm:
			// Nothing it could match is held or still to come.
			rc := r
			j.tooLateEvent(LateEvent{Source: Reminders, EventID: r.EventID, EventTime: r.SentAt, Offset: offset, Reminder: &rc, Reason: "beyond_retention"})
			j.observe(Reminders, ms)
			return
		case ms < j.wm-j.retainMs:
			rc := r
			j.stats.PartlyLate++
			j.late = append(j.late, LateEvent{Source: Reminders, EventID: r.EventID, EventTime: r.SentAt, Offset: offset, Reminder: &rc, Reason: "partially_applied"})
		}
	}
	if inv == nil {
		inv = j.newInvoice(r.InvoiceID)
	}
	rems := j.reminders(inv)
	for _, x := range rems {
		if x.reminderID() == r.ReminderID {
			j.duplicate(Duplicate{Source: Reminders, EventID: r.EventID, ID: r.ReminderID, Offset: offset})
			j.observe(Reminders, ms)
			return
		}
	}
	rs := j.newReminderState(&r, ms, inv)
	inv.minRemOff = min(inv.minRemOff, offset)
	at := len(rems)
	for at > 0 && rems[at-1].after(rs) {
		at--
	}
	j.insertReminder(inv, at, rs)
	j.extend(inv, ms+j.hmaxMs+j.retainMs)
	j.trackOutcomes(rs)

	if ms <= j.wm && !j.quiet {
		j.stats.Late++
	}
	if !r.Holdout {
		// Facts already written for payments this reminder precedes within the
		// largest horizon may change: recompute them.
		for _, a := range inv.allocs {
			if a.done && a.pay.paidMs >= ms && a.pay.paidMs-ms <= j.hmaxMs {
				j.emit(inv, a)
			}
		}
	}
	j.observe(Reminders, ms)
}

func (j *Joiner) addPayment(p schemas.Payment, offset int64) {
	j.stats.Payments++
	ms := toMs(p.PaidAt)
	j.quiet = offset < j.replayEnd[Payments]
	defer func() { j.quiet = false }()
	// An allocation on an invoice without state, paid before watermark -
	// retention, may have lost reminders it matches: it is not applied.
	skip := j.skip[:0]
	for range p.Allocations {
		skip = append(skip, false)
	}
	j.skip = skip
	skipped := 0
	if j.quiet {
		j.stats.Replayed++
	} else if j.wm != math.MinInt64 && ms < j.wm-j.retainMs {
		for i, al := range p.Allocations {
			if j.invoices.get(al.InvoiceID) == nil {
				skip[i] = true
				skipped++
			}
		}
	}
	if skipped > 0 {
		pc := p
		e := LateEvent{Source: Payments, EventID: p.EventID, EventTime: p.PaidAt, Offset: offset, Payment: &pc, Reason: "beyond_retention"}
		if skipped < len(p.Allocations) {
			e.Reason = "partially_applied"
			j.stats.PartlyLate++
		} else {
			j.stats.TooLate++
		}
		j.late = append(j.late, e)
		if skipped == len(p.Allocations) {
			j.observe(Payments, ms)
			return
		}
	}
	j.applyPayment(p, offset, ms, skip)
}

// applyPayment adds the allocations of p not skipped to state, unless p is
// a duplicate.
func (j *Joiner) applyPayment(p schemas.Payment, offset, ms int64, skip []bool) {
	// The invoices are looked up once here and reused below.
	invs := j.payInvs[:0]
	for i, al := range p.Allocations {
		var inv *invoiceState
		if !skip[i] {
			inv = j.invoices.get(al.InvoiceID)
			if inv.hasPayment(p.PaymentID) {
				clear(invs)
				j.payInvs = invs[:0]
				j.duplicate(Duplicate{Source: Payments, EventID: p.EventID, ID: p.PaymentID, Offset: offset})
				j.observe(Payments, ms)
				return
			}
		}
		invs = append(invs, inv)
	}
	j.payInvs = invs
	ps := j.pays.get()
	*ps = paymentState{p: p, paidMs: ms, offset: offset}
	// The ids held move to the arena (see arena), leaving the decoded
	// strings to the GC.
	ps.p.EventID = j.ids.join(p.EventID, "")
	ps.p.PaymentID = j.ids.join(p.PaymentID, "")
	ps.p.CustomerID = j.ids.join(p.CustomerID, "")
	late := ms <= j.wm
	if late && !j.quiet {
		j.stats.Late++
	}
	for i, al := range p.Allocations {
		if skip[i] {
			continue
		}
		j.stats.Allocations++
		inv := invs[i]
		if inv == nil {
			// Not there before this payment, or created by one of its
			// earlier allocations.
			inv = j.invoice(al.InvoiceID)
		}
		inv.minPayOff = min(inv.minPayOff, offset)
		a := j.allocs.get()
		a.inv = inv
		a.pay, a.index, a.amount = ps, i, al.AmountMinor
		a.uncertain = offset < j.uncertainBelow
		a.last, a.lastEnd = a.lastBuf[:0], a.endBuf[:0]
		ps.refs++
		inv.allocs = append(inv.allocs, a)
		j.extend(inv, ms+j.retainMs)
		if late {
			j.emit(inv, a)
		} else {
			j.pending.push(a)
		}
	}
	if ps.refs == 0 {
		j.pays.put(ps)
	}
	clear(invs)
	j.observe(Payments, ms)
}

// Idle marks src as having nothing to read for now, so that the watermark
// follows the other input alone until src delivers again. The caller decides
// idleness (e.g. caught up to the partition end for an idle timeout).
func (j *Joiner) Idle(src Source) {
	j.idle[src] = true
	j.advance()
}

// Flush declares the end of the input: the watermark jumps to the newest
// event time seen on either input and every pending allocation is emitted.
// Later events are treated as late (corrections) or too late.
func (j *Joiner) Flush() { j.FlushTo(time.Time{}) }

// FlushTo is Flush with the watermark moved at least to t: when several
// partitions end together, the newest event time of all of them is the end
// of every partition's input, so outcomes whose horizon ended before it are
// final everywhere.
func (j *Joiner) FlushTo(t time.Time) {
	w := int64(math.MinInt64)
	if !t.IsZero() {
		w = t.UnixMilli()
	}
	if m := j.MaxEventTime(); !m.IsZero() && m.UnixMilli() > w {
		w = m.UnixMilli()
	}
	j.moveTo(w)
}

// MaxEventTime is the newest event time seen on either input, zero if none.
func (j *Joiner) MaxEventTime() time.Time {
	w := int64(math.MinInt64)
	for s := range j.seen {
		if j.seen[s] && j.maxSeen[s] > w {
			w = j.maxSeen[s]
		}
	}
	if w == math.MinInt64 {
		return time.Time{}
	}
	return time.UnixMilli(w).UTC()
}

// LowWater returns the smallest offset of src still needed to rebuild the
// join state (the oldest event held). ok is false when no event of src is
// held: then everything consumed so far may be committed.
func (j *Joiner) LowWater(src Source) (offset int64, ok bool) {
	offset = math.MaxInt64
	for _, e := range j.held {
		if e.src == src {
			offset = min(offset, e.offset)
		}
	}
	for inv := range j.invoices.all {
		if src == Reminders {
			offset = min(offset, inv.minRemOff)
		} else {
			offset = min(offset, inv.minPayOff)
		}
	}
	return offset, offset != math.MaxInt64
}

// StateSize returns the number of invoices, reminders and allocations held.
func (j *Joiner) StateSize() (invoices, reminders, allocations int) {
	for inv := range j.invoices.all {
		reminders += len(j.reminders(inv))
		allocations += len(inv.allocs)
	}
	return j.invoices.len(), reminders, allocations
}

// duplicate reports d unless it is a replayed event (quiet): its first
// reading reported it already.
func (j *Joiner) duplicate(d Duplicate) {
	if j.quiet {
		return
	}
	j.stats.Duplicates++
	j.dups = append(j.dups, d)
}

func (j *Joiner) tooLateEvent(e LateEvent) {
	j.stats.TooLate++
	j.late = append(j.late, e)
}

func (inv *invoiceState) hasPayment(paymentID string) bool {
	if inv == nil {
		return false
	}
	for _, a := range inv.allocs {
		if a.pay.p.PaymentID == paymentID {
			return true
		}
	}
	return false
}

func (j *Joiner) invoice(id string) *invoiceState {
	if inv := j.invoices.get(id); inv != nil {
		return inv
	}
	return j.newInvoice(id)
}

// newInvoice adds the state of invoice id, which has none.
func (j *Joiner) newInvoice(id string) *invoiceState {
	inv := j.invs.get()
	inv.rec, inv.expiryMs, inv.minRemOff, inv.minPayOff = j.ids.invoiceID(id), math.MinInt64, math.MaxInt64, math.MaxInt64
	j.invoices.add(inv)
	return inv
}

// extend makes inv live at least until atMs (past the watermark).
func (j *Joiner) extend(inv *invoiceState, atMs int64) {
	if atMs > inv.expiryMs {
		inv.expiryMs = atMs
	}
	if !inv.queued {
		inv.queued = true
		j.expiry.push(inv.expiryMs, invRef{inv: inv.idx, gen: inv.gen})
	}
}

// drop removes inv from state.
func (j *Joiner) drop(inv *invoiceState) {
	j.invoices.remove(inv)
	inv.dropped = true
	dirty := false
	for _, r := range j.reminders(inv) {
		dirty = dirty || r.flags&flagDirty != 0
	}
	if dirty {
		j.doomed = append(j.doomed, inv)
		return
	}
	j.free(inv)
}

// reminders returns the reminders of inv, sorted by sent_at; the slice is
// valid until the next insertReminder.
func (j *Joiner) reminders(inv *invoiceState) []*reminderState {
	if inv.spilled {
		return j.moreRems[inv.idx]
	}
	return inv.remBuf[:inv.nrem]
}

// insertReminder inserts rs at position at of inv's reminders.
func (j *Joiner) insertReminder(inv *invoiceState, at int, rs *reminderState) {
	if !inv.spilled {
		n := int(inv.nrem)
		if n < len(inv.remBuf) {
			copy(inv.remBuf[at+1:n+1], inv.remBuf[at:n])
			inv.remBuf[at] = rs
			inv.nrem++
			return
		}
		s := make([]*reminderState, n, 2*n)
		copy(s, inv.remBuf[:])
		if j.moreRems == nil {
			j.moreRems = make(map[uint32][]*reminderState)
		}
		j.moreRems[inv.idx] = s
		inv.remBuf, inv.nrem, inv.spilled = [3]*reminderState{}, 0, true
	}
	s := append(j.moreRems[inv.idx], nil)
	copy(s[at+1:], s[at:])
	s[at] = rs
	j.moreRems[inv.idx] = s
}

// free gives the items of a dropped invoice back to their slabs, and
// releases its reminders' profiles (named by index, a profile must stay
// while a reminder may still be rebuilt from it).
func (j *Joiner) free(inv *invoiceState) {
	j.lastRem = nil
	for _, r := range j.reminders(inv) {
		j.profiles.release(j.profiles.list[r.prof])
		if r.lastOut != 0 {
			j.outVals.put(r.lastOut)
		}
		j.rems.put(r)
	}
	if inv.spilled {
		delete(j.moreRems, inv.idx)
	}
	for _, a := range inv.allocs {
		a.pay.refs--
		if a.pay.refs == 0 {
			j.pays.put(a.pay)
		}
		j.allocs.put(a)
	}
	j.invs.put(inv)
}

func (j *Joiner) observe(src Source, ms int64) {
	if !j.seen[src] || ms > j.maxSeen[src] {
		j.maxSeen[src] = ms
	}
	j.seen[src] = true
	j.idle[src] = false
	j.advance()
}

func (j *Joiner) advance() {
	w := int64(math.MaxInt64)
	active := false
	for s := range j.seen {
		if j.idle[s] {
			continue
		}
		if !j.seen[s] {
			return // an input that has said nothing may still hold early events
		}
		active = true
		w = min(w, j.maxSeen[s])
	}
	if !active {
		w = math.MinInt64
		for s := range j.seen {
			if j.seen[s] {
				w = max(w, j.maxSeen[s])
			}
		}
		if w == math.MinInt64 {
			return
		}
	}
	j.moveTo(w - j.lateMs)
}

// moveTo advances the watermark to w (never backwards), emits the
// allocations it passes, then drops state beyond retention.
func (j *Joiner) moveTo(w int64) {
	if w <= j.wm {
		return
	}
	j.wm = w
	for len(j.pending) > 0 && j.pending[0].paidMs <= w {
		a := j.pending.pop()
		j.emit(a.inv, a)
	}
	j.finalize(w)
	for len(j.expiry) > 0 && j.expiry[0].atMs < w {
		e := j.expiry.pop().v
		inv := j.invs.at(e.inv)
		if e.stale(inv) || inv.dropped {
			continue // dropped already (and maybe begun anew)
		}
		if inv.expiryMs < w {
			j.drop(inv)
			continue
		}
		j.expiry.push(inv.expiryMs, e)
	}
}

// emit (re)computes the facts of allocation a and appends them when they
// differ from what was last written for it. It allocates only the first
// time an allocation's rows are stored.
func (j *Joiner) emit(inv *invoiceState, a *allocState) {
	paid := a.pay.paidMs
	// Reminders are sorted by (sent_at, level, id) ascending: the candidates
	// at the largest horizon are a contiguous run, and read backwards they
	// are latest first, by increasing lag, so that the candidates of each
	// horizon are a prefix of them.
	rems := j.reminders(inv)
	lo, hi := 0, len(rems)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if rems[m].sentMs < paid-j.hmaxMs {
			lo = m + 1
		} else {
			hi = m
		}
	}
	end := lo
	for end < len(rems) && rems[end].sentMs <= paid {
		end++
	}
	// A reminder of another currency is no candidate (SEMANTICS §3): its
	// credit would add an amount in the payment's currency to a reminder
	// amount in its own.
	cands := j.scratch[:0]
	cur := a.pay.p.Currency
	for i := end - 1; i >= lo; i-- {
		if r := rems[i]; !r.holdout() && j.profiles.list[r.prof].currency == cur {
			cands = append(cands, candidate{rem: r, lagMs: paid - r.sentMs})
		}
	}
	j.scratch = cands

	rows, ends, counts := j.rows[:0], j.ends[:0], j.counts[:0]
	k := 0
	for _, hMs := range j.hMs {
		for k < len(cands) && cands[k].lagMs <= hMs {
			k++
		}
		if k == 0 {
			rows = append(rows, emitted{})
		} else {
			j.credits = attribute(j.cfg.model, a.amount, cands[:k], j.halfMs, j.credits)
			for _, c := range j.credits {
				rows = append(rows, emitted{rem: c.rem, credited: c.amount})
			}
		}
		ends = append(ends, int32(len(rows)))
		counts = append(counts, k)
	}
	for _, k := range counts {
		ends = append(ends, int32(k))
	}
	j.rows, j.ends, j.counts = rows, ends, counts
	if j.quiet {
		// Replay: these facts were written, and committed, before the
		// restart.
		a.uncertain = false
		if !(a.done && sameRows(a.last, rows) && sameEnds(a.lastEnd, ends)) {
			a.store(rows, ends)
			j.markAround(inv, a.pay.paidMs)
		}
		return
	}
	if a.done && !a.uncertain && sameRows(a.last, rows) && sameEnds(a.lastEnd, ends) {
		return
	}
	if a.done {
		j.stats.Corrections++
	}
	v := j.cfg.version()
	start := int32(0)
	for hi, h := range j.cfg.horizons {
		next := rows[start:ends[hi]]
		start = ends[hi]
		for _, e := range next {
			j.facts = append(j.facts, j.fact(a, h, e, counts[hi], v, false))
			j.stats.Facts++
		}
		if a.done {
			for _, old := range a.lastAt(hi) {
				if !hasKey(next, old.rem) {
					j.facts = append(j.facts, j.fact(a, h, old, 0, v, true))
					j.stats.Facts++
				}
			}
		}
		if a.uncertain {
			j.retractUnsure(a, hi, next, cands[:counts[hi]], v)
		}
	}
	a.uncertain = false
	a.store(rows, ends)
	j.touchAround(inv, a.pay.paidMs)
}

// retractUnsure appends, for horizon hi of the uncertain allocation a
// whose rows are next and candidates cands, the retraction of each key an
// earlier owner may have written and next does not hold (see Uncertain):
// no reminder, when next credits one, and every candidate not credited —
// but those a's last rows held, just retracted.
func (j *Joiner) retractUnsure(a *allocState, hi int, next []emitted, cands []candidate, v uint64) {
	retract := func(rem *reminderState) {
		if hasKey(next, rem) || a.done && hasKey(a.lastAt(hi), rem) {
			return
		}
		j.facts = append(j.facts, j.fact(a, j.cfg.horizons[hi], emitted{rem: rem}, 0, v, true))
		j.stats.Facts++
	}
	if len(cands) > 0 {
		retract(nil)
	}
	for _, c := range cands {
		retract(c.rem)
	}
}

// store records rows and ends as what was last written for a.
func (a *allocState) store(rows []emitted, ends []int32) {
	a.last = append(a.last[:0], rows...)
	a.lastEnd = append(a.lastEnd[:0], ends...)
	a.done = true
}

func sameEnds(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (j *Joiner) fact(a *allocState, h Horizon, e emitted, cands int, v uint64, deleted bool) Fact {
	p := &a.pay.p
	f := Fact{
		PaymentEventID:  p.EventID,
		PaymentID:       p.PaymentID,
		AllocationIndex: a.index,
		InvoiceID:       a.inv.id(),
		CustomerID:      p.CustomerID,
		PaidAt:          p.PaidAt,
		AmountMinor:     a.amount,
		Currency:        p.Currency,
		Method:          p.Method,
		Horizon:         h,
		Model:           j.cfg.model,
		Version:         v,
		Deleted:         deleted,
	}
	if e.rem != nil {
		f.Matched = true
		f.Reminder = j.reminder(e.rem)
		f.CreditedMinor = e.credited
		f.Candidates = cands
	}
	if deleted {
		f.CreditedMinor = 0
	}
	return f
}

func sameRows(a, b []emitted) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func hasKey(rows []emitted, r *reminderState) bool {
	for _, e := range rows {
		if e.rem == r {
			return true
		}
	}
	return false
}
