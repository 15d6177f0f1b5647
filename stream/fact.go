package stream

import (
	"time"

	"github.com/relance-io/relance/schemas"
)

// Fact is one row of attribution: an allocation, a horizon, and the reminder
// credited with (part of) it — or none, when the allocation has no candidate
// within the horizon (collected without reminder).
//
// Under last_touch and first_touch an allocation yields one Fact per
// horizon; under linear and time_decay one per candidate reminder. The
// CreditedMinor of an allocation's Facts for one horizon sum exactly to its
// AmountMinor when Matched, and are 0 otherwise.
type Fact struct {
	PaymentEventID string
	PaymentID      string
	// AllocationIndex is the position of the allocation in the payment.
	AllocationIndex int
	InvoiceID       string
	CustomerID      string
	PaidAt          time.Time
	AmountMinor     int64
	Currency        string
	Method          string

	Horizon Horizon
	// Matched is true when at least one non-holdout reminder on the invoice
	// was sent within [PaidAt-Horizon, PaidAt].
	Matched bool
	// Reminder is the credited reminder; nil when !Matched.
	Reminder      *schemas.Reminder
	CreditedMinor int64
	// Candidates is how many reminders were candidates for this horizon.
	Candidates int
	Model      Model

	// Version orders rewrites of the same (payment, allocation, horizon,
	// reminder) key: the store keeps the highest. Deleted retracts the key.
	Version uint64
	Deleted bool
}
