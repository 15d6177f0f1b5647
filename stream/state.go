package stream

import (
	"time"
	"unsafe"

	"github.com/relance-io/relance/schemas"
)

// reminderState is a reminder held in join state, in compact form: the
// fields repeated across reminders (channel, plan, sender, currency,
// attributes, …) are interned in a shared profile, times are milliseconds,
// the invoice id and customer id live once on the invoice. The
// schemas.Reminder handed out in Facts and Outcomes is rebuilt from it
// (see Joiner.reminder).
type reminderState struct {
	// rec is the reminder's record in the arena (see arena.reminder): its
	// event and reminder ids, level, and the invoice due date and amount
	// due when they differ from its invoice's. Those are read only to
	// rebuild the reminder or to break ties, so keeping them out of this
	// struct halves it. It is the only pointer: the profile and the
	// invoice are named by index, so that the GC has little to scan in the
	// reminders' slab.
	rec    unsafe.Pointer
	sentMs int64
	prof   uint32 // in Joiner.profiles.list
	inv    uint32 // in Joiner.invs
	// lastOut is the block of Joiner.outVals holding, per horizon, the
	// outcome last returned; 0 while every returned outcome had zero values
	// (most reminders never see a payment).
	lastOut uint32
	flags   uint8
	nfinal  uint8 // outcomes of horizons[:nfinal] are final (horizons ascend)
	// outFinal is how many horizons were returned as final while lastOut
	// is 0.
	outFinal uint8
}

// remRecord is the part of a reminder kept in its arena record.
type remRecord struct {
	eventID, reminderID string
	level               int32
	dueMs               int64 // 0 when flagDueZero
	amountDue           int64
}

// record decodes the arena record of r, whose invoice is inv.
func (r *reminderState) record(inv *invoiceState) remRecord {
	_, dueMs, amountDue := inv.first()
	return r.recordWith(dueMs, amountDue)
}

// recordWith decodes the arena record of r, whose invoice's first
// reminder has the due date dueMs and the amount due amountDue.
func (r *reminderState) recordWith(dueMs, amountDue int64) remRecord {
	p := r.rec
	evLen, p := uvarintAt(p)
	remLen, p := uvarintAt(p)
	level, p := varintAt(p)
	out := remRecord{level: int32(level), dueMs: dueMs, amountDue: amountDue}
	if r.flags&flagOwnDue != 0 {
		out.dueMs, p = varintAt(p)
	}
	if r.flags&flagOwnAmount != 0 {
		out.amountDue, p = varintAt(p)
	}
	if r.flags&flagDueZero != 0 {
		out.dueMs = 0
	}
	out.eventID = unsafe.String((*byte)(p), int(evLen))
	out.reminderID = unsafe.String((*byte)(unsafe.Add(p, evLen)), int(remLen))
	return out
}

// ids returns the event and reminder ids of r without decoding the rest
// of its record.
func (r *reminderState) ids() (eventID, reminderID string) {
	p := r.rec
	evLen, p := uvarintAt(p)
	remLen, p := uvarintAt(p)
	_, p = varintAt(p)
	if r.flags&flagOwnDue != 0 {
		_, p = varintAt(p)
	}
	if r.flags&flagOwnAmount != 0 {
		_, p = varintAt(p)
	}
	return unsafe.String((*byte)(p), int(evLen)), unsafe.String((*byte)(unsafe.Add(p, evLen)), int(remLen))
}

func (r *reminderState) reminderID() string {
	_, id := r.ids()
	return id
}

// level is the reminder's level; its header is enough.
func (r *reminderState) level() int32 {
	p := r.rec
	_, p = uvarintAt(p)
	_, p = uvarintAt(p)
	l, _ := varintAt(p)
	return int32(l)
}

const (
	flagHoldout uint8 = 1 << iota
	flagFinalNotice
	flagDueZero
	flagDirty   // queued for an outcome update
	flagEmitted // an outcome was returned at least once
	// flagRecount: the values may have changed since last computed (not
	// merely turned final), so outcomes must compute them from the
	// invoice's allocations.
	flagRecount
	// flagOwnDue, flagOwnAmount: the invoice due date, the amount due
	// differs from its invoice's (the first reminder's) and is in the
	// reminder's record.
	flagOwnDue
	flagOwnAmount
)

func (r *reminderState) holdout() bool { return r.flags&flagHoldout != 0 }

// after reports whether a is preferred to b by last_touch: later sent_at,
// then higher level, then greater reminder_id.
func (a *reminderState) after(b *reminderState) bool {
	if a.sentMs != b.sentMs {
		return a.sentMs > b.sentMs
	}
	if al, bl := a.level(), b.level(); al != bl {
		return al > bl
	}
	return a.reminderID() > b.reminderID()
}

// emitted is one fact key last written for an allocation and horizon.
type emitted struct {
	rem      *reminderState // nil: the "collected without reminder" row
	credited int64
}

// allocState is one allocation of a payment, pending until the watermark
// passes its paid_at, then kept for corrections until retention ends.
type allocState struct {
	pay    *paymentState
	inv    *invoiceState
	index  int
	amount int64
	done   bool // facts written at least once
	// uncertain: an earlier owner may have written facts for this
	// allocation that it never committed (see Joiner.Uncertain); its next
	// emission retracts every key such an owner could have written.
	uncertain bool
	// last is what was written last, all horizons in a row: horizon hi is
	// last[lastEnd[hi-1]:lastEnd[hi]] (lastEnd[-1] = 0). lastEnd then
	// holds, after one end per horizon, the candidate count written for
	// each: a new candidate that is not credited changes no row but the
	// count the rows carry.
	last    []emitted
	lastEnd []int32
	// Inline room for the rows of the usual case (one row per horizon,
	// three horizons), so that storing them allocates nothing.
	lastBuf [3]emitted
	endBuf  [6]int32
}

// lastAt returns the rows last written for horizon hi.
func (a *allocState) lastAt(hi int) []emitted {
	if len(a.lastEnd) == 0 {
		return nil
	}
	lo := int32(0)
	if hi > 0 {
		lo = a.lastEnd[hi-1]
	}
	return a.last[lo:a.lastEnd[hi]]
}

type paymentState struct {
	p      schemas.Payment
	paidMs int64
	offset int64 // read at, for snapshots
	refs   int   // allocations held (they may be on several invoices)
}

// invoiceState is the join state of one invoice: its reminders, sorted by
// sent_at, and its allocations still in retention. Reminders and
// allocations leave state only with their invoice, so the smallest offsets
// held are kept here.
type invoiceState struct {
	// rec is the invoice's record in the arena: its id (see
	// arena.invoiceID) and, once hasFirst, what it keeps of its first
	// reminder (see arena.invoiceFirst): that reminder's customer id, due
	// date and amount due; other reminders differing keep their customer
	// id in their profile, their due date and amount due in their record.
	// One pointer instead of two strings and two times saves a third of
	// the invoice.
	rec       unsafe.Pointer
	allocs    []*allocState
	expiryMs  int64 // when every item is past retention
	minRemOff int64 // smallest offset of a reminder held, MaxInt64 if none
	minPayOff int64 // smallest offset of a payment held, MaxInt64 if none
	// remBuf holds the reminders, sorted, while there are at most as many
	// as it has room for (the usual invoice); then Joiner.moreRems holds
	// them all (see Joiner.reminders). A slice header, or even a pointer,
	// next to the inline room would cost every invoice for the few.
	remBuf [3]*reminderState
	// gen counts the reuses of this slab item: a heap entry made for an
	// earlier use is stale.
	gen      uint32
	idx      uint32 // in Joiner.invs
	nrem     uint8  // reminders in remBuf, while not spilled
	spilled  bool   // the reminders are in Joiner.moreRems
	hasFirst bool   // rec holds the first reminder's fields
	queued   bool   // an expiry entry for this invoice is in the heap
	dropped  bool   // left state (heap entries pointing to it are stale)
}

// id returns the invoice id.
func (inv *invoiceState) id() string {
	n, p := uvarintAt(inv.rec)
	return unsafe.String((*byte)(p), int(n))
}

// first returns the customer id, due date in ms (0 when zero) and amount
// due of the first reminder of inv, zero values before it.
func (inv *invoiceState) first() (customerID string, dueMs, amountDue int64) {
	if !inv.hasFirst {
		return "", 0, 0
	}
	n, p := uvarintAt(inv.rec)
	p = unsafe.Add(p, n)
	dueMs, p = varintAt(p)
	amountDue, p = varintAt(p)
	n, p = uvarintAt(p)
	return unsafe.String((*byte)(p), int(n)), dueMs, amountDue
}

func (inv *invoiceState) customerID() string {
	c, _, _ := inv.first()
	return c
}

// pendingHeap orders allocations waiting for the watermark by paid_at, then
// payment id and index, so emission order is deterministic. An entry
// carries its paid_at: the allocations are cold by the time the watermark
// reaches them (a day of event time by default), and comparing by pointer
// would read two of them per step of a sift; ties, the allocations of
// one payment, read them.
type pendingHeap []pendingEntry

type pendingEntry struct {
	paidMs int64
	a      *allocState
}

func (x pendingEntry) less(y pendingEntry) bool {
	if x.paidMs != y.paidMs {
		return x.paidMs < y.paidMs
	}
	if x.a.pay.p.PaymentID != y.a.pay.p.PaymentID {
		return x.a.pay.p.PaymentID < y.a.pay.p.PaymentID
	}
	return x.a.index < y.a.index
}

func (h *pendingHeap) push(a *allocState) {
	*h = append(*h, pendingEntry{a.pay.paidMs, a})
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !s[i].less(s[p]) {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

func (h *pendingHeap) pop() *allocState {
	s := *h
	top := s[0].a
	n := len(s) - 1
	s[0] = s[n]
	s[n] = pendingEntry{}
	s = s[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && s[r].less(s[l]) {
			m = r
		}
		if !s[m].less(s[i]) {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

// timed is a value due at a time.
type timed[V any] struct {
	atMs int64
	v    V
}

// timedHeap is a binary min-heap of timed values by atMs, on values,
// without container/heap's interface boxing (one allocation per push).
// Entries are checked lazily by their users (an invoice whose expiry
// moved is re-queued).
type timedHeap[V any] []timed[V]

func (h *timedHeap[V]) push(atMs int64, v V) {
	*h = append(*h, timed[V]{atMs, v})
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if s[p].atMs <= s[i].atMs {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

func (h *timedHeap[V]) pop() timed[V] {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s[n] = timed[V]{}
	s = s[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && s[r].atMs < s[l].atMs {
			m = r
		}
		if s[i].atMs <= s[m].atMs {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

// invRef names an invoice by index in Joiner.invs, for the expiry heap (an
// entry is 16 bytes instead of 24 with a pointer: there is one per invoice
// held), with the generation of the use it was made for.
type invRef struct {
	inv uint32
	gen uint32
}

// stale reports whether e was made for an earlier use of inv, its invoice.
func (e invRef) stale(inv *invoiceState) bool { return e.gen != inv.gen }

func toMs(t time.Time) int64 { return t.UnixMilli() }
