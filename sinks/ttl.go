package sinks

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// rawTTLColumns are the raw event tables and the event time their TTL
// counts from. Facts, outcomes and late events are not raw events: they
// keep the results and the record of what was too late.
var rawTTLColumns = []struct{ table, column string }{
	{TableReminders, "sent_at"},
	{TableAllocations, "paid_at"},
	{TableInvoices, "issued_at"},
}

// SetRawTTL makes ClickHouse drop raw events (reminders, payment
// allocations, invoices) older than keep, counted from their event time; a
// keep of 0 removes the TTL. It is optional and off by default: the KPIs
// read raw reminders (the reminded amount), so keep must cover every month
// a report looks at. Rows go at the server's next merge (OPTIMIZE … FINAL
// forces one). Re-running it is harmless.
func SetRawTTL(ctx context.Context, s Store, keep time.Duration) error {
	stmts, err := RawTTLStatements(keep)
	if err != nil {
		return err
	}
	for i, stmt := range stmts {
		t := rawTTLColumns[i]
		if err := s.Exec(ctx, stmt); err != nil {
			// REMOVE TTL on a table without one is an engine error: there
			// is nothing to remove.
			var e *Error
			if keep == 0 && errors.As(err, &e) && e.Code != 0 {
				continue
			}
			return fmt.Errorf("raw TTL on %s: %w", t.table, err)
		}
	}
	return nil
}

// RawTTLStatements returns the statements SetRawTTL runs, one per raw
// table, or why keep is refused (negative, or under a day).
func RawTTLStatements(keep time.Duration) ([]string, error) {
	if keep < 0 {
		return nil, fmt.Errorf("raw TTL %s must not be negative (0 removes it, e.g. 730d keeps two years)", keep)
	}
	if keep > 0 && keep < 24*time.Hour {
		return nil, fmt.Errorf("raw TTL %s: want at least a day (e.g. 730d)", keep)
	}
	var out []string
	for _, t := range rawTTLColumns {
		stmt := fmt.Sprintf("ALTER TABLE %s REMOVE TTL", t.table)
		if keep > 0 {
			stmt = fmt.Sprintf("ALTER TABLE %s MODIFY TTL toDateTime(%s) + toIntervalSecond(%d)", t.table, t.column, int64(keep/time.Second))
		}
		out = append(out, stmt)
	}
	return out, nil
}
