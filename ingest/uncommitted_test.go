package ingest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/relance-io/relance/ingest"
	"github.com/relance-io/relance/schemas"
	"github.com/relance-io/relance/stream"
)

// Rule: facts an owner wrote but never committed are retracted by the next
// owner when it credits otherwise. The first owner committed once, then
// found the reminders topic idle and credited P to A, the only reminder
// then; its commits failed from then on and it stopped. R, sent before P but produced late, was there for
// the second owner, which credits R. The store must keep R alone: the
// audit's crash loop found A's key left beside R's, P counted twice
// (+8.7 M in credited amounts on one book).
func TestConsumer_UncommittedFactsAreRetractedByTheNextOwner(t *testing.T) {
	st, kc := newStackOn(t, append(append([]string{}, ingest.Topics...), ingest.DefaultDeadLetterTopic)...)
	store := newStore(t, "")
	t0 := time.Date(2026, 10, 5, 9, 0, 0, 0, time.UTC)
	rem := func(id string, at time.Time, inv string) *kgo.Record {
		r := schemas.Reminder{EventID: "e-" + id, ReminderID: id, InvoiceID: inv, CustomerID: "C1", SentAt: at,
			Channel: "email", Level: 1, AmountDueMinor: 1000, Currency: "EUR", InvoiceDueDate: t0}
		v, err := st.serde.EncodeReminder(&r)
		if err != nil {
			t.Fatal(err)
		}
		return &kgo.Record{Topic: schemas.TopicReminders, Key: []byte("C1"), Value: v}
	}
	pay := func(id string, at time.Time, inv string) *kgo.Record {
		p := schemas.Payment{EventID: "e-" + id, PaymentID: id, CustomerID: "C1", PaidAt: at, Method: "transfer", Currency: "EUR",
			Allocations: []schemas.Allocation{{InvoiceID: inv, AmountMinor: 1000}}}
		v, err := st.serde.EncodePayment(&p)
		if err != nil {
			t.Fatal(err)
		}
		return &kgo.Record{Topic: schemas.TopicPayments, Key: []byte("C1"), Value: v}
	}
	e := ends{}
	st.produce(t, e, rem("A", t0, "I1"), pay("P", t0.Add(48*time.Hour), "I1"))
	opts := []ingest.Opt{ingest.Brokers(st.brokers...), ingest.Group("g"), ingest.FlushInterval(50 * time.Millisecond),
		ingest.IdleTimeout(200 * time.Millisecond), ingest.JoinerOpts(stream.AllowedLateness(0))}

	// The first owner: once it has committed, every commit fails; then Q
	// moves the watermark past P (the reminders topic is idle).
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	first, err := ingest.New(st.serde, store, opts...)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- first.Run(ctx) }()
	waitRunning(t, ctx, done, "a first commit", func() bool { return first.Stats().Commits > 0 }, func() string { return "no commit yet" })
	fault := kc.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetCommit}, Err: kerr.RebalanceInProgress, Count: 1 << 30})
	st.produce(t, e, pay("Q", t0.Add(120*time.Hour), "I9"))
	waitRunning(t, ctx, done, "P credited to A", func() bool {
		return count(t, store, "SELECT count() FROM attribution_facts FINAL WHERE payment_id = 'P' AND reminder_id = 'A'") != "0"
	}, func() string { return "no fact for P" })
	first.Close()
	<-done
	fault.Remove()

	// R, sent before P, produced after the first owner stopped.
	st.produce(t, e, rem("R", t0.Add(24*time.Hour), "I1"))
	if _, err := st.consume(t, store, "g", e, opts[1:]...); err != nil {
		t.Fatal(err)
	}
	got := query(t, store, "SELECT horizon || ' ' || reminder_id || ' ' || toString(credited_minor) FROM attribution_facts FINAL WHERE payment_id = 'P' ORDER BY horizon")
	if want := "15d R 1000,30d R 1000,7d R 1000"; strings.Join(got, ",") != want {
		t.Errorf("P's facts in the store: %v, want %s (R alone per horizon)", got, want)
	}
}
