package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/relance-io/relance/ingest"
	"github.com/relance-io/relance/schemas"
)

// Rule (SPEC §7): bad input — undecodable bytes, a foreign framing, an
// unknown schema id, the wrong record type on a topic, events that decode
// but are unusable (missing ids, negative or overflowing amounts, unknown
// currency, zero or far-future timestamps, no allocations) on any of the
// three topics, and duplicate events (a reminder or payment already read, at
// another offset) — goes to the dead-letter topic exactly once, unchanged,
// with the reason and its origin in headers, and is counted per reason in
// Stats and in relance_ingest_dead_letters_total. The pipeline never stops
// on it, the good events around it are all written, and nothing bad is
// (a duplicate's raw row has its first copy's key: absorbed).
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
	invoice := func(i int) schemas.Invoice {
		n := strconv.Itoa(i)
		return schemas.Invoice{
			EventID: "inv-ev-" + n, InvoiceID: "inv-" + n, CustomerID: "cust-" + n, IssuedAt: day.AddDate(0, -1, 0),
			DueDate: time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC), AmountMinor: 100_00, Currency: "EUR", Status: "issued",
		}
	}
	encI := func(v schemas.Invoice) []byte {
		b, err := st.serde.EncodeInvoice(&v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	rec := func(topic, key string, v []byte) *kgo.Record {
		return &kgo.Record{Topic: topic, Key: []byte(key), Value: v}
	}

	// Good events: four reminders, three payments of their invoices, and
	// the first invoice.
	var good []*kgo.Record
	for i := 1; i <= 4; i++ {
		good = append(good, rec(schemas.TopicReminders, "cust-"+strconv.Itoa(i), encR(reminder(i))))
	}
	for i := 1; i <= 3; i++ {
		good = append(good, rec(schemas.TopicPayments, "cust-"+strconv.Itoa(i), encP(payment(i))))
	}
	good = append(good, rec(schemas.TopicInvoices, "cust-1", encI(invoice(1))))

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
	invNoID := invoice(80)
	invNoID.InvoiceID = ""
	invNoEvent := invoice(81)
	invNoEvent.EventID = ""
	invNegative := invoice(82)
	invNegative.AmountMinor = -1
	invCurrency := invoice(83)
	invCurrency.Currency = "BTC"
	invFuture := invoice(84)
	invFuture.IssuedAt = time.Now().AddDate(0, 2, 0)
	invZero := invoice(85)
	invZero.IssuedAt = time.UnixMilli(0)
	// Not UTF-8: it used to reach the business counters, whose Prometheus
	// label panicked, and hang the consumer for good.
	latin1 := reminder(86)
	latin1.Channel = "e\xffmail"
	huge := reminder(87)
	huge.AmountDueMinor = math.MaxInt64
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
		{rec(schemas.TopicInvoices, "cust-x", encI(invNoID)), schemas.ReasonMissingInvoiceID},
		{rec(schemas.TopicInvoices, "cust-x", encI(invNoEvent)), schemas.ReasonMissingEventID},
		{rec(schemas.TopicInvoices, "cust-x", encI(invNegative)), schemas.ReasonNegativeAmount},
		{rec(schemas.TopicInvoices, "cust-x", encI(invCurrency)), schemas.ReasonUnknownCurrency},
		{rec(schemas.TopicInvoices, "cust-x", encI(invFuture)), schemas.ReasonFarFutureTimestamp},
		{rec(schemas.TopicInvoices, "cust-x", encI(invZero)), schemas.ReasonZeroTimestamp},
		{rec(schemas.TopicInvoices, "cust-x", encR(reminder(1))), schemas.ReasonWrongSchema},
		{rec(schemas.TopicReminders, "cust-x", encR(latin1)), schemas.ReasonInvalidUTF8},
		{rec(schemas.TopicReminders, "cust-x", encR(huge)), schemas.ReasonAmountOverflow},
	}
	// Duplicates: second copies of good events, read after their first.
	dups := []struct {
		rec    *kgo.Record
		reason string
	}{
		{rec(schemas.TopicReminders, "cust-2", encR(reminder(2))), ingest.ReasonDuplicateEvent},
		{rec(schemas.TopicPayments, "cust-3", encP(payment(3))), ingest.ReasonDuplicateEvent},
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
	for _, d := range dups {
		st.produce(t, e, d.rec)
	}
	bad = append(bad, dups...)

	reg := prometheus.NewRegistry()
	stats, err := st.consume(t, store, "bad-input", e, ingest.Metrics(reg))
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
		if got := sum(t, reg, "relance_ingest_dead_letters_total", map[string]string{"reason": reason}); got != float64(n) {
			t.Errorf("relance_ingest_dead_letters_total{reason=%q} = %v, want %d", reason, got, n)
		}
	}
	if got := sum(t, reg, "relance_ingest_dead_letters_total", nil); got != float64(len(bad)) {
		t.Errorf("relance_ingest_dead_letters_total = %v over all reasons, want %d", got, len(bad))
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
	if got := query(t, store, "SELECT event_id FROM invoices FINAL"); strings.Join(got, ",") != "inv-ev-1" {
		t.Errorf("invoices in the store: %v, want inv-ev-1 only", got)
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

// Rule: events delivered more than once — back to back (a producer retry),
// all over again after the whole stream (a producer re-sending its backlog),
// or back to back and then re-read by a restart — leave the facts and the
// raw tables exactly as a single delivery does. A second copy of a
// reminder or payment whose first copy is still in the join state is
// dead-lettered as duplicate_event, exactly once: a replay after a
// restart re-reads copies without dead-lettering them again.
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

	// twice returns the records delivered with their copies, and the
	// copies (each read after its original).
	backToBack := func(recs []*kgo.Record) (all, copies []*kgo.Record) {
		for _, r := range recs {
			dup := *r
			all = append(all, r, &dup)
			copies = append(copies, &dup)
		}
		return all, copies
	}
	for _, tc := range []struct {
		name  string
		twice func(recs []*kgo.Record) (all, copies []*kgo.Record)
		// restart splits the delivery in two runs of the same group,
		// snapshots off: the second replays the join state, copies included.
		restart bool
		// exact: every copy of a reminder or payment is dead-lettered. A
		// backlog re-sent after the whole stream finds much of the state
		// dropped (retention): those copies are late events instead.
		exact bool
	}{
		{name: "BackToBack", twice: backToBack, exact: true},
		{name: "ResentAfterAll", twice: func(recs []*kgo.Record) (all, copies []*kgo.Record) {
			all = append(all, recs...)
			for _, r := range recs {
				dup := *r
				all = append(all, &dup)
				copies = append(copies, &dup)
			}
			return all, copies
		}},
		{name: "BackToBackThenRestart", twice: backToBack, restart: true, exact: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newStack(t)
			store := newStore(t, "twice")
			all, copies := tc.twice(st.records(t, ds))
			var opts []ingest.Opt
			deadLetters := map[string]uint64{}
			e := ends{}
			if tc.restart {
				opts = append(opts, ingest.Snapshots("", 0))
				half := len(all) / 2
				st.produce(t, e, all[:half]...)
				stats, err := st.consume(t, store, "g", e, opts...)
				if err != nil {
					t.Fatal(err)
				}
				for k, v := range stats.DeadLetters {
					deadLetters[k] += v
				}
				all = all[half:]
			}
			st.produce(t, e, all...)
			stats, err := st.consume(t, store, "g", e, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if tc.restart && stats.Joiner.Replayed == 0 {
				t.Fatal("the second run replayed nothing: the test proves nothing about replays")
			}
			for k, v := range stats.DeadLetters {
				deadLetters[k] += v
			}
			got := query(t, store, factsQuery)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("facts of a double delivery differ from a single one: %s", diff(got, want))
			}
			gotCounts := query(t, store, "SELECT (SELECT count() FROM reminders FINAL), (SELECT count() FROM payment_allocations FINAL), (SELECT count() FROM invoices FINAL), (SELECT count() FROM attribution_facts FINAL)")
			if gotCounts[0] != wantCounts[0] {
				t.Errorf("reminders, allocations, invoices, facts: %s, single delivery: %s", gotCounts[0], wantCounts[0])
			}

			// The joined topics' copies; invoices are enrichment, not joined:
			// their copies are absorbed by the invoices table's key only.
			type origin struct {
				topic string
				p     int32
				off   int64
			}
			joined := map[origin]bool{}
			for _, r := range copies {
				if r.Topic != schemas.TopicInvoices {
					joined[origin{r.Topic, r.Partition, r.Offset}] = true
				}
			}
			n := deadLetters[ingest.ReasonDuplicateEvent]
			if len(deadLetters) != 1 || n == 0 {
				t.Fatalf("dead letters %v, want duplicate_event only", deadLetters)
			}
			if tc.exact && n != uint64(len(joined)) {
				t.Errorf("%d duplicates dead-lettered, want one per copy of a reminder or payment: %d", n, len(joined))
			}
			seen := map[origin]bool{}
			for _, d := range readDeadLetters(t, st, int(n)) {
				h := map[string]string{}
				for _, kv := range d.Headers {
					h[kv.Key] = string(kv.Value)
				}
				p, _ := strconv.ParseInt(h[ingest.HeaderPartition], 10, 32)
				off, _ := strconv.ParseInt(h[ingest.HeaderOffset], 10, 64)
				o := origin{h[ingest.HeaderTopic], int32(p), off}
				switch {
				case h[ingest.HeaderReason] != ingest.ReasonDuplicateEvent:
					t.Errorf("dead letter %v with reason %q", o, h[ingest.HeaderReason])
				case !joined[o]:
					t.Errorf("dead letter %v is not a copy (a first delivery, or an invoice): %s", o, h[ingest.HeaderError])
				case seen[o]:
					t.Errorf("copy %v dead-lettered twice", o)
				}
				seen[o] = true
			}
			t.Logf("joiner: %+v; %d copies of reminders and payments, %d dead-lettered", stats.Joiner, len(joined), n)
		})
	}
}

// Rule: the consumer is ready (the readiness probe) only once it has its
// partitions and has restored their join state: not before the group
// assigns them, not while it re-reads the events the previous owner had
// read (snapshots off: the state is rebuilt by that replay), even with
// every record now in the log read; ready as soon as the replay reaches
// where the previous owner had stopped, also when the record there is
// dead-lettered (the joiner never sees it) and no other comes.
func TestConsumer_ReadyOnlyOnceTheStateIsReplayed(t *testing.T) {
	st := newStack(t)
	store := newStore(t, "")
	recs := st.records(t, dataset(t, 3))
	e := ends{}
	st.produce(t, e, recs...)

	// The previous owner of group "ready" committed offset 0 and had read
	// every payment and one reminder more per partition than the log holds
	// yet: its replay cannot end before that reminder is read.
	const group = "ready"
	meta, err := kmsg.NewPtrMetadataRequest().RequestWith(context.Background(), st.cl)
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group, req.Generation = group, -1
	for _, mt := range meta.Topics {
		topic := *mt.Topic
		if topic != schemas.TopicReminders && topic != schemas.TopicPayments {
			continue
		}
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic, rt.TopicID = topic, mt.TopicID
		for p := range int32(len(mt.Partitions)) {
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch = p, 0, -1
			rp.Metadata = kmsg.StringPtr(fmt.Sprintf("relance/1 wm=0 rn=%d pn=%d", e[schemas.TopicReminders][p]+1, e[schemas.TopicPayments][p]))
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(context.Background(), st.cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				t.Fatalf("commit %s/%d: %v", rt.Topic, rp.Partition, err)
			}
		}
	}

	c, err := ingest.New(st.serde, store, ingest.Brokers(st.brokers...), ingest.Group(group), ingest.FlushInterval(100*time.Millisecond),
		ingest.Snapshots("", 0), ingest.IdleTimeout(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Ready() {
		t.Error("ready before any partition is assigned")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(8 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("still not %s", what)
			}
		}
	}
	waitFor("every record read", func() bool { return total(c.Stats().Records) == uint64(len(recs)) })
	if c.Ready() {
		t.Error("ready while the reminders are still being replayed")
	}

	// The record that ends each partition's replay: a reminder on
	// partition 0, an undecodable record on partition 1.
	var last []*kgo.Record
	for p := range int32(2) {
		for _, r := range recs {
			if r.Topic == schemas.TopicReminders && r.Partition == p {
				v := r.Value
				if p == 1 {
					v = []byte("not avro")
				}
				last = append(last, &kgo.Record{Topic: r.Topic, Key: r.Key, Value: v})
				break
			}
		}
	}
	replayEnd := map[int32]int64{0: e[schemas.TopicReminders][0] + 1, 1: e[schemas.TopicReminders][1] + 1}
	st.produce(t, e, last...)
	for _, r := range last {
		if r.Offset != replayEnd[r.Partition]-1 {
			t.Fatalf("the last reminder of the replay landed at %s/%d@%d, want @%d", r.Topic, r.Partition, r.Offset, replayEnd[r.Partition]-1)
		}
	}
	waitFor("ready once the replay reached the previous owner's end", c.Ready)
	if n := total(c.Stats().DeadLetters); n != 1 {
		t.Errorf("%d dead letters, want 1 (the undecodable record)", n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
