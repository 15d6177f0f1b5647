package stream

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/relance-io/relance/schemas"
)

const day = 24 * time.Hour

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// world is a random data set built to hit the matching rule's corners:
// few invoices (so reminders and payments collide), times on a coarse grid
// (so ties and lags of exactly H happen), holdouts, multi-invoice payments
// and payments before any reminder.
type world struct {
	reminders []schemas.Reminder
	payments  []schemas.Payment
}

func randomWorld(seed uint64, nInv, nRem, nPay int) world {
	rng := rand.New(rand.NewPCG(seed, 99))
	var w world
	instant := func() time.Time {
		// Half on a whole-day grid (exact-H lags, same-ms ties), half anywhere.
		if rng.IntN(2) == 0 {
			return t0.Add(time.Duration(rng.IntN(90)) * day)
		}
		return t0.Add(time.Duration(rng.Int64N(int64(90*day/time.Millisecond))) * time.Millisecond)
	}
	chans := []string{"email", "sms", "phone", "letter"}
	for i := 0; i < nRem; i++ {
		inv := rng.IntN(nInv)
		w.reminders = append(w.reminders, schemas.Reminder{
			EventID: fmt.Sprintf("re-%d", i), ReminderID: fmt.Sprintf("R%04d", rng.IntN(nRem*2)),
			InvoiceID: fmt.Sprintf("I%03d", inv), CustomerID: "C1", SentAt: instant(),
			Channel: chans[rng.IntN(len(chans))], Level: int32(rng.IntN(3)), Plan: "PME", Sender: "s",
			AmountDueMinor: 1000, Currency: "EUR", InvoiceDueDate: t0, Holdout: rng.IntN(8) == 0,
		})
	}
	for i := 0; i < nPay; i++ {
		p := schemas.Payment{EventID: fmt.Sprintf("pe-%d", i), PaymentID: fmt.Sprintf("P%04d", i), CustomerID: "C1", PaidAt: instant(), Method: "transfer", Currency: "EUR"}
		if rng.IntN(6) == 0 && len(w.reminders) > 0 {
			// Exactly H after, or exactly at, a reminder.
			r := w.reminders[rng.IntN(len(w.reminders))]
			lags := []time.Duration{0, 7 * day, 15 * day, 30 * day, 30*day + time.Millisecond}
			p.PaidAt = r.SentAt.Add(lags[rng.IntN(len(lags))])
			p.Allocations = append(p.Allocations, schemas.Allocation{InvoiceID: r.InvoiceID, AmountMinor: 1 + rng.Int64N(100000)})
		}
		for k := 0; k < 1+rng.IntN(3); k++ {
			p.Allocations = append(p.Allocations, schemas.Allocation{InvoiceID: fmt.Sprintf("I%03d", rng.IntN(nInv)), AmountMinor: 1 + rng.Int64N(100000)})
		}
		w.payments = append(w.payments, p)
	}
	// reminder_id is an identity: keep the first event of each id only, so
	// the data set has no conflicting duplicates (dedup is tested apart).
	seen := map[string]bool{}
	var rems []schemas.Reminder
	for _, r := range w.reminders {
		if !seen[r.InvoiceID+"/"+r.ReminderID] {
			seen[r.InvoiceID+"/"+r.ReminderID] = true
			rems = append(rems, r)
		}
	}
	w.reminders = rems
	return w
}

// row is a fact reduced to what the spec defines.
type row struct {
	payment    string
	index      int
	horizon    Horizon
	reminderID string
	credited   int64
}

func (r row) String() string {
	return fmt.Sprintf("%s#%d %s -> %q %d", r.payment, r.index, r.horizon, r.reminderID, r.credited)
}

// oracle applies SPEC §3 by brute force: for every allocation and horizon,
// scan every reminder. Written without the joiner's code.
func oracle(w world, hs []Horizon, m Model, halfLife time.Duration) []row {
	var out []row
	for _, p := range w.payments {
		for ai, a := range p.Allocations {
			for _, h := range hs {
				var cs []schemas.Reminder
				for _, r := range w.reminders {
					if r.InvoiceID == a.InvoiceID && !r.Holdout && !r.SentAt.After(p.PaidAt) && !p.PaidAt.After(r.SentAt.Add(time.Duration(h))) {
						cs = append(cs, r)
					}
				}
				if len(cs) == 0 {
					out = append(out, row{p.PaymentID, ai, h, "", 0})
					continue
				}
				// latest: greatest (sent_at, level, reminder_id)
				later := func(a, b schemas.Reminder) bool {
					if !a.SentAt.Equal(b.SentAt) {
						return a.SentAt.After(b.SentAt)
					}
					if a.Level != b.Level {
						return a.Level > b.Level
					}
					return a.ReminderID > b.ReminderID
				}
				latest, earliest := cs[0], cs[0]
				for _, c := range cs[1:] {
					if later(c, latest) {
						latest = c
					}
					if later(earliest, c) {
						earliest = c
					}
				}
				credit := map[string]int64{}
				switch m {
				case LastTouch:
					credit[latest.ReminderID] = a.AmountMinor
				case FirstTouch:
					credit[earliest.ReminderID] = a.AmountMinor
				case Linear:
					n := int64(len(cs))
					var sum int64
					for _, c := range cs {
						credit[c.ReminderID] = a.AmountMinor / n
						sum += a.AmountMinor / n
					}
					credit[latest.ReminderID] += a.AmountMinor - sum
				case TimeDecay:
					var total float64
					ws := map[string]float64{}
					for _, c := range cs {
						ws[c.ReminderID] = math.Pow(2, -float64(p.PaidAt.Sub(c.SentAt).Milliseconds())/float64(halfLife.Milliseconds()))
					}
					// Sum in latest-first order, as floating point addition is
					// not associative and the spec fixes no order.
					sort.Slice(cs, func(i, j int) bool { return later(cs[i], cs[j]) })
					for _, c := range cs {
						total += ws[c.ReminderID]
					}
					var sum int64
					for _, c := range cs {
						v := int64(math.Floor(float64(a.AmountMinor) * ws[c.ReminderID] / total))
						credit[c.ReminderID] = v
						sum += v
					}
					credit[latest.ReminderID] += a.AmountMinor - sum
				}
				for id, v := range credit {
					out = append(out, row{p.PaymentID, ai, h, id, v})
				}
			}
		}
	}
	sortRows(out)
	return out
}

func sortRows(rs []row) {
	sort.Slice(rs, func(i, j int) bool { return rs[i].String() < rs[j].String() })
}

// finalRows reduces an emitted fact stream as the store does
// (ReplacingMergeTree(version, is_deleted) read with FINAL): per key the
// highest version wins and deleted keys vanish.
func finalRows(t *testing.T, facts []Fact) []row {
	t.Helper()
	type key struct {
		payment string
		index   int
		h       Horizon
		rem     string
	}
	type val struct {
		v uint64
		f Fact
	}
	m := map[key]val{}
	for _, f := range facts {
		id := ""
		if f.Reminder != nil {
			id = f.Reminder.ReminderID
		}
		k := key{f.PaymentID, f.AllocationIndex, f.Horizon, id}
		if old, ok := m[k]; ok && old.v >= f.Version {
			if old.v == f.Version && (old.f.CreditedMinor != f.CreditedMinor || old.f.Deleted != f.Deleted) {
				t.Fatalf("two different facts for %v at one version", k)
			}
			continue
		}
		m[k] = val{f.Version, f}
	}
	var out []row
	for k, v := range m {
		if !v.f.Deleted {
			out = append(out, row{k.payment, k.index, k.h, k.rem, v.f.CreditedMinor})
		}
	}
	sortRows(out)
	return out
}

type arrival struct {
	src Source
	i   int
	at  time.Time
}

// run feeds w to a joiner in the given arrival order and flushes.
func run(t *testing.T, w world, order []arrival, opts ...Opt) ([]Fact, *Joiner) {
	f, _, j := runAll(t, w, order, opts...)
	return f, j
}

// runAll is run that also drains reminder outcomes, every few events as
// the pipeline does at each flush.
func runAll(t *testing.T, w world, order []arrival, opts ...Opt) ([]Fact, []Outcome, *Joiner) {
	t.Helper()
	var n uint64
	j, err := NewJoiner(append([]Opt{VersionClock(func() uint64 { n++; return n })}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	var facts []Fact
	var outs []Outcome
	var offs [2]int64
	for k, a := range order {
		if a.src == Reminders {
			j.AddReminder(w.reminders[a.i], offs[Reminders])
		} else {
			j.AddPayment(w.payments[a.i], offs[Payments])
		}
		offs[a.src]++
		f, late := j.Drain()
		facts = append(facts, f...)
		if len(late) > 0 {
			t.Fatalf("unexpected too-late events: %+v", late[0])
		}
		if k%7 == 0 {
			outs = append(outs, j.DrainOutcomes()...)
		}
	}
	j.Flush()
	f, _ := j.Drain()
	return append(facts, f...), append(outs, j.DrainOutcomes()...), j
}

func inOrder(w world) []arrival {
	var as []arrival
	for i, r := range w.reminders {
		as = append(as, arrival{Reminders, i, r.SentAt})
	}
	for i, p := range w.payments {
		as = append(as, arrival{Payments, i, p.PaidAt})
	}
	sort.SliceStable(as, func(i, j int) bool { return as[i].at.Before(as[j].at) })
	return as
}

// Rule: whatever the arrival order, once corrections are applied the facts
// the store keeps equal SPEC §3 computed by brute force — for every model
// and horizon (retention long enough that nothing is too late).
func TestJoiner_AnyArrivalOrderMatchesOracle(t *testing.T) {
	hs := DefaultHorizons
	for seed := uint64(1); seed <= 40; seed++ {
		w := randomWorld(seed, 6+int(seed%5), 40, 40)
		for _, m := range []Model{LastTouch, FirstTouch, Linear, TimeDecay} {
			want := oracle(w, hs, m, 7*day)
			for shuffle := 0; shuffle < 5; shuffle++ {
				order := inOrder(w)
				if shuffle > 0 {
					rng := rand.New(rand.NewPCG(seed, uint64(shuffle)))
					rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
				}
				facts, _ := run(t, w, order, Attribution(m), Retention(365*day))
				got := finalRows(t, facts)
				if d := diff(want, got); d != "" {
					t.Fatalf("seed %d model %s shuffle %d: facts differ from oracle:\n%s", seed, m, shuffle, d)
				}
			}
		}
	}
}

// Rule: when every event arrives within the allowed lateness of the newest
// event time, each fact key is written once: no correction is ever needed.
func TestJoiner_WithinLatenessWritesOnce(t *testing.T) {
	for seed := uint64(1); seed <= 30; seed++ {
		w := randomWorld(seed, 8, 50, 50)
		order := inOrder(w)
		// Disorder bounded by 12h: swap neighbours whose times are that close.
		rng := rand.New(rand.NewPCG(seed, 7))
		for k := 0; k < 4*len(order); k++ {
			i := rng.IntN(len(order) - 1)
			if order[i+1].at.Sub(order[i].at) < 12*time.Hour {
				order[i], order[i+1] = order[i+1], order[i]
			}
		}
		facts, j := run(t, w, order, AllowedLateness(day), Retention(0))
		if c := j.Stats().Corrections; c != 0 {
			t.Fatalf("seed %d: %d corrections, want none within lateness", seed, c)
		}
		if d := diff(oracle(w, DefaultHorizons, LastTouch, 0), finalRows(t, facts)); d != "" {
			t.Fatalf("seed %d: %s", seed, d)
		}
	}
}

// Rule: an event older than watermark - retention changes nothing and is
// reported, never dropped silently.
func TestJoiner_BeyondRetentionIsReported(t *testing.T) {
	j, _ := NewJoiner(AllowedLateness(0), Retention(day))
	rem := schemas.Reminder{EventID: "e1", ReminderID: "R1", InvoiceID: "I1", SentAt: t0, Channel: "email"}
	pay := func(id string, at time.Time) schemas.Payment {
		return schemas.Payment{EventID: "pe" + id, PaymentID: id, PaidAt: at, Allocations: []schemas.Allocation{{InvoiceID: "I1", AmountMinor: 500}}}
	}
	p0 := pay("P0", t0.Add(40*day))
	p0.Allocations[0].InvoiceID = "I0"
	j.AddPayment(p0, 0)
	j.AddReminder(schemas.Reminder{EventID: "e0", ReminderID: "R0", InvoiceID: "I9", SentAt: t0.Add(40 * day)}, 0)
	// 40 days behind a watermark at t0+40d, on an invoice without state,
	// more than the largest horizon + retention: too late.
	j.AddReminder(rem, 1)
	facts, late := j.Drain()
	if len(late) != 1 || late[0].EventID != "e1" || late[0].Reason != "beyond_retention" {
		t.Fatalf("late = %+v, want the reminder e1", late)
	}
	for _, f := range facts {
		if f.Matched {
			t.Fatalf("a too-late reminder was credited: %+v", f)
		}
	}
	if s := j.Stats(); s.TooLate != 1 {
		t.Fatalf("TooLate = %d, want 1", s.TooLate)
	}
}

// Rule: a duplicate event (same reminder_id or payment_id) is absorbed.
func TestJoiner_DuplicatesAreAbsorbed(t *testing.T) {
	w := randomWorld(3, 5, 30, 30)
	order := inOrder(w)
	doubled := append(append([]arrival{}, order...), order...)
	sort.SliceStable(doubled, func(i, j int) bool { return doubled[i].at.Before(doubled[j].at) })
	facts, j := run(t, w, doubled, Retention(365*day))
	if d := diff(oracle(w, DefaultHorizons, LastTouch, 0), finalRows(t, facts)); d != "" {
		t.Fatal(d)
	}
	if got := j.Stats().Duplicates; got != uint64(len(order)) {
		t.Fatalf("Duplicates = %d, want %d", got, len(order))
	}
}

// Rule: the watermark waits for both inputs, never moves backwards, and an
// idle input stops holding it back.
func TestJoiner_WatermarkWaitsForSlowerInput(t *testing.T) {
	j, _ := NewJoiner(AllowedLateness(time.Hour))
	j.AddPayment(schemas.Payment{EventID: "p", PaymentID: "P", PaidAt: t0, Allocations: []schemas.Allocation{{InvoiceID: "I", AmountMinor: 1}}}, 0)
	if !j.Watermark().IsZero() {
		t.Fatalf("watermark %v before the reminders input said anything", j.Watermark())
	}
	j.Idle(Reminders)
	if got := j.Watermark(); !got.Equal(t0.Add(-time.Hour)) {
		t.Fatalf("watermark %v, want paid_at - lateness", got)
	}
	j.AddReminder(schemas.Reminder{EventID: "r", ReminderID: "R", InvoiceID: "X", SentAt: t0.Add(-48 * time.Hour)}, 0)
	if got := j.Watermark(); !got.Equal(t0.Add(-time.Hour)) {
		t.Fatalf("watermark moved backwards to %v", got)
	}
}

// Rule: LowWater names the oldest offset still needed to rebuild the state.
func TestJoiner_LowWater(t *testing.T) {
	j, _ := NewJoiner()
	j.AddReminder(schemas.Reminder{EventID: "a", ReminderID: "A", InvoiceID: "I", SentAt: t0}, 5)
	j.AddReminder(schemas.Reminder{EventID: "b", ReminderID: "B", InvoiceID: "I", SentAt: t0.Add(day)}, 6)
	if off, ok := j.LowWater(Reminders); !ok || off != 5 {
		t.Fatalf("LowWater = %d,%v want 5,true", off, ok)
	}
	if _, ok := j.LowWater(Payments); ok {
		t.Fatal("LowWater(Payments) with no payment held")
	}
}

func diff(want, got []row) string {
	w := map[string]bool{}
	for _, r := range want {
		w[r.String()] = true
	}
	g := map[string]bool{}
	for _, r := range got {
		g[r.String()] = true
	}
	var out string
	n := 0
	for _, r := range want {
		if !g[r.String()] && n < 10 {
			out += "  missing " + r.String() + "\n"
			n++
		}
	}
	for _, r := range got {
		if !w[r.String()] && n < 20 {
			out += "  extra   " + r.String() + "\n"
			n++
		}
	}
	if out == "" && len(want) != len(got) {
		out = fmt.Sprintf("  %d rows, want %d (duplicates)", len(got), len(want))
	}
	return out
}

func reminderAt(id, invoice string, at time.Time) schemas.Reminder {
	return schemas.Reminder{EventID: "e" + id, ReminderID: id, InvoiceID: invoice, CustomerID: "C", SentAt: at, Channel: "email", Level: 1, AmountDueMinor: 100, Currency: "EUR"}
}

func paymentAt(id, invoice string, at time.Time, amount int64) schemas.Payment {
	return schemas.Payment{EventID: "e" + id, PaymentID: id, CustomerID: "C", PaidAt: at, Currency: "EUR", Method: "transfer",
		Allocations: []schemas.Allocation{{InvoiceID: invoice, AmountMinor: amount}}}
}
