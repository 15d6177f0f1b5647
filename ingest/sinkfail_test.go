package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/relance-io/relance/generate"
	"github.com/relance-io/relance/ingest"
	"github.com/relance-io/relance/schemas"
	"github.com/relance-io/relance/sinks"
)

// scriptedSink is the real store behind a sink that remembers every write
// attempt and fails the attempts its script says, the way a store would.
type scriptedSink struct {
	sinks.Store
	// fail returns the error attempt n (1-based) of b fails with, nil to
	// let it through; written says whether the failing attempt still
	// landed in the store (an insert whose acknowledgement was lost).
	fail func(n int, b *sinks.Batch) (err error, written bool)

	mu       sync.Mutex
	attempts []writeAttempt
}

// writeAttempt is what one Write call was handed, and how it ended.
type writeAttempt struct {
	token  string
	events []string // event ids of the raw events in the batch
	rows   int
	err    error
}

func (s *scriptedSink) Write(ctx context.Context, b *sinks.Batch) error {
	s.mu.Lock()
	n := len(s.attempts) + 1
	a := writeAttempt{token: b.Token, events: batchEvents(b), rows: b.Len()}
	var err error
	written := false
	if s.fail != nil {
		err, written = s.fail(n, b)
	}
	if err == nil || written {
		if werr := s.Store.Write(ctx, b); werr != nil {
			err = werr
		}
	}
	a.err = err
	s.attempts = append(s.attempts, a)
	s.mu.Unlock()
	return err
}

func (s *scriptedSink) history() []writeAttempt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.attempts)
}

func batchEvents(b *sinks.Batch) []string {
	var ids []string
	for i := range b.Reminders {
		ids = append(ids, b.Reminders[i].EventID)
	}
	for i := range b.Payments {
		ids = append(ids, b.Payments[i].EventID)
	}
	for i := range b.Invoices {
		ids = append(ids, b.Invoices[i].EventID)
	}
	return ids
}

// produceSingly produces recs one per request, in order, so that each is
// a record batch of its own: with smallFetches the consumer then gets a few
// records per poll, and a batch is cut after a few polls instead of holding
// everything.
func (s *stack) produceSingly(tb testing.TB, e ends, recs []*kgo.Record) {
	tb.Helper()
	for _, r := range recs {
		s.produce(tb, e, r)
	}
}

// smallFetches caps what one poll returns at a few records per partition.
func smallFetches() ingest.Opt {
	return ingest.KafkaOpts(kgo.FetchMaxBytes(2<<10), kgo.FetchMaxPartitionBytes(512))
}

// producedEvent is where a produced event landed and how big it was.
type producedEvent struct {
	topic     string
	partition int32
	offset    int64
	bytes     int
}

// eventIndex decodes produced records (partition and offset filled in by
// produce) back to their event ids: the sink sees events, Kafka offsets.
func eventIndex(tb testing.TB, serde *schemas.Serde, recs []*kgo.Record) map[string]producedEvent {
	tb.Helper()
	out := make(map[string]producedEvent, len(recs))
	for _, r := range recs {
		var id string
		switch r.Topic {
		case schemas.TopicReminders:
			v, err := serde.DecodeReminder(r.Value)
			if err != nil {
				tb.Fatal(err)
			}
			id = v.EventID
		case schemas.TopicPayments:
			v, err := serde.DecodePayment(r.Value)
			if err != nil {
				tb.Fatal(err)
			}
			id = v.EventID
		case schemas.TopicInvoices:
			v, err := serde.DecodeInvoice(r.Value)
			if err != nil {
				tb.Fatal(err)
			}
			id = v.EventID
		}
		if _, dup := out[id]; dup {
			tb.Fatalf("event id %q produced twice: the index cannot tell the records apart", id)
		}
		out[id] = producedEvent{r.Topic, r.Partition, r.Offset, len(r.Value)}
	}
	return out
}

// rawCounts counts the rows of the raw tables without FINAL: every row
// inserted, duplicates included as long as merges are stopped.
func rawCounts(tb testing.TB, store sinks.Store) string {
	tb.Helper()
	return count(tb, store, "SELECT concat(toString((SELECT count() FROM reminders)), ' reminders, ', toString((SELECT count() FROM payment_allocations)), ' allocations, ', toString((SELECT count() FROM invoices)), ' invoices')")
}

// datasetCounts is rawCounts of a data set written exactly once.
func datasetCounts(ds *generate.Dataset) string {
	allocs := 0
	for i := range ds.Payments {
		allocs += len(ds.Payments[i].Allocations)
	}
	return fmt.Sprintf("%d reminders, %d allocations, %d invoices", len(ds.Reminders), allocs, len(ds.Invoices))
}

// Rule: a sink error that retrying cannot fix (here a type mismatch, a
// ClickHouse code IsRetryable rejects) stops the consumer after one
// attempt: RunUntil returns, without a retry, an error that names what
// failed and what to do, and no offset is committed past any record of the
// failed batch (neither then nor once the consumer left the group), so that
// a restart reads those records again and ends with the facts of a run
// that never failed.
func TestConsumer_NonRetryableSinkErrorStopsWithoutRetryOrCommit(t *testing.T) {
	st := newStack(t)
	ds := dataset(t, 21)
	recs := st.records(t, ds)
	e := ends{}
	st.produceSingly(t, e, recs)
	index := eventIndex(t, st.serde, recs)

	clean := newStore(t, "clean")
	if _, err := st.consume(t, clean, "clean", e); err != nil {
		t.Fatal(err)
	}
	want := query(t, clean, factsQuery)

	// A schema error is permanent: from the first batch of raw events
	// after two written batches on, every attempt fails.
	failAt := 0
	permanent := &sinks.Error{Op: "insert attribution_facts", Code: 53,
		Err: errors.New("Code: 53. DB::Exception: Type mismatch in column credited_minor")}
	if sinks.IsRetryable(permanent) {
		t.Fatalf("%v is classified retryable: the test would prove nothing", permanent)
	}
	sink := &scriptedSink{Store: newStore(t, "failing"), fail: func(n int, b *sinks.Batch) (error, bool) {
		if failAt == 0 && n > 2 && len(batchEvents(b)) > 0 {
			failAt = n
		}
		if failAt != 0 {
			return permanent, false
		}
		return nil, false
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	c, err := ingest.New(st.serde, sink, ingest.Brokers(st.brokers...), ingest.Group("failing"),
		ingest.FlushInterval(100*time.Millisecond), ingest.FlushRows(200), smallFetches())
	if err != nil {
		t.Fatal(err)
	}
	err = c.RunUntil(ctx, e)
	if ctx.Err() != nil {
		t.Fatalf("RunUntil did not return within its deadline: %v", err)
	}
	// What RunUntil left, before Close leaves the group.
	stats, attempts, com := c.Stats(), sink.history(), st.committed(t, "failing")
	c.Close()
	if err == nil {
		t.Fatalf("RunUntil returned nil after a write failed with a non-retryable error (%d write attempts)", len(attempts))
	}
	if !errors.Is(err, permanent) {
		t.Errorf("RunUntil error %q does not wrap the sink's error", err)
	}
	for _, part := range []string{"sink write", "cannot be retried", "offsets not committed", "restart", "Type mismatch"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("RunUntil error %q does not say %q", err, part)
		}
	}
	if len(attempts) != failAt {
		for i, a := range attempts {
			t.Logf("attempt %d: %d rows, token %q, err %v", i+1, a.rows, a.token, a.err)
		}
		t.Fatalf("%d write attempts, want %d (%d written, then the failed one, never retried)", len(attempts), failAt, failAt-1)
	}
	if stats.Retries != 0 {
		t.Errorf("Stats.Retries = %d, want 0", stats.Retries)
	}
	if stats.Batches != uint64(failAt-1) {
		t.Errorf("Stats.Batches = %d, want the %d written", stats.Batches, failAt-1)
	}

	// No commit runs past a record of the failed batch, when RunUntil
	// returns nor after the consumer left the group.
	failed := attempts[failAt-1]
	if len(failed.events) == 0 {
		t.Fatal("the failed batch held no raw event: its offsets cannot be checked")
	}
	advanced := false
	for _, ps := range com {
		for _, at := range ps {
			advanced = advanced || at > 0
		}
	}
	if !advanced {
		t.Fatalf("nothing committed after %d written batches (%v): the check below would prove nothing", failAt-1, com)
	}
	for when, com := range map[string]ends{"when RunUntil returned": com, "after Close": st.committed(t, "failing")} {
		for _, id := range failed.events {
			ev, ok := index[id]
			if !ok {
				t.Fatalf("the failed batch holds event %q, which was not produced", id)
			}
			if at, ok := com[ev.topic][ev.partition]; ok && at > ev.offset {
				t.Errorf("%s, %s/%d is committed at %d, past offset %d of event %s of the failed batch", when, ev.topic, ev.partition, at, ev.offset, id)
			}
		}
	}
	if n := len(sink.history()); n > failAt {
		t.Errorf("leaving the group made %d more write attempt(s) of the failed batch: a write on the way out could commit offsets the error said were not committed", n-failAt)
	}

	// The store is fixed; a restart of the same group re-reads the batch.
	sink.fail = nil
	if _, err := st.consume(t, sink, "failing", e); err != nil {
		t.Fatalf("restart after the store was fixed: %v", err)
	}
	if got := query(t, sink.Store, factsQuery); !slices.Equal(got, want) {
		t.Fatalf("facts after a non-retryable failure and a restart differ from a run without failure:\n%s", diff(got, want))
	}
	t.Logf("stopped at write %d of a %d-row batch (%d raw events); %d fact rows equal after the restart", failAt, failed.rows, len(failed.events), len(want))
}

// Rule: a retryable sink error is retried on the same batch until it
// succeeds, each retry counted; here the first two attempts of a batch fail
// with UNKNOWN_STATUS_OF_INSERT after the rows did land (the worst case:
// the store has them, the consumer cannot know), and the third succeeds.
// Nothing is written twice: the raw tables hold each event once even read
// without FINAL (the batch's deduplication token absorbs the re-inserts),
// and the facts are those of a run that never failed.
func TestConsumer_RetryableSinkErrorSucceedsOnThirdTryWithoutDuplicates(t *testing.T) {
	st := newStack(t)
	ds := dataset(t, 22)
	e := ends{}
	st.produceSingly(t, e, st.records(t, ds))

	clean := newStore(t, "clean")
	if _, err := st.consume(t, clean, "clean", e); err != nil {
		t.Fatal(err)
	}
	want := query(t, clean, factsQuery)

	unknown := &sinks.Error{Op: "insert payment_allocations", Code: 319,
		Err: errors.New("Code: 319. DB::Exception: Unknown status of insert")}
	if !sinks.IsRetryable(unknown) {
		t.Fatalf("%v is not classified retryable: the test would prove nothing", unknown)
	}
	// The first batch with raw events of every topic fails twice, so that
	// a re-insert would show in every raw table.
	const failures = 2
	failFrom := 0
	sink := &scriptedSink{Store: newStore(t, "retried"), fail: func(n int, b *sinks.Batch) (error, bool) {
		if failFrom == 0 && len(b.Reminders) > 0 && len(b.Payments) > 0 && len(b.Invoices) > 0 {
			failFrom = n
		}
		if failFrom != 0 && n < failFrom+failures {
			return unknown, true
		}
		return nil, false
	}}
	// Merges would collapse a duplicate before it could be counted.
	for _, table := range []string{sinks.TableReminders, sinks.TableAllocations, sinks.TableInvoices} {
		if err := sink.Store.Exec(context.Background(), "SYSTEM STOP MERGES "+table); err != nil {
			t.Fatal(err)
		}
	}
	stats, err := st.consume(t, sink, "retried", e, ingest.FlushRows(200), smallFetches())
	if err != nil {
		t.Fatalf("RunUntil gave up on a retryable error: %v", err)
	}
	attempts := sink.history()
	if failFrom == 0 || len(attempts) < failFrom+failures {
		t.Fatalf("%d write attempts, none with raw events of every topic: the failing ones were never reached", len(attempts))
	}
	tries := attempts[failFrom-1 : failFrom+failures]
	for i, a := range tries {
		if a.token != tries[0].token || a.rows != tries[0].rows {
			t.Errorf("try %d wrote %d rows with token %q; the first try %d rows with %q: not the same batch", i+1, a.rows, a.token, tries[0].rows, tries[0].token)
		}
	}
	if tries[failures].err != nil {
		t.Errorf("the third try failed: %v", tries[failures].err)
	}
	if stats.Retries != failures {
		t.Errorf("Stats.Retries = %d, want %d", stats.Retries, failures)
	}
	if got, want := stats.Batches, uint64(len(attempts)-failures); got != want {
		t.Errorf("Stats.Batches = %d, want %d (every attempt but the failed ones)", got, want)
	}
	if got, want := rawCounts(t, sink.Store), datasetCounts(ds); got != want {
		t.Errorf("raw rows without FINAL: %s; the data set has %s", got, want)
	}
	if got := query(t, sink.Store, factsQuery); !slices.Equal(got, want) {
		t.Errorf("facts after a batch written three times differ from a run without failure:\n%s", diff(got, want))
	}
	t.Logf("batch %d of %d rows (%d raw events) tried %d times (%d retries); %d writes in all; %s", failFrom, tries[0].rows, len(tries[0].events), len(tries), stats.Retries, len(attempts), rawCounts(t, sink.Store))
}

// Rule: FlushBytes cuts batches by the bytes of the records read: with the
// row and time limits out of reach, every batch but the last holds at
// least the limit and the run takes several writes where an unlimited run
// takes one, with the same results.
func TestConsumer_FlushBytesCutsBatchesWithSameResults(t *testing.T) {
	st := newStack(t)
	ds := dataset(t, 23)
	recs := st.records(t, ds)
	e := ends{}
	st.produceSingly(t, e, recs)
	index := eventIndex(t, st.serde, recs)
	total := 0
	for _, ev := range index {
		total += ev.bytes
	}
	bytesOf := func(a writeAttempt) int {
		n := 0
		for _, id := range a.events {
			n += index[id].bytes
		}
		return n
	}
	noTime := ingest.FlushInterval(time.Hour)

	unlimited := &scriptedSink{Store: newStore(t, "unlimited")}
	if _, err := st.consume(t, unlimited, "unlimited", e, noTime); err != nil {
		t.Fatal(err)
	}
	if n := len(unlimited.history()); n != 1 {
		t.Fatalf("the unlimited run wrote %d batches, want 1", n)
	}
	want := query(t, unlimited.Store, factsQuery)

	limit := total / 8
	limited := &scriptedSink{Store: newStore(t, "limited")}
	if _, err := st.consume(t, limited, "limited", e, noTime, ingest.FlushRows(1<<30), ingest.FlushBytes(limit), smallFetches()); err != nil {
		t.Fatal(err)
	}
	attempts := limited.history()
	sizes := make([]int, len(attempts))
	sum := 0
	for i, a := range attempts {
		sizes[i] = bytesOf(a)
		sum += sizes[i]
	}
	t.Logf("%d bytes of records, limit %d: %d writes of %v bytes", total, limit, len(attempts), sizes)
	if sum != total {
		t.Fatalf("the batches hold %d bytes of records, %d were produced", sum, total)
	}
	if len(attempts) < 4 || len(attempts) > total/limit+1 {
		t.Errorf("%d writes; a %d-byte limit over %d bytes makes between 4 and %d", len(attempts), limit, total, total/limit+1)
	}
	for i, n := range sizes[:len(sizes)-1] {
		if n < limit {
			t.Errorf("batch %d holds %d bytes, under the %d-byte limit: something else cut it", i+1, n, limit)
		}
		if n >= 2*limit {
			t.Errorf("batch %d holds %d bytes, twice the %d-byte limit: the limit did not cut it", i+1, n, limit)
		}
	}
	if got := query(t, limited.Store, factsQuery); !slices.Equal(got, want) {
		t.Errorf("facts of a run cut by bytes differ from an unlimited run:\n%s", diff(got, want))
	}
	if got, want := rawCounts(t, limited.Store), datasetCounts(ds); got != want {
		t.Errorf("raw rows: %s; the data set has %s", got, want)
	}
}
