package schemas

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// MaxAmountMinor is the largest amount an event may carry, in minor units
// (10^15: ten trillion euros). Larger ones are rejected as amount_overflow:
// KPIs add amounts up in Int64 (at most about 9.2 × 10^18), so a few
// events of the size of the Int64 range would wrap sums negative; this
// bound leaves room for thousands of the largest amounts in one sum.
const MaxAmountMinor = 1_000_000_000_000_000

// DefaultMaxSkew is how far after "now" an event timestamp may be before
// Validate rejects it as far_future_timestamp. Generous on purpose: producers'
// clocks drift and batch imports are stamped ahead, but a reminder dated next
// month is a bug that would distort every horizon it falls into.
const DefaultMaxSkew = 7 * 24 * time.Hour

// ValidateOpt configures Validate.
type ValidateOpt func(*validateCfg)

type validateCfg struct {
	maxSkew time.Duration
}

// MaxSkew sets how far after now a timestamp may be, overriding the default
// of DefaultMaxSkew (7 days).
func MaxSkew(d time.Duration) ValidateOpt { return func(c *validateCfg) { c.maxSkew = d } }

func newValidateCfg(opts []ValidateOpt) validateCfg {
	c := validateCfg{maxSkew: DefaultMaxSkew}
	for _, o := range opts {
		o(&c)
	}
	return c
}

func invalid(field, reason, value string) *ValidationError {
	return &ValidationError{Field: field, Reason: reason, Value: value}
}

// checkTime rejects unset timestamps — Go zero time, 0 ms since the epoch
// (what a producer that forgot the field writes), or any time before it:
// placeholder dates such as 0001-01-01 or 1970-01-01 read in a time zone
// east of UTC land there, and no reminder or payment is that old — and
// timestamps more than the skew after now.
func (c validateCfg) checkTime(field string, t, now time.Time) *ValidationError {
	if t.IsZero() || t.UnixMilli() <= 0 {
		v := ""
		if !t.IsZero() {
			v = t.UTC().Format(time.RFC3339Nano)
		}
		return invalid(field, ReasonZeroTimestamp, v)
	}
	if t.After(now.Add(c.maxSkew)) {
		return invalid(field, ReasonFarFutureTimestamp, t.UTC().Format(time.RFC3339Nano))
	}
	return nil
}

func checkAmount(field string, v int64) *ValidationError {
	if v < 0 {
		return invalid(field, ReasonNegativeAmount, strconv.FormatInt(v, 10))
	}
	if v > MaxAmountMinor {
		return invalid(field, ReasonAmountOverflow, strconv.FormatInt(v, 10))
	}
	return nil
}

// checkText rejects text that is not UTF-8. Avro strings must be UTF-8,
// but decoders do not check it; such text would be stored as is, break
// dashboards' grouping and exports, and is refused by the Prometheus
// labels the business counters carry. The value is quoted with Go
// escapes so that the bad bytes show.
func checkText(field string, vs ...string) *ValidationError {
	for _, v := range vs {
		if !utf8.ValidString(v) {
			return invalid(field, ReasonInvalidUTF8, strconv.Quote(v))
		}
	}
	return nil
}

// checkAttrs is checkText for every key and value of an attribute map.
func checkAttrs(field string, attrs map[string]string) *ValidationError {
	for k, v := range attrs {
		if !utf8.ValidString(k) {
			return invalid(field, ReasonInvalidUTF8, strconv.Quote(k))
		}
		if !utf8.ValidString(v) {
			return invalid(field+"["+strconv.Quote(k)+"]", ReasonInvalidUTF8, strconv.Quote(v))
		}
	}
	return nil
}

func checkCurrency(field, code string) *ValidationError {
	if !KnownCurrency(code) {
		return invalid(field, ReasonUnknownCurrency, code)
	}
	return nil
}

// firstInvalid returns the first non-nil problem as an error, keeping a nil
// *ValidationError from becoming a non-nil error.
func firstInvalid(checks ...*ValidationError) error {
	for _, c := range checks {
		if c != nil {
			return c
		}
	}
	return nil
}

// Validate reports whether r is usable by the pipeline, as a
// *ValidationError naming the first problem found, or nil. now is the
// reference for far_future_timestamp (pass the processing time).
// InvoiceDueDate is not checked against now: a due date months ahead is
// normal for a preventive reminder.
func (r *Reminder) Validate(now time.Time, opts ...ValidateOpt) error {
	c := newValidateCfg(opts)
	var due *ValidationError
	if r.InvoiceDueDate.IsZero() {
		due = invalid("invoice_due_date", ReasonZeroTimestamp, "")
	}
	return firstInvalid(
		missing("event_id", r.EventID, ReasonMissingEventID),
		// Duplicates are recognised by reminder_id: two reminders without
		// one would silently merge into one.
		missing("reminder_id", r.ReminderID, ReasonMissingEventID),
		missing("invoice_id", r.InvoiceID, ReasonMissingInvoiceID),
		c.checkTime("sent_at", r.SentAt, now),
		due,
		checkAmount("amount_due_minor", r.AmountDueMinor),
		checkCurrency("currency", r.Currency),
		checkText("event_id", r.EventID),
		checkText("reminder_id", r.ReminderID),
		checkText("invoice_id", r.InvoiceID),
		checkText("customer_id", r.CustomerID),
		checkText("channel", r.Channel),
		checkText("plan", r.Plan),
		checkText("sender", r.Sender),
		checkAttrs("attributes", r.Attributes),
	)
}

// Validate reports whether p is usable (see Reminder.Validate): it must have
// allocations, each with an invoice id and a non-negative amount, and their
// total must be at most MaxAmountMinor.
func (p *Payment) Validate(now time.Time, opts ...ValidateOpt) error {
	c := newValidateCfg(opts)
	if err := firstInvalid(
		missing("event_id", p.EventID, ReasonMissingEventID),
		missing("payment_id", p.PaymentID, ReasonMissingEventID),
		c.checkTime("paid_at", p.PaidAt, now),
		checkCurrency("currency", p.Currency),
		checkText("event_id", p.EventID),
		checkText("payment_id", p.PaymentID),
		checkText("customer_id", p.CustomerID),
		checkText("method", p.Method),
	); err != nil {
		return err
	}
	if len(p.Allocations) == 0 {
		return invalid("allocations", ReasonEmptyAllocations, "")
	}
	var total int64
	for i, a := range p.Allocations {
		prefix := "allocations[" + strconv.Itoa(i) + "]."
		if err := firstInvalid(
			missing(prefix+"invoice_id", a.InvoiceID, ReasonMissingInvoiceID),
			checkAmount(prefix+"amount_minor", a.AmountMinor),
			checkText(prefix+"invoice_id", a.InvoiceID),
		); err != nil {
			return err
		}
		if total += a.AmountMinor; total > MaxAmountMinor {
			return invalid(prefix+"amount_minor", ReasonAmountOverflow, strconv.FormatInt(a.AmountMinor, 10))
		}
	}
	return nil
}

// Validate reports whether i is usable (see Reminder.Validate). Status is an
// open set and not checked.
func (i *Invoice) Validate(now time.Time, opts ...ValidateOpt) error {
	c := newValidateCfg(opts)
	var due *ValidationError
	if i.DueDate.IsZero() {
		due = invalid("due_date", ReasonZeroTimestamp, "")
	}
	return firstInvalid(
		missing("event_id", i.EventID, ReasonMissingEventID),
		missing("invoice_id", i.InvoiceID, ReasonMissingInvoiceID),
		c.checkTime("issued_at", i.IssuedAt, now),
		due,
		checkAmount("amount_minor", i.AmountMinor),
		checkCurrency("currency", i.Currency),
		checkText("event_id", i.EventID),
		checkText("invoice_id", i.InvoiceID),
		checkText("customer_id", i.CustomerID),
		checkText("status", i.Status),
		checkAttrs("attributes", i.Attributes),
	)
}

func missing(field, v, reason string) *ValidationError {
	if v == "" {
		return invalid(field, reason, "")
	}
	return nil
}
