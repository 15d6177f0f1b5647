package csvimport

import (
	"bufio"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/relance-io/relance/schemas"
)

// Opt configures Read.
type Opt func(*cfg)

type cfg struct {
	mapping *Mapping
	loc     *time.Location
	now     time.Time
	rows    func(n int)
}

// WithMapping sets the layout, overriding the default of DefaultMapping().
func WithMapping(m *Mapping) Opt { return func(c *cfg) { c.mapping = m } }

// TimeZone sets the zone of timestamps written without an offset,
// overriding the mapping's time_zone (default Europe/Paris).
func TimeZone(loc *time.Location) Opt { return func(c *cfg) { c.loc = loc } }

// Now sets the reference time of the far_future_timestamp check,
// overriding the default of time.Now() at the start of Read.
func Now(t time.Time) Opt { return func(c *cfg) { c.now = t } }

// OnRows is called with the number of data rows read so far in the
// current file, every 1000 rows and at the end of each file (for progress
// reporting). Default: not called.
func OnRows(fn func(n int)) Opt { return func(c *cfg) { c.rows = fn } }

// Files are the CSV files of one import, by kind; an empty path skips the
// kind.
type Files struct {
	Reminders, Payments, Invoices string
}

// Path returns the file of kind ("" when skipped).
func (f Files) Path(kind string) string {
	switch kind {
	case KindReminders:
		return f.Reminders
	case KindPayments:
		return f.Payments
	case KindInvoices:
		return f.Invoices
	}
	return ""
}

// FilesIn finds the mapping's files (default reminders.csv, payments.csv,
// invoices.csv) in dir; missing ones are skipped, but at least one must be
// there.
func FilesIn(dir string, m *Mapping) (Files, error) {
	if m == nil {
		m = DefaultMapping()
	}
	var f Files
	var names []string
	for _, kind := range Kinds {
		name := m.Section(kind).File
		names = append(names, name)
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err != nil {
			continue
		}
		switch kind {
		case KindReminders:
			f.Reminders = p
		case KindPayments:
			f.Payments = p
		case KindInvoices:
			f.Invoices = p
		}
	}
	if f == (Files{}) {
		return f, fmt.Errorf("csvimport: none of %s in %s (name them so, or set <kind>.file in a mapping file)", strings.Join(names, ", "), dir)
	}
	return f, nil
}

// Reject is one row left out of the import, and why.
type Reject struct {
	File   string   // the file's base name
	Line   int      // 1-based line of the row in the file (the header is line 1)
	Reason string   // machine label: a Reason* constant or a schemas.Reason* one
	Detail string   // for humans: the value and what was expected
	Row    []string // the row's cells as read (nil when the line is not valid CSV)
}

// FileSummary counts what happened to one file's rows.
type FileSummary struct {
	Kind, Path string
	// Rows is the number of data rows read (the header excluded).
	Rows int
	// Imported is the number of rows turned into events; Rows - Imported
	// rows are rejected.
	Imported int
	// Events is the number of events made: one per row, except payments
	// (one per payment_id, its rows being its allocations).
	Events int
	// Rejected counts the rejected rows by reason.
	Rejected map[string]int
}

// Result is what Read made of the files: the events, ready to produce, and
// the rows left out.
type Result struct {
	Reminders []schemas.Reminder
	Payments  []schemas.Payment
	Invoices  []schemas.Invoice
	Files     []FileSummary
	Rejects   []Reject
}

// Read parses and validates the files: every valid row becomes an event
// (with a stable event id, see the package doc), every other row a Reject.
// It returns an error, and no result, only for what concerns a whole file:
// it cannot be read, or its header lacks a required column that no
// constant provides.
func Read(files Files, opts ...Opt) (*Result, error) {
	c := cfg{mapping: DefaultMapping(), now: time.Now()}
	for _, o := range opts {
		o(&c)
	}
	if c.loc == nil {
		loc, err := time.LoadLocation(c.mapping.TimeZone)
		if err != nil {
			return nil, fmt.Errorf("csvimport: time zone: %w", err)
		}
		c.loc = loc
	}
	res := &Result{}
	for _, kind := range Kinds {
		path := files.Path(kind)
		if path == "" {
			continue
		}
		t, err := openTable(path, kind, c.mapping)
		if err != nil {
			return nil, err
		}
		r := &fileReader{cfg: &c, t: t, res: res, sum: FileSummary{Kind: kind, Path: path, Rejected: map[string]int{}}, from: len(res.Rejects)}
		err = r.read()
		t.close()
		if err != nil {
			return nil, err
		}
		res.Files = append(res.Files, r.sum)
	}
	return res, nil
}

// table is an open CSV file with its header resolved against the mapping.
type table struct {
	kind, path, name string
	m                *Mapping
	sec              *Section
	f                *os.File
	r                *csv.Reader
	header           []string
	col              map[string]int // field → column index
	attrs            map[string]int // attribute key → column index
	// values are the mapping's translations keyed by the lower-cased
	// source value: "COURRIEL" and "courriel " translate as "Courriel".
	values map[string]map[string]string
}

func normHeader(s string) string {
	return strings.ToLower(strings.TrimSpace(strings.TrimPrefix(s, "\ufeff")))
}

func openTable(path, kind string, m *Mapping) (*table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("csvimport: %w", err)
	}
	t := &table{kind: kind, path: path, name: filepath.Base(path), m: m, sec: m.Section(kind), f: f,
		col: map[string]int{}, attrs: map[string]int{}}
	// A BOM before a quoted first header would be a bare quote to the CSV
	// reader: skipped here, before it.
	br := bufio.NewReader(f)
	if b, err := br.Peek(3); err == nil && string(b) == "\ufeff" {
		br.Discard(3)
	}
	t.r = csv.NewReader(br)
	t.r.Comma = []rune(m.Separator)[0]
	t.r.FieldsPerRecord = -1
	t.header, err = t.r.Read()
	if err != nil {
		f.Close()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("csvimport: %s is empty: want a header line (%s)", path, strings.Join(fields[kind], t.m.Separator))
		}
		return nil, fmt.Errorf("csvimport: %s header: %w", path, err)
	}
	byName := map[string]int{}
	for i, h := range t.header {
		n := normHeader(h)
		if _, dup := byName[n]; !dup {
			byName[n] = i
		}
		if strings.HasPrefix(n, AttributePrefix) && kind != KindPayments {
			t.attrs[strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))[len(AttributePrefix):]] = i
		}
	}
	for _, fld := range fields[kind] {
		name := fld
		if h, ok := t.sec.Columns[fld]; ok {
			name = h
		}
		if i, ok := byName[normHeader(name)]; ok {
			t.col[fld] = i
		}
	}
	var missing []string
	// A column the mapping names must be there, required or not: a typo
	// in an optional one (channel, holdout…) would otherwise leave the
	// field empty on every row without a word.
	for fld, h := range t.sec.Columns {
		if _, ok := t.col[fld]; !ok && !slices.Contains(required[kind], fld) {
			missing = append(missing, fmt.Sprintf("%s (column %q)", fld, h))
		}
	}
	t.values = map[string]map[string]string{}
	for fld, tr := range t.sec.Values {
		t.values[fld] = map[string]string{}
		for from, to := range tr {
			t.values[fld][strings.ToLower(strings.TrimSpace(from))] = to
		}
	}
	for _, fld := range required[kind] {
		if _, ok := t.col[fld]; ok {
			continue
		}
		if _, ok := t.sec.Constants[fld]; ok {
			continue
		}
		name := fld
		if h, ok := t.sec.Columns[fld]; ok {
			name = h
		}
		missing = append(missing, fmt.Sprintf("%s (column %q)", fld, name))
	}
	for key, h := range t.sec.Attributes {
		i, ok := byName[normHeader(h)]
		if !ok {
			missing = append(missing, fmt.Sprintf("attribute %s (column %q)", key, h))
			continue
		}
		t.attrs[key] = i
	}
	if len(missing) > 0 {
		f.Close()
		sort.Strings(missing)
		hint := ""
		if len(t.header) == 1 {
			for _, sep := range []string{";", "\t", "|", ","} {
				if sep != t.m.Separator && strings.Contains(t.header[0], sep) {
					hint = fmt.Sprintf(" (the header reads as one column: is the file %q-separated? set separator: %q in a mapping file)", sep, sep)
					break
				}
			}
		}
		return nil, fmt.Errorf("csvimport: %s: no column for %s; the header is %q%s: rename the columns, or map them in a mapping file (%s.columns.FIELD: \"HEADER\", or %s.constants.FIELD: VALUE)",
			path, strings.Join(missing, ", "), t.header, hint, kind, kind)
	}
	return t, nil
}

func (t *table) close() { t.f.Close() }

// get returns the field's cell (trimmed), the constant when the cell is
// empty or absent, translated by the mapping's values.
func (t *table) get(rec []string, field string) string {
	v := ""
	if i, ok := t.col[field]; ok && i < len(rec) {
		v = strings.TrimSpace(rec[i])
	}
	if v == "" {
		v = t.sec.Constants[field]
	}
	if tr, ok := t.sec.Values[field][v]; ok {
		v = tr
	} else if tr, ok := t.values[field][strings.ToLower(v)]; ok {
		v = tr
	}
	return v
}

func (t *table) attributes(rec []string) map[string]string {
	var out map[string]string
	for k, i := range t.attrs {
		if i >= len(rec) {
			continue
		}
		if v := strings.TrimSpace(rec[i]); v != "" {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}

// fileReader reads one file's rows into events and rejects.
type fileReader struct {
	*cfg
	t    *table
	res  *Result
	sum  FileSummary
	from int // index of this file's first reject in res.Rejects
}

func (r *fileReader) reject(line int, row []string, e *rowError) {
	r.res.Rejects = append(r.res.Rejects, Reject{File: r.t.name, Line: line, Reason: e.reason, Detail: e.detail, Row: row})
	r.sum.Rejected[e.reason]++
}

// row is one CSV record and where it came from.
type row struct {
	line int
	rec  []string
}

func (r *fileReader) read() error {
	var payments []paymentRow
	seen := map[string]seenRow{}
	for {
		rec, err := r.t.r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		r.sum.Rows++
		if r.rows != nil && r.sum.Rows%1000 == 0 {
			r.rows(r.sum.Rows)
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			if pe.Line > pe.StartLine {
				// An unclosed quote swallows the lines after it: say which.
				r.reject(pe.StartLine, nil, rejectf(ReasonBadCSV, "%v: lines %d to %d read as one record (a quote opened on line %d is not closed as CSV wants): fix the quote and import again", pe.Err, pe.StartLine, pe.Line, pe.StartLine))
			} else {
				r.reject(pe.StartLine, nil, rejectf(ReasonBadCSV, "%v", pe.Err))
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("csvimport: reading %s: %w", r.t.path, err)
		}
		line, _ := r.t.r.FieldPos(0)
		rw := row{line, rec}
		if i := slices.IndexFunc(rec, func(c string) bool { return !utf8.ValidString(c) }); i >= 0 {
			r.reject(line, rec, rejectf(ReasonBadEncoding, "cell %d (%s) is not UTF-8: the file may be Windows-1252 or Latin-1; save it as UTF-8 and import again", i+1, r.t.header[min(i, len(r.t.header)-1)]))
			continue
		}
		if len(rec) != len(r.t.header) {
			r.reject(line, rec, rejectf(ReasonWrongFieldCount, "%d cells, the header has %d (separator %q)", len(rec), len(r.t.header), r.t.m.Separator))
			continue
		}
		switch r.t.kind {
		case KindReminders:
			rem, e := r.reminder(rec)
			if e == nil {
				e = r.dedupe(seen, "reminder "+rem.ReminderID+" on invoice "+rem.InvoiceID, rem.InvoiceID+"|"+rem.ReminderID, line, rem)
			}
			if e != nil {
				r.reject(line, rec, e)
				continue
			}
			r.res.Reminders = append(r.res.Reminders, rem)
			r.sum.Imported++
			r.sum.Events++
		case KindInvoices:
			inv, e := r.invoice(rec)
			if e == nil {
				e = r.dedupe(seen, "invoice "+inv.InvoiceID+" with status "+inv.Status, inv.InvoiceID+"|"+inv.Status, line, inv)
			}
			if e != nil {
				r.reject(line, rec, e)
				continue
			}
			r.res.Invoices = append(r.res.Invoices, inv)
			r.sum.Imported++
			r.sum.Events++
		case KindPayments:
			p, e := r.paymentRow(rw)
			payments = append(payments, p)
			if e != nil {
				payments[len(payments)-1].err = e
			}
		}
	}
	if r.rows != nil {
		r.rows(r.sum.Rows)
	}
	if r.t.kind == KindPayments {
		r.groupPayments(payments)
	}
	mine := r.res.Rejects[r.from:]
	sort.SliceStable(mine, func(i, j int) bool { return mine[i].Line < mine[j].Line })
	return nil
}

type seenRow struct {
	line int
	v    any
}

// dedupe rejects a second row with the same business key: as a duplicate
// when it makes the same event, else as a conflicting duplicate (the
// pipeline would keep the first for attribution and the last in the raw
// table: the file must say which one is right).
func (r *fileReader) dedupe(seen map[string]seenRow, what, key string, line int, v any) *rowError {
	if s, ok := seen[key]; ok {
		if reflect.DeepEqual(s.v, v) {
			return rejectf(ReasonDuplicate, "%s already at line %d", what, s.line)
		}
		return rejectf(ReasonConflictingDuplicate, "%s already at line %d, with other values: keep one of the two rows", what, s.line)
	}
	seen[key] = seenRow{line, v}
	return nil
}

// need returns the required fields' first empty one as a rejection.
func (r *fileReader) need(rec []string, names ...string) *rowError {
	for _, f := range names {
		if r.t.get(rec, f) == "" {
			return rejectf(missingReason(f), "%s is empty", f)
		}
	}
	return nil
}

func (r *fileReader) currency(rec []string) (string, *rowError) {
	cur := strings.ToUpper(r.t.get(rec, "currency"))
	if !schemas.KnownCurrency(cur) {
		return cur, rejectf(schemas.ReasonUnknownCurrency, "currency %q is not an ISO 4217 code (e.g. EUR)", r.t.get(rec, "currency"))
	}
	return cur, nil
}

// validation turns a Validate error into a rejection.
func validation(err error) *rowError {
	if err == nil {
		return nil
	}
	var ve *schemas.ValidationError
	if errors.As(err, &ve) {
		return &rowError{reason: ve.Reason, detail: strings.TrimPrefix(ve.Error(), "schemas: ")}
	}
	return &rowError{reason: "invalid", detail: err.Error()}
}

// StableID derives an event id from a business key: prefix + the first 16
// hex digits of sha256 of the key parts joined by "|". The same row always
// gets the same id, so a re-import sends the same events again.
func StableID(prefix string, parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "|")))
	return prefix + hex.EncodeToString(h[:])[:16]
}

func (r *fileReader) reminder(rec []string) (schemas.Reminder, *rowError) {
	var v schemas.Reminder
	if e := r.need(rec, required[KindReminders]...); e != nil {
		return v, e
	}
	var e *rowError
	if v.Currency, e = r.currency(rec); e != nil {
		return v, e
	}
	if v.AmountDueMinor, e = r.t.m.parseAmount(r.t.get(rec, "amount_due"), schemas.MinorDigits(v.Currency)); e != nil {
		return v, e
	}
	if v.SentAt, e = r.t.m.parseTimestamp(r.t.get(rec, "sent_at"), r.loc); e != nil {
		return v, e
	}
	if v.InvoiceDueDate, e = r.t.m.parseDate(r.t.get(rec, "invoice_due_date"), r.loc); e != nil {
		return v, e
	}
	if v.Level, e = parseLevel(r.t.get(rec, "level")); e != nil {
		return v, e
	}
	if v.FinalNotice, e = parseBool(r.t.get(rec, "final_notice")); e != nil {
		e.detail = "final_notice " + e.detail
		return v, e
	}
	if v.Holdout, e = parseBool(r.t.get(rec, "holdout")); e != nil {
		e.detail = "holdout " + e.detail
		return v, e
	}
	v.ReminderID = r.t.get(rec, "reminder_id")
	v.InvoiceID = r.t.get(rec, "invoice_id")
	v.CustomerID = r.t.get(rec, "customer_id")
	v.Channel = r.t.get(rec, "channel")
	v.Plan = r.t.get(rec, "plan")
	v.Sender = r.t.get(rec, "sender")
	v.Attributes = r.t.attributes(rec)
	if v.EventID = r.t.get(rec, "event_id"); v.EventID == "" {
		v.EventID = StableID("rem-", v.ReminderID, v.InvoiceID)
	}
	return v, validation(v.Validate(r.now))
}

func (r *fileReader) invoice(rec []string) (schemas.Invoice, *rowError) {
	var v schemas.Invoice
	if e := r.need(rec, required[KindInvoices]...); e != nil {
		return v, e
	}
	var e *rowError
	if v.Currency, e = r.currency(rec); e != nil {
		return v, e
	}
	if v.AmountMinor, e = r.t.m.parseAmount(r.t.get(rec, "amount"), schemas.MinorDigits(v.Currency)); e != nil {
		return v, e
	}
	if v.IssuedAt, e = r.t.m.parseTimestamp(r.t.get(rec, "issued_at"), r.loc); e != nil {
		return v, e
	}
	if v.DueDate, e = r.t.m.parseDate(r.t.get(rec, "due_date"), r.loc); e != nil {
		return v, e
	}
	v.InvoiceID = r.t.get(rec, "invoice_id")
	v.CustomerID = r.t.get(rec, "customer_id")
	if v.Status = r.t.get(rec, "status"); v.Status == "" {
		v.Status = "issued"
	}
	v.Attributes = r.t.attributes(rec)
	if v.EventID = r.t.get(rec, "event_id"); v.EventID == "" {
		v.EventID = StableID("inv-", v.InvoiceID, v.Status)
	}
	return v, validation(v.Validate(r.now))
}

// paymentRow is one allocation row; rows of one payment_id make one
// Payment.
type paymentRow struct {
	row
	head  schemas.Payment // everything but the allocations
	alloc schemas.Allocation
	err   *rowError
}

func (r *fileReader) paymentRow(rw row) (paymentRow, *rowError) {
	rec := rw.rec
	p := paymentRow{row: rw}
	p.head.PaymentID = r.t.get(rec, "payment_id")
	if e := r.need(rec, required[KindPayments]...); e != nil {
		return p, e
	}
	var e *rowError
	if p.head.Currency, e = r.currency(rec); e != nil {
		return p, e
	}
	if p.alloc.AmountMinor, e = r.t.m.parseAmount(r.t.get(rec, "amount"), schemas.MinorDigits(p.head.Currency)); e != nil {
		return p, e
	}
	if p.head.PaidAt, e = r.t.m.parseTimestamp(r.t.get(rec, "paid_at"), r.loc); e != nil {
		return p, e
	}
	p.alloc.InvoiceID = r.t.get(rec, "invoice_id")
	p.head.CustomerID = r.t.get(rec, "customer_id")
	p.head.Method = r.t.get(rec, "method")
	if p.head.EventID = r.t.get(rec, "event_id"); p.head.EventID == "" {
		p.head.EventID = StableID("pay-", p.head.PaymentID)
	}
	return p, nil
}

// groupPayments makes one Payment per payment_id, its rows' allocations in
// file order. A payment is imported whole or not at all: if one of its rows
// is rejected, so are the others (a partial payment imported now would be
// a different event from the corrected one imported later, and the
// pipeline keeps the first version of an event id).
func (r *fileReader) groupPayments(rows []paymentRow) {
	var order []string
	groups := map[string][]int{}
	for i, p := range rows {
		id := p.head.PaymentID
		if id == "" {
			r.reject(p.line, p.rec, p.err) // missing_payment_id: cannot be grouped
			continue
		}
		if _, ok := groups[id]; !ok {
			order = append(order, id)
		}
		groups[id] = append(groups[id], i)
	}
	for _, id := range order {
		idx := groups[id]
		fail := func(first int, e *rowError) {
			for _, i := range idx {
				if rows[i].err != nil {
					r.reject(rows[i].line, rows[i].rec, rows[i].err)
				} else if i == first || first < 0 {
					r.reject(rows[i].line, rows[i].rec, e)
				} else {
					r.reject(rows[i].line, rows[i].rec, rejectf(ReasonPaymentRejected, "line %d of payment %s was rejected (%s)", rows[first].line, id, e.reason))
				}
			}
		}
		var bad = -1
		for _, i := range idx {
			if rows[i].err != nil {
				bad = i
				break
			}
		}
		if bad >= 0 {
			fail(bad, rows[bad].err)
			continue
		}
		first := rows[idx[0]]
		p := first.head
		seenAlloc := map[schemas.Allocation]int{}
		var dups []int
		var incons *rowError
		for _, i := range idx {
			h := rows[i].head
			if !sameHead(h, first.head) && incons == nil {
				incons = rejectf(ReasonInconsistentPayment, "payment %s: line %d says %s, line %d says %s: all rows of a payment must agree on customer_id, paid_at, method, currency and event_id",
					id, first.line, describeHead(first.head), rows[i].line, describeHead(h))
			}
			if l, ok := seenAlloc[rows[i].alloc]; ok {
				rows[i].err = rejectf(ReasonDuplicate, "payment %s: the same allocation (invoice %s, amount %d) already at line %d", id, rows[i].alloc.InvoiceID, rows[i].alloc.AmountMinor, l)
				dups = append(dups, i)
				continue
			}
			seenAlloc[rows[i].alloc] = rows[i].line
			p.Allocations = append(p.Allocations, rows[i].alloc)
		}
		if incons != nil {
			for _, i := range idx {
				r.reject(rows[i].line, rows[i].rec, incons)
			}
			continue
		}
		if e := validation(p.Validate(r.now)); e != nil {
			fail(-1, e)
			continue
		}
		for _, i := range dups {
			r.reject(rows[i].line, rows[i].rec, rows[i].err)
		}
		r.res.Payments = append(r.res.Payments, p)
		r.sum.Imported += len(idx) - len(dups)
		r.sum.Events++
	}
}

func sameHead(a, b schemas.Payment) bool {
	return a.EventID == b.EventID && a.CustomerID == b.CustomerID && a.PaidAt.Equal(b.PaidAt) && a.Method == b.Method && a.Currency == b.Currency
}

func describeHead(h schemas.Payment) string {
	return fmt.Sprintf("customer %s, paid %s, method %s, currency %s", h.CustomerID, h.PaidAt.Format(time.RFC3339), h.Method, h.Currency)
}
