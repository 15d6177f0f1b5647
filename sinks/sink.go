package sinks

import (
	"context"

	"github.com/relance-io/relance/schemas"
	"github.com/relance-io/relance/stream"
)

// Batch is everything one flush of the pipeline writes: raw events and the
// attribution facts they produced. A Batch is the unit of acknowledgement:
// offsets are committed only after Write returns nil for every batch that
// holds their effects.
type Batch struct {
	// Token identifies the batch deterministically (source partitions and
	// offset ranges), so that a retried or replayed batch can be recognised.
	Token     string
	Reminders []schemas.Reminder
	Payments  []schemas.Payment
	Invoices  []schemas.Invoice
	// ReminderAt, PaymentAt and InvoiceAt locate, when set, the Kafka
	// record each raw event was read from (ReminderAt[i] is Reminders[i]'s,
	// and so on): the source_partition and source_offset of its rows, -1
	// when not set (events that did not come through Kafka). Each is empty
	// or as long as its events.
	ReminderAt, PaymentAt, InvoiceAt []Origin
	Facts                            []stream.Fact
	// Late are events that arrived beyond the joiner's retention: they go to
	// the late_events table instead of changing facts.
	Late []stream.LateEvent
	// Outcomes are new or changed reminder outcomes (reminder × horizon).
	Outcomes []stream.Outcome
}

// Origin is where a record was read: its Kafka partition and offset.
type Origin struct {
	Partition int32
	Offset    int64
}

// noOrigin is the origin of an event that did not come through Kafka.
var noOrigin = Origin{Partition: -1, Offset: -1}

// originAt returns os[i], or noOrigin when os is not set.
func originAt(os []Origin, i int) Origin {
	if i < len(os) {
		return os[i]
	}
	return noOrigin
}

// Len is the number of rows the batch carries across all tables (a payment
// counts one row per allocation).
func (b *Batch) Len() int {
	n := len(b.Reminders) + len(b.Invoices) + len(b.Facts) + len(b.Late) + len(b.Outcomes)
	for i := range b.Payments {
		n += len(b.Payments[i].Allocations)
	}
	return n
}

// Sink writes batches to a store. Write is all-or-nothing from the caller's
// point of view: on error the caller retries the same batch, and the store's
// keys make the retry idempotent.
type Sink interface {
	Write(ctx context.Context, b *Batch) error
	Close() error
}
