package bench

import (
	"container/heap"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/relance-io/relance/generate"
	"github.com/relance-io/relance/schemas"
	"github.com/relance-io/relance/stream"
)

// Event is one pre-decoded input of a Joiner: a reminder or a payment.
type Event struct {
	Src      stream.Source
	Reminder schemas.Reminder
	Payment  schemas.Payment
}

// Feed gives e to j at offset off.
func (e *Event) Feed(j *stream.Joiner, off int64) {
	if e.Src == stream.Reminders {
		j.AddReminder(e.Reminder, off)
	} else {
		j.AddPayment(e.Payment, off)
	}
}

// TouchWindow is how many events a Joiner is told about ahead (see Touch):
// as many as package ingest decodes ahead.
const TouchWindow = 32

// Touch has j read ahead the join state the events evs will need (see
// stream.Joiner.TouchInvoices); ids is a buffer, returned for reuse.
func Touch(j *stream.Joiner, evs []Event, ids []string) []string {
	ids = ids[:0]
	for i := range evs {
		if evs[i].Src == stream.Reminders {
			ids = append(ids, evs[i].Reminder.InvoiceID)
			continue
		}
		for _, al := range evs[i].Payment.Allocations {
			ids = append(ids, al.InvoiceID)
		}
	}
	j.TouchInvoices(ids)
	return ids
}

// Epoch is the event time the synthetic streams start at.
var Epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// Lifetime is how long, in event time, the default Joiner holds an invoice
// that received its last reminder at t: until t + the largest horizon (30d)
// + retention (7d), behind a watermark that lags by the allowed lateness
// (24h).
const Lifetime = (30 + 7 + 1) * 24 * time.Hour

// Synthetic is an endless, deterministic stream of invoices in event-time
// order, shaped like the generated receivables book: each invoice gets 3
// reminders (5 days apart, channels and plans from small sets, three
// attributes) and, for 7 invoices out of 10, one payment 2 days after its
// last reminder. Invoices start at a steady rate chosen so that, once the
// stream has run for Lifetime, the Joiner holds about Open reminders: the
// state stays that size while events flow (new invoices in, expired ones
// out), which is how a partition behaves in production.
type Synthetic struct {
	Open int // target open reminders in steady state

	next   int64 // next invoice number
	gapMs  int64 // event time between two invoice starts
	queue  eventHeap
	seq    int64
	cursor int64 // start time of the next invoice, ms
}

type queued struct {
	at, seq int64
	e       *Event
}

// eventHeap orders queued events by time, then by the order they were made.
type eventHeap []queued

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(queued)) }
func (h *eventHeap) Pop() any {
	old := *h
	q := old[len(old)-1]
	*h = old[:len(old)-1]
	return q
}

const remindersPerInvoice = 3

var (
	channels = []string{"email", "sms", "phone", "letter", "portal"}
	plans    = []string{"standard", "gentle", "firm"}
	senders  = []string{"collector-1", "collector-2", "collector-3", "collector-4"}
	segments = []string{"smb", "mid", "enterprise"}
	country  = []string{"FR", "DE", "ES", "IT"}
	units    = []string{"north", "south"}
)

// NewSynthetic returns a stream whose steady state holds about open
// reminders.
func NewSynthetic(open int) *Synthetic {
	if open < remindersPerInvoice {
		open = remindersPerInvoice
	}
	invoicesAlive := int64(open / remindersPerInvoice)
	// An invoice's reminders live from its start to start + 10d + Lifetime.
	life := (10*24*time.Hour + Lifetime).Milliseconds()
	return &Synthetic{Open: open, gapMs: max(1, life/invoicesAlive), cursor: Epoch.UnixMilli()}
}

// Next returns the next event in event-time order.
func (s *Synthetic) Next() *Event {
	for len(s.queue) == 0 || s.queue[0].at > s.cursor {
		s.startInvoice()
	}
	return heap.Pop(&s.queue).(queued).e
}

// Take returns the next n events as a decoder delivers them: each with
// strings and attribute map of its own, allocated in the order of the
// events. (The events of one invoice are made together, weeks of event
// time before some of them are fed; fed as made, their shared strings
// would be cold in the cache with a large open state, which a decoded
// event never is.)
func (s *Synthetic) Take(n int) []Event {
	out := make([]Event, n)
	for i := range out {
		e := s.Next()
		out[i].Src = e.Src
		if e.Src == stream.Reminders {
			out[i].Reminder = fresh(e.Reminder)
		} else {
			out[i].Payment = freshPayment(e.Payment)
		}
	}
	return out
}

// fresh copies r's strings and attributes as a decoder would allocate them.
func fresh(r schemas.Reminder) schemas.Reminder {
	c := strings.Clone
	r.EventID, r.ReminderID, r.InvoiceID, r.CustomerID = c(r.EventID), c(r.ReminderID), c(r.InvoiceID), c(r.CustomerID)
	r.Channel, r.Plan, r.Sender, r.Currency = c(r.Channel), c(r.Plan), c(r.Sender), c(r.Currency)
	attrs := make(map[string]string, len(r.Attributes))
	for k, v := range r.Attributes {
		attrs[c(k)] = c(v)
	}
	r.Attributes = attrs
	return r
}

// freshPayment copies p's strings and allocations as a decoder would
// allocate them.
func freshPayment(p schemas.Payment) schemas.Payment {
	c := strings.Clone
	p.EventID, p.PaymentID, p.CustomerID, p.Method, p.Currency = c(p.EventID), c(p.PaymentID), c(p.CustomerID), c(p.Method), c(p.Currency)
	als := make([]schemas.Allocation, len(p.Allocations))
	for i, al := range p.Allocations {
		als[i] = al
		als[i].InvoiceID = c(al.InvoiceID)
	}
	p.Allocations = als
	return p
}

func (e *Event) time() int64 {
	if e.Src == stream.Reminders {
		return e.Reminder.SentAt.UnixMilli()
	}
	return e.Payment.PaidAt.UnixMilli()
}

// startInvoice queues the events of one more invoice, keeping the queue in
// event-time order, and advances the cursor.
func (s *Synthetic) startInvoice() {
	n := s.next
	s.next++
	start := s.cursor
	s.cursor += s.gapMs
	inv := "INV-" + strconv.FormatInt(n, 10)
	cust := "C-" + strconv.FormatInt(n/7, 10) // a customer has about 7 invoices
	attrs := map[string]string{
		"customer_segment": segments[n%3],
		"country":          country[(n/3)%4],
		"business_unit":    units[(n/12)%2],
	}
	due := time.UnixMilli(start - start%86_400_000).UTC()
	evs := make([]Event, remindersPerInvoice+1)
	k := 0
	for i := range remindersPerInvoice {
		sent := start + int64(i)*5*86_400_000
		id := strconv.FormatInt(n*remindersPerInvoice+int64(i), 10)
		evs[k] = Event{Src: stream.Reminders, Reminder: schemas.Reminder{
			EventID: "rem-" + id, ReminderID: "R-" + id, InvoiceID: inv, CustomerID: cust,
			SentAt: time.UnixMilli(sent).UTC(), Channel: channels[(n+int64(i))%5], Level: int32(i + 1),
			FinalNotice: i == remindersPerInvoice-1, Plan: plans[n%3], Sender: senders[n%4],
			AmountDueMinor: 10_000 + n%90_000, Currency: "EUR", InvoiceDueDate: due,
			Holdout: n%20 == 0, Attributes: attrs,
		}}
		k++
	}
	if n%10 < 7 {
		paid := start + 12*86_400_000
		id := strconv.FormatInt(n, 10)
		evs[k] = Event{Src: stream.Payments, Payment: schemas.Payment{
			EventID: "pay-" + id, PaymentID: "P-" + id, CustomerID: cust, PaidAt: time.UnixMilli(paid).UTC(),
			Method: "transfer", Currency: "EUR",
			Allocations: []schemas.Allocation{{InvoiceID: inv, AmountMinor: 10_000 + n%90_000}},
		}}
		k++
	}
	for i := range evs[:k] {
		heap.Push(&s.queue, queued{at: evs[i].time(), seq: s.seq, e: &evs[i]})
		s.seq++
	}
}

// Warm feeds j until it holds the stream's steady-state open reminders,
// starting offsets at *off.
func (s *Synthetic) Warm(j *stream.Joiner, off *int64) {
	target := time.UnixMilli(s.cursor).Add(Lifetime + 11*24*time.Hour).UnixMilli()
	for s.cursor < target {
		e := s.Next()
		e.Feed(j, *off)
		*off++
		if *off%65536 == 0 {
			j.Drain()
			j.DrainOutcomes()
		}
	}
	j.Drain()
	j.DrainOutcomes()
}

// Dataset generates a receivables book with about n reminders and payments
// (generate.DefaultParams, seed 11, 12 months from 2025-01-01).
func Dataset(n int) (*generate.Dataset, error) {
	p := generate.DefaultParams()
	p.Seed, p.Months = 11, 12
	p.Start = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	p.Customers = max(20, n/44) // about 44 reminders and payments per customer-year
	return generate.Generate(p)
}

// Ordered returns the reminders and payments of ds interleaved in event
// time, as the pipeline delivers them.
func Ordered(ds *generate.Dataset) []Event {
	evs := make([]Event, 0, len(ds.Reminders)+len(ds.Payments))
	for _, r := range ds.Reminders {
		evs = append(evs, Event{Src: stream.Reminders, Reminder: r})
	}
	for _, p := range ds.Payments {
		evs = append(evs, Event{Src: stream.Payments, Payment: p})
	}
	sort.SliceStable(evs, func(a, b int) bool { return evs[a].time() < evs[b].time() })
	return evs
}
