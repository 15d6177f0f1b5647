package sinks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/relance-io/relance/schemas"
	"github.com/relance-io/relance/stream"
)

// A fact's derived columns: dpd is the UTC date of sent_at minus the due
// date (negative for a preventive reminder), lag_ms is paid_at - sent_at in
// whole milliseconds, and a fact without reminder has empty dimensions at
// the epoch.
func TestNewFactRow(t *testing.T) {
	due := time.Date(2025, 10, 10, 0, 0, 0, 0, time.UTC)
	paris := time.FixedZone("CEST", 2*3600)
	r := &schemas.Reminder{ReminderID: "r", EventID: "e", SentAt: time.Date(2025, 10, 8, 1, 30, 0, 0, paris), InvoiceDueDate: due, Level: 0, Channel: "email"}
	f := stream.Fact{PaymentID: "p", AllocationIndex: 2, PaidAt: time.Date(2025, 10, 9, 0, 0, 0, 999_999, time.UTC),
		Horizon: stream.Horizon(36 * time.Hour), Matched: true, Reminder: r, Model: stream.Linear, Candidates: 3, Deleted: true}
	row, err := NewFactRow(&f)
	if err != nil {
		t.Fatal(err)
	}
	// sent_at is 2025-10-07 23:30 UTC: dpd = 7 Oct - 10 Oct = -3.
	if row.DPD != -3 {
		t.Errorf("dpd = %d, want -3 (UTC date of sent_at)", row.DPD)
	}
	if want := int64(24*3600+30*60) * 1000; row.LagMs != want {
		t.Errorf("lag_ms = %d, want %d", row.LagMs, want)
	}
	if row.Horizon != "36h0m0s" || row.HorizonSeconds != 36*3600 || row.Model != "linear" || row.IsDeleted != 1 || row.Matched != 1 {
		t.Errorf("row = %+v", row)
	}
	if row.SentAt.Location() != time.UTC {
		t.Errorf("sent_at not in UTC: %v", row.SentAt)
	}

	none, err := NewFactRow(&stream.Fact{PaymentID: "p", Horizon: stream.DefaultHorizons[0]})
	if err != nil {
		t.Fatal(err)
	}
	if none.ReminderID != "" || !none.SentAt.Equal(time.Unix(0, 0)) || !none.InvoiceDueDate.Equal(time.Unix(0, 0)) || none.LagMs != 0 || none.DPD != 0 || none.Horizon != "7d" {
		t.Errorf("fact without reminder = %+v", none)
	}

	if _, err := NewFactRow(&stream.Fact{AllocationIndex: 1 << 16}); err == nil {
		t.Error("allocation index 65536 accepted, want an error (UInt16)")
	}
}

// A payment becomes one row per allocation, and the column lists mirror the
// row structs.
func TestTables(t *testing.T) {
	b := &Batch{Payments: []schemas.Payment{{PaymentID: "p", Allocations: []schemas.Allocation{{InvoiceID: "a", AmountMinor: 1}, {InvoiceID: "b", AmountMinor: 2}}}}}
	ts, err := Tables(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 1 || ts[0].Name != TableAllocations || len(ts[0].Rows) != 2 {
		t.Fatalf("tables = %+v", ts)
	}
	r := ts[0].Rows[1].(*AllocationRow)
	if r.AllocationIndex != 1 || r.AllocationsCount != 2 || r.InvoiceID != "b" || r.SourcePartition != -1 {
		t.Errorf("row = %+v", r)
	}
	if got := ts[0].Insert(); !strings.HasPrefix(got, "INSERT INTO `payment_allocations` (`event_id`, `payment_id`, ") {
		t.Errorf("Insert() = %q", got)
	}
}

// Transient failures are retryable, failures of the data or statement and a
// canceled context are not.
func TestIsRetryable(t *testing.T) {
	f := func(err error, want bool) {
		t.Helper()
		if got := IsRetryable(err); got != want {
			t.Errorf("IsRetryable(%v) = %v, want %v", err, got, want)
		}
	}
	f(nil, false)
	f(context.Canceled, false)
	f(fmt.Errorf("write: %w", context.DeadlineExceeded), true)
	f(&Error{Op: "insert", Code: 252, Err: errors.New("too many parts")}, true)
	f(&Error{Op: "insert", Code: 62, Err: errors.New("syntax error")}, false)
	// A server shutting down, a Distributed insert finding no replica, a
	// full disk, a concurrent ALTER: the same batch may go through later.
	for _, code := range []int{394, 279, 243, 517, 1000} {
		f(&Error{Op: "insert", Code: code, Err: errors.New("transient")}, true)
	}
	f(&Error{Op: "insert", Temporary: true, Err: errors.New("no connection")}, true)
	f(&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true)
	f(fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true)
	f(errors.New("Code: 252. DB::Exception: Too many parts"), false) // not classified without a *Error
}

func TestCodeFromMessage(t *testing.T) {
	f := func(msg string, want int) {
		t.Helper()
		if got := CodeFromMessage(msg); got != want {
			t.Errorf("CodeFromMessage(%q) = %d, want %d", msg, got, want)
		}
	}
	f("Code: 60. DB::Exception: Unknown table", 60)
	f("code: 252, message: Too many parts", 252)
	f("  Code: 27. x", 27)
	f("no code here", 0)
	f("Code: x", 0)
}

// Rule: a raw row carries its event's origin (Kafka partition and offset)
// when the batch has them, -1 when it has none; origins that do not pair
// with the events are refused rather than shifted onto other rows.
func TestTables_RawRowsCarryTheirOrigin(t *testing.T) {
	b := &Batch{
		Reminders:  []schemas.Reminder{{EventID: "r0"}, {EventID: "r1"}},
		Payments:   []schemas.Payment{{EventID: "p0", Allocations: []schemas.Allocation{{InvoiceID: "a"}, {InvoiceID: "b"}}}},
		Invoices:   []schemas.Invoice{{EventID: "i0"}},
		ReminderAt: []Origin{{Partition: 1, Offset: 10}, {Partition: 0, Offset: 11}},
		PaymentAt:  []Origin{{Partition: 2, Offset: 7}},
	}
	ts, err := Tables(b)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tb := range ts {
		for _, r := range tb.Rows {
			switch r := r.(type) {
			case *ReminderRow:
				got = append(got, fmt.Sprintf("%s %d %d", r.EventID, r.SourcePartition, r.SourceOffset))
			case *AllocationRow:
				got = append(got, fmt.Sprintf("%s %d %d %d", r.EventID, r.AllocationIndex, r.SourcePartition, r.SourceOffset))
			case *InvoiceRow:
				got = append(got, fmt.Sprintf("%s %d %d", r.EventID, r.SourcePartition, r.SourceOffset))
			}
		}
	}
	if want := "[r0 1 10 r1 0 11 i0 -1 -1 p0 0 2 7 p0 1 2 7]"; fmt.Sprint(got) != want {
		t.Errorf("rows %v, want %s", got, want)
	}
	b.ReminderAt = b.ReminderAt[:1]
	if _, err := Tables(b); err == nil || !strings.Contains(err.Error(), "2 reminders and 1 origins") {
		t.Errorf("1 origin for 2 reminders: error %v", err)
	}
	if err := Scan(b, func(*Table, func(func(any) error) error) error { return nil }); err == nil {
		t.Error("Scan of 1 origin for 2 reminders: no error")
	}
}

// Rule: the cluster of a store migrated with --cluster is read from its
// reminders table's Distributed engine, whatever the quoting; any other
// engine (or none) means a single server.
func TestClusterOf(t *testing.T) {
	for engine, want := range map[string]string{
		"Distributed('relance_cluster', 'relance', 'reminders_local', cityHash64(invoice_id))": "relance_cluster",
		"Distributed(prod, relance, reminders_local, cityHash64(invoice_id))":                  "prod",
		"ReplacingMergeTree PARTITION BY toYYYYMM(sent_at) ORDER BY (invoice_id, reminder_id)": "",
		"": "",
	} {
		if got := clusterOf(engine); got != want {
			t.Errorf("clusterOf(%q) = %q, want %q", engine, got, want)
		}
	}
}
