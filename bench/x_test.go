package bench

import (
	"context"
	"testing"
	"time"

	"github.com/relance-io/relance/sinks"
	"github.com/relance-io/relance/sinks/chdb/chdbtest"
)

func TestXTables(t *testing.T) {
	ctx := context.Background()
	ds, _ := Dataset(200000)
	bs, _, _ := Batches(ds)
	store := chdbtest.NewStore(t)
	if err := freshDB(ctx, store, "xs"); err != nil {
		t.Fatal(err)
	}
	parts := map[string]func(b *sinks.Batch) *sinks.Batch{
		"reminders": func(b *sinks.Batch) *sinks.Batch { return &sinks.Batch{Token: b.Token, Reminders: b.Reminders} },
		"payments":  func(b *sinks.Batch) *sinks.Batch { return &sinks.Batch{Token: b.Token, Payments: b.Payments} },
		"invoices":  func(b *sinks.Batch) *sinks.Batch { return &sinks.Batch{Token: b.Token, Invoices: b.Invoices} },
		"facts":     func(b *sinks.Batch) *sinks.Batch { return &sinks.Batch{Token: b.Token, Facts: b.Facts} },
		"outcomes":  func(b *sinks.Batch) *sinks.Batch { return &sinks.Batch{Token: b.Token, Outcomes: b.Outcomes} },
	}
	for _, name := range []string{"reminders", "payments", "invoices", "facts", "outcomes"} {
		rows := 0
		s, err := measure(func() error {
			for _, b := range bs {
				x := parts[name](b)
				rows += x.Len()
				if err := store.Write(ctx, x); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%-10s rows %7d cpu %v engine %v  per row %v", name, rows, s.cpu, s.engine, s.cpu/timeDur(rows))
	}
}

func timeDur(n int) time.Duration { return time.Duration(n) }
