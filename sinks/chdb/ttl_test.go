package chdb

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/relance-io/relance/schemas"
	"github.com/relance-io/relance/sinks"
)

// Rule: the optional raw TTL drops raw events older than it (from their
// event time) at the next merge and keeps the recent ones; removing it
// leaves the tables without TTL.
func TestRawTTL_DropsOldRawEvents(t *testing.T) {
	s := migrated(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	rem := func(id string, at time.Time) schemas.Reminder {
		return schemas.Reminder{EventID: "e" + id, ReminderID: id, InvoiceID: "I" + id, CustomerID: "C", SentAt: at,
			Channel: "email", AmountDueMinor: 100, Currency: "EUR", InvoiceDueDate: at.Truncate(24 * time.Hour)}
	}
	mustWrite(t, s, &sinks.Batch{Reminders: []schemas.Reminder{rem("old", now.AddDate(-3, 0, 0)), rem("new", now.AddDate(0, 0, -1))}})
	if err := sinks.SetRawTTL(ctx, s, 365*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	if ddl := scalar(t, s, "SELECT create_table_query FROM system.tables WHERE database = currentDatabase() AND name = 'reminders'"); !strings.Contains(ddl, "TTL") {
		t.Fatalf("no TTL on reminders: %s", ddl)
	}
	if err := s.Exec(ctx, "OPTIMIZE TABLE reminders FINAL"); err != nil {
		t.Fatal(err)
	}
	if got := query(t, s, "SELECT reminder_id FROM reminders FINAL ORDER BY reminder_id"); len(got) != 1 || got[0][0] != "new" {
		t.Fatalf("after the TTL merge: %v, want only the recent reminder", got)
	}
	if err := sinks.SetRawTTL(ctx, s, 0); err != nil {
		t.Fatal(err)
	}
	if ddl := scalar(t, s, "SELECT create_table_query FROM system.tables WHERE database = currentDatabase() AND name = 'reminders'"); strings.Contains(ddl, " TTL ") {
		t.Fatalf("TTL still there after removing it: %s", ddl)
	}
	if err := sinks.SetRawTTL(ctx, s, time.Hour); err == nil {
		t.Fatal("a TTL under a day was accepted")
	}
}
