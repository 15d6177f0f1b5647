package ingest_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/relance-io/relance/ingest"
	"github.com/relance-io/relance/schemas"
)

// Rule: a partition whose reminders input says nothing does not hold its
// payments back forever: after the idle timeout the watermark follows the
// payments alone and their facts are written, while the consumer keeps
// running (Run, not a bounded RunUntil that flushes at the end).
func TestConsumer_IdleInputDoesNotStallOutput(t *testing.T) {
	st := newStack(t)
	store := newStore(t, "")
	t0 := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	var recs []*kgo.Record
	for i, at := range []time.Time{t0, t0.Add(72 * time.Hour)} {
		id := []string{"P1", "P2"}[i]
		b, err := st.serde.EncodePayment(&schemas.Payment{EventID: "e-" + id, PaymentID: id, CustomerID: "C7", PaidAt: at,
			Method: "card", Currency: "EUR", Allocations: []schemas.Allocation{{InvoiceID: "I-" + id, AmountMinor: 1234}}})
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: schemas.TopicPayments, Key: []byte("C7"), Value: b})
	}
	st.produce(t, ends{}, recs...)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := ingest.New(st.serde, store, ingest.Brokers(st.brokers...), ingest.Group("idle"),
		ingest.FlushInterval(100*time.Millisecond), ingest.IdleTimeout(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	// P1 (t0) is 72h behind the newest payment: past the default 24h
	// lateness, its facts are due as soon as the reminders input counts as
	// idle. P2 stays pending: nothing is known past it.
	for {
		if n := count(t, store, "SELECT count() FROM attribution_facts FINAL WHERE payment_id = 'P1'"); n == "3" {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("Run returned before P1's facts were written: %v", err)
		case <-ctx.Done():
			t.Fatal("P1's facts were never written: the idle reminders input stalls the partition")
		case <-time.After(100 * time.Millisecond):
		}
	}
	if n := count(t, store, "SELECT count() FROM attribution_facts FINAL WHERE payment_id = 'P2'"); n != "0" {
		t.Errorf("P2 has %s facts; it is within the allowed lateness of the newest event and must wait", n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run on shutdown: %v", err)
	}
}
