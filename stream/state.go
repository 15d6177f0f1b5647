package stream

import (
	"container/heap"
	"time"

	"github.com/relance-io/relance/schemas"
)

// reminderState is a reminder held in join state.
type reminderState struct {
	r      schemas.Reminder
	sentMs int64
	offset int64
	inv    *invoiceState

	// Outcome bookkeeping, per horizon.
	final   []bool
	lastOut []outcomeVals
	emitted bool // an outcome was returned at least once
	dirty   bool // queued for an outcome update
}

// after reports whether a is preferred to b by last_touch: later sent_at,
// then higher level, then greater reminder_id.
func (a *reminderState) after(b *reminderState) bool {
	if a.sentMs != b.sentMs {
		return a.sentMs > b.sentMs
	}
	if a.r.Level != b.r.Level {
		return a.r.Level > b.r.Level
	}
	return a.r.ReminderID > b.r.ReminderID
}

// emitted is one fact key last written for an allocation and horizon.
type emitted struct {
	rem      *reminderState // nil: the "collected without reminder" row
	credited int64
}

// allocState is one allocation of a payment, pending until the watermark
// passes its paid_at, then kept for corrections until retention ends.
type allocState struct {
	pay     *paymentState
	index   int
	invoice string
	amount  int64
	done    bool        // facts written at least once
	last    [][]emitted // per horizon, what was written last
	heapIdx int
}

type paymentState struct {
	p      schemas.Payment
	paidMs int64
	offset int64
}

// invoiceState is the join state of one invoice: its reminders, sorted by
// sent_at, and its allocations still in retention.
type invoiceState struct {
	id        string
	reminders []*reminderState
	allocs    []*allocState
	expiryMs  int64 // when every item is past retention
	queued    bool  // an expiry entry for this invoice is in the heap
}

// pendingHeap orders allocations waiting for the watermark by paid_at, then
// payment id and index, so emission order is deterministic.
type pendingHeap []*allocState

func (h pendingHeap) Len() int { return len(h) }
func (h pendingHeap) Less(i, j int) bool {
	a, b := h[i], h[j]
	if a.pay.paidMs != b.pay.paidMs {
		return a.pay.paidMs < b.pay.paidMs
	}
	if a.pay.p.PaymentID != b.pay.p.PaymentID {
		return a.pay.p.PaymentID < b.pay.p.PaymentID
	}
	return a.index < b.index
}
func (h pendingHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx, h[j].heapIdx = i, j
}
func (h *pendingHeap) Push(x any) { a := x.(*allocState); a.heapIdx = len(*h); *h = append(*h, a) }
func (h *pendingHeap) Pop() any {
	old := *h
	a := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	a.heapIdx = -1
	return a
}

// expiryHeap holds invoices by the time their state may be dropped. Entries
// are checked lazily: an invoice whose expiry moved later is re-queued.
type expiryEntry struct {
	atMs int64
	inv  *invoiceState
}
type expiryHeap []expiryEntry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].atMs < h[j].atMs }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiryEntry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

var (
	_ heap.Interface = (*pendingHeap)(nil)
	_ heap.Interface = (*expiryHeap)(nil)
)

func toMs(t time.Time) int64 { return t.UnixMilli() }
