package schemas

import "time"

// Reminder is one dunning action on an invoice: sent (or, when Holdout,
// deliberately withheld for a control group). It mirrors reminder.avsc.
type Reminder struct {
	EventID    string
	ReminderID string
	InvoiceID  string
	CustomerID string
	// SentAt is when the reminder went out, UTC, millisecond precision.
	SentAt time.Time
	// Channel is an open set: email, sms, phone, letter, portal, …
	Channel string
	// Level is 0 for a preventive notice before the due date, 1..n after.
	Level       int32
	FinalNotice bool
	Plan        string
	Sender      string
	// AmountDueMinor is the outstanding amount reminded, in minor units.
	AmountDueMinor int64
	// Currency is an ISO 4217 code, e.g. "EUR".
	Currency string
	// InvoiceDueDate is a calendar date, held as midnight UTC.
	InvoiceDueDate time.Time
	// Holdout marks a reminder scheduled but not sent: never credited.
	Holdout    bool
	Attributes map[string]string
}

// Allocation is the part of a payment that settles one invoice.
type Allocation struct {
	InvoiceID   string
	AmountMinor int64
}

// Payment is one bank payment, settling one or more invoices through its
// allocations. It mirrors payment.avsc.
type Payment struct {
	EventID     string
	PaymentID   string
	CustomerID  string
	PaidAt      time.Time
	Method      string
	Currency    string
	Allocations []Allocation
}

// Invoice is the optional enrichment event. It mirrors invoice.avsc.
type Invoice struct {
	EventID     string
	InvoiceID   string
	CustomerID  string
	IssuedAt    time.Time
	DueDate     time.Time // calendar date, midnight UTC
	AmountMinor int64
	Currency    string
	// Status is one of issued, cancelled, credited, disputed.
	Status     string
	Attributes map[string]string
}

// Topic names, fixed by the product: subjects are "<topic>-value".
const (
	TopicReminders = "reminders"
	TopicPayments  = "payments"
	TopicInvoices  = "invoices"
)
