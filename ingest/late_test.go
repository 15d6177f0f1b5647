package ingest_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/relance-io/relance/ingest"
	"github.com/relance-io/relance/schemas"
	"github.com/relance-io/relance/stream"
)

// Rule: late data is never silently dropped. An event behind the watermark
// on an invoice whose state is still held is applied exactly, as if it had
// come in order. On an invoice whose state was dropped, an event that can
// no longer match anything held (older than watermark - retention, and for
// a reminder also than its largest horizon) changes nothing and is written
// to late_events; a reminder in between is applied to what is held and
// written there as partially applied. Both are also logged (SPEC §3:
// counted, logged and written). The late events come after a restart, so
// they are judged by the watermark the previous run committed.
func TestConsumer_LateDataIsAppliedOrRecorded(t *testing.T) {
	st := newStack(t)
	store := newStore(t, "")
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	due := time.Date(2026, 2, 20, 0, 0, 0, 0, time.UTC)
	rem := func(id, inv string, at time.Time) *kgo.Record {
		b, err := st.serde.EncodeReminder(&schemas.Reminder{EventID: "e-" + id, ReminderID: id, InvoiceID: inv, CustomerID: "C1",
			SentAt: at, Channel: "email", Level: 1, Plan: "PME", Sender: "Ana", AmountDueMinor: 10_000, Currency: "EUR", InvoiceDueDate: due})
		if err != nil {
			t.Fatal(err)
		}
		return &kgo.Record{Topic: schemas.TopicReminders, Key: []byte("C1"), Value: b}
	}
	pay := func(id, inv string, at time.Time, amount int64) *kgo.Record {
		b, err := st.serde.EncodePayment(&schemas.Payment{EventID: "e-" + id, PaymentID: id, CustomerID: "C1", PaidAt: at,
			Method: "transfer", Currency: "EUR", Allocations: []schemas.Allocation{{InvoiceID: inv, AmountMinor: amount}}})
		if err != nil {
			t.Fatal(err)
		}
		return &kgo.Record{Topic: schemas.TopicPayments, Key: []byte("C1"), Value: b}
	}
	opts := ingest.JoinerOpts(stream.AllowedLateness(time.Hour), stream.Retention(2*day))
	e := ends{}
	st.produce(t, e,
		rem("R0", "I0", t0.Add(-40*day)), // I0's state is dropped once the watermark passes t0-8d
		rem("R1", "I1", t0), pay("P1", "I1", t0.Add(3*day), 4_000),
		rem("R2", "I2", t0.Add(10*day)), pay("P2", "I2", t0.Add(12*day), 1_000),
		rem("R3", "I3", t0.Add(20*day)), pay("P3", "I3", t0.Add(20*day), 500),
	)
	if _, err := st.consume(t, store, "late", e, opts); err != nil {
		t.Fatal(err)
	}
	// The watermark is now t0+20d.
	st.produce(t, e,
		pay("P4", "I2", t0.Add(19*day), 2_000), // I2 held: exact
		rem("R4", "I1", t0.Add(1*day)),         // I1 held (R1 lives to t0+32d): exact, takes P1
		pay("P5", "I1", t0.Add(2*day), 3_000),  // I1 held: exact
		pay("P6", "I0", t0.Add(-39*day), 700),  // I0 dropped: beyond retention
		rem("R5", "I5", t0.Add(-20*day)),       // no state, t0-20d+30d+2d < t0+20d: beyond retention
		rem("R6", "I6", t0.Add(10*day)),        // no state, before t0+18d but within 30d+2d: partially applied
	)
	logs := &logRecorder{}
	stats, err := st.consume(t, store, "late", e, opts, ingest.Logger(slog.New(logs)))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := logs.lateLines(), []string{
		"e-P6 beyond_retention payments",
		"e-R5 beyond_retention reminders",
		"e-R6 partially_applied reminders",
	}; !slices.Equal(got, want) {
		t.Errorf("late events logged: %q, want %q", got, want)
	}
	if stats.Joiner.TooLate != 2 || stats.Joiner.PartlyLate != 1 {
		t.Errorf("TooLate = %d, PartlyLate = %d; want 2 (P6, R5) and 1 (R6)", stats.Joiner.TooLate, stats.Joiner.PartlyLate)
	}
	if got, want := query(t, store, "SELECT topic, event_id, reason FROM late_events FINAL ORDER BY event_id"), []string{
		"payments\te-P6\tbeyond_retention",
		"reminders\te-R5\tbeyond_retention",
		"reminders\te-R6\tpartially_applied",
	}; !slices.Equal(got, want) {
		t.Errorf("late_events = %q, want %q", got, want)
	}
	got := query(t, store, "SELECT payment_id, horizon, reminder_id, credited_minor FROM attribution_facts FINAL WHERE payment_id IN ('P1','P4','P5','P6') ORDER BY ALL")
	want := []string{
		"P1\t15d\tR4\t4000", "P1\t30d\tR4\t4000", "P1\t7d\tR4\t4000",
		"P4\t15d\tR2\t2000", "P4\t30d\tR2\t2000", "P4\t7d\t\t0",
		"P5\t15d\tR4\t3000", "P5\t30d\tR4\t3000", "P5\t7d\tR4\t3000",
	}
	if !slices.Equal(got, want) {
		t.Errorf("facts:\n%s", diff(got, want))
	}
}

// Rule: a flood of late events (a backfill of old history) is logged
// without drowning the logs: the first ones of a batch one line each, the
// rest of the batch as a count on one line, so that every late event is
// either named or counted, and the lines stay few.
func TestConsumer_LateEventFloodIsLoggedWithACap(t *testing.T) {
	st := newStack(t)
	store := newStore(t, "")
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	due := time.Date(2026, 2, 20, 0, 0, 0, 0, time.UTC)
	rem := func(id string, at time.Time) *kgo.Record {
		b, err := st.serde.EncodeReminder(&schemas.Reminder{EventID: "e-" + id, ReminderID: id, InvoiceID: "I-" + id, CustomerID: "C1",
			SentAt: at, Channel: "email", Level: 1, Plan: "PME", Sender: "Ana", AmountDueMinor: 10_000, Currency: "EUR", InvoiceDueDate: due})
		if err != nil {
			t.Fatal(err)
		}
		return &kgo.Record{Topic: schemas.TopicReminders, Key: []byte("C1"), Value: b}
	}
	b, err := st.serde.EncodePayment(&schemas.Payment{EventID: "e-P", PaymentID: "P", CustomerID: "C1", PaidAt: t0,
		Method: "transfer", Currency: "EUR", Allocations: []schemas.Allocation{{InvoiceID: "I-R", AmountMinor: 100}}})
	if err != nil {
		t.Fatal(err)
	}
	// A first run with R and P commits a watermark of t0; then come 60
	// reminders from 60 days before on invoices without state: beyond
	// retention (2d + the largest horizon, 30d).
	opts := ingest.JoinerOpts(stream.AllowedLateness(time.Hour), stream.Retention(2*day))
	e := ends{}
	st.produce(t, e, rem("R", t0), &kgo.Record{Topic: schemas.TopicPayments, Key: []byte("C1"), Value: b})
	if _, err := st.consume(t, store, "late-flood", e, opts); err != nil {
		t.Fatal(err)
	}
	const flood = 60
	var recs []*kgo.Record
	for i := range flood {
		recs = append(recs, rem("old"+strconv.Itoa(i), t0.Add(-60*day)))
	}
	st.produce(t, e, recs...)
	logs := &logRecorder{}
	stats, err := st.consume(t, store, "late-flood", e, opts, ingest.Logger(slog.New(logs)))
	if err != nil {
		t.Fatal(err)
	}
	if stats.Joiner.TooLate != flood {
		t.Fatalf("TooLate = %d, want %d", stats.Joiner.TooLate, flood)
	}
	if n := count(t, store, "SELECT count() FROM late_events FINAL"); n != strconv.Itoa(flood) {
		t.Errorf("%s late events written, want %d", n, flood)
	}
	named := len(logs.lateLines())
	counted, summaries := logs.lateSummaries()
	if named+counted != flood {
		t.Errorf("%d late events logged by name and %d counted in %d summary lines, want %d in all", named, counted, summaries, flood)
	}
	if named == 0 || named+summaries >= flood/2 {
		t.Errorf("%d lines named a late event and %d summed up the rest, for %d late events: want some named and far fewer lines than events", named, summaries, flood)
	}
}

// logRecorder is a slog.Handler that keeps every record, for tests that
// check what is logged.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r.Clone())
	return nil
}

// warnings returns the records at level Warn or above that have an
// attribute key, as maps of their attributes (and "msg").
func (l *logRecorder) warnings(key string) []map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]string
	for _, r := range l.recs {
		if r.Level < slog.LevelWarn {
			continue
		}
		m := map[string]string{"msg": r.Message}
		r.Attrs(func(a slog.Attr) bool {
			m[a.Key] = a.Value.String()
			return true
		})
		if _, ok := m[key]; ok {
			out = append(out, m)
		}
	}
	return out
}

// lateLines are the warnings naming one late event, as "event_id reason
// topic", sorted.
func (l *logRecorder) lateLines() []string {
	var out []string
	for _, m := range l.warnings("event_id") {
		if m["reason"] != "" {
			out = append(out, fmt.Sprintf("%s %s %s", m["event_id"], m["reason"], m["topic"]))
		}
	}
	slices.Sort(out)
	return out
}

// lateSummaries returns how many late events the warnings without a name
// counted, and how many such warnings there were.
func (l *logRecorder) lateSummaries() (counted, lines int) {
	for _, m := range l.warnings("count") {
		if n, err := strconv.Atoi(m["count"]); err == nil {
			counted += n
			lines++
		}
	}
	return counted, lines
}
