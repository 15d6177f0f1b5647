package oracle

import (
	"time"

	"github.com/relance-io/relance/generate"
	"github.com/relance-io/relance/schemas"
)

// InWindow reports whether a payment at paid falls in the window of a
// reminder sent at sent for horizon h: sent ≤ paid ≤ sent + h, both bounds
// inclusive (SPEC §3). Holdout is not looked at.
func InWindow(sent, paid time.Time, h time.Duration) bool {
	return !sent.After(paid) && paid.Sub(sent) <= h
}

// ByInvoice indexes ds.Reminders (holdouts included) by invoice, in data
// set order. The pointers point into ds.Reminders.
func ByInvoice(ds *generate.Dataset) map[string][]*schemas.Reminder {
	out := map[string][]*schemas.Reminder{}
	for i := range ds.Reminders {
		r := &ds.Reminders[i]
		out[r.InvoiceID] = append(out[r.InvoiceID], r)
	}
	return out
}

// LastTouch returns the reminder credited under last_touch for a payment
// at paid in currency cur, among reminders (those of the allocation's
// invoice): the latest candidate — not holdout, in currency cur, sent_at ≤
// paid ≤ sent_at + h — with ties broken by the higher level, then the
// greater reminder_id. It returns nil when there is no candidate: the
// allocation is collected without reminder.
func LastTouch(reminders []*schemas.Reminder, paid time.Time, cur string, h time.Duration) *schemas.Reminder {
	var l *schemas.Reminder
	for _, r := range reminders {
		if r.Holdout || r.Currency != cur || !InWindow(r.SentAt, paid, h) {
			continue
		}
		if l == nil || r.SentAt.After(l.SentAt) ||
			(r.SentAt.Equal(l.SentAt) && (r.Level > l.Level || (r.Level == l.Level && r.ReminderID > l.ReminderID))) {
			l = r
		}
	}
	return l
}

// Credit is one allocation and the reminder it is credited to.
type Credit struct {
	// PaymentIndex and AllocationIndex locate the allocation:
	// ds.Payments[PaymentIndex].Allocations[AllocationIndex].
	PaymentIndex, AllocationIndex int
	Payment                       *schemas.Payment
	Allocation                    *schemas.Allocation
	// Reminder is the last_touch reminder, or nil when the allocation has
	// no candidate (collected without reminder).
	Reminder *schemas.Reminder
}

// Lag is paid_at - sent_at of a credited allocation; 0 when it has no
// reminder.
func (c Credit) Lag() time.Duration {
	if c.Reminder == nil {
		return 0
	}
	return c.Payment.PaidAt.Sub(c.Reminder.SentAt)
}

// Credits returns one Credit per allocation of ds, in data set order
// (payments, then their allocations), under last_touch at horizon h. The
// pointers point into ds.
func Credits(ds *generate.Dataset, h time.Duration) []Credit {
	byInvoice := ByInvoice(ds)
	var out []Credit
	for pi := range ds.Payments {
		p := &ds.Payments[pi]
		for ai := range p.Allocations {
			a := &p.Allocations[ai]
			out = append(out, Credit{PaymentIndex: pi, AllocationIndex: ai, Payment: p, Allocation: a,
				Reminder: LastTouch(byInvoice[a.InvoiceID], p.PaidAt, p.Currency, h)})
		}
	}
	return out
}

// Outcome is what became of one reminder at a horizon.
type Outcome struct {
	// Collected is the sum of the allocations on its invoice in its
	// currency paid in its window [sent_at, sent_at + h], credited or
	// not; holdout reminders
	// have one too (the control group's payments).
	Collected int64
	// Credited is the sum of the allocations credited to it under
	// last_touch; always 0 for a holdout reminder.
	Credited int64
}

// Outcomes returns the outcome of every reminder at horizon h, index by
// index with ds.Reminders.
func Outcomes(ds *generate.Dataset, h time.Duration) []Outcome {
	out := make([]Outcome, len(ds.Reminders))
	index := map[*schemas.Reminder]int{}
	for i := range ds.Reminders {
		index[&ds.Reminders[i]] = i
	}
	byInvoice := ByInvoice(ds)
	for _, c := range Credits(ds, h) {
		for _, r := range byInvoice[c.Allocation.InvoiceID] {
			if r.Currency == c.Payment.Currency && InWindow(r.SentAt, c.Payment.PaidAt, h) {
				out[index[r]].Collected += c.Allocation.AmountMinor
			}
		}
		if c.Reminder != nil {
			out[index[c.Reminder]].Credited += c.Allocation.AmountMinor
		}
	}
	return out
}

// End is the time of the last event of ds: the latest sent_at of any
// reminder (holdouts included) or paid_at of any payment.
func End(ds *generate.Dataset) time.Time {
	var end time.Time
	for _, r := range ds.Reminders {
		if r.SentAt.After(end) {
			end = r.SentAt
		}
	}
	for _, p := range ds.Payments {
		if p.PaidAt.After(end) {
			end = p.PaidAt
		}
	}
	return end
}
