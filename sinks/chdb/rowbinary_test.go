package chdb

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/relance-io/relance/schemas"
	"github.com/relance-io/relance/sinks"
	"github.com/relance-io/relance/stream"
)

// Rule: Write streams the rows of sinks.Scan; they are the rows of
// sinks.Tables, table for table, row for row.
func TestScan_SameRowsAsTables(t *testing.T) {
	b := fixture()
	b.Outcomes = []stream.Outcome{{Reminder: &b.Reminders[0], Horizon: h7, Model: stream.LastTouch, CollectedMinor: big, Allocations: 1, CreditedMinor: big, Final: true, Version: 3}}
	tables, err := sinks.Tables(b)
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	err = sinks.Scan(b, func(st *sinks.Table, rows func(func(any) error) error) error {
		want := tables[i]
		i++
		if st.Name != want.Name || !reflect.DeepEqual(st.Columns, want.Columns) {
			t.Errorf("table %d: %s %v, want %s %v", i, st.Name, st.Columns, want.Name, want.Columns)
		}
		n := 0
		err := rows(func(r any) error {
			if n >= len(want.Rows) {
				t.Errorf("%s: more rows than Tables", st.Name)
			} else if !reflect.DeepEqual(r, want.Rows[n]) {
				t.Errorf("%s row %d:\n got %+v\nwant %+v", st.Name, n, r, want.Rows[n])
			}
			n++
			return nil
		})
		if n != len(want.Rows) {
			t.Errorf("%s: %d rows, want %d", st.Name, n, len(want.Rows))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if i != len(tables) {
		t.Fatalf("%d tables, want %d", i, len(tables))
	}
}

// Rule: a batch Tables rejects is rejected by Write before anything is
// written.
func TestWrite_RejectsBeforeWriting(t *testing.T) {
	s := migrated(t)
	b := fixture()
	b.Facts[1].Candidates = 1 << 16
	if _, err := sinks.Tables(b); err == nil {
		t.Fatal("Tables accepted 65536 candidates")
	}
	if err := s.Write(context.Background(), b); err == nil {
		t.Fatal("Write accepted 65536 candidates")
	}
	if got := scalar(t, s, "SELECT count() FROM reminders"); got != "0" {
		t.Fatalf("%s reminders written", got)
	}
}

// Rule: strings and map entries reach the engine byte for byte, whatever
// they hold (NUL, tab, newline, quotes, backslashes, invalid UTF-8), times
// keep their millisecond, the zero time is the epoch and a date before
// 1970 is 1970-01-01 (Date's first day).
func TestWrite_BytesAndTimesExact(t *testing.T) {
	s := migrated(t)
	nasty := "a\x00b\tc\nd\re'f\"g\\h$relance$i\xff\xfe{'k':'v'}\u2028é"
	r := fixture().Reminders[0]
	r.EventID, r.ReminderID, r.Sender = "ev-nasty", nasty, nasty
	r.Attributes = map[string]string{nasty: nasty, "": "", "z": "last"}
	r.SentAt = time.Date(2025, 12, 31, 23, 59, 59, 999_999_999, time.UTC)
	r.InvoiceDueDate = time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC)
	r.AmountDueMinor = -big
	r2 := r
	r2.EventID, r2.ReminderID = "ev-zero", "zero"
	r2.SentAt, r2.InvoiceDueDate, r2.Attributes = time.Time{}, time.Time{}, nil
	if err := s.Write(context.Background(), &sinks.Batch{Token: "nasty", Reminders: []schemas.Reminder{r, r2}}); err != nil {
		t.Fatal(err)
	}
	// Compared in hex: the JSON of query results cannot carry invalid UTF-8.
	got := query(t, s, "SELECT hex(reminder_id), hex(sender), toString(sent_at), toString(invoice_due_date), amount_due_minor, "+
		"length(attributes), attributes[unhex('"+hexOf(nasty)+"')] = reminder_id, mapKeys(attributes)[3] FROM reminders ORDER BY event_id")
	want := [][]string{
		{hexOf(nasty), hexOf(nasty), "2025-12-31 23:59:59.999", "1970-01-01", "-9007199254740993", "3", "1", "z"},
		{hexOf("zero"), hexOf(nasty), "1970-01-01 00:00:00.000", "1970-01-01", "-9007199254740993", "0", "0", ""},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

func hexOf(s string) string {
	const digits = "0123456789ABCDEF"
	b := make([]byte, 0, 2*len(s))
	for i := 0; i < len(s); i++ {
		b = append(b, digits[s[i]>>4], digits[s[i]&15])
	}
	return string(b)
}
