package ingest_test

import (
	"bytes"
	"context"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/relance-io/relance/ingest"
	"github.com/relance-io/relance/schemas"
)

// Rule (SPEC §7): bad input — undecodable bytes, a foreign framing, an
// unknown schema id, the wrong record type on a topic, and events that decode
// but are unusable (missing ids, negative or overflowing amounts, unknown
// currency, zero or far-future timestamps, no allocations) — goes to the
// dead-letter topic exactly once, unchanged, with the reason and its origin
// in headers and a counter per reason. The pipeline never stops on it, and
// the good events around it are all written, and nothing bad is.
func TestConsumer_BadInputGoesToDeadLetters(t *testing.T) {
	st := newStack(t)
	store := newStore(t, "")
	day := time.Date(2026, 10, 5, 9, 0, 0, 0, time.UTC)
	reminder := func(i int) schemas.Reminder {
		n := strconv.Itoa(i)
		return schemas.Reminder{
			EventID: "rem-ev-" + n, ReminderID: "rem-" + n, InvoiceID: "inv-" + n, CustomerID: "cust-" + n,
			SentAt: day.Add(time.Duration(i) * time.Hour), Channel: "email", Level: 1, Plan: "PME", Sender: "alice",
			AmountDueMinor: 100_00, Currency: "EUR", InvoiceDueDate: time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC),
		}
	}
	payment := func(i int) schemas.Payment {
		n := strconv.Itoa(i)
		return schemas.Payment{
			EventID: "pay-ev-" + n, PaymentID: "pay-" + n, CustomerID: "cust-" + n,
			PaidAt: day.Add(48*time.Hour + time.Duration(i)*time.Hour), Method: "transfer", Currency: "EUR",
			Allocations: []schemas.Allocation{{InvoiceID: "inv-" + n, AmountMinor: 100_00}},
		}
	}
	encR := func(r schemas.Reminder) []byte {
		b, err := st.serde.EncodeReminder(&r)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	encP := func(p schemas.Payment) []byte {
		b, err := st.serde.EncodePayment(&p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	rec := func(topic, key string, v []byte) *kgo.Record {
		return &kgo.Record{Topic: topic, Key: []byte(key), Value: v}
	}

	// Good events: four reminders and three payments of their invoices.
	var good []*kgo.Record
	for i := 1; i <= 4; i++ {
		good = append(good, rec(schemas.TopicReminders, "cust-"+strconv.Itoa(i), encR(reminder(i))))
	}
	for i := 1; i <= 3; i++ {
		good = append(good, rec(schemas.TopicPayments, "cust-"+strconv.Itoa(i), encP(payment(i))))
	}

	// Bad records, each with the reason it must be dead-lettered with.
	wrongMagic := encP(payment(90))
	wrongMagic[0] = 1
	var unknownID sr.ConfluentHeader
	unknownIDValue, _ := unknownID.AppendEncode(nil, 9999, nil)
	unknownIDValue = append(unknownIDValue, encR(reminder(91))[5:]...)
	noInvoice := reminder(92)
	noInvoice.InvoiceID = ""
	noEventID := reminder(93)
	noEventID.EventID = ""
	xxx := reminder(94)
	xxx.Currency = "XXX"
	zeroTime := reminder(95)
	zeroTime.SentAt = time.UnixMilli(0)
	negative := payment(96)
	negative.Allocations = []schemas.Allocation{{InvoiceID: "inv-96", AmountMinor: 10}, {InvoiceID: "inv-97", AmountMinor: -1}}
	future := payment(97)
	future.PaidAt = time.Now().AddDate(1, 0, 0)
	empty := payment(98)
	empty.Allocations = nil
	overflow := payment(99)
	overflow.Allocations = []schemas.Allocation{{InvoiceID: "inv-99", AmountMinor: math.MaxInt64}, {InvoiceID: "inv-98", AmountMinor: 1}}
	bad := []struct {
		rec    *kgo.Record
		reason string
	}{
		{rec(schemas.TopicReminders, "cust-x", []byte("this is not avro")), schemas.ReasonBadMagic},
		{rec(schemas.TopicPayments, "cust-x", wrongMagic), schemas.ReasonBadMagic},
		{rec(schemas.TopicReminders, "cust-x", []byte{0, 0}), schemas.ReasonBadMagic},
		{rec(schemas.TopicInvoices, "cust-x", []byte{}), schemas.ReasonBadMagic},
		{rec(schemas.TopicReminders, "cust-x", unknownIDValue), schemas.ReasonUnknownSchemaID},
		{rec(schemas.TopicReminders, "cust-x", encP(payment(1))), schemas.ReasonWrongSchema},
		{rec(schemas.TopicPayments, "cust-x", append(encP(payment(2)), 0xff, 0xff)), schemas.ReasonAvroDecode},
		{rec(schemas.TopicReminders, "cust-x", encR(noInvoice)), schemas.ReasonMissingInvoiceID},
		{rec(schemas.TopicReminders, "cust-x", encR(noEventID)), schemas.ReasonMissingEventID},
		{rec(schemas.TopicReminders, "cust-x", encR(xxx)), schemas.ReasonUnknownCurrency},
		{rec(schemas.TopicReminders, "cust-x", encR(zeroTime)), schemas.ReasonZeroTimestamp},
		{rec(schemas.TopicPayments, "cust-x", encP(negative)), schemas.ReasonNegativeAmount},
		{rec(schemas.TopicPayments, "cust-x", encP(future)), schemas.ReasonFarFutureTimestamp},
		{rec(schemas.TopicPayments, "cust-x", encP(empty)), schemas.ReasonEmptyAllocations},
		{rec(schemas.TopicPayments, "cust-x", encP(overflow)), schemas.ReasonAmountOverflow},
	}

	// Interleave: the bad records sit between good ones on the same topics.
	e := ends{}
	for i := range max(len(good), len(bad)) {
		if i < len(bad) {
			st.produce(t, e, bad[i].rec)
		}
		if i < len(good) {
			st.produce(t, e, good[i])
		}
	}

	stats, err := st.consume(t, store, "bad-input", e)
	if err != nil {
		t.Fatalf("RunUntil stopped on bad input: %v", err)
	}
	if got, want := total(stats.Records), uint64(len(good)+len(bad)); got != want {
		t.Errorf("read %d records, produced %d", got, want)
	}
	wantCounts := map[string]uint64{}
	for _, b := range bad {
		wantCounts[b.reason]++
	}
	if len(stats.DeadLetters) != len(wantCounts) {
		t.Errorf("dead-letter counters %v, want %v", stats.DeadLetters, wantCounts)
	}
	for reason, n := range wantCounts {
		if stats.DeadLetters[reason] != n {
			t.Errorf("dead-letter counter %q = %d, want %d (all: %v)", reason, stats.DeadLetters[reason], n, stats.DeadLetters)
		}
	}

	// The dead-letter topic holds every bad record exactly once.
	type origin struct {
		topic string
		p     int32
		off   int64
	}
	dead := readDeadLetters(t, st, len(bad))
	seen := map[origin]bool{}
	for _, d := range dead {
		h := map[string]string{}
		for _, kv := range d.Headers {
			h[kv.Key] = string(kv.Value)
		}
		p, perr := strconv.ParseInt(h[ingest.HeaderPartition], 10, 32)
		off, oerr := strconv.ParseInt(h[ingest.HeaderOffset], 10, 64)
		if perr != nil || oerr != nil {
			t.Errorf("dead letter with bad origin headers %v", h)
			continue
		}
		o := origin{h[ingest.HeaderTopic], int32(p), off}
		if seen[o] {
			t.Errorf("record %v dead-lettered twice", o)
		}
		seen[o] = true
		var src *kgo.Record
		var reason string
		for _, b := range bad {
			if b.rec.Topic == o.topic && b.rec.Partition == o.p && b.rec.Offset == o.off {
				src, reason = b.rec, b.reason
			}
		}
		if src == nil {
			t.Errorf("dead letter for %v, which is not a bad record (reason %q, error %q)", o, h[ingest.HeaderReason], h[ingest.HeaderError])
			continue
		}
		if h[ingest.HeaderReason] != reason {
			t.Errorf("%v: reason %q, want %q (error %q)", o, h[ingest.HeaderReason], reason, h[ingest.HeaderError])
		}
		if h[ingest.HeaderError] == "" {
			t.Errorf("%v: empty %s header", o, ingest.HeaderError)
		}
		if !bytes.Equal(d.Key, src.Key) || !bytes.Equal(d.Value, src.Value) {
			t.Errorf("%v: dead letter key/value changed: %q/%x, produced %q/%x", o, d.Key, d.Value, src.Key, src.Value)
		}
	}
	for _, b := range bad {
		if o := (origin{b.rec.Topic, b.rec.Partition, b.rec.Offset}); !seen[o] {
			t.Errorf("bad record %v (%s) is not in the dead-letter topic", o, b.reason)
		}
	}

	// Every good event is in the store, and nothing else.
	if got := query(t, store, "SELECT event_id FROM reminders FINAL ORDER BY event_id"); strings.Join(got, ",") != "rem-ev-1,rem-ev-2,rem-ev-3,rem-ev-4" {
		t.Errorf("reminders in the store: %v, want rem-ev-1..4", got)
	}
	if got := query(t, store, "SELECT event_id, allocation_index FROM payment_allocations FINAL ORDER BY ALL"); strings.Join(got, ",") != "pay-ev-1\t0,pay-ev-2\t0,pay-ev-3\t0" {
		t.Errorf("payment allocations in the store: %v, want pay-ev-1..3, one allocation each", got)
	}
	if n := count(t, store, "SELECT count() FROM invoices FINAL"); n != "0" {
		t.Errorf("%s invoices in the store, produced none valid", n)
	}
	if n := count(t, store, "SELECT count() FROM late_events FINAL"); n != "0" {
		t.Errorf("%s late events in the store, want 0", n)
	}
	// The good payments were joined with their reminders (one row per horizon).
	if got := query(t, store, "SELECT DISTINCT payment_id, reminder_id, credited_minor FROM attribution_facts FINAL ORDER BY ALL"); strings.Join(got, ",") != "pay-1\trem-1\t10000,pay-2\trem-2\t10000,pay-3\trem-3\t10000" {
		t.Errorf("facts %v, want pay-1..3 credited to rem-1..3", got)
	}
}

// readDeadLetters reads the dead-letter topic from the start with a client of
// its own until it holds want records, then briefly for any extra one.
func readDeadLetters(t *testing.T, st *stack, want int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(st.brokers...),
		kgo.ConsumeTopics(ingest.DefaultDeadLetterTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	deadline := time.Now().Add(5 * time.Second)
	for extra := false; ; {
		wait := time.Until(deadline)
		if len(out) >= want {
			if extra {
				return out
			}
			extra, wait = true, 300*time.Millisecond
		}
		if wait <= 0 {
			t.Fatalf("the dead-letter topic holds %d records, want %d", len(out), want)
		}
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachError(func(topic string, p int32, err error) {
			if ctx.Err() == nil {
				t.Fatalf("reading %s/%d: %v", topic, p, err)
			}
		})
		out = append(out, fs.Records()...)
	}
}

// Rule: a consumer restarted in the same group resumes from the group's
// commits, and the facts in the store are then exactly those of a single
// uninterrupted run over all the events: commits never run ahead of what is
// written (nothing is lost) and what the restart reads again is absorbed by
// the store's keys (nothing is doubled). Commits stay within what was read.
func TestConsumer_RestartResumesWithIdenticalFacts(t *testing.T) {
	t.Run("from a snapshot", func(t *testing.T) { restartResumes(t) })
	t.Run("by replay, snapshots off", func(t *testing.T) { restartResumes(t, ingest.Snapshots("", 0)) })
}

func restartResumes(t *testing.T, opts ...ingest.Opt) {
	st := newStack(t)
	recs := st.records(t, dataset(t, 5))
	half := len(recs) / 2

	store := newStore(t, "restarted")
	first := ends{}
	st.produce(t, first, recs[:half]...)
	if _, err := st.consume(t, store, "g", first, opts...); err != nil {
		t.Fatal(err)
	}
	com := st.committed(t, "g")
	for topic, ps := range com {
		for p, at := range ps {
			if end, ok := first[topic][p]; !ok || at > end {
				t.Errorf("committed %s/%d at %d, beyond the %d records read", topic, p, at, end)
			}
		}
	}
	for topic, ps := range first {
		for p, end := range ps {
			at, ok := com[topic][p]
			switch {
			case !ok:
				t.Errorf("nothing committed on %s/%d after reading it to %d", topic, p, end)
			case topic == schemas.TopicInvoices && at != end:
				// Invoices hold no join state: all of them are committed.
				t.Errorf("committed %s/%d at %d, want its end %d", topic, p, at, end)
			}
		}
	}
	// What the first run committed past is written: every payment read has
	// its allocations and its facts in the store.
	if a, f := count(t, store, "SELECT uniqExact(payment_id) FROM payment_allocations FINAL"),
		count(t, store, "SELECT uniqExact(payment_id) FROM attribution_facts FINAL"); a == "0" || a != f {
		t.Errorf("after the first run: %s payments with allocations, %s with facts", a, f)
	}

	all := ends{}
	for topic, ps := range first {
		for p, end := range ps {
			all.add(&kgo.Record{Topic: topic, Partition: p, Offset: end - 1})
		}
	}
	st.produce(t, all, recs[half:]...)
	if _, err := st.consume(t, store, "g", all, opts...); err != nil {
		t.Fatal(err)
	}
	restarted := query(t, store, factsQuery)
	restartedCounts := query(t, store, "SELECT (SELECT count() FROM reminders FINAL), (SELECT count() FROM payment_allocations FINAL), (SELECT count() FROM attribution_facts FINAL)")

	clean := newStore(t, "clean")
	if _, err := st.consume(t, clean, "clean", all); err != nil {
		t.Fatal(err)
	}
	want := query(t, clean, factsQuery)
	if len(want) == 0 {
		t.Fatal("a clean run wrote no facts")
	}
	if strings.Join(restarted, "\n") != strings.Join(want, "\n") {
		t.Errorf("facts after a restart differ from a clean run: %s", diff(restarted, want))
	}
	if wantCounts := query(t, clean, "SELECT (SELECT count() FROM reminders FINAL), (SELECT count() FROM payment_allocations FINAL), (SELECT count() FROM attribution_facts FINAL)"); restartedCounts[0] != wantCounts[0] {
		t.Errorf("reminders, allocations, facts after a restart: %s; clean run: %s", restartedCounts[0], wantCounts[0])
	}
}

// Rule: a consumer whose group already committed everything it is asked to
// read returns from RunUntil at once, having written nothing new.
func TestConsumer_RunUntilWithNothingLeftReturns(t *testing.T) {
	st := newStack(t)
	store := newStore(t, "")
	e := ends{}
	st.produce(t, e, st.records(t, dataset(t, 6))...)
	if _, err := st.consume(t, store, "g", e); err != nil {
		t.Fatal(err)
	}
	before := query(t, store, factsQuery)
	if _, err := st.consume(t, store, "g", e); err != nil {
		t.Fatal(err)
	}
	if after := query(t, store, factsQuery); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("facts changed on a run with nothing new: %s", diff(after, before))
	}
}

// Rule: events delivered more than once — back to back (a producer retry) or
// all over again after the whole stream (a producer re-sending its backlog)
// — leave the facts and the raw tables exactly as a single delivery does.
func TestConsumer_DuplicateEventsAreAbsorbed(t *testing.T) {
	ds := dataset(t, 9)

	once := newStack(t)
	onceStore := newStore(t, "once")
	e := ends{}
	once.produce(t, e, once.records(t, ds)...)
	if _, err := once.consume(t, onceStore, "g", e); err != nil {
		t.Fatal(err)
	}
	want := query(t, onceStore, factsQuery)
	wantCounts := query(t, onceStore, "SELECT (SELECT count() FROM reminders FINAL), (SELECT count() FROM payment_allocations FINAL), (SELECT count() FROM invoices FINAL), (SELECT count() FROM attribution_facts FINAL)")
	if len(want) == 0 {
		t.Fatal("a single delivery wrote no facts")
	}

	for _, tc := range []struct {
		name  string
		twice func(recs []*kgo.Record) []*kgo.Record
	}{
		{"BackToBack", func(recs []*kgo.Record) []*kgo.Record {
			var out []*kgo.Record
			for _, r := range recs {
				dup := *r
				out = append(out, r, &dup)
			}
			return out
		}},
		{"ResentAfterAll", func(recs []*kgo.Record) []*kgo.Record {
			out := append([]*kgo.Record{}, recs...)
			for _, r := range recs {
				dup := *r
				out = append(out, &dup)
			}
			return out
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newStack(t)
			store := newStore(t, "twice")
			e := ends{}
			st.produce(t, e, tc.twice(st.records(t, ds))...)
			stats, err := st.consume(t, store, "g", e)
			if err != nil {
				t.Fatal(err)
			}
			if n := total(stats.DeadLetters); n != 0 {
				t.Errorf("%d dead letters on clean data: %v", n, stats.DeadLetters)
			}
			got := query(t, store, factsQuery)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("facts of a double delivery differ from a single one: %s", diff(got, want))
			}
			gotCounts := query(t, store, "SELECT (SELECT count() FROM reminders FINAL), (SELECT count() FROM payment_allocations FINAL), (SELECT count() FROM invoices FINAL), (SELECT count() FROM attribution_facts FINAL)")
			if gotCounts[0] != wantCounts[0] {
				t.Errorf("reminders, allocations, invoices, facts: %s, single delivery: %s", gotCounts[0], wantCounts[0])
			}
			t.Logf("joiner: %+v", stats.Joiner)
		})
	}
}
