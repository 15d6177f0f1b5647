package ingest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/relance-io/relance/ingest"
	"github.com/relance-io/relance/schemas"
)

// Rule: a rejected record too large for the dead-letter topic once the
// headers are added is dead-lettered without its value and key (header
// relance.dropped says what was left out; the source headers say where to
// read it), and the pipeline goes on. It used to stop the consumer with
// MESSAGE_TOO_LARGE before anything was committed, so every restart met
// the same record again.
func TestConsumer_DeadLetterTooLargeGoesWithoutItsBody(t *testing.T) {
	st := newStack(t)
	store := newStore(t, "")
	day := time.Date(2026, 10, 5, 9, 0, 0, 0, time.UTC)
	rem := func(n string) schemas.Reminder {
		return schemas.Reminder{EventID: "ev-" + n, ReminderID: "rem-" + n, InvoiceID: "inv-" + n, CustomerID: "cust-1",
			SentAt: day, Channel: "email", Level: 1, AmountDueMinor: 100_00, Currency: "EUR", InvoiceDueDate: day}
	}
	big := rem("big")
	big.Currency = "XYZ" // unknown_currency
	// Fits the input topic (the producer's 1 000 012-byte batch limit);
	// the dead-letter headers take it over.
	big.Attributes = map[string]string{"note": strings.Repeat("y", 999_780)}
	value, err := st.serde.EncodeReminder(&big)
	if err != nil {
		t.Fatal(err)
	}
	good := rem("good")
	goodValue, err := st.serde.EncodeReminder(&good)
	if err != nil {
		t.Fatal(err)
	}
	e := ends{}
	st.produce(t, e, &kgo.Record{Topic: schemas.TopicReminders, Key: []byte("cust-1"), Value: value, Partition: 0},
		&kgo.Record{Topic: schemas.TopicReminders, Key: []byte("cust-1"), Value: goodValue})
	stats, err := st.consume(t, store, "too-large", e)
	if err != nil {
		t.Fatalf("RunUntil stopped on a dead letter too large for its topic: %v", err)
	}
	if stats.DeadLetters[schemas.ReasonUnknownCurrency] != 1 {
		t.Errorf("dead letters %v, want one unknown_currency", stats.DeadLetters)
	}
	if got := count(t, store, "SELECT count() FROM reminders FINAL WHERE reminder_id = 'rem-good'"); got != "1" {
		t.Errorf("the good reminder after it: %s rows, want 1", got)
	}
	dls := readDeadLetters(t, st, 1)
	h := map[string]string{}
	for _, x := range dls[0].Headers {
		h[x.Key] = string(x.Value)
	}
	if len(dls[0].Value) != 0 || len(dls[0].Key) != 0 || h[ingest.HeaderReason] != schemas.ReasonUnknownCurrency ||
		h[ingest.HeaderTopic] != schemas.TopicReminders || !strings.Contains(h[ingest.HeaderDropped], "bytes") {
		t.Errorf("dead letter: value %d bytes, key %q, headers %v; want no body, its reason, source and what was dropped", len(dls[0].Value), dls[0].Key, h)
	}
	if committed := st.committed(t, "too-large"); committed[schemas.TopicReminders] == nil {
		t.Errorf("nothing committed on %s: %v", schemas.TopicReminders, committed)
	}
}

// Rule: a reminder or payment whose record key is not its customer_id is
// used but counted (relance_ingest_key_mismatches_total, Stats): the join
// relies on both topics being partitioned by customer, and such a record
// may sit in a partition where its invoice's other events are not — the
// audit's payment keyed "cust-5" and reminder keyed "d" were never
// matched, with nothing to show why.
func TestConsumer_KeyOtherThanCustomerIsCounted(t *testing.T) {
	st := newStack(t)
	store := newStore(t, "")
	day := time.Date(2026, 10, 5, 9, 0, 0, 0, time.UTC)
	rem := schemas.Reminder{EventID: "ev-r", ReminderID: "rem-1", InvoiceID: "inv-1", CustomerID: "cust-1",
		SentAt: day, Channel: "email", Level: 1, AmountDueMinor: 100_00, Currency: "EUR", InvoiceDueDate: day}
	pay := schemas.Payment{EventID: "ev-p", PaymentID: "pay-1", CustomerID: "cust-1", PaidAt: day.Add(time.Hour),
		Currency: "EUR", Method: "transfer", Allocations: []schemas.Allocation{{InvoiceID: "inv-1", AmountMinor: 100_00}}}
	rv, err := st.serde.EncodeReminder(&rem)
	if err != nil {
		t.Fatal(err)
	}
	pv, err := st.serde.EncodePayment(&pay)
	if err != nil {
		t.Fatal(err)
	}
	e := ends{}
	st.produce(t, e, &kgo.Record{Topic: schemas.TopicReminders, Key: []byte("inv-1"), Value: rv},
		&kgo.Record{Topic: schemas.TopicPayments, Key: []byte("cust-1"), Value: pv})
	reg := prometheus.NewRegistry()
	stats, err := st.consume(t, store, "keys", e, ingest.Metrics(reg))
	if err != nil {
		t.Fatal(err)
	}
	if stats.KeyMismatches[schemas.TopicReminders] != 1 || stats.KeyMismatches[schemas.TopicPayments] != 0 {
		t.Errorf("key mismatches %v, want 1 on reminders (keyed by invoice), none on payments", stats.KeyMismatches)
	}
	for topic, want := range map[string]float64{schemas.TopicReminders: 1, schemas.TopicPayments: 0} {
		if got := sum(t, reg, "relance_ingest_key_mismatches_total", map[string]string{"topic": topic}); got != want {
			t.Errorf("relance_ingest_key_mismatches_total{topic=%q} = %v, want %v", topic, got, want)
		}
	}
	if got := count(t, store, "SELECT count() FROM reminders FINAL WHERE reminder_id = 'rem-1'"); got != "1" {
		t.Errorf("the reminder keyed by its invoice: %s rows, want 1 (used, only counted)", got)
	}
}

// Rule: a flush that cannot produce its dead letters (here the topic does
// not exist) and retries them makes the consumer not ready once it has
// lasted UnreachableAfter, saying why, and relance_ingest_ready says 0:
// the audit's stalled pipeline answered /readyz 200 for minutes, every
// gauge frozen, and no alert could fire.
func TestConsumer_DeadLettersBlockedMakeItNotReady(t *testing.T) {
	st, _ := newStackOn(t, ingest.Topics...)
	e := ends{}
	st.produce(t, e, &kgo.Record{Topic: schemas.TopicReminders, Key: []byte("C1"), Value: []byte("not avro")})
	reg := prometheus.NewRegistry()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := ingest.New(st.serde, newStore(t, ""), ingest.Brokers(st.brokers...), ingest.Group("g"), ingest.Metrics(reg),
		ingest.FlushInterval(50*time.Millisecond), ingest.UnreachableAfter(300*time.Millisecond), ingest.ShutdownTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var why string
	waitRunning(t, ctx, done, "not ready while dead letters cannot be produced", func() bool {
		var ok bool
		ok, why = c.Status()
		return !ok && strings.Contains(why, "producing dead letters to "+ingest.DefaultDeadLetterTopic)
	}, func() string { return why })
	if got := sum(t, reg, "relance_ingest_ready", nil); got != 0 {
		t.Errorf("relance_ingest_ready = %v while not ready, want 0", got)
	}
	cancel()
	<-done
}
