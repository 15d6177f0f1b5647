package csvimport

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/relance-io/relance/progress"
	"github.com/relance-io/relance/schemas"
)

// Records encodes the events in the Confluent wire format (schema ids of
// serde's registry), keyed by customer id so that a customer's reminders
// and payments land in the same partition number of the co-partitioned
// topics, and orders them by event time across the three topics (stable:
// equal times keep file order), as a live system would have sent them.
func Records(serde *schemas.Serde, res *Result) ([]*kgo.Record, error) {
	type timed struct {
		at  time.Time
		rec *kgo.Record
	}
	var all []timed
	for i := range res.Invoices {
		v := &res.Invoices[i]
		b, err := serde.EncodeInvoice(v)
		if err != nil {
			return nil, fmt.Errorf("csvimport: invoice %s: %w", v.InvoiceID, err)
		}
		all = append(all, timed{v.IssuedAt, &kgo.Record{Topic: schemas.TopicInvoices, Key: []byte(v.CustomerID), Value: b}})
	}
	for i := range res.Reminders {
		v := &res.Reminders[i]
		b, err := serde.EncodeReminder(v)
		if err != nil {
			return nil, fmt.Errorf("csvimport: reminder %s: %w", v.ReminderID, err)
		}
		all = append(all, timed{v.SentAt, &kgo.Record{Topic: schemas.TopicReminders, Key: []byte(v.CustomerID), Value: b}})
	}
	for i := range res.Payments {
		v := &res.Payments[i]
		b, err := serde.EncodePayment(v)
		if err != nil {
			return nil, fmt.Errorf("csvimport: payment %s: %w", v.PaymentID, err)
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
// produced: what a consumer must reach to have read the import.
type Ends map[string]map[int32]int64

// Produce produces recs in order with cl and waits for every ack; bar (nil
// for none) counts the acknowledged records. It returns the first produce
// error, after the others have finished.
func Produce(ctx context.Context, cl *kgo.Client, recs []*kgo.Record, bar *progress.Bar) (Ends, error) {
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
					first = fmt.Errorf("csvimport: producing to %s: %w", r.Topic, err)
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

// WriteRejects writes the rejects as CSV: a header, then per rejected row
// its file, line, reason, detail, and the row's cells as one CSV line
// (comma-separated, quoted as needed).
func (res *Result) WriteRejects(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"file", "line", "reason", "detail", "row"})
	for _, r := range res.Rejects {
		var b strings.Builder
		rw := csv.NewWriter(&b)
		rw.Write(r.Row)
		rw.Flush()
		cw.Write([]string{r.File, fmt.Sprint(r.Line), r.Reason, r.Detail, strings.TrimRight(b.String(), "\n")})
	}
	cw.Flush()
	return cw.Error()
}

// Rejected is the number of rejected rows.
func (res *Result) Rejected() int { return len(res.Rejects) }

// Events is the number of events made (records to produce).
func (res *Result) Events() int { return len(res.Reminders) + len(res.Payments) + len(res.Invoices) }

// WriteSummary prints one line per file: rows read, imported, rejected by
// reason, e.g.
//
//	payments.csv: 9 rows read, 7 imported as 5 payments, 2 rejected (bad_amount 1, payment_rejected 1)
func (res *Result) WriteSummary(w io.Writer) {
	for _, f := range res.Files {
		fmt.Fprintf(w, "%s: %d rows read, %d imported", f.Path, f.Rows, f.Imported)
		if f.Kind == KindPayments {
			fmt.Fprintf(w, " as %d payments", f.Events)
		}
		rejected := f.Rows - f.Imported
		fmt.Fprintf(w, ", %d rejected", rejected)
		if rejected > 0 {
			var parts []string
			for _, reason := range sortedKeys(f.Rejected) {
				parts = append(parts, fmt.Sprintf("%s %d", reason, f.Rejected[reason]))
			}
			fmt.Fprintf(w, " (%s)", strings.Join(parts, ", "))
		}
		fmt.Fprintln(w)
	}
}
