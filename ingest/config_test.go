package ingest_test

import (
	"context"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/relance-io/relance/ingest"
	"github.com/relance-io/relance/schemas"
)

// Rule: MaxFutureSkew decides how far past the wall clock an event time may
// be: an event within the configured skew is used even beyond the 7-day
// default, and one beyond it is dead-lettered as far_future_timestamp even
// within the default.
func TestConsumer_MaxFutureSkewIsHonoured(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ahead  time.Duration
		skew   time.Duration
		reason string // "" when the payment must be written
	}{
		{"WiderThanDefault", 30 * 24 * time.Hour, 60 * 24 * time.Hour, ""},
		{"NarrowerThanDefault", 2 * 24 * time.Hour, time.Hour, schemas.ReasonFarFutureTimestamp},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newStack(t)
			store := newStore(t, "")
			p := schemas.Payment{
				EventID: "pay-ev-1", PaymentID: "pay-1", CustomerID: "cust-1",
				PaidAt: time.Now().Add(tc.ahead).Truncate(time.Millisecond), Method: "transfer", Currency: "EUR",
				Allocations: []schemas.Allocation{{InvoiceID: "inv-1", AmountMinor: 100}},
			}
			b, err := st.serde.EncodePayment(&p)
			if err != nil {
				t.Fatal(err)
			}
			e := ends{}
			st.produce(t, e, &kgo.Record{Topic: schemas.TopicPayments, Key: []byte("cust-1"), Value: b})
			stats, err := st.consume(t, store, "g", e, ingest.MaxFutureSkew(tc.skew))
			if err != nil {
				t.Fatal(err)
			}
			written := count(t, store, "SELECT count() FROM payment_allocations FINAL")
			if tc.reason == "" {
				if written != "1" || total(stats.DeadLetters) != 0 {
					t.Errorf("payment %s ahead with MaxFutureSkew(%s): %s rows written, dead letters %v; want it written",
						tc.ahead, tc.skew, written, stats.DeadLetters)
				}
				return
			}
			if written != "0" || stats.DeadLetters[tc.reason] != 1 {
				t.Errorf("payment %s ahead with MaxFutureSkew(%s): %s rows written, dead letters %v; want it dead-lettered as %s",
					tc.ahead, tc.skew, written, stats.DeadLetters, tc.reason)
			}
		})
	}
}

// Rule: a record whose writer schema cannot be fetched because the registry
// is down is not bad input: the consumer waits the outage out and then
// writes it; it is never dead-lettered as registry_unavailable
// (schemas.DecodeError.Retryable).
func TestConsumer_RegistryOutageIsWaitedOut(t *testing.T) {
	st := newStack(t)
	store := newStore(t, "")
	ctx := context.Background()

	value := newWriterVersion(t, ctx, st)

	// The registry answers 503 for the first second of the run.
	var outageEnd atomic.Int64
	st.reg.Intercept(func(w http.ResponseWriter, req *http.Request) bool {
		if time.Now().UnixNano() < outageEnd.Load() {
			http.Error(w, `{"error_code":50003,"message":"unavailable"}`, http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	serde, err := schemas.NewSerde(ctx, st.src, schemas.FetchTimeout(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	e := ends{}
	st.produce(t, e, &kgo.Record{Topic: schemas.TopicReminders, Key: []byte("cust-1"), Value: value})
	outageEnd.Store(time.Now().Add(time.Second).UnixNano())
	stats, err := st.consumeWith(t, serde, store, "g", e)
	if err != nil {
		t.Fatal(err)
	}
	if n := total(stats.DeadLetters); n != 0 {
		t.Errorf("%d dead letters during a registry outage: %v", n, stats.DeadLetters)
	}
	if got := query(t, store, "SELECT event_id FROM reminders FINAL"); strings.Join(got, ",") != "rem-ev-1" {
		t.Errorf("reminders in the store after the outage: %v, want rem-ev-1", got)
	}
}

// Rule: reminders and payments with different partition counts are refused
// with an error that says why and what to do, instead of a join that
// silently misses payments (partition p would hold other customers).
func TestConsumer_TopicsNotCoPartitionedAreRefused(t *testing.T) {
	st := newStack(t)
	req := kmsg.NewPtrCreatePartitionsRequest()
	rt := kmsg.NewCreatePartitionsRequestTopic()
	rt.Topic, rt.Count = schemas.TopicPayments, 3
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 5000
	resp, err := req.RequestWith(context.Background(), st.cl)
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		t.Fatal(err)
	}
	e := ends{}
	st.produce(t, e, st.records(t, dataset(t, 5))...)
	_, err = st.consume(t, newStore(t, ""), "g", e)
	if err == nil || !strings.Contains(err.Error(), "reminders has 2 partitions and payments has 3") || !strings.Contains(err.Error(), "co-partitioned") {
		t.Fatalf("got %v, want an error naming both partition counts", err)
	}
}

// Rule: once the group has committed, adding partitions to the joined
// topics (both, so they stay co-partitioned) is refused with an error
// that says why and what to do. Customers' keys then hash to other
// partitions than their earlier events, and the audit saw matched facts
// drop by 2 % with no warning.
func TestConsumer_PartitionsAddedAfterCommitsAreRefused(t *testing.T) {
	st := newStack(t)
	store := newStore(t, "")
	ds := dataset(t, 5)
	recs := st.records(t, ds)
	e := ends{}
	st.produce(t, e, recs[:len(recs)/2]...)
	if _, err := st.consume(t, store, "g", e); err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrCreatePartitionsRequest()
	for _, topic := range []string{schemas.TopicReminders, schemas.TopicPayments} {
		rt := kmsg.NewCreatePartitionsRequestTopic()
		rt.Topic, rt.Count = topic, 3
		req.Topics = append(req.Topics, rt)
	}
	req.TimeoutMillis = 5000
	resp, err := req.RequestWith(context.Background(), st.cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range resp.Topics {
		if err := kerr.ErrorForCode(rt.ErrorCode); err != nil {
			t.Fatal(err)
		}
	}
	st.produce(t, e, recs[len(recs)/2:]...)
	_, err = st.consume(t, store, "g", e)
	if err == nil || !strings.Contains(err.Error(), "has 3 partitions") || !strings.Contains(err.Error(), "when it had 2") {
		t.Fatalf("got %v, want an error naming the old and the new partition count", err)
	}
}

// Rule: a record that waits for the schema registry (down, or refusing
// the credentials with 403) for UnreachableAfter makes the consumer not
// ready, saying why; it is ready again, and the record written, once the
// registry answers. Waiting held the lock Status reads under, so /readyz
// kept its last answer (ready) for as long as the registry refused.
func TestConsumer_RegistryRefusingMakesItNotReady(t *testing.T) {
	st := newStack(t)
	store := newStore(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	value := newWriterVersion(t, ctx, st)

	var refusing atomic.Bool
	refusing.Store(true)
	st.reg.Intercept(func(w http.ResponseWriter, req *http.Request) bool {
		if refusing.Load() && strings.HasPrefix(req.URL.Path, "/schemas/ids/") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"error_code":40301,"message":"User is denied operation Read on Subject"}`))
			return true
		}
		return false
	})
	serde, err := schemas.NewSerde(ctx, st.src, schemas.FetchTimeout(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	e := ends{}
	st.produce(t, e, &kgo.Record{Topic: schemas.TopicReminders, Key: []byte("cust-1"), Value: value})
	c, err := ingest.New(serde, store, ingest.Brokers(st.brokers...), ingest.Group("refused"),
		ingest.FlushInterval(100*time.Millisecond), ingest.UnreachableAfter(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	done := make(chan error, 1)
	go func() { done <- c.RunUntil(ctx, e) }()
	var why string
	waitRunning(t, ctx, done, "not ready because of the registry", func() bool {
		var ok bool
		ok, why = c.Status()
		return !ok && strings.Contains(why, "schema registry") && strings.Contains(why, "denied")
	}, func() string { return why })
	refusing.Store(false)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if ok, why := c.Status(); !ok {
		t.Errorf("not ready once the registry answers: %s", why)
	}
	if got := count(t, store, "SELECT count() FROM reminders FINAL"); got != "1" {
		t.Errorf("%s reminders written after the registry answered, want 1", got)
	}
}

// newWriterVersion registers a second version of the reminder schema (an
// added field with a default) and returns a reminder written with it:
// unknown to a Serde until a record using it arrives, when the reader
// fetches it from the registry.
func newWriterVersion(t *testing.T, ctx context.Context, st *stack) []byte {
	t.Helper()
	avsc, err := os.ReadFile("../schemas/reminder.avsc")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.TrimSpace(string(avsc))
	i := strings.LastIndex(text, "]")
	v2 := text[:i] + `, {"name": "note", "type": "string", "default": ""}` + text[i:]
	ss, err := st.src.CreateSchema(ctx, schemas.Subject(schemas.TopicReminders), sr.Schema{Schema: v2, Type: sr.TypeAvro})
	if err != nil {
		t.Fatal(err)
	}
	r := schemas.Reminder{
		EventID: "rem-ev-1", ReminderID: "rem-1", InvoiceID: "inv-1", CustomerID: "cust-1",
		SentAt: time.Date(2026, 10, 5, 9, 0, 0, 0, time.UTC), Channel: "email", Level: 1, Plan: "PME", Sender: "alice",
		AmountDueMinor: 100_00, Currency: "EUR", InvoiceDueDate: time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC),
	}
	v1, err := st.serde.EncodeReminder(&r)
	if err != nil {
		t.Fatal(err)
	}
	var h sr.ConfluentHeader
	value, _ := h.AppendEncode(nil, ss.ID, nil)
	return append(append(value, v1[5:]...), 0) // note = ""
}
