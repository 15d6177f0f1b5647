package stream

import (
	"reflect"
	"testing"
	"time"
	"unsafe"

	"github.com/relance-io/relance/schemas"
)

// recycledRun is what runRecycled saw.
type recycledRun struct {
	facts []Fact
	outs  []Outcome
	// reused counts the Reminders and output buffers handed out at an
	// address already handed out before a Recycle.
	reused int
}

// runRecycled is runAll with the owner giving the output back after each
// drain: it copies what it keeps (facts, outcomes and their reminders),
// checks every reminder handed out against the one fed first (the one that
// wins over its duplicates), scribbles over everything handed out, and
// calls Recycle. The Joiner must neither read what it handed out nor hand
// out stale values, and it must reuse the memory.
func runRecycled(t *testing.T, w world, order []arrival, opts ...Opt) recycledRun {
	t.Helper()
	var n uint64
	j, err := NewJoiner(append([]Opt{VersionClock(func() uint64 { n++; return n })}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	j.Recycle() // on from the start
	var res recycledRun
	fed := map[string]schemas.Reminder{} // first copy fed, by invoice/reminder id
	given := map[unsafe.Pointer]bool{}   // handed out before the last Recycle
	var handed []unsafe.Pointer          // handed out since
	poison := schemas.Reminder{EventID: "poison", ReminderID: "poison", InvoiceID: "poison", CustomerID: "poison",
		SentAt: time.Unix(1, 0), Channel: "poison", Level: 99, FinalNotice: true, Plan: "poison", Sender: "poison",
		AmountDueMinor: -1, Currency: "XXX", InvoiceDueDate: time.Unix(2, 0), Holdout: true, Attributes: map[string]string{"poison": "1"}}
	keep := func(r *schemas.Reminder) *schemas.Reminder {
		if r == nil {
			return nil
		}
		want, ok := fed[r.InvoiceID+"/"+r.ReminderID]
		if !ok || !reflect.DeepEqual(*r, want) {
			t.Fatalf("reminder handed out as\n%+v\nwant\n%+v", *r, want)
		}
		p := unsafe.Pointer(r)
		if given[p] {
			res.reused++
		}
		handed = append(handed, p)
		c := *r
		return &c
	}
	drain := func(outcomes bool) {
		f, late := j.Drain()
		if len(late) > 0 {
			t.Fatalf("unexpected too-late events: %+v", late[0])
		}
		var o []Outcome
		if outcomes {
			o = j.DrainOutcomes()
		}
		if len(f) > 0 {
			p := unsafe.Pointer(&f[0])
			if given[p] {
				res.reused++
			}
			handed = append(handed, p)
		}
		if len(o) > 0 {
			p := unsafe.Pointer(&o[0])
			if given[p] {
				res.reused++
			}
			handed = append(handed, p)
		}
		for i := range f {
			c := f[i]
			c.Reminder = keep(f[i].Reminder)
			res.facts = append(res.facts, c)
		}
		for i := range o {
			c := o[i]
			c.Reminder = keep(o[i].Reminder)
			res.outs = append(res.outs, c)
		}
		for i := range f {
			if f[i].Reminder != nil {
				*f[i].Reminder = poison
			}
			f[i] = Fact{PaymentID: "poison", Reminder: &poison, Version: 1 << 62}
		}
		for i := range o {
			*o[i].Reminder = poison
			o[i] = Outcome{Reminder: &poison, Version: 1 << 62}
		}
		for _, p := range handed {
			given[p] = true
		}
		handed = handed[:0]
		j.Recycle()
	}
	var offs [2]int64
	for k, a := range order {
		if a.src == Reminders {
			r := w.reminders[a.i]
			if _, ok := fed[r.InvoiceID+"/"+r.ReminderID]; !ok {
				fed[r.InvoiceID+"/"+r.ReminderID] = r
			}
			j.AddReminder(r, offs[Reminders])
		} else {
			j.AddPayment(w.payments[a.i], offs[Payments])
		}
		offs[a.src]++
		drain(k%7 == 0)
	}
	j.Flush()
	drain(true)
	return res
}

// Rule: an owner that gives the output back after each drain (Recycle),
// having copied what it keeps, gets the same facts and outcomes as the
// brute-force oracle, every reminder handed out equal to the one fed,
// although everything it gave back was scribbled over; and the Joiner does
// reuse what was given back.
func TestJoiner_RecycledOutputMatchesOracle(t *testing.T) {
	reused := 0
	for _, c := range joinConfigs[:2] {
		t.Run(c.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 12; seed++ {
				w := newWorld(seed, worldSpec{invoices: 5 + int(seed%4), reminders: 40, payments: 40, customers: 1, horizons: c.horizons})
				for _, m := range models {
					wantFacts := oracle(w, c.horizons, m, c.halfLife)
					wantOuts := oracleOutcomes(w, c.horizons, m, c.halfLife)
					opts := append([]Opt{Attribution(m), Retention(365 * day)}, c.opts...)
					for shuffle := 0; shuffle < 3; shuffle++ {
						order := shuffled(w, seed, shuffle)
						res := runRecycled(t, w, order, opts...)
						reused += res.reused
						if d := diff(wantFacts, finalRows(t, res.facts)); d != "" {
							t.Fatalf("seed %d model %s shuffle %d: facts differ from oracle:\n%s", seed, m, shuffle, d)
						}
						got := map[outcomeKey]Outcome{}
						for _, o := range res.outs {
							k := outcomeKey{o.Reminder.InvoiceID, o.Reminder.ReminderID, o.Horizon}
							if g, ok := got[k]; !ok || o.Version > g.Version {
								got[k] = o
							}
						}
						if len(got) != len(wantOuts) {
							t.Fatalf("seed %d %s shuffle %d: %d outcome keys, want %d", seed, m, shuffle, len(got), len(wantOuts))
						}
						for k, wo := range wantOuts {
							g := got[k]
							if g.Model != m || g.CollectedMinor != wo.collected || g.CreditedMinor != wo.credited || g.Allocations != wo.allocations || g.Final != wo.final {
								t.Fatalf("seed %d %s shuffle %d: outcome %v = %+v; want %+v", seed, m, shuffle, k, g, wo)
							}
						}
					}
				}
			}
		})
	}
	if reused == 0 {
		t.Fatal("nothing given back by Recycle was reused")
	}
}
