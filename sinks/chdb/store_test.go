package chdb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/relance-io/relance/schemas"
	"github.com/relance-io/relance/sinks"
	relsql "github.com/relance-io/relance/sql"
	"github.com/relance-io/relance/stream"
)

const big = 9007199254740993 // 2^53 + 1: not representable as a float64

var (
	day = stream.Horizon(24 * time.Hour)
	h7  = 7 * day
	h30 = 30 * day
)

func ms(s string) time.Time {
	t, err := time.Parse(sinks.DateTime64Layout, s)
	if err != nil {
		panic(err)
	}
	return t
}

func dt(s string) time.Time {
	t, err := time.Parse(sinks.DateLayout, s)
	if err != nil {
		panic(err)
	}
	return t
}

// fixture is a small batch covering every table: two reminders on one
// invoice, a payment of two allocations, an invoice, a matched and an
// unmatched fact, and a late event.
func fixture() *sinks.Batch {
	r1 := schemas.Reminder{
		EventID: "ev-r1", ReminderID: "r1", InvoiceID: "inv-1", CustomerID: "c-1",
		SentAt: ms("2025-10-03 09:15:00.123"), Channel: "email", Level: 1, FinalNotice: true,
		Plan: "Grands Comptes", Sender: "Zoé", AmountDueMinor: big, Currency: "EUR",
		InvoiceDueDate: dt("2025-09-30"),
		Attributes:     map[string]string{"country": "FR", "business_unit": "Nord \"quoted\""},
	}
	r2 := schemas.Reminder{
		EventID: "ev-r2", ReminderID: "r2", InvoiceID: "inv-1", CustomerID: "c-1",
		SentAt: ms("2025-09-25 08:00:00.000"), Channel: "sms", Level: 0, Plan: "PME",
		AmountDueMinor: 100, Currency: "EUR", InvoiceDueDate: dt("2025-09-30"), Holdout: true,
	}
	pay := schemas.Payment{
		EventID: "ev-p1", PaymentID: "p1", CustomerID: "c-1", PaidAt: ms("2025-10-05 17:00:00.456"),
		Method: "transfer", Currency: "EUR",
		Allocations: []schemas.Allocation{{InvoiceID: "inv-1", AmountMinor: big}, {InvoiceID: "inv-2", AmountMinor: -42}},
	}
	inv := schemas.Invoice{
		EventID: "ev-i1", InvoiceID: "inv-1", CustomerID: "c-1", IssuedAt: ms("2025-09-01 00:00:00.000"),
		DueDate: dt("2025-09-30"), AmountMinor: big, Currency: "EUR", Status: "issued",
		Attributes: map[string]string{"segment": "ETI"},
	}
	facts := []stream.Fact{
		{
			PaymentEventID: "ev-p1", PaymentID: "p1", AllocationIndex: 0, InvoiceID: "inv-1", CustomerID: "c-1",
			PaidAt: pay.PaidAt, AmountMinor: big, Currency: "EUR", Method: "transfer",
			Horizon: h7, Matched: true, Reminder: &r1, CreditedMinor: big, Candidates: 1, Model: stream.LastTouch, Version: 1,
		},
		{
			PaymentEventID: "ev-p1", PaymentID: "p1", AllocationIndex: 1, InvoiceID: "inv-2", CustomerID: "c-1",
			PaidAt: pay.PaidAt, AmountMinor: -42, Currency: "EUR", Method: "transfer",
			Horizon: h30, Model: stream.LastTouch, Version: 1,
		},
	}
	late := stream.LateEvent{Source: stream.Reminders, EventID: "ev-old", EventTime: ms("2024-01-01 00:00:00.000"), Offset: 77, Reason: "beyond_retention", Reminder: &r2}
	return &sinks.Batch{
		Token: "p0:0-9", Reminders: []schemas.Reminder{r1, r2}, Payments: []schemas.Payment{pay},
		Invoices: []schemas.Invoice{inv}, Facts: facts, Late: []stream.LateEvent{late},
	}
}

func migrated(t testing.TB) *Store {
	t.Helper()
	s := newStore(t)
	if _, err := sinks.Migrate(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return s
}

func query(t testing.TB, s *Store, q string) [][]string {
	t.Helper()
	rows, err := s.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return rows.Data
}

func scalar(t testing.TB, s *Store, q string) string {
	t.Helper()
	d := query(t, s, q)
	if len(d) != 1 || len(d[0]) != 1 {
		t.Fatalf("%s: want one value, got %q", q, d)
	}
	return d[0][0]
}

func mustWrite(t testing.TB, s *Store, b *sinks.Batch) {
	t.Helper()
	if err := s.Write(context.Background(), b); err != nil {
		t.Fatal(err)
	}
}

// Migrations apply on a fresh database, a second Migrate applies nothing and
// changes no table, and every table and column carries a comment.
func TestMigrate_FreshThenNoop(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	got, err := sinks.Migrate(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := relsql.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	var want []int
	for _, m := range ms {
		want = append(want, m.Version)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("first Migrate applied %v, want %v", got, want)
	}
	const tables = "SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name"
	before := query(t, s, tables)
	wantTables := [][]string{{"attribution_facts"}, {"invoices"}, {"late_events"}, {"payment_allocations"}, {"reminder_outcomes"}, {"reminders"}, {"schema_migrations"}}
	if !reflect.DeepEqual(before, wantTables) {
		t.Fatalf("tables = %v, want %v", before, wantTables)
	}
	got, err = sinks.Migrate(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Fatalf("second Migrate applied %v, want nothing", got)
	}
	if after := query(t, s, tables); !reflect.DeepEqual(after, before) {
		t.Fatalf("tables after second Migrate = %v, want %v", after, before)
	}
	if n := scalar(t, s, "SELECT count() FROM schema_migrations FINAL"); n != strconv.Itoa(len(ms)) {
		t.Fatalf("schema_migrations holds %s versions, want %d", n, len(ms))
	}
	for _, r := range query(t, s, "SELECT name FROM system.tables WHERE database = currentDatabase() AND comment = ''") {
		t.Errorf("table %s has no comment", r[0])
	}
	for _, r := range query(t, s, "SELECT table, name FROM system.columns WHERE database = currentDatabase() AND comment = ''") {
		t.Errorf("column %s.%s has no comment", r[0], r[1])
	}
}

// What is written is read back exactly: money beyond 2^53, negative
// amounts, millisecond times, dates, maps, and the derived fact columns
// (lag_ms, dpd, horizon label and seconds, empty reminder dims).
func TestStore_WriteReadBack(t *testing.T) {
	s := migrated(t)
	mustWrite(t, s, fixture())

	f := func(q string, want ...[]string) {
		t.Helper()
		if got := query(t, s, q); !reflect.DeepEqual(got, want) {
			t.Errorf("%s\n got %q\nwant %q", q, got, want)
		}
	}
	f(`SELECT reminder_id, sent_at, channel, level, final_notice, plan, sender, amount_due_minor, currency,
	          invoice_due_date, holdout, attributes, source_partition, source_offset
	   FROM reminders FINAL ORDER BY reminder_id`,
		[]string{"r1", "2025-10-03 09:15:00.123", "email", "1", "1", "Grands Comptes", "Zoé", "9007199254740993", "EUR", "2025-09-30", "0", `{"business_unit":"Nord \"quoted\"","country":"FR"}`, "-1", "-1"},
		[]string{"r2", "2025-09-25 08:00:00.000", "sms", "0", "0", "PME", "", "100", "EUR", "2025-09-30", "1", "{}", "-1", "-1"},
	)
	f("SELECT payment_id, allocation_index, invoice_id, paid_at, amount_minor, allocations_count FROM payment_allocations FINAL ORDER BY allocation_index",
		[]string{"p1", "0", "inv-1", "2025-10-05 17:00:00.456", "9007199254740993", "2"},
		[]string{"p1", "1", "inv-2", "2025-10-05 17:00:00.456", "-42", "2"},
	)
	f("SELECT invoice_id, issued_at, due_date, amount_minor, status, attributes['segment'] FROM invoices FINAL",
		[]string{"inv-1", "2025-09-01 00:00:00.000", "2025-09-30", "9007199254740993", "issued", "ETI"})
	f(`SELECT allocation_index, horizon, horizon_seconds, model, matched, candidates, reminder_id, reminder_event_id,
	          sent_at, lag_ms, credited_minor, amount_minor, channel, level, final_notice, reminder_amount_due_minor,
	          invoice_due_date, dpd, attributes['country'], version, is_deleted
	   FROM attribution_facts FINAL ORDER BY allocation_index`,
		[]string{"0", "7d", "604800", "last_touch", "1", "1", "r1", "ev-r1", "2025-10-03 09:15:00.123",
			strconv.FormatInt(ms("2025-10-05 17:00:00.456").Sub(ms("2025-10-03 09:15:00.123")).Milliseconds(), 10),
			"9007199254740993", "9007199254740993", "email", "1", "1", "9007199254740993", "2025-09-30", "3", "FR", "1", "0"},
		[]string{"1", "30d", "2592000", "last_touch", "0", "0", "", "", "1970-01-01 00:00:00.000", "0", "0", "-42", "", "0", "0", "0", "1970-01-01", "0", "", "1", "0"},
	)
	// The stored lag and dpd agree with ClickHouse's own arithmetic.
	f("SELECT count() FROM attribution_facts FINAL WHERE matched AND (lag_ms != dateDiff('millisecond', sent_at, paid_at) OR dpd != dateDiff('day', invoice_due_date, toDate(sent_at)))",
		[]string{"0"})
	f("SELECT topic, `partition`, `offset`, event_id, event_time, reason, JSONExtractString(payload_json, 'ReminderID') FROM late_events FINAL",
		[]string{"reminders", "-1", "77", "ev-old", "2024-01-01 00:00:00.000", "beyond_retention", "r2"})

	rows, err := s.Query(context.Background(), "SELECT toInt64(-9223372036854775808) AS lo, toUInt64(18446744073709551615) AS hi, toDecimal64(1.25, 2) AS d, NULL AS n, true AS b")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"-9223372036854775808", "18446744073709551615", "1.25", "NULL", "true"}; !reflect.DeepEqual(rows.Data[0], want) {
		t.Errorf("extreme values = %q, want %q", rows.Data[0], want)
	}
	if rows.Col("hi") != 1 || rows.Col("nope") != -1 || rows.Types[0] != "Int64" {
		t.Errorf("Col/Types: %v %v", rows.Columns, rows.Types)
	}
}

// Query parameters ({name:Type}) are bound from their text form, which is
// ClickHouse's escaped text form (as in TSV): quotes pass as they are, and a
// literal backslash is written doubled.
func TestStore_QueryParams(t *testing.T) {
	s := migrated(t)
	mustWrite(t, s, fixture())
	rows, err := s.QueryParams(context.Background(),
		"SELECT count(), {who:String} FROM reminders FINAL WHERE sent_at >= {from:DateTime64(3, 'UTC')} AND amount_due_minor = {amt:Int64}",
		map[string]string{"from": "2025-10-01 00:00:00.000", "amt": "9007199254740993", "who": `it's a \\ test`})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"1", `it's a \ test`}; !reflect.DeepEqual(rows.Data[0], want) {
		t.Errorf("got %q, want %q", rows.Data[0], want)
	}
}

// Writing the same batch again, with its token (a retry) or with another
// token (a replay after restart), leaves every table unchanged under FINAL:
// the ReplacingMergeTree keys collapse duplicates. The retry with the same
// token is even dropped at insert (insert_deduplication_token).
func TestSink_RetryIsIdempotent(t *testing.T) {
	s := migrated(t)
	b := fixture()
	b.Outcomes = []stream.Outcome{
		{Reminder: &b.Reminders[0], Horizon: h7, Model: stream.LastTouch, CollectedMinor: big, Allocations: 1, CreditedMinor: big, Final: true, Version: 1},
		{Reminder: &b.Reminders[1], Horizon: h7, Model: stream.LastTouch, CollectedMinor: big, Allocations: 1, Version: 1},
	}
	tables := []string{"reminders", "payment_allocations", "invoices", "attribution_facts", "reminder_outcomes", "late_events"}
	counts := func(final string) []string {
		var out []string
		for _, tb := range tables {
			out = append(out, tb+"="+scalar(t, s, "SELECT count() FROM "+tb+" "+final))
		}
		return out
	}
	mustWrite(t, s, b)
	want := counts("FINAL")
	raw := counts("")

	mustWrite(t, s, b)
	if got := counts("FINAL"); !reflect.DeepEqual(got, want) {
		t.Errorf("after retry, FINAL counts = %v, want %v", got, want)
	}
	if got := counts(""); !reflect.DeepEqual(got, raw) {
		t.Errorf("after retry with the same token, raw counts = %v, want %v (deduplicated at insert)", got, raw)
	}

	b.Token = "p0:0-9-replayed"
	mustWrite(t, s, b)
	if got := counts("FINAL"); !reflect.DeepEqual(got, want) {
		t.Errorf("after replay with another token, FINAL counts = %v, want %v", got, want)
	}
	if got := scalar(t, s, "SELECT sum(credited_minor) FROM attribution_facts FINAL"); got != "9007199254740993" {
		t.Errorf("credited after replay = %s, want 9007199254740993", got)
	}
	if got := scalar(t, s, "SELECT sum(credited_minor) FROM reminder_outcomes FINAL"); got != "9007199254740993" {
		t.Errorf("outcomes credited after replay = %s, want 9007199254740993", got)
	}
}

// Two versions of one key in one batch are both stored (nothing is
// replaced at insert: optimize_on_insert = 0) and FINAL shows the higher,
// whichever comes first in the batch.
func TestSink_VersionsInOneBatchAreDecidedByFinal(t *testing.T) {
	for _, order := range []string{"old first", "new first"} {
		t.Run(order, func(t *testing.T) {
			s := migrated(t)
			b := fixture()
			old := stream.Outcome{Reminder: &b.Reminders[0], Horizon: h7, Model: stream.LastTouch, CollectedMinor: 7, Allocations: 1, Version: 1}
			cur := old
			cur.CollectedMinor, cur.Version, cur.Final = 9, 2, true
			b.Outcomes = []stream.Outcome{old, cur}
			if order == "new first" {
				b.Outcomes[0], b.Outcomes[1] = cur, old
			}
			mustWrite(t, s, b)
			if got := scalar(t, s, "SELECT count() FROM reminder_outcomes"); got != "2" {
				t.Errorf("rows stored = %s, want 2 (both versions, as written)", got)
			}
			if got := query(t, s, "SELECT collected_minor, is_final FROM reminder_outcomes FINAL"); !reflect.DeepEqual(got, [][]string{{"9", "1"}}) {
				t.Errorf("under FINAL = %v, want [[9 1]] (version 2)", got)
			}
		})
	}
}

// A fact rewritten with a higher version and Deleted is gone under FINAL,
// and a higher version replaces the credited amount.
func TestFacts_RetractionHidesKey(t *testing.T) {
	s := migrated(t)
	b := fixture()
	b.Reminders, b.Payments, b.Invoices, b.Late = nil, nil, nil, nil
	mustWrite(t, s, b)

	moved := b.Facts[0]
	moved.Version, moved.CreditedMinor = 2, 5
	mustWrite(t, s, &sinks.Batch{Token: "v2", Facts: []stream.Fact{moved}})
	if got := scalar(t, s, "SELECT credited_minor FROM attribution_facts FINAL WHERE allocation_index = 0"); got != "5" {
		t.Fatalf("credited after version 2 = %s, want 5", got)
	}

	gone := moved
	gone.Version, gone.Deleted = 3, true
	mustWrite(t, s, &sinks.Batch{Token: "v3", Facts: []stream.Fact{gone}})
	if got := scalar(t, s, "SELECT count() FROM attribution_facts FINAL WHERE allocation_index = 0"); got != "0" {
		t.Fatalf("retracted key still has %s rows under FINAL", got)
	}
	if got := scalar(t, s, "SELECT count() FROM attribution_facts FINAL"); got != "1" {
		t.Fatalf("other keys: %s rows under FINAL, want 1", got)
	}

	stale := b.Facts[0] // version 1 arrives again after the retraction
	mustWrite(t, s, &sinks.Batch{Token: "v1-again", Facts: []stream.Fact{stale}})
	if got := scalar(t, s, "SELECT count() FROM attribution_facts FINAL WHERE allocation_index = 0"); got != "0" {
		t.Fatalf("a stale lower version resurrected the retracted key (%s rows)", got)
	}
}

// chDB has one session per process: a second Open fails instead of silently
// sharing the session under another directory.
func TestOpen_OnePerProcess(t *testing.T) {
	_, err := Open(t.TempDir())
	if !errors.Is(err, ErrAlreadyOpen) {
		t.Fatalf("second Open error = %v, want ErrAlreadyOpen", err)
	}
	if _, err := Open(t.TempDir(), Database("bad-name")); err == nil {
		t.Fatal("Open with database \"bad-name\" succeeded, want a validation error")
	}
}

// Engine errors carry their ClickHouse code; errors of the statement or the
// data are not retryable.
func TestStore_ErrorsAreClassified(t *testing.T) {
	s := migrated(t)
	ctx := context.Background()
	_, err := s.Query(ctx, "SELECT * FROM no_such_table")
	var se *sinks.Error
	if !errors.As(err, &se) || se.Code != 60 {
		t.Fatalf("error = %#v, want a *sinks.Error with code 60 (UNKNOWN_TABLE)", err)
	}
	if sinks.IsRetryable(err) {
		t.Errorf("IsRetryable(%v) = true, want false", err)
	}
	b := fixture()
	b.Facts[0].AllocationIndex = 70000
	if err := s.Write(ctx, b); err == nil || sinks.IsRetryable(err) {
		t.Errorf("Write with an allocation index beyond UInt16: error = %v, want a non-retryable error", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Exec(cctx, "SELECT 1"); !errors.Is(err, context.Canceled) {
		t.Errorf("Exec on a canceled context = %v, want context.Canceled", err)
	}
}

// BenchmarkChdbWrite writes 10 000 facts per Write (each iteration a new
// batch token and version) and reports rows/s.
func BenchmarkChdbWrite(b *testing.B) {
	s := migrated(b)
	base := fixture().Facts[0]
	facts := make([]stream.Fact, 10_000)
	for i := range facts {
		f := base
		f.PaymentID = fmt.Sprintf("p%05d", i)
		f.Horizon = []stream.Horizon{h7, 15 * day, h30}[i%3]
		facts[i] = f
	}
	batch := &sinks.Batch{Facts: facts}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range facts {
			facts[j].Version = uint64(i + 1)
		}
		batch.Token = "bench-" + strconv.Itoa(i)
		if err := s.Write(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(facts))/b.Elapsed().Seconds(), "rows/s")
}

// Rule: ClickHouse's signal-driven profilers are off in the embedded
// engine: their handlers would unwind Go threads' stacks.
func TestOpen_ProfilersOff(t *testing.T) {
	s := newStore(t)
	got := query(t, s, "SELECT name, value FROM system.settings WHERE name IN ('query_profiler_real_time_period_ns', 'query_profiler_cpu_time_period_ns', 'memory_profiler_step') ORDER BY name")
	for _, r := range got {
		if r[1] != "0" {
			t.Errorf("%s = %s, want 0", r[0], r[1])
		}
	}
	if len(got) != 3 {
		t.Fatalf("settings: %v", got)
	}
}

// Rule: with the engine loaded and a session open, Go's signal handling
// still holds: a nil-pointer dereference is a recoverable panic. (The
// engine installs its own fault handlers when a session starts; without
// libpath.RestoreSignals this test kills the test binary.)
func TestOpen_NilDereferenceStillPanics(t *testing.T) {
	_ = newStore(t)
	var p *struct{ x int }
	recovered := func() (r any) {
		defer func() { r = recover() }()
		_ = p.x
		return nil
	}()
	if recovered == nil {
		t.Fatal("a nil dereference did not panic")
	}
}

// Rule: a data directory that cannot be one (a file stands there) is an
// error naming the directory and the reason, before the engine is asked.
func TestOpen_DataDirThatCannotBeOne(t *testing.T) {
	file := filepath.Join(t.TempDir(), "store")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(file)
	if err == nil || !strings.Contains(err.Error(), "data directory "+file) || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("Open(a file) = %v", err)
	}
}

// Rule: a store another process has open is named as such before the
// engine is asked (the engine only prints its own message and fails with
// "could not create a chdb connection"). The engine's lock is seen on the
// store this test binary holds; a fresh directory is free.
func TestOpen_StoreOpenElsewhereIsNamed(t *testing.T) {
	err := notLockedByAnother(shared.Dir())
	if err == nil || !strings.Contains(err.Error(), "is open in another process") || !strings.Contains(err.Error(), shared.Dir()) {
		t.Errorf("the open store's directory: %v, want an error naming it as open in another process", err)
	}
	if err := notLockedByAnother(t.TempDir()); err != nil {
		t.Errorf("a free directory: %v", err)
	}
}
