package clickhouse

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/relance-io/relance/schemas"
	"github.com/relance-io/relance/sinks"
	"github.com/relance-io/relance/sinks/chdb"
	"github.com/relance-io/relance/sinks/chdb/chdbtest"
	"github.com/relance-io/relance/sinks/clickhouse/chfront"
	"github.com/relance-io/relance/stream"
)

// These tests run the production Store (clickhouse-go/v2, HTTP protocol)
// against the real engine: chfront serves ClickHouse's HTTP interface over
// the test binary's chDB session. Each test compares it with the embedded
// chDB store on the same input, so the two sinks are proved to write and
// read the same thing, not merely to succeed.

// pair is the two stores of a comparison: the embedded chDB store in a
// fresh migrated database, and the production Store over clickhouse-go's
// HTTP protocol, through a chfront over the same engine, in a database of
// its own (created by Open, migrated by sinks.Migrate over HTTP).
type pair struct {
	emb   *chdb.Store
	http  *Store
	front *chfront.Front
	// embDB and httpDB are the two databases.
	embDB, httpDB string
}

func newPair(t testing.TB, opts ...Opt) *pair {
	t.Helper()
	ctx := context.Background()
	emb := chdbtest.NewStore(t)
	p := &pair{emb: emb, embDB: emb.Database()}
	p.httpDB = "h_" + p.embDB
	if len(p.httpDB) > 60 {
		p.httpDB = p.httpDB[:60]
	}
	p.front = chfront.Start(t, emb)
	opts = append([]Opt{Protocol(ch.HTTP), Addr(p.front.Addr), Database(p.httpDB), DialTimeout(5 * time.Second)}, opts...)
	s, err := Open(ctx, opts...)
	if err != nil {
		t.Fatalf("Open over HTTP: %v", err)
	}
	p.http = s
	t.Cleanup(func() {
		s.Close()
		if err := emb.Exec(ctx, "DROP DATABASE IF EXISTS `"+p.httpDB+"`"); err != nil {
			t.Errorf("drop %s: %v", p.httpDB, err)
		}
	})
	if _, err := sinks.Migrate(ctx, s); err != nil {
		t.Fatalf("Migrate over HTTP: %v", err)
	}
	return p
}

// embQuery runs q on the embedded store; {db} is replaced by the
// back-quoted db, {dbname} by its name as a string literal.
func (p *pair) embQuery(t testing.TB, db, q string) [][]string {
	t.Helper()
	q = strings.ReplaceAll(strings.ReplaceAll(q, "{db}", "`"+db+"`"), "{dbname}", "'"+db+"'")
	rows, err := p.emb.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return rows.Data
}

// write writes b through both sinks.
func (p *pair) write(t testing.TB, b *sinks.Batch) {
	t.Helper()
	ctx := context.Background()
	if err := p.emb.Write(ctx, b); err != nil {
		t.Fatalf("chDB sink: %v", err)
	}
	if err := p.http.Write(ctx, b); err != nil {
		t.Fatalf("clickhouse-go sink over HTTP: %v", err)
	}
}

// tables are the tables the sinks write.
var tables = []string{
	sinks.TableReminders, sinks.TableAllocations, sinks.TableInvoices,
	sinks.TableFacts, sinks.TableOutcomes, sinks.TableLateEvents,
}

// finalRows returns every row of table in db under FINAL, sorted, without
// the columns the server fills at insert (DEFAULT now64(3)).
func (p *pair) finalRows(t testing.TB, db, table string) [][]string {
	t.Helper()
	var cols []string
	for _, r := range p.embQuery(t, "", "SELECT name FROM system.columns WHERE database = '"+db+"' AND table = '"+table+"' AND default_expression NOT LIKE 'now64%' ORDER BY position") {
		cols = append(cols, "`"+r[0]+"`")
	}
	if len(cols) == 0 {
		t.Fatalf("%s.%s has no columns", db, table)
	}
	return p.embQuery(t, db, "SELECT "+strings.Join(cols, ", ")+" FROM {db}.`"+table+"` FINAL ORDER BY ALL")
}

func (p *pair) counts(t testing.TB, db, final string) []string {
	t.Helper()
	var out []string
	for _, tb := range tables {
		out = append(out, tb+"="+p.embQuery(t, db, "SELECT count() FROM {db}.`"+tb+"` "+final)[0][0])
	}
	return out
}

// Open over HTTP on a server without the database creates it (code 81 is
// recognised through the HTTP error), and Migrate over HTTP creates the
// same tables, columns, engines, keys and comments as on chDB; a second
// Migrate applies nothing.
func TestHTTP_MigrateCreatesTheSameSchema(t *testing.T) {
	p := newPair(t)
	created := false
	for _, s := range p.front.Statements() {
		created = created || strings.HasPrefix(s, "CREATE DATABASE IF NOT EXISTS `"+p.httpDB+"`")
	}
	if !created {
		t.Errorf("Open did not create database %s over HTTP", p.httpDB)
	}
	f := func(q string) {
		t.Helper()
		emb, http := p.embQuery(t, p.embDB, q), p.embQuery(t, p.httpDB, q)
		if len(emb) == 0 || !reflect.DeepEqual(emb, http) {
			t.Errorf("%s\n chDB sink: %q\n HTTP sink: %q", q, emb, http)
		}
	}
	f("SELECT name, engine_full, partition_key, sorting_key, comment FROM system.tables WHERE database = {dbname} ORDER BY name")
	f("SELECT table, name, type, default_kind, default_expression, comment FROM system.columns WHERE database = {dbname} ORDER BY table, position")
	f("SELECT version, name, checksum FROM {db}.schema_migrations FINAL ORDER BY version")
	again, err := sinks.Migrate(context.Background(), p.http)
	if err != nil || len(again) != 0 {
		t.Fatalf("second Migrate over HTTP applied %v (err %v), want nothing", again, err)
	}
}

// The same Batch written through the chDB sink (RowBinary) and through
// the clickhouse-go sink (Native blocks over HTTP) leaves identical rows in
// every table under FINAL: same values to the millisecond and to the minor
// unit (beyond 2^53), same maps, same dates, same derived columns.
func TestHTTP_WriteEqualsChdbWrite(t *testing.T) {
	p := newPair(t)
	blocks := 0
	for _, b := range []*sinks.Batch{genBatch(t), edgeBatch()} {
		p.write(t, b)
		ts, _ := sinks.Tables(b)
		blocks += len(ts)
	}
	for _, tb := range tables {
		emb, http := p.finalRows(t, p.embDB, tb), p.finalRows(t, p.httpDB, tb)
		if len(emb) == 0 {
			t.Errorf("%s: no rows written", tb)
			continue
		}
		if !reflect.DeepEqual(emb, http) {
			t.Errorf("%s: %d rows through chDB, %d through HTTP, or different values", tb, len(emb), len(http))
			for i := range min(len(emb), len(http)) {
				if !reflect.DeepEqual(emb[i], http[i]) {
					t.Errorf("%s: first difference at row %d\n chDB sink: %q\n HTTP sink: %q", tb, i, emb[i], http[i])
					break
				}
			}
		}
		t.Logf("%s: %d rows equal", tb, len(emb))
	}
	if n := p.front.Inserts(); n != int64(blocks) {
		t.Errorf("the front loaded %d Native blocks, want %d (one per non-empty table and batch)", n, blocks)
	}
}

// The named KPI queries return the same Rows (columns, types, values as
// exact strings) through Store.QueryParams over HTTP as through the chDB
// store, on the same data, for several horizons and segment dimensions; and
// so do plain queries over the value types of sinks.Rows.
func TestHTTP_QueriesEqualChdb(t *testing.T) {
	p := newPair(t)
	p.write(t, genBatch(t))
	ctx := context.Background()
	// The chDB store reads its own database, the HTTP store its own: both
	// hold the same rows (TestHTTP_WriteEqualsChdbWrite).
	f := func(name string, vals map[string]string) {
		t.Helper()
		emb, err := sinks.QueryNamed(ctx, p.emb, name, vals)
		if err != nil {
			t.Fatalf("%s %v on chDB: %v", name, vals, err)
		}
		http, err := sinks.QueryNamed(ctx, p.http, name, vals)
		if err != nil {
			t.Fatalf("%s %v over HTTP: %v", name, vals, err)
		}
		if emb.Len() == 0 {
			t.Errorf("%s %v: no rows on chDB: the comparison proves nothing", name, vals)
		}
		if !reflect.DeepEqual(emb, http) {
			t.Errorf("%s %v differ\n chDB: %v %v\n HTTP: %v %v", name, vals, emb.Columns, emb.Types, http.Columns, http.Types)
			for i := range min(emb.Len(), http.Len()) {
				if !reflect.DeepEqual(emb.Data[i], http.Data[i]) {
					t.Errorf("first different row %d\n chDB: %q\n HTTP: %q", i, emb.Data[i], http.Data[i])
					break
				}
			}
		}
	}
	for _, h := range []string{"7d", "30d"} {
		for _, dim := range []string{"channel", "level", "dpd_bucket", "customer_segment"} {
			f("post_reminder_rate", map[string]string{"horizon": h, "dimension": dim})
			f("holdout_uplift", map[string]string{"horizon": h, "dimension": dim})
		}
		f("reminder_dependency", map[string]string{"horizon": h})
		f("reminder_dependency", map[string]string{"horizon": h, "tz": "UTC", "from": "2025-10-01", "to": "2025-11-30"})
	}

	q := `SELECT toInt64(-9223372036854775808) AS lo, toUInt64(18446744073709551615) AS hi, toInt8(-1) AS i8,
	             toDecimal64(1.25, 2) AS d, toDecimal128('-12345678901234567890.5', 3) AS d128,
	             NULL AS n, CAST(NULL, 'Nullable(Int64)') AS ni, true AS b, 'a"b\\c\u00e9' AS s,
	             toDate('2025-12-31') AS day, toDateTime64('2025-10-05 17:00:00.456', 3, 'UTC') AS ts,
	             map('a/b', 'v', 'q"', 'x\ty') AS m, map('k', [toInt64(-1), 9007199254740993]) AS mi,
	             [1, 2, 3] AS a, ['x/y', 'é"'] AS sa, [toDecimal32(1.5, 2)] AS da,
	             [toDateTime64('2025-10-05 17:00:00.456', 3, 'UTC')] AS ta, [NULL, 1] AS na,
	             [toInt128(-5)] AS i128, [toUInt256(7)] AS u256,
	             0.625 AS f, 1/3 AS third, toFloat32(0.1) AS f32, toLowCardinality('lc') AS lc`
	emb, err := p.emb.Query(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	http, err := p.http.Query(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(emb.Types, http.Types) {
		t.Errorf("types\n chDB: %q\n HTTP: %q", emb.Types, http.Types)
	}
	if len(http.Data) != 1 || len(http.Data[0]) != len(emb.Columns) {
		t.Fatalf("HTTP: %q, want one row of %d values", http.Data, len(emb.Columns))
	}
	for i := range emb.Columns {
		if emb.Data[0][i] != http.Data[0][i] {
			t.Errorf("%s %s: chDB %q, HTTP %q", emb.Columns[i], emb.Types[i], emb.Data[0][i], http.Data[0][i])
		}
	}
}

// Writing the same batch twice through the clickhouse-go sink over HTTP (a
// retry, same token) leaves every table unchanged, even without FINAL: the
// insert_deduplication_token travels as an HTTP setting and the engine
// drops the second insert. A replay with another token is collapsed by the
// ReplacingMergeTree keys: FINAL counts equal one clean chDB write.
func TestSink_HTTPRetryIsIdempotent(t *testing.T) {
	p := newPair(t)
	ctx := context.Background()
	b := genBatch(t)
	if err := p.emb.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	want := p.counts(t, p.embDB, "FINAL")
	if err := p.http.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	raw := p.counts(t, p.httpDB, "")
	if got := p.counts(t, p.httpDB, "FINAL"); !reflect.DeepEqual(got, want) {
		t.Fatalf("one HTTP write: FINAL counts %v, want %v (one chDB write)", got, want)
	}
	if err := p.http.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	if got := p.counts(t, p.httpDB, ""); !reflect.DeepEqual(got, raw) {
		t.Errorf("after a retry with the same token, raw counts %v, want %v (deduplicated at insert)", got, raw)
	}
	b.Token += "-replayed"
	if err := p.http.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	if got := p.counts(t, p.httpDB, "FINAL"); !reflect.DeepEqual(got, want) {
		t.Errorf("after a replay with another token, FINAL counts %v, want %v", got, want)
	}
	// Every insert of the replay carries its token, and is synchronous:
	// into a Distributed table too (insert_distributed_sync), and on
	// servers that insert asynchronously by default (async_insert = 0).
	// Rows are stored as written (optimize_on_insert = 0): FINAL decides.
	tokens := 0
	for _, s := range p.front.Statements() {
		if strings.HasPrefix(s, "INSERT") && strings.Contains(s, "insert_deduplication_token = '"+b.Token) {
			tokens++
			if !strings.Contains(s, "insert_distributed_sync = 1") || !strings.Contains(s, "async_insert = 0") {
				t.Errorf("an insert without the synchronous settings: %.300s", s)
			}
			if !strings.Contains(s, "optimize_on_insert = 0") {
				t.Errorf("an insert that replaces equal keys on insert: %.300s", s)
			}
		}
	}
	if ts, _ := sinks.Tables(b); tokens != len(ts) {
		t.Errorf("%d inserts carried the replay's token, want %d (one per non-empty table)", tokens, len(ts))
	}
}

// Every compression the Store offers works over HTTP: lz4 and zstd frame
// the Native blocks both ways, none sends them plain.
func TestHTTP_Compressions(t *testing.T) {
	for _, c := range []string{"zstd", "none"} { // lz4, the default, runs in every other test
		t.Run(c, func(t *testing.T) {
			p := newPair(t, Compression(c))
			b := edgeBatch()
			p.write(t, b)
			for _, tb := range tables {
				if emb, http := p.finalRows(t, p.embDB, tb), p.finalRows(t, p.httpDB, tb); !reflect.DeepEqual(emb, http) {
					t.Errorf("%s differs with compression %s\n chDB: %q\n HTTP: %q", tb, c, emb, http)
				}
			}
		})
	}
}

// An engine error reaches the caller of the HTTP Store as a *sinks.Error
// with its ClickHouse code, classified like on chDB: an unknown table is not
// retryable.
func TestHTTP_ErrorsCarryTheirCode(t *testing.T) {
	p := newPair(t)
	_, err := p.http.Query(context.Background(), "SELECT * FROM no_such_table")
	var se *sinks.Error
	if !errors.As(err, &se) || se.Code != 60 {
		t.Fatalf("error = %v, want a *sinks.Error with code 60 (UNKNOWN_TABLE)", err)
	}
	if sinks.IsRetryable(err) {
		t.Errorf("IsRetryable(%v) = true, want false", err)
	}
	if err := p.http.Exec(context.Background(), "CREATE TABLE broken ("); err == nil || sinks.IsRetryable(err) {
		t.Errorf("a syntax error over HTTP: error = %v, want a non-retryable error", err)
	}
}

const bigMinor = 9007199254740993 // 2^53 + 1: not representable as a float64

func ms(s string) time.Time {
	t, err := time.Parse(sinks.DateTime64Layout, s)
	if err != nil {
		panic(err)
	}
	return t
}

// edgeBatch is a small batch of awkward values in every table: money beyond
// 2^53 and negative, quotes, backslashes and accents in strings and map
// keys, millisecond times, a fact without a reminder, a late event.
func edgeBatch() *sinks.Batch {
	day := stream.Horizon(24 * time.Hour)
	r1 := schemas.Reminder{
		EventID: "ev-r1", ReminderID: "r1", InvoiceID: "inv-1", CustomerID: "c-1",
		SentAt: ms("2025-10-03 09:15:00.123"), Channel: "email", Level: 1, FinalNotice: true,
		Plan: "Grands Comptes", Sender: "Zoé \\ O'Hara", AmountDueMinor: bigMinor, Currency: "EUR",
		InvoiceDueDate: ms("2025-09-30 00:00:00.000"),
		Attributes:     map[string]string{"country": "FR", "business_unit": "Nord \"quoted\"", "k'\\": "tab\there"},
	}
	r2 := schemas.Reminder{
		EventID: "ev-r2", ReminderID: "r2", InvoiceID: "inv-1", CustomerID: "c-1",
		SentAt: ms("2025-09-25 08:00:00.000"), Channel: "sms", Plan: "PME",
		AmountDueMinor: 100, Currency: "EUR", InvoiceDueDate: ms("2025-09-30 00:00:00.000"), Holdout: true,
	}
	pay := schemas.Payment{
		EventID: "ev-p1", PaymentID: "p1", CustomerID: "c-1", PaidAt: ms("2025-10-05 17:00:00.456"),
		Method: "transfer", Currency: "EUR",
		Allocations: []schemas.Allocation{{InvoiceID: "inv-1", AmountMinor: bigMinor}, {InvoiceID: "inv-2", AmountMinor: -42}},
	}
	inv := schemas.Invoice{
		EventID: "ev-i1", InvoiceID: "inv-1", CustomerID: "c-1", IssuedAt: ms("2025-09-01 00:00:00.000"),
		DueDate: ms("2025-09-30 00:00:00.000"), AmountMinor: bigMinor, Currency: "EUR", Status: "issued",
		Attributes: map[string]string{"segment": "ETI"},
	}
	facts := []stream.Fact{
		{
			PaymentEventID: "ev-p1", PaymentID: "p1", AllocationIndex: 0, InvoiceID: "inv-1", CustomerID: "c-1",
			PaidAt: pay.PaidAt, AmountMinor: bigMinor, Currency: "EUR", Method: "transfer",
			Horizon: 7 * day, Matched: true, Reminder: &r1, CreditedMinor: bigMinor, Candidates: 1, Model: stream.LastTouch, Version: 1,
		},
		{
			PaymentEventID: "ev-p1", PaymentID: "p1", AllocationIndex: 1, InvoiceID: "inv-2", CustomerID: "c-1",
			PaidAt: pay.PaidAt, AmountMinor: -42, Currency: "EUR", Method: "transfer",
			Horizon: 30 * day, Model: stream.LastTouch, Version: 1,
		},
	}
	outcome := stream.Outcome{Reminder: &r1, Horizon: 7 * day, Model: stream.LastTouch, CollectedMinor: bigMinor, Allocations: 1, CreditedMinor: bigMinor, Final: true, Version: 1}
	late := stream.LateEvent{Source: stream.Reminders, EventID: "ev-old", EventTime: ms("2024-01-01 00:00:00.000"), Offset: 77, Reason: "beyond_retention", Reminder: &r2}
	return &sinks.Batch{
		Token: "edge:0-9", Reminders: []schemas.Reminder{r1, r2}, Payments: []schemas.Payment{pay},
		Invoices: []schemas.Invoice{inv}, Facts: facts, Late: []stream.LateEvent{late},
		Outcomes: []stream.Outcome{outcome},
	}
}

// Over HTTP, a server that cannot be reached, and a proxy answering 502,
// 503 or 504 without a ClickHouse exception, give errors that
// sinks.IsRetryable classifies as retryable.
func TestOpen_HTTPUnreachableOrGatewayIsRetryable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if _, err := Open(ctx, Protocol(ch.HTTP), Addr(addr), DialTimeout(time.Second)); err == nil || !sinks.IsRetryable(err) {
		t.Errorf("Open over HTTP with nothing listening: error %v, want a retryable one", err)
	}
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream connect error", http.StatusServiceUnavailable)
	}))
	defer gw.Close()
	if _, err := Open(ctx, Protocol(ch.HTTP), Addr(strings.TrimPrefix(gw.URL, "http://"))); err == nil || !sinks.IsRetryable(err) {
		t.Errorf("Open over HTTP behind a 503: error %v, want a retryable one", err)
	} else {
		t.Logf("503: %v", err)
	}
}
