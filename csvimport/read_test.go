package csvimport

import (
	"bytes"
	"encoding/csv"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/relance-io/relance/schemas"
)

var now = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func read(t *testing.T, dir string, opts ...Opt) *Result {
	t.Helper()
	m := DefaultMapping()
	for _, o := range opts {
		var c cfg
		o(&c)
		if c.mapping != nil {
			m = c.mapping
		}
	}
	files, err := FilesIn(dir, m)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Read(files, append(opts, Now(now))...)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// octoberEvents are the events of testdata/october, written by hand.
func octoberEvents() *Result {
	due := utc("2026-09-30T00:00:00Z")
	rem := func(id, inv, cust, sent string, amount int64, country string) schemas.Reminder {
		return schemas.Reminder{EventID: StableID("rem-", id, inv), ReminderID: id, InvoiceID: inv, CustomerID: cust, SentAt: utc(sent),
			Channel: "email", Level: 1, Plan: "PME", Sender: "Claire", AmountDueMinor: amount, Currency: "EUR", InvoiceDueDate: due,
			Attributes: map[string]string{"country": country}}
	}
	inv := func(id, cust, issued, due string, amount int64) schemas.Invoice {
		return schemas.Invoice{EventID: StableID("inv-", id, "issued"), InvoiceID: id, CustomerID: cust, IssuedAt: utc(issued),
			DueDate: utc(due), AmountMinor: amount, Currency: "EUR", Status: "issued"}
	}
	return &Result{
		Reminders: []schemas.Reminder{
			rem("R1", "INV-A", "C1", "2026-10-05T09:00:00Z", 50_000_00, "FR"),
			rem("R2", "INV-B", "C2", "2026-10-10T09:00:00Z", 30_000_00, "BE"), // 11:00 in Paris
		},
		Payments: []schemas.Payment{
			{EventID: StableID("pay-", "P1"), PaymentID: "P1", CustomerID: "C1", PaidAt: utc("2026-10-08T09:00:00Z"), Method: "transfer", Currency: "EUR",
				Allocations: []schemas.Allocation{{InvoiceID: "INV-A", AmountMinor: 50_000_00}}},
			{EventID: StableID("pay-", "P2"), PaymentID: "P2", CustomerID: "C3", PaidAt: utc("2026-10-20T09:00:00Z"), Method: "transfer", Currency: "EUR",
				Allocations: []schemas.Allocation{{InvoiceID: "INV-C", AmountMinor: 40_000_00}, {InvoiceID: "INV-D", AmountMinor: 30_000_00}}},
		},
		Invoices: []schemas.Invoice{
			// Dates without a time are midnight in Paris (UTC+2 in September).
			inv("INV-A", "C1", "2026-08-31T22:00:00Z", "2026-09-30T00:00:00Z", 50_000_00),
			inv("INV-B", "C2", "2026-08-31T22:00:00Z", "2026-09-30T00:00:00Z", 30_000_00),
			inv("INV-C", "C3", "2026-08-31T22:00:00Z", "2026-09-30T00:00:00Z", 40_000_00),
			inv("INV-D", "C3", "2026-09-01T22:00:00Z", "2026-10-02T00:00:00Z", 30_000_00),
		},
	}
}

func sameEvents(t *testing.T, got, want *Result) {
	t.Helper()
	if !reflect.DeepEqual(got.Reminders, want.Reminders) {
		t.Errorf("reminders:\n got %+v\nwant %+v", got.Reminders, want.Reminders)
	}
	if !reflect.DeepEqual(got.Payments, want.Payments) {
		t.Errorf("payments:\n got %+v\nwant %+v", got.Payments, want.Payments)
	}
	if !reflect.DeepEqual(got.Invoices, want.Invoices) {
		t.Errorf("invoices:\n got %+v\nwant %+v", got.Invoices, want.Invoices)
	}
}

// Rule: the default layout (comma-separated, columns named after the
// fields, RFC 3339 or local "YYYY-MM-DD HH:mm:ss" timestamps, decimal
// amounts in major units, attr.* attributes, one payments row per
// allocation) gives exactly the hand-written events, with event ids derived
// from the business keys, and nothing rejected.
func TestRead_DefaultLayout(t *testing.T) {
	res := read(t, "testdata/october")
	sameEvents(t, res, octoberEvents())
	if len(res.Rejects) != 0 {
		t.Fatalf("rejects on clean data: %+v", res.Rejects)
	}
	var sum bytes.Buffer
	res.WriteSummary(&sum)
	want := strings.Join([]string{
		"testdata/october/reminders.csv: 2 rows read, 2 imported, 0 rejected",
		"testdata/october/payments.csv: 3 rows read, 3 imported as 2 payments, 0 rejected",
		"testdata/october/invoices.csv: 4 rows read, 4 imported, 0 rejected", ""}, "\n")
	if sum.String() != want {
		t.Fatalf("summary:\n%s\nwant:\n%s", sum.String(), want)
	}
}

// Rule: a mapped layout (a French accounting export: semicolons, decimal
// comma, space and dot thousands separators, DD/MM/YYYY dates in Paris
// time, renamed columns, a constant currency, translated values, a BOM)
// gives the same events as the same data in the default layout.
func TestRead_MappedLayoutGivesTheSameEvents(t *testing.T) {
	m, err := LoadMapping("testdata/mapped/mapping.yaml")
	if err != nil {
		t.Fatal(err)
	}
	res := read(t, "testdata/mapped", WithMapping(m))
	if len(res.Rejects) != 0 {
		t.Fatalf("rejects: %+v", res.Rejects)
	}
	sameEvents(t, res, octoberEvents())
}

// Rule: every bad row lands in the rejects, with its line number, its
// cells and a stable reason; the good rows are imported; the summary counts
// rows read, imported and rejected by reason; a payment is imported whole
// or not at all.
func TestRead_BadRowsAreRejectedWithReasons(t *testing.T) {
	res := read(t, "testdata/bad")
	type rj struct {
		file   string
		line   int
		reason string
	}
	var got []rj
	for _, r := range res.Rejects {
		got = append(got, rj{r.File, r.Line, r.Reason})
	}
	want := []rj{
		{"reminders.csv", 3, ReasonBadAmount},    // "1,234.56": no thousands separator by default
		{"reminders.csv", 4, ReasonBadTimestamp}, // 05/10/2026 is not a default format
		{"reminders.csv", 5, schemas.ReasonUnknownCurrency},
		{"reminders.csv", 6, schemas.ReasonNegativeAmount},
		{"reminders.csv", 7, "missing_reminder_id"},
		{"reminders.csv", 8, schemas.ReasonFarFutureTimestamp},
		{"reminders.csv", 9, ReasonDuplicate},
		{"reminders.csv", 10, ReasonConflictingDuplicate},
		{"reminders.csv", 11, ReasonBadAmount}, // 5.001 EUR
		{"reminders.csv", 12, ReasonWrongFieldCount},
		{"reminders.csv", 13, ReasonBadInteger},
		{"reminders.csv", 14, ReasonBadDate}, // 31 September
		{"reminders.csv", 15, ReasonBadBoolean},
		{"payments.csv", 4, ReasonBadAmount},
		{"payments.csv", 5, ReasonPaymentRejected}, // same payment as line 4
		{"payments.csv", 6, ReasonInconsistentPayment},
		{"payments.csv", 7, ReasonInconsistentPayment},
		{"payments.csv", 8, schemas.ReasonMissingInvoiceID},
		{"payments.csv", 9, "missing_payment_id"},
		{"payments.csv", 10, ReasonDuplicate}, // same allocation as line 3
		{"payments.csv", 11, ReasonBadAmount}, // "12,5" with a decimal point layout
		{"payments.csv", 12, ReasonBadCSV},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("rejects:\n got %v\nwant %v", got, want)
	}
	for _, r := range res.Rejects {
		if r.Detail == "" || (r.Reason != ReasonBadCSV && len(r.Row) == 0) {
			t.Errorf("reject %+v lacks a detail or its row", r)
		}
	}
	if len(res.Reminders) != 2 || res.Reminders[0].ReminderID != "R1" || res.Reminders[0].AmountDueMinor != 100_00 ||
		res.Reminders[1].ReminderID != "R12" || res.Reminders[1].AmountDueMinor != 700 {
		t.Errorf("imported reminders %+v, want R1 (10000 EUR cents) and R12 (700 JPY)", res.Reminders)
	}
	if len(res.Payments) != 2 || res.Payments[0].PaymentID != "P1" || len(res.Payments[0].Allocations) != 2 || res.Payments[1].PaymentID != "P7" {
		t.Errorf("imported payments %+v, want P1 (2 allocations) and P7", res.Payments)
	}
	var sum bytes.Buffer
	res.WriteSummary(&sum)
	want2 := "testdata/bad/reminders.csv: 15 rows read, 2 imported, 13 rejected (bad_amount 2, bad_boolean 1, bad_date 1, bad_integer 1, bad_timestamp 1, conflicting_duplicate 1, duplicate 1, far_future_timestamp 1, missing_reminder_id 1, negative_amount 1, unknown_currency 1, wrong_field_count 1)\n" +
		"testdata/bad/payments.csv: 12 rows read, 3 imported as 2 payments, 9 rejected (bad_amount 2, bad_csv 1, duplicate 1, inconsistent_payment 2, missing_invoice_id 1, missing_payment_id 1, payment_rejected 1)\n"
	if sum.String() != want2 {
		t.Fatalf("summary:\n%s\nwant:\n%s", sum.String(), want2)
	}

	// The rejects file is CSV: header, then file, line, reason, detail and
	// the original row.
	var buf bytes.Buffer
	if err := res.WriteRejects(&buf); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1+len(want) || strings.Join(recs[0], ",") != "file,line,reason,detail,row" {
		t.Fatalf("rejects file: %d records, header %v", len(recs), recs[0])
	}
	if r := recs[1]; r[0] != "reminders.csv" || r[1] != "3" || r[2] != "bad_amount" ||
		r[4] != `R2,INV-1,C1,2026-10-06 09:00,sms,2,"1,234.56",EUR,2026-09-30,no` {
		t.Fatalf("first reject %q", r)
	}
}

// Rule: a file whose header lacks a required column is refused as a whole,
// and the error names the field, the header and the fix.
func TestRead_MissingColumnRefusesTheFile(t *testing.T) {
	dir := t.TempDir()
	// A semicolon export read with the default comma: the error says so.
	writeFile(t, filepath.Join(dir, "semi.csv"), "reminder_id;invoice_id;customer_id;sent_at;amount_due;currency;invoice_due_date\n")
	if _, err := Read(Files{Reminders: filepath.Join(dir, "semi.csv")}); err == nil || !strings.Contains(err.Error(), `is the file ";"-separated? set separator: ";"`) {
		t.Errorf("semicolon file: %v", err)
	}
	writeFile(t, filepath.Join(dir, "reminders.csv"), "reminder_id,invoice_id,customer_id,sent_at,amount_due,currency\nR1,I1,C1,2026-10-05,1,EUR\n")
	_, err := Read(Files{Reminders: filepath.Join(dir, "reminders.csv")})
	if err == nil || !strings.Contains(err.Error(), `invoice_due_date (column "invoice_due_date")`) || !strings.Contains(err.Error(), "reminders.columns.FIELD") {
		t.Fatalf("err = %v", err)
	}
}

// Rule: a mapping file with an unknown key or field, or a value every row
// would fail on, is refused, naming it.
func TestParseMapping_RejectsUnknownKeys(t *testing.T) {
	f := func(yaml, want string) {
		t.Helper()
		_, err := ParseMapping([]byte(yaml), "m.yaml")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want it to mention %q", yaml, err, want)
		}
	}
	f("separtor: ';'", "separtor")
	f("reminders: {columns: {sent: Date}}", `reminders.columns: unknown field "sent"`)
	f("decimal: ';'", `decimal: ";"`)
	f("time_zone: Mars/Olympus", "time_zone")
	f("amounts: cents", "amounts")
	// Values every row would then fail on are refused with the mapping.
	f("reminders: {constants: {currency: EURO}}", `reminders.constants.currency: "EURO" is not an ISO 4217 code`)
	f("timestamp_formats: ['dd/mm/yyyy hh:mm']", `timestamp_formats[0]: "dd/mm/yyyy hh:mm" names no year, month and day`)
	f("date_formats: ['JJ/MM/AAAA']", `date_formats[0]: "JJ/MM/AAAA" names no year, month and day`)
}

// Rule: amounts become minor units exactly, with the currency's decimals,
// in the mapping's number format; more decimals than the currency has are
// rejected unless zeros.
func TestParseAmount(t *testing.T) {
	def := DefaultMapping()
	fr, err := ParseMapping([]byte("decimal: ','\nthousands: ' .'"), "fr")
	if err != nil {
		t.Fatal(err)
	}
	minor, _ := ParseMapping([]byte("amounts: minor"), "minor")
	f := func(m *Mapping, s string, decimals int, want int64, wantReason string) {
		t.Helper()
		got, e := m.parseAmount(s, decimals)
		reason := ""
		if e != nil {
			reason = e.reason
		}
		if got != want || reason != wantReason {
			t.Errorf("parseAmount(%q, %d) = %d, %q; want %d, %q", s, decimals, got, reason, want, wantReason)
		}
	}
	f(def, "1234.56", 2, 123456, "")
	f(def, "12.5", 2, 1250, "")
	f(def, "12", 2, 1200, "")
	f(def, ".5", 2, 50, "")
	f(def, "12.500", 2, 1250, "")
	f(def, "-3.10", 2, -310, "")
	f(def, "0.1", 2, 10, "") // no float: 0.1 is exactly 10 cents
	f(def, "92233720368547758.07", 2, 9223372036854775807, "")
	f(def, "92233720368547758.08", 2, 0, "amount_overflow")
	f(def, "12.345", 2, 0, ReasonBadAmount)
	f(def, "700", 0, 700, "")
	f(def, "1.234", 3, 1234, "")
	f(def, "1,234.56", 2, 0, ReasonBadAmount)
	f(def, "", 2, 0, ReasonBadAmount)
	f(def, "€12", 2, 0, ReasonBadAmount)
	f(def, "1e3", 2, 0, ReasonBadAmount)
	f(fr, "1 234,56", 2, 123456, "")
	f(fr, "1\u202f234,56", 2, 123456, "")
	f(fr, "1.234.567,8", 2, 123456780, "")
	// A thousands separator stands between groups of three digits, or the
	// amount is refused: read without it, "12.5" would be 125 EUR and
	// "1234.56" 123 456 EUR (ERP exports mix the two marks).
	f(fr, "12.5", 2, 0, ReasonBadAmount)
	f(fr, "1234.56", 2, 0, ReasonBadAmount)
	f(fr, "1 2 3,4", 2, 0, ReasonBadAmount)
	f(fr, "12  345,00", 2, 0, ReasonBadAmount)
	f(fr, "1 234,5 6", 2, 0, ReasonBadAmount)
	f(fr, "-1 234", 2, -123400, "")
	f(fr, "123,45", 2, 12345, "")
	f(minor, "123456", 2, 123456, "")
	f(minor, "1234.56", 2, 0, ReasonBadAmount)
}

// Rule: the same business key always gives the same event id.
func TestStableID(t *testing.T) {
	a, b := StableID("rem-", "R1", "INV-A"), StableID("rem-", "R1", "INV-A")
	if a != b || len(a) != len("rem-")+16 || a == StableID("rem-", "R1", "INV-B") {
		t.Fatalf("ids %q %q", a, b)
	}
}

// Rule: what French ERP exports really hold is read right or rejected with
// its reason, never silently wrong: a BOM before a quoted header; a
// Windows-1252 cell (bad_encoding, not invalid UTF-8 in the store); a
// translation whatever the case and spaces of the source value; an
// unclosed quote reported with the lines it swallowed.
func TestRead_RealWorldExports(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "reminders.csv"), "\ufeff\"reminder_id\",\"invoice_id\",customer_id,sent_at,channel,amount_due,currency,invoice_due_date\n"+
		"R1,I1,C1,2026-10-05,COURRIEL ,10.00,EUR,2026-09-30\n"+
		"R2,I2,Soci\xe9t\xe9,2026-10-05,courriel,10.00,EUR,2026-09-30\n"+
		"R3,I3,C3,2026-10-05,Courriel,10.00,EUR,2026-09-30\n"+
		"R4,\"I4,C4,2026-10-05,email,10.00,EUR,2026-09-30\n"+
		"R5,I5,C5,2026-10-05,email,10.00,EUR,2026-09-30\n")
	m, err := ParseMapping([]byte("reminders:\n  values:\n    channel: {Courriel: email}\n"), "m.yaml")
	if err != nil {
		t.Fatal(err)
	}
	res := read(t, dir, WithMapping(m))
	var got []string
	for _, r := range res.Reminders {
		got = append(got, r.ReminderID+":"+r.Channel)
	}
	if strings.Join(got, " ") != "R1:email R3:email" {
		t.Errorf("imported %v, want R1 and R3, both email", got)
	}
	reasons := map[string]string{}
	for _, r := range res.Rejects {
		reasons[strconv.Itoa(r.Line)] = r.Reason + " " + r.Detail
	}
	if !strings.HasPrefix(reasons["3"], "bad_encoding cell 3 (customer_id) is not UTF-8") {
		t.Errorf("line 3 (Windows-1252): %q", reasons["3"])
	}
	if !strings.HasPrefix(reasons["5"], "bad_csv") || !strings.Contains(reasons["5"], "lines 5 to 6 read as one record") {
		t.Errorf("line 5 (unclosed quote): %q (rejects %v)", reasons["5"], reasons)
	}
}

// Rule: a column the mapping names must be in the file, even for an
// optional field: a misspelt "Témoin" would leave every holdout false.
func TestRead_MappedColumnMissingRefusesTheFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "reminders.csv"), "reminder_id,invoice_id,customer_id,sent_at,amount_due,currency,invoice_due_date,Témoin\nR1,I1,C1,2026-10-05,1,EUR,2026-09-30,oui\n")
	m, err := ParseMapping([]byte("reminders:\n  columns:\n    holdout: \"Temoin\"\n"), "m.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Read(Files{Reminders: filepath.Join(dir, "reminders.csv")}, WithMapping(m))
	if err == nil || !strings.Contains(err.Error(), `holdout (column "Temoin")`) {
		t.Fatalf("err = %v", err)
	}
}
