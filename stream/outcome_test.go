package stream

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/relance-io/relance/schemas"
)

type outcomeKey struct {
	invoice, reminder string
	h                 Horizon
}

type outcomeWant struct {
	collected, credited int64
	allocations         int
	final               bool
}

// oracleOutcomes applies SPEC §3–§5 by brute force: per reminder and
// horizon, the allocations on its invoice paid in [sent_at, sent_at+H] and
// what the oracle credits to it; final when sent_at + H is at or before the
// end-of-input watermark (the newest event time).
func oracleOutcomes(w world, hs []Horizon, m Model, halfLife time.Duration) map[outcomeKey]outcomeWant {
	credit := map[string]int64{} // payment#index/horizon/reminder -> credit
	for _, r := range oracle(w, hs, m, halfLife) {
		credit[fmt.Sprintf("%s#%d/%s/%s", r.payment, r.index, r.horizon, r.reminderID)] += r.credited
	}
	var end time.Time
	for _, r := range w.reminders {
		if r.SentAt.After(end) {
			end = r.SentAt
		}
	}
	for _, p := range w.payments {
		if p.PaidAt.After(end) {
			end = p.PaidAt
		}
	}
	out := map[outcomeKey]outcomeWant{}
	for _, r := range w.reminders {
		for _, h := range hs {
			var o outcomeWant
			for _, p := range w.payments {
				for ai, a := range p.Allocations {
					if a.InvoiceID != r.InvoiceID || p.Currency != r.Currency || p.PaidAt.Before(r.SentAt) || p.PaidAt.Sub(r.SentAt) > time.Duration(h) {
						continue
					}
					o.collected += a.AmountMinor
					o.allocations++
					o.credited += credit[fmt.Sprintf("%s#%d/%s/%s", p.PaymentID, ai, h, r.ReminderID)]
				}
			}
			o.final = !r.SentAt.Add(time.Duration(h)).After(end)
			out[outcomeKey{r.InvoiceID, r.ReminderID, h}] = o
		}
	}
	return out
}

// Rule: whatever the arrival order, the reminder outcomes the store keeps
// (highest version per reminder and horizon) equal the brute-force ones:
// amount collected within the horizon, amount credited under the model, and
// final exactly when the watermark has passed sent_at + H — for every model,
// under the default and other horizons and half-life. Holdouts get outcomes
// too, never credit.
func TestJoiner_OutcomesMatchOracle(t *testing.T) {
	for _, c := range joinConfigs[:2] {
		t.Run(c.name, func(t *testing.T) {
			credited := [4]int64{}
			for seed := uint64(1); seed <= 20; seed++ {
				w := newWorld(seed, worldSpec{invoices: 5 + int(seed%4), reminders: 30, payments: 30, customers: 1, horizons: c.horizons})
				for _, m := range models {
					want := oracleOutcomes(w, c.horizons, m, c.halfLife)
					opts := append([]Opt{Attribution(m), Retention(365 * day)}, c.opts...)
					for shuffle := 0; shuffle < 3; shuffle++ {
						order := shuffled(w, seed, shuffle)
						_, outs, _ := runAll(t, w, order, opts...)
						type kept struct {
							v uint64
							o Outcome
						}
						got := map[outcomeKey]kept{}
						for _, o := range outs {
							k := outcomeKey{o.Reminder.InvoiceID, o.Reminder.ReminderID, o.Horizon}
							if g, ok := got[k]; !ok || o.Version > g.v {
								got[k] = kept{o.Version, o}
							}
						}
						if len(got) != len(want) {
							t.Fatalf("seed %d %s shuffle %d: %d outcome keys, want %d", seed, m, shuffle, len(got), len(want))
						}
						for k, wo := range want {
							g := got[k].o
							if g.Model != m {
								t.Fatalf("seed %d %s shuffle %d: outcome %v says model %s", seed, m, shuffle, k, g.Model)
							}
							if g.CollectedMinor != wo.collected || g.CreditedMinor != wo.credited || g.Allocations != wo.allocations || g.Final != wo.final {
								t.Fatalf("seed %d %s shuffle %d: outcome %v = collected %d credited %d allocations %d final %v; want %+v",
									seed, m, shuffle, k, g.CollectedMinor, g.CreditedMinor, g.Allocations, g.Final, wo)
							}
							if g.Reminder.Holdout && g.CreditedMinor != 0 {
								t.Fatalf("holdout %v credited %d", k, g.CreditedMinor)
							}
							if shuffle == 0 && wo.credited > 0 && wo.credited < wo.collected {
								credited[m]++
							}
						}
					}
				}
			}
			// Split credit (part of what was collected after the reminder
			// went to another) is where the models differ: each must meet it.
			for m, n := range credited {
				if n == 0 {
					t.Errorf("no outcome with a split credit under %s", Model(m))
				}
			}
		})
	}
}

// Rule: an outcome stays provisional until the watermark passes sent_at +
// H, then turns final, horizon by horizon.
func TestJoiner_OutcomeTurnsFinalWithWatermark(t *testing.T) {
	j, _ := NewJoiner(AllowedLateness(0))
	rem := reminderAt("R1", "I1", t0)
	j.AddReminder(rem, 0)
	j.AddPayment(paymentAt("P1", "I1", t0.Add(8*day), 100), 0)
	finals := func() map[Horizon]bool {
		m := map[Horizon]bool{}
		for _, o := range j.DrainOutcomes() {
			m[o.Horizon] = o.Final
		}
		return m
	}
	if f := finals(); f[DefaultHorizons[0]] || f[DefaultHorizons[1]] || f[DefaultHorizons[2]] {
		t.Fatalf("final before the watermark passed any horizon: %v", f)
	}
	// Both inputs reach t0+16d: the watermark (lateness 0) is t0+16d.
	j.AddReminder(reminderAt("R2", "I2", t0.Add(16*day)), 1)
	j.AddPayment(paymentAt("P2", "I2", t0.Add(16*day), 100), 1)
	if f := finals(); !f[DefaultHorizons[0]] || !f[DefaultHorizons[1]] {
		t.Fatalf("7d and 15d outcomes of R1 not final at t0+16d: %v", f)
	}
	j.AddPayment(paymentAt("P3", "I2", t0.Add(31*day), 100), 2)
	j.AddReminder(reminderAt("R3", "I3", t0.Add(31*day)), 2)
	if f := finals(); !f[DefaultHorizons[2]] {
		t.Fatalf("30d outcome of R1 not final at t0+31d: %v", f)
	}
}

// Rule: outcomes still waiting for a drain when their invoice leaves state
// (retention over) are returned whole and exact: the reminder rebuilt with
// its own channel, plan, sender and attributes, even after other invoices
// with other profiles took the freed state's place.
func TestJoiner_OutcomesOfDroppedInvoicesAreIntact(t *testing.T) {
	j, _ := NewJoiner(AllowedLateness(0), Retention(day))
	mk := func(id, inv, ch, plan string, at time.Time) schemas.Reminder {
		r := reminderAt(id, inv, at)
		r.Channel, r.Plan, r.Sender = ch, plan, "s-"+ch
		r.Attributes = map[string]string{"segment": plan + "-" + ch}
		return r
	}
	var off int64
	want := map[string]schemas.Reminder{}
	add := func(r schemas.Reminder) {
		want[r.ReminderID] = r
		j.AddReminder(r, off)
		off++
	}
	// Round after round, a new invoice per channel; the watermark moves
	// past the previous round's retention before anything is drained, so
	// those invoices are dropped with outcomes pending and their state
	// reused by the next round.
	chans := []string{"email", "sms", "phone", "letter"}
	for round := 0; round < 20; round++ {
		at := t0.Add(time.Duration(round) * 40 * day)
		for i, ch := range chans {
			add(mk(fmt.Sprintf("R%d-%d", round, i), fmt.Sprintf("I%d-%d", round, i), ch, fmt.Sprintf("plan%d", round%3), at))
		}
		j.AddPayment(paymentAt(fmt.Sprintf("P%d", round), fmt.Sprintf("I%d-0", round), at.Add(2*day), 500), off)
		if round%2 == 1 {
			checkOutcomes(t, j.DrainOutcomes(), want)
		}
	}
	j.Flush()
	checkOutcomes(t, j.DrainOutcomes(), want)
}

func checkOutcomes(t *testing.T, got []Outcome, want map[string]schemas.Reminder) {
	t.Helper()
	if len(got) == 0 {
		t.Fatal("no outcome drained")
	}
	for _, o := range got {
		w, ok := want[o.Reminder.ReminderID]
		if !ok {
			t.Fatalf("outcome of unknown reminder %q", o.Reminder.ReminderID)
		}
		r := o.Reminder
		if r.InvoiceID != w.InvoiceID || r.Channel != w.Channel || r.Plan != w.Plan || r.Sender != w.Sender ||
			!r.SentAt.Equal(w.SentAt) || r.Attributes["segment"] != w.Attributes["segment"] || len(r.Attributes) != 1 {
			t.Fatalf("outcome of %s carries %+v, want %+v", w.ReminderID, *r, w)
		}
	}
}

// Rule: every reminder handed out in Facts and Outcomes equals the one fed,
// field for field, however its fields relate to its invoice's: other due
// dates, amounts, customers, channels, plans and attributes on one
// invoice, no due date, more reminders than usual on an invoice, an
// invoice first seen through a payment.
func TestJoiner_RemindersHandedOutEqualTheInput(t *testing.T) {
	for _, recycle := range []bool{false, true} {
		remindersHandedOutEqualTheInput(t, recycle)
	}
}

// remindersHandedOutEqualTheInput checks the reminders handed out; with
// recycle, the owner drains after each invoice, checks, scribbles over
// what it was handed and gives it back (Recycle), so that later reminders
// are rebuilt over earlier ones.
func remindersHandedOutEqualTheInput(t *testing.T, recycle bool) {
	rng := rand.New(rand.NewPCG(5, 5))
	j, _ := NewJoiner(AllowedLateness(0))
	if recycle {
		j.Recycle()
	}
	in := map[string]schemas.Reminder{}
	var off int64
	seen := 0
	check := func(r *schemas.Reminder) {
		w, ok := in[r.ReminderID]
		if !ok {
			t.Fatalf("unknown reminder %q handed out", r.ReminderID)
		}
		if !reflect.DeepEqual(*r, w) {
			t.Fatalf("recycle %v: reminder %s handed out as\n%+v\nwant\n%+v", recycle, w.ReminderID, *r, w)
		}
		seen++
	}
	drain := func() {
		facts, _ := j.Drain()
		outs := j.DrainOutcomes()
		for _, f := range facts {
			if f.Matched {
				check(f.Reminder)
			}
		}
		for _, o := range outs {
			check(o.Reminder)
		}
		if !recycle {
			return
		}
		poison := schemas.Reminder{ReminderID: "poison", InvoiceDueDate: t0, CustomerID: "poison", Attributes: map[string]string{}}
		for _, f := range facts {
			if f.Reminder != nil {
				*f.Reminder = poison
			}
		}
		for _, o := range outs {
			*o.Reminder = poison
		}
		j.Recycle()
	}
	for inv := 0; inv < 30; inv++ {
		id := fmt.Sprintf("INV-%d", inv)
		if inv%5 == 0 {
			// The payment comes first: the invoice is created without one.
			j.AddPayment(paymentAt(fmt.Sprintf("P%d", inv), id, t0.Add(time.Duration(inv)*day+3*day), 700), off)
			off++
		}
		for k := 0; k < 1+rng.IntN(7); k++ {
			r := reminderAt(fmt.Sprintf("R%d-%d", inv, k), id, t0.Add(time.Duration(inv)*day+time.Duration(k)*time.Hour))
			r.Level = int32(k)
			r.AmountDueMinor = 1000 + int64(rng.IntN(3))*250
			r.CustomerID = fmt.Sprintf("C%d", rng.IntN(2))
			switch rng.IntN(3) {
			case 0:
				r.InvoiceDueDate = time.Time{}
			case 1:
				r.InvoiceDueDate = t0.Add(time.Duration(rng.IntN(20)) * day)
			}
			// Reminders of one invoice share or differ by their channel,
			// plan and attributes (the joiner interns them starting from
			// the invoice's other reminders): no map, an empty one, other
			// keys, other values, more entries.
			r.Channel, r.Plan = []string{"email", "sms"}[rng.IntN(2)], []string{"gentle", "firm"}[rng.IntN(2)]
			v := fmt.Sprint(rng.IntN(3))
			r.Attributes = [](map[string]string){nil, {}, {"k": v}, {"j": v}, {"k": v, "j": "1"}, {"k": v}}[rng.IntN(6)]
			in[r.ReminderID] = r
			j.AddReminder(r, off)
			off++
		}
		if inv%5 != 0 {
			j.AddPayment(paymentAt(fmt.Sprintf("P%d", inv), id, t0.Add(time.Duration(inv)*day+2*time.Hour), 700), off)
			off++
		}
		if recycle {
			drain()
		}
	}
	j.Flush()
	drain()
	if seen < len(in) {
		t.Fatalf("recycle %v: only %d reminders checked for %d fed", recycle, seen, len(in))
	}
}

// shuffled is w's events in event-time order when shuffle is 0, else in a
// random order drawn from (seed, shuffle).
func shuffled(w world, seed uint64, shuffle int) []arrival {
	order := inOrder(w)
	if shuffle > 0 {
		rng := rand.New(rand.NewPCG(seed, uint64(shuffle)))
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	}
	return order
}
