package sinks

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/relance-io/relance/schemas"
	"github.com/relance-io/relance/stream"
)

// Layouts of ClickHouse's text forms of DateTime64(3) and Date, as read and
// printed by both engines (UTC).
const (
	DateTime64Layout = "2006-01-02 15:04:05.000"
	DateLayout       = "2006-01-02"
)

// Table names, as created by sql/migrations.
const (
	TableReminders   = "reminders"
	TableAllocations = "payment_allocations"
	TableInvoices    = "invoices"
	TableFacts       = "attribution_facts"
	TableLateEvents  = "late_events"
	TableOutcomes    = "reminder_outcomes"
)

// The row structs below mirror the DDL of sql/migrations column for column,
// in the same order: the `ch` tag is the column name. Columns the server
// fills (ingested_at, written_at: DEFAULT now64(3)) have no field. A
// time.Time field is a DateTime64(3, 'UTC') unless tagged `chtype:"Date"`.
// Times are UTC; a zero time.Time is written as 1970-01-01 00:00:00.000.

// ReminderRow is one row of the reminders table.
type ReminderRow struct {
	EventID         string            `ch:"event_id"`
	ReminderID      string            `ch:"reminder_id"`
	InvoiceID       string            `ch:"invoice_id"`
	CustomerID      string            `ch:"customer_id"`
	SentAt          time.Time         `ch:"sent_at"`
	Channel         string            `ch:"channel"`
	Level           int32             `ch:"level"`
	FinalNotice     uint8             `ch:"final_notice"`
	Plan            string            `ch:"plan"`
	Sender          string            `ch:"sender"`
	AmountDueMinor  int64             `ch:"amount_due_minor"`
	Currency        string            `ch:"currency"`
	InvoiceDueDate  time.Time         `ch:"invoice_due_date" chtype:"Date"`
	Holdout         uint8             `ch:"holdout"`
	Attributes      map[string]string `ch:"attributes"`
	SourcePartition int32             `ch:"source_partition"`
	SourceOffset    int64             `ch:"source_offset"`
}

// AllocationRow is one row of the payment_allocations table: one allocation
// of one payment.
type AllocationRow struct {
	EventID          string    `ch:"event_id"`
	PaymentID        string    `ch:"payment_id"`
	AllocationIndex  uint16    `ch:"allocation_index"`
	CustomerID       string    `ch:"customer_id"`
	InvoiceID        string    `ch:"invoice_id"`
	PaidAt           time.Time `ch:"paid_at"`
	Method           string    `ch:"method"`
	Currency         string    `ch:"currency"`
	AmountMinor      int64     `ch:"amount_minor"`
	AllocationsCount uint16    `ch:"allocations_count"`
	SourcePartition  int32     `ch:"source_partition"`
	SourceOffset     int64     `ch:"source_offset"`
}

// InvoiceRow is one row of the invoices table.
type InvoiceRow struct {
	EventID         string            `ch:"event_id"`
	InvoiceID       string            `ch:"invoice_id"`
	CustomerID      string            `ch:"customer_id"`
	IssuedAt        time.Time         `ch:"issued_at"`
	DueDate         time.Time         `ch:"due_date" chtype:"Date"`
	AmountMinor     int64             `ch:"amount_minor"`
	Currency        string            `ch:"currency"`
	Status          string            `ch:"status"`
	Attributes      map[string]string `ch:"attributes"`
	SourcePartition int32             `ch:"source_partition"`
	SourceOffset    int64             `ch:"source_offset"`
}

// FactRow is one row of the attribution_facts table (see stream.Fact). The
// reminder columns are zero ("" / 0 / 1970-01-01) when the fact has no
// credited reminder.
type FactRow struct {
	PaymentEventID         string            `ch:"payment_event_id"`
	PaymentID              string            `ch:"payment_id"`
	AllocationIndex        uint16            `ch:"allocation_index"`
	InvoiceID              string            `ch:"invoice_id"`
	CustomerID             string            `ch:"customer_id"`
	PaidAt                 time.Time         `ch:"paid_at"`
	AmountMinor            int64             `ch:"amount_minor"`
	Currency               string            `ch:"currency"`
	Method                 string            `ch:"method"`
	Horizon                string            `ch:"horizon"`
	HorizonSeconds         uint32            `ch:"horizon_seconds"`
	Model                  string            `ch:"model"`
	Matched                uint8             `ch:"matched"`
	Candidates             uint16            `ch:"candidates"`
	ReminderID             string            `ch:"reminder_id"`
	ReminderEventID        string            `ch:"reminder_event_id"`
	SentAt                 time.Time         `ch:"sent_at"`
	LagMs                  int64             `ch:"lag_ms"`
	CreditedMinor          int64             `ch:"credited_minor"`
	Channel                string            `ch:"channel"`
	Level                  int32             `ch:"level"`
	FinalNotice            uint8             `ch:"final_notice"`
	Plan                   string            `ch:"plan"`
	Sender                 string            `ch:"sender"`
	ReminderAmountDueMinor int64             `ch:"reminder_amount_due_minor"`
	InvoiceDueDate         time.Time         `ch:"invoice_due_date" chtype:"Date"`
	DPD                    int32             `ch:"dpd"`
	Attributes             map[string]string `ch:"attributes"`
	Version                uint64            `ch:"version"`
	IsDeleted              uint8             `ch:"is_deleted"`
}

// OutcomeRow is one row of the reminder_outcomes table (see stream.Outcome).
type OutcomeRow struct {
	ReminderID      string            `ch:"reminder_id"`
	ReminderEventID string            `ch:"reminder_event_id"`
	InvoiceID       string            `ch:"invoice_id"`
	CustomerID      string            `ch:"customer_id"`
	SentAt          time.Time         `ch:"sent_at"`
	Horizon         string            `ch:"horizon"`
	HorizonSeconds  uint32            `ch:"horizon_seconds"`
	Model           string            `ch:"model"`
	Holdout         uint8             `ch:"holdout"`
	Channel         string            `ch:"channel"`
	Level           int32             `ch:"level"`
	FinalNotice     uint8             `ch:"final_notice"`
	Plan            string            `ch:"plan"`
	Sender          string            `ch:"sender"`
	Currency        string            `ch:"currency"`
	AmountDueMinor  int64             `ch:"amount_due_minor"`
	InvoiceDueDate  time.Time         `ch:"invoice_due_date" chtype:"Date"`
	Attributes      map[string]string `ch:"attributes"`
	CollectedMinor  int64             `ch:"collected_minor"`
	Allocations     uint32            `ch:"allocations"`
	CreditedMinor   int64             `ch:"credited_minor"`
	IsFinal         uint8             `ch:"is_final"`
	Version         uint64            `ch:"version"`
}

// NewOutcomeRow maps a reminder outcome to its row.
func NewOutcomeRow(o *stream.Outcome) (*OutcomeRow, error) {
	row := &OutcomeRow{}
	if err := fillOutcomeRow(row, o); err != nil {
		return nil, err
	}
	return row, nil
}

func fillOutcomeRow(dst *OutcomeRow, o *stream.Outcome) error {
	secs, err := checkOutcome(o)
	if err != nil {
		return err
	}
	r := o.Reminder
	*dst = OutcomeRow{
		ReminderID:      r.ReminderID,
		ReminderEventID: r.EventID,
		InvoiceID:       r.InvoiceID,
		CustomerID:      r.CustomerID,
		SentAt:          utc(r.SentAt),
		Horizon:         horizonLabel(o.Horizon),
		HorizonSeconds:  uint32(secs),
		Model:           o.Model.String(),
		Holdout:         b2u(r.Holdout),
		Channel:         r.Channel,
		Level:           r.Level,
		FinalNotice:     b2u(r.FinalNotice),
		Plan:            r.Plan,
		Sender:          r.Sender,
		Currency:        r.Currency,
		AmountDueMinor:  r.AmountDueMinor,
		InvoiceDueDate:  date(r.InvoiceDueDate),
		Attributes:      r.Attributes,
		CollectedMinor:  o.CollectedMinor,
		Allocations:     uint32(o.Allocations),
		CreditedMinor:   o.CreditedMinor,
		IsFinal:         b2u(o.Final),
		Version:         o.Version,
	}
	return nil
}

// LateEventRow is one row of the late_events table (see stream.LateEvent).
type LateEventRow struct {
	Topic       string    `ch:"topic"`
	Partition   int32     `ch:"partition"`
	Offset      int64     `ch:"offset"`
	EventID     string    `ch:"event_id"`
	EventTime   time.Time `ch:"event_time"`
	Reason      string    `ch:"reason"`
	PayloadJSON string    `ch:"payload_json"`
}

// Table is the rows of one table in a Batch, ready for an INSERT.
type Table struct {
	// Name is the table, e.g. TableFacts.
	Name string
	// Columns is the INSERT column list, from the row struct's `ch` tags.
	Columns []string
	// Rows are pointers to row structs, all of one type (*ReminderRow,
	// *AllocationRow, *InvoiceRow, *FactRow or *LateEventRow).
	Rows []any
}

// Insert returns the INSERT statement head of t, without format or data:
// "INSERT INTO `t` (`a`, `b`)". Identifiers are back-quoted (late_events has
// columns named partition and offset).
func (t *Table) Insert() string {
	var b strings.Builder
	b.WriteString("INSERT INTO `")
	b.WriteString(t.Name)
	b.WriteString("` (")
	for i, c := range t.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('`')
		b.WriteString(c)
		b.WriteByte('`')
	}
	b.WriteByte(')')
	return b.String()
}

// Tables maps a Batch to the rows of each table: the one place where events
// and facts become rows, shared by every sink. Tables without rows are left
// out; the order is reminders, invoices, payment_allocations,
// attribution_facts, reminder_outcomes, late_events. It fails when a value does not fit its column
// (allocation index or count beyond UInt16, candidates beyond UInt16).
//
// source_partition and source_offset are the Batch's origins of the raw
// events, -1 where it has none.
func Tables(b *Batch) ([]Table, error) {
	if err := check(b); err != nil {
		return nil, err
	}
	// Rows of a table live in one slice each: a batch holds hundreds of
	// thousands of rows, and one allocation per row was a good part of the
	// sink's cost (allocation and GC). Converting a pointer into that slice
	// to any does not allocate.
	var out []Table
	if len(b.Reminders) > 0 {
		rows := make([]ReminderRow, len(b.Reminders))
		t := Table{Name: TableReminders, Columns: Columns(&ReminderRow{}), Rows: make([]any, len(rows))}
		for i := range b.Reminders {
			fillReminderRow(&rows[i], &b.Reminders[i], originAt(b.ReminderAt, i))
			t.Rows[i] = &rows[i]
		}
		out = append(out, t)
	}
	if len(b.Invoices) > 0 {
		rows := make([]InvoiceRow, len(b.Invoices))
		t := Table{Name: TableInvoices, Columns: Columns(&InvoiceRow{}), Rows: make([]any, len(rows))}
		for i := range b.Invoices {
			fillInvoiceRow(&rows[i], &b.Invoices[i], originAt(b.InvoiceAt, i))
			t.Rows[i] = &rows[i]
		}
		out = append(out, t)
	}
	nallocs := 0
	for i := range b.Payments {
		p := &b.Payments[i]
		if len(p.Allocations) > math.MaxUint16 {
			return nil, fmt.Errorf("sinks: payment %s has %d allocations: at most %d fit allocation_index (UInt16)", p.PaymentID, len(p.Allocations), math.MaxUint16)
		}
		nallocs += len(p.Allocations)
	}
	if nallocs > 0 {
		rows := make([]AllocationRow, 0, nallocs)
		t := Table{Name: TableAllocations, Columns: Columns(&AllocationRow{}), Rows: make([]any, nallocs)}
		for i := range b.Payments {
			p := &b.Payments[i]
			for j := range p.Allocations {
				rows = append(rows, AllocationRow{})
				fillAllocationRow(&rows[len(rows)-1], p, j, originAt(b.PaymentAt, i))
				t.Rows[len(rows)-1] = &rows[len(rows)-1]
			}
		}
		out = append(out, t)
	}
	if len(b.Facts) > 0 {
		rows := make([]FactRow, len(b.Facts))
		t := Table{Name: TableFacts, Columns: Columns(&FactRow{}), Rows: make([]any, len(rows))}
		for i := range b.Facts {
			if err := fillFactRow(&rows[i], &b.Facts[i]); err != nil {
				return nil, err
			}
			t.Rows[i] = &rows[i]
		}
		out = append(out, t)
	}
	if len(b.Outcomes) > 0 {
		rows := make([]OutcomeRow, len(b.Outcomes))
		t := Table{Name: TableOutcomes, Columns: Columns(&OutcomeRow{}), Rows: make([]any, len(rows))}
		for i := range b.Outcomes {
			if err := fillOutcomeRow(&rows[i], &b.Outcomes[i]); err != nil {
				return nil, err
			}
			t.Rows[i] = &rows[i]
		}
		out = append(out, t)
	}
	if len(b.Late) > 0 {
		t := Table{Name: TableLateEvents, Columns: Columns(&LateEventRow{}), Rows: make([]any, len(b.Late))}
		for i := range b.Late {
			r, err := NewLateEventRow(&b.Late[i])
			if err != nil {
				return nil, err
			}
			t.Rows[i] = r
		}
		out = append(out, t)
	}
	return out, nil
}

// Scan is Tables for sinks that copy rows as they go: it calls fn with each
// table Tables would return, in the same order and with the same Name and
// Columns but no Rows, and with a function rows that calls yield with each
// of those rows in turn, built into one row struct reused from row to row
// (yield must not keep it). A batch's rows are not all held at once: no row
// struct per row to allocate, and to scan for the garbage collector. The
// checks of Tables run before fn is first called, so that a batch Tables
// rejects is rejected before anything is written. An error of fn or yield
// ends the scan and is returned.
func Scan(b *Batch, fn func(t *Table, rows func(yield func(row any) error) error) error) error {
	if err := check(b); err != nil {
		return err
	}
	if err := scanTable(fn, TableReminders, len(b.Reminders), func(row *ReminderRow, i int) (any, error) {
		fillReminderRow(row, &b.Reminders[i], originAt(b.ReminderAt, i))
		return row, nil
	}); err != nil {
		return err
	}
	if err := scanTable(fn, TableInvoices, len(b.Invoices), func(row *InvoiceRow, i int) (any, error) {
		fillInvoiceRow(row, &b.Invoices[i], originAt(b.InvoiceAt, i))
		return row, nil
	}); err != nil {
		return err
	}
	// Allocations are numbered across payments: k-th allocation overall.
	var at [][2]int
	for i := range b.Payments {
		for j := range b.Payments[i].Allocations {
			at = append(at, [2]int{i, j})
		}
	}
	if err := scanTable(fn, TableAllocations, len(at), func(row *AllocationRow, k int) (any, error) {
		fillAllocationRow(row, &b.Payments[at[k][0]], at[k][1], originAt(b.PaymentAt, at[k][0]))
		return row, nil
	}); err != nil {
		return err
	}
	if err := scanTable(fn, TableFacts, len(b.Facts), func(row *FactRow, i int) (any, error) {
		return row, fillFactRow(row, &b.Facts[i])
	}); err != nil {
		return err
	}
	if err := scanTable(fn, TableOutcomes, len(b.Outcomes), func(row *OutcomeRow, i int) (any, error) {
		return row, fillOutcomeRow(row, &b.Outcomes[i])
	}); err != nil {
		return err
	}
	// Few, and their payload is JSON made per row anyway: a new row each.
	return scanTable(fn, TableLateEvents, len(b.Late), func(_ *LateEventRow, i int) (any, error) {
		return NewLateEventRow(&b.Late[i])
	})
}

// scanTable calls fn for one table of n rows (none: no call), each row
// filled by fill into one reused R.
func scanTable[R any](fn func(t *Table, rows func(yield func(row any) error) error) error, name string, n int, fill func(row *R, i int) (any, error)) error {
	if n == 0 {
		return nil
	}
	row := new(R)
	t := Table{Name: name, Columns: Columns(row)}
	return fn(&t, func(yield func(any) error) error {
		for i := range n {
			r, err := fill(row, i)
			if err != nil {
				return err
			}
			if err := yield(r); err != nil {
				return err
			}
		}
		return nil
	})
}

// check runs the checks of the row mappings that can fail, except the
// JSON of late events (which does not fail for the events' types).
func check(b *Batch) error {
	for _, c := range []struct {
		what      string
		at, count int
	}{{"reminder", len(b.ReminderAt), len(b.Reminders)}, {"payment", len(b.PaymentAt), len(b.Payments)}, {"invoice", len(b.InvoiceAt), len(b.Invoices)}} {
		if c.at != 0 && c.at != c.count {
			return fmt.Errorf("sinks: batch with %d %ss and %d origins of them: want one each, or none", c.count, c.what, c.at)
		}
	}
	for i := range b.Payments {
		p := &b.Payments[i]
		if len(p.Allocations) > math.MaxUint16 {
			return fmt.Errorf("sinks: payment %s has %d allocations: at most %d fit allocation_index (UInt16)", p.PaymentID, len(p.Allocations), math.MaxUint16)
		}
	}
	for i := range b.Facts {
		if _, err := checkFact(&b.Facts[i]); err != nil {
			return err
		}
	}
	for i := range b.Outcomes {
		if _, err := checkOutcome(&b.Outcomes[i]); err != nil {
			return err
		}
	}
	return nil
}

func fillAllocationRow(dst *AllocationRow, p *schemas.Payment, j int, at Origin) {
	*dst = AllocationRow{
		EventID:          p.EventID,
		PaymentID:        p.PaymentID,
		AllocationIndex:  uint16(j),
		CustomerID:       p.CustomerID,
		InvoiceID:        p.Allocations[j].InvoiceID,
		PaidAt:           utc(p.PaidAt),
		Method:           p.Method,
		Currency:         p.Currency,
		AmountMinor:      p.Allocations[j].AmountMinor,
		AllocationsCount: uint16(len(p.Allocations)),
		SourcePartition:  at.Partition,
		SourceOffset:     at.Offset,
	}
}

// NewLateEventRow maps a late event to its row: topic from its Source,
// partition -1 (the event does not carry it), payload_json the decoded
// reminder or payment as JSON (Go field names, RFC 3339 times).
func NewLateEventRow(e *stream.LateEvent) (*LateEventRow, error) {
	var payload any
	switch {
	case e.Reminder != nil:
		payload = e.Reminder
	case e.Payment != nil:
		payload = e.Payment
	}
	js := []byte("null")
	if payload != nil {
		var err error
		if js, err = json.Marshal(payload); err != nil {
			return nil, fmt.Errorf("sinks: late event %s: payload: %w", e.EventID, err)
		}
	}
	return &LateEventRow{
		Topic:       e.Source.String(),
		Partition:   -1,
		Offset:      e.Offset,
		EventID:     e.EventID,
		EventTime:   utc(e.EventTime),
		Reason:      e.Reason,
		PayloadJSON: string(js),
	}, nil
}

// NewReminderRow maps a reminder event to its row.
func NewReminderRow(r *schemas.Reminder) *ReminderRow {
	row := &ReminderRow{}
	fillReminderRow(row, r, noOrigin)
	return row
}

func fillReminderRow(dst *ReminderRow, r *schemas.Reminder, at Origin) {
	*dst = ReminderRow{
		EventID:         r.EventID,
		ReminderID:      r.ReminderID,
		InvoiceID:       r.InvoiceID,
		CustomerID:      r.CustomerID,
		SentAt:          utc(r.SentAt),
		Channel:         r.Channel,
		Level:           r.Level,
		FinalNotice:     b2u(r.FinalNotice),
		Plan:            r.Plan,
		Sender:          r.Sender,
		AmountDueMinor:  r.AmountDueMinor,
		Currency:        r.Currency,
		InvoiceDueDate:  date(r.InvoiceDueDate),
		Holdout:         b2u(r.Holdout),
		Attributes:      r.Attributes,
		SourcePartition: at.Partition,
		SourceOffset:    at.Offset,
	}
}

// NewInvoiceRow maps an invoice event to its row.
func NewInvoiceRow(v *schemas.Invoice) *InvoiceRow {
	row := &InvoiceRow{}
	fillInvoiceRow(row, v, noOrigin)
	return row
}

func fillInvoiceRow(dst *InvoiceRow, v *schemas.Invoice, at Origin) {
	*dst = InvoiceRow{
		EventID:         v.EventID,
		InvoiceID:       v.InvoiceID,
		CustomerID:      v.CustomerID,
		IssuedAt:        utc(v.IssuedAt),
		DueDate:         date(v.DueDate),
		AmountMinor:     v.AmountMinor,
		Currency:        v.Currency,
		Status:          v.Status,
		Attributes:      v.Attributes,
		SourcePartition: at.Partition,
		SourceOffset:    at.Offset,
	}
}

// NewFactRow maps an attribution fact to its row. With no Reminder the
// reminder columns are empty: reminder_id ”, sent_at 1970-01-01, lag_ms 0,
// dpd 0. Otherwise lag_ms = PaidAt - SentAt in milliseconds and dpd = UTC
// date of SentAt - InvoiceDueDate in days.
func NewFactRow(f *stream.Fact) (*FactRow, error) {
	row := &FactRow{}
	if err := fillFactRow(row, f); err != nil {
		return nil, err
	}
	return row, nil
}

func fillFactRow(row *FactRow, f *stream.Fact) error {
	secs, err := checkFact(f)
	if err != nil {
		return err
	}
	*row = FactRow{
		PaymentEventID:  f.PaymentEventID,
		PaymentID:       f.PaymentID,
		AllocationIndex: uint16(f.AllocationIndex),
		InvoiceID:       f.InvoiceID,
		CustomerID:      f.CustomerID,
		PaidAt:          utc(f.PaidAt),
		AmountMinor:     f.AmountMinor,
		Currency:        f.Currency,
		Method:          f.Method,
		Horizon:         horizonLabel(f.Horizon),
		HorizonSeconds:  uint32(secs),
		Model:           f.Model.String(),
		Matched:         b2u(f.Matched),
		Candidates:      uint16(f.Candidates),
		SentAt:          epoch,
		CreditedMinor:   f.CreditedMinor,
		InvoiceDueDate:  epoch,
		Version:         f.Version,
		IsDeleted:       b2u(f.Deleted),
	}
	if r := f.Reminder; r != nil {
		row.ReminderID = r.ReminderID
		row.ReminderEventID = r.EventID
		row.SentAt = utc(r.SentAt)
		row.LagMs = utc(f.PaidAt).UnixMilli() - row.SentAt.UnixMilli()
		row.Channel = r.Channel
		row.Level = r.Level
		row.FinalNotice = b2u(r.FinalNotice)
		row.Plan = r.Plan
		row.Sender = r.Sender
		row.ReminderAmountDueMinor = r.AmountDueMinor
		row.InvoiceDueDate = date(r.InvoiceDueDate)
		row.DPD = int32(date(r.SentAt).Sub(row.InvoiceDueDate) / (24 * time.Hour))
		row.Attributes = r.Attributes
	}
	return nil
}

// checkFact returns the horizon of f in seconds, or why f has no row.
func checkFact(f *stream.Fact) (time.Duration, error) {
	if f.AllocationIndex < 0 || f.AllocationIndex > math.MaxUint16 {
		return 0, fmt.Errorf("sinks: fact of payment %s: allocation index %d does not fit allocation_index (UInt16)", f.PaymentID, f.AllocationIndex)
	}
	if f.Candidates < 0 || f.Candidates > math.MaxUint16 {
		return 0, fmt.Errorf("sinks: fact of payment %s: %d candidates do not fit candidates (UInt16)", f.PaymentID, f.Candidates)
	}
	secs := f.Horizon.Duration() / time.Second
	if secs < 0 || secs > math.MaxUint32 {
		return 0, fmt.Errorf("sinks: fact of payment %s: horizon %s does not fit horizon_seconds (UInt32)", f.PaymentID, f.Horizon)
	}
	return secs, nil
}

// checkOutcome returns the horizon of o in seconds, or why o has no row.
func checkOutcome(o *stream.Outcome) (time.Duration, error) {
	secs := o.Horizon.Duration() / time.Second
	if secs < 0 || secs > math.MaxUint32 {
		return 0, fmt.Errorf("sinks: outcome of reminder %s: horizon %s does not fit horizon_seconds (UInt32)", o.Reminder.ReminderID, o.Horizon)
	}
	return secs, nil
}

// horizonLabels caches Horizon.String, which allocates, for the few
// horizons a pipeline is configured with: every fact and outcome row
// carries one. Copy on write; past maxHorizonLabels the label is computed.
var horizonLabels atomic.Pointer[[]horizonLabelEntry]

type horizonLabelEntry struct {
	h     stream.Horizon
	label string
}

const maxHorizonLabels = 32

func horizonLabel(h stream.Horizon) string {
	p := horizonLabels.Load()
	var known []horizonLabelEntry
	if p != nil {
		known = *p
	}
	for _, e := range known {
		if e.h == h {
			return e.label
		}
	}
	label := h.String()
	if len(known) < maxHorizonLabels {
		next := append(append(make([]horizonLabelEntry, 0, len(known)+1), known...), horizonLabelEntry{h, label})
		horizonLabels.CompareAndSwap(p, &next) // lost race: computed again next time
	}
	return label
}

var epoch = time.Unix(0, 0).UTC()

// utc returns t in UTC, and the Unix epoch for the zero time (which neither
// DateTime64 nor Date can hold).
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return epoch
	}
	return t.UTC()
}

// date returns midnight UTC of t's UTC calendar date.
func date(t time.Time) time.Time {
	t = utc(t)
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

var columnsCache sync.Map // reflect.Type → []string

// Columns returns the `ch` tags of a row struct (or pointer to one), in
// field order: the INSERT column list of its table. The result is shared:
// do not modify it.
func Columns(row any) []string {
	t := reflect.TypeOf(row)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if c, ok := columnsCache.Load(t); ok {
		return c.([]string)
	}
	var cols []string
	for i := 0; i < t.NumField(); i++ {
		if name := t.Field(i).Tag.Get("ch"); name != "" && name != "-" {
			cols = append(cols, name)
		}
	}
	columnsCache.Store(t, cols)
	return cols
}
