package schemas

import (
	"fmt"
	"math"
	"time"
)

// This file converts between the Go structs and goavro's native form
// (map[string]any per record). goavro quirks it absorbs:
//   - timestamp-millis decodes to time.Time in UTC; on encode we pass the
//     milliseconds ourselves (UnixMilli), so sub-millisecond precision is
//     truncated the same way whatever the time's location.
//   - date decodes to time.Time at midnight UTC; goavro's own encoding of a
//     time.Time divides Unix seconds by 86400, which rounds towards zero and
//     is off by one day before 1970 and for non-UTC midnights, so we pass the
//     day number ourselves.
//   - goavro does no schema resolution: it decodes with the writer schema
//     only. Mapping by field name, with reader defaults for absent fields and
//     promotions (int→long, bytes→string), is done here.

const secondsPerDay = 24 * 60 * 60

// millis is the timestamp-millis value of t: milliseconds since the epoch,
// truncated (floored) to the millisecond.
func millis(t time.Time) int64 { return t.UnixMilli() }

// days is the date value of t: days since 1970-01-01 of t's calendar date in
// its own location, so a midnight in Europe/Paris stays the same date.
func days(field string, t time.Time) (int32, error) {
	y, m, d := t.Date()
	n := time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / secondsPerDay
	if n < math.MinInt32 || n > math.MaxInt32 {
		return 0, fmt.Errorf("schemas: %s %s is out of the Avro date range", field, t.Format(time.DateOnly))
	}
	return int32(n), nil
}

func stringMapToNative(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (r *Reminder) native() (map[string]any, error) {
	due, err := days("invoice_due_date", r.InvoiceDueDate)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"event_id":         r.EventID,
		"reminder_id":      r.ReminderID,
		"invoice_id":       r.InvoiceID,
		"customer_id":      r.CustomerID,
		"sent_at":          millis(r.SentAt),
		"channel":          r.Channel,
		"level":            r.Level,
		"final_notice":     r.FinalNotice,
		"plan":             r.Plan,
		"sender":           r.Sender,
		"amount_due_minor": r.AmountDueMinor,
		"currency":         r.Currency,
		"invoice_due_date": due,
		"holdout":          r.Holdout,
		"attributes":       stringMapToNative(r.Attributes),
	}, nil
}

func (p *Payment) native() (map[string]any, error) {
	allocs := make([]any, len(p.Allocations))
	for i, a := range p.Allocations {
		allocs[i] = map[string]any{
			"invoice_id":   a.InvoiceID,
			"amount_minor": a.AmountMinor,
		}
	}
	return map[string]any{
		"event_id":    p.EventID,
		"payment_id":  p.PaymentID,
		"customer_id": p.CustomerID,
		"paid_at":     millis(p.PaidAt),
		"method":      p.Method,
		"currency":    p.Currency,
		"allocations": allocs,
	}, nil
}

func (i *Invoice) native() (map[string]any, error) {
	due, err := days("due_date", i.DueDate)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"event_id":     i.EventID,
		"invoice_id":   i.InvoiceID,
		"customer_id":  i.CustomerID,
		"issued_at":    millis(i.IssuedAt),
		"due_date":     due,
		"amount_minor": i.AmountMinor,
		"currency":     i.Currency,
		"status":       i.Status,
		"attributes":   stringMapToNative(i.Attributes),
	}, nil
}

// fieldReader reads reader fields out of a decoded writer record. It keeps
// the first error so the mapping code stays a flat list of assignments.
// Absent fields read as the Go zero value: the check at schema resolution
// guarantees they have a reader default, and every reader default in our
// .avsc files (false, {}) is the Go zero value (TestReaderDefaultsAreZero).
type fieldReader struct {
	m      map[string]any
	unions map[string]bool // dotted names of writer fields that are unions
	prefix string          // "allocations." inside an Allocation
	err    error
}

func (r *fieldReader) value(name string) (any, bool) {
	v, ok := r.m[name]
	if !ok {
		return nil, false
	}
	if r.unions[r.prefix+name] {
		// goavro represents a union value as nil or map{"branch name": value}.
		if v == nil {
			r.fail(name, "is null but the reader type is not nullable")
			return nil, false
		}
		if wrapped, ok := v.(map[string]any); ok && len(wrapped) == 1 {
			for _, inner := range wrapped {
				return inner, true
			}
		}
		r.fail(name, fmt.Sprintf("has unexpected union value %T", v))
		return nil, false
	}
	return v, true
}

func (r *fieldReader) fail(name, msg string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s%s %s", ErrInvalidField, r.prefix, name, msg)
	}
}

func (r *fieldReader) mismatch(name string, v any) {
	r.fail(name, fmt.Sprintf("has unexpected Go type %T", v))
}

func (r *fieldReader) str(name string) string {
	v, ok := r.value(name)
	if !ok {
		return ""
	}
	switch s := v.(type) {
	case string:
		return s
	case []byte:
		return string(s)
	}
	r.mismatch(name, v)
	return ""
}

func (r *fieldReader) long(name string) int64 {
	v, ok := r.value(name)
	if !ok {
		return 0
	}
	switch n := v.(type) {
	case int64:
		return n
	case int32:
		return int64(n)
	}
	r.mismatch(name, v)
	return 0
}

func (r *fieldReader) int(name string) int32 {
	v, ok := r.value(name)
	if !ok {
		return 0
	}
	if n, ok := v.(int32); ok {
		return n
	}
	r.mismatch(name, v)
	return 0
}

func (r *fieldReader) bool(name string) bool {
	v, ok := r.value(name)
	if !ok {
		return false
	}
	if b, ok := v.(bool); ok {
		return b
	}
	r.mismatch(name, v)
	return false
}

func (r *fieldReader) timestamp(name string) time.Time {
	v, ok := r.value(name)
	if !ok {
		return time.Time{}
	}
	switch t := v.(type) {
	case time.Time: // timestamp-millis, or timestamp-micros truncated
		return t.Truncate(time.Millisecond)
	case int64: // a plain long writer: milliseconds
		return time.UnixMilli(t).UTC()
	case int32:
		return time.UnixMilli(int64(t)).UTC()
	}
	r.mismatch(name, v)
	return time.Time{}
}

func (r *fieldReader) date(name string) time.Time {
	v, ok := r.value(name)
	if !ok {
		return time.Time{}
	}
	switch t := v.(type) {
	case time.Time:
		return t
	case int32: // a plain int writer: days since the epoch
		return time.Unix(int64(t)*secondsPerDay, 0).UTC()
	}
	r.mismatch(name, v)
	return time.Time{}
}

// stringMap returns nil for an empty map: readers only range over it, and
// most events carry no attributes, so this saves an allocation per record.
func (r *fieldReader) stringMap(name string) map[string]string {
	v, ok := r.value(name)
	if !ok {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		r.mismatch(name, v)
		return nil
	}
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, e := range m {
		switch s := e.(type) {
		case string:
			out[k] = s
		case []byte:
			out[k] = string(s)
		default:
			r.fail(name, fmt.Sprintf("[%q] has unexpected Go type %T", k, e))
			return nil
		}
	}
	return out
}

func (r *fieldReader) allocations(name string) []Allocation {
	v, ok := r.value(name)
	if !ok {
		return nil
	}
	items, ok := v.([]any)
	if !ok {
		r.mismatch(name, v)
		return nil
	}
	if len(items) == 0 {
		return nil
	}
	out := make([]Allocation, len(items))
	for i, item := range items {
		m, ok := item.(map[string]any)
		if !ok {
			r.fail(fmt.Sprintf("%s[%d]", name, i), fmt.Sprintf("has unexpected Go type %T", item))
			return nil
		}
		ar := fieldReader{m: m, unions: r.unions, prefix: name + "."}
		out[i] = Allocation{InvoiceID: ar.str("invoice_id"), AmountMinor: ar.long("amount_minor")}
		if ar.err != nil {
			r.err = fmt.Errorf("%s[%d]: %w", name, i, ar.err)
			return nil
		}
	}
	return out
}

func reminderFromNative(r *fieldReader) (Reminder, error) {
	rem := Reminder{
		EventID:        r.str("event_id"),
		ReminderID:     r.str("reminder_id"),
		InvoiceID:      r.str("invoice_id"),
		CustomerID:     r.str("customer_id"),
		SentAt:         r.timestamp("sent_at"),
		Channel:        r.str("channel"),
		Level:          r.int("level"),
		FinalNotice:    r.bool("final_notice"),
		Plan:           r.str("plan"),
		Sender:         r.str("sender"),
		AmountDueMinor: r.long("amount_due_minor"),
		Currency:       r.str("currency"),
		InvoiceDueDate: r.date("invoice_due_date"),
		Holdout:        r.bool("holdout"),
		Attributes:     r.stringMap("attributes"),
	}
	if r.err != nil {
		return Reminder{}, r.err
	}
	return rem, nil
}

func paymentFromNative(r *fieldReader) (Payment, error) {
	p := Payment{
		EventID:     r.str("event_id"),
		PaymentID:   r.str("payment_id"),
		CustomerID:  r.str("customer_id"),
		PaidAt:      r.timestamp("paid_at"),
		Method:      r.str("method"),
		Currency:    r.str("currency"),
		Allocations: r.allocations("allocations"),
	}
	if r.err != nil {
		return Payment{}, r.err
	}
	return p, nil
}

func invoiceFromNative(r *fieldReader) (Invoice, error) {
	i := Invoice{
		EventID:     r.str("event_id"),
		InvoiceID:   r.str("invoice_id"),
		CustomerID:  r.str("customer_id"),
		IssuedAt:    r.timestamp("issued_at"),
		DueDate:     r.date("due_date"),
		AmountMinor: r.long("amount_minor"),
		Currency:    r.str("currency"),
		Status:      r.str("status"),
		Attributes:  r.stringMap("attributes"),
	}
	if r.err != nil {
		return Invoice{}, r.err
	}
	return i, nil
}
