// Package produce turns events into Kafka records and produces them, as
// live producers would: Confluent wire format (schema ids of the registry),
// keyed by customer id so that a customer's reminders and payments land in
// the same partition number of the co-partitioned topics, the three topics
// interleaved in event-time order. The demo, `relance produce` and
// `relance import` use it.
//
// It owns only the producer side; it must not consume (that is ingest) nor
// decide what the events are (generate, csvimport).
package produce

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/relance-io/relance/progress"
	"github.com/relance-io/relance/schemas"
)

// Records encodes the events and orders them by event time across the
// three topics (stable: equal times keep the given order).
func Records(serde *schemas.Serde, invoices []schemas.Invoice, reminders []schemas.Reminder, payments []schemas.Payment) ([]*kgo.Record, error) {
	type timed struct {
		at  time.Time
		rec *kgo.Record
	}
	all := make([]timed, 0, len(invoices)+len(reminders)+len(payments))
	for i := range invoices {
		v := &invoices[i]
		b, err := serde.EncodeInvoice(v)
		if err != nil {
			return nil, fmt.Errorf("produce: invoice %s: %w", v.InvoiceID, err)
		}
		all = append(all, timed{v.IssuedAt, &kgo.Record{Topic: schemas.TopicInvoices, Key: []byte(v.CustomerID), Value: b}})
	}
	for i := range reminders {
		v := &reminders[i]
		b, err := serde.EncodeReminder(v)
		if err != nil {
			return nil, fmt.Errorf("produce: reminder %s: %w", v.ReminderID, err)
		}
		all = append(all, timed{v.SentAt, &kgo.Record{Topic: schemas.TopicReminders, Key: []byte(v.CustomerID), Value: b}})
	}
	for i := range payments {
		v := &payments[i]
		b, err := serde.EncodePayment(v)
		if err != nil {
			return nil, fmt.Errorf("produce: payment %s: %w", v.PaymentID, err)
		}
		all = append(all, timed{v.PaidAt, &kgo.Record{Topic: schemas.TopicPayments, Key: []byte(v.CustomerID), Value: b}})
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].at.Before(all[j].at) })
	out := make([]*kgo.Record, len(all))
	for i := range all {
		out[i] = all[i].rec
	}
	return out, nil
}

// Ends are, per topic and partition, the offset after the last record
// produced: what a consumer must reach to have read everything.
type Ends map[string]map[int32]int64

// Send produces recs in order with cl and waits for every ack; bar (nil for
// none) counts the acknowledged records. It returns the first produce
// error, after the others have finished.
func Send(ctx context.Context, cl *kgo.Client, recs []*kgo.Record, bar *progress.Bar) (Ends, error) {
	var (
		mu    sync.Mutex
		ends  = Ends{}
		first error
	)
	for _, r := range recs {
		cl.Produce(ctx, r, func(r *kgo.Record, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if first == nil {
					first = fmt.Errorf("produce: to %s: %w", r.Topic, err)
				}
				return
			}
			if ends[r.Topic] == nil {
				ends[r.Topic] = map[int32]int64{}
			}
			ends[r.Topic][r.Partition] = max(ends[r.Topic][r.Partition], r.Offset+1)
			bar.Add(1)
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return nil, err
	}
	mu.Lock()
	defer mu.Unlock()
	if first != nil {
		return nil, first
	}
	return ends, nil
}
