package stream

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/relance-io/relance/schemas"
)

const day = 24 * time.Hour

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

var models = []Model{LastTouch, FirstTouch, Linear, TimeDecay}

// world is a random data set built to hit the matching rule's corners:
// few invoices (so reminders and payments collide), times on a coarse grid
// (so ties and lags of exactly H happen), reminders sharing a sent_at on
// one invoice (at one level, so reminder_id breaks the tie, or not, so
// level does), payments aimed at a reminder (at its sent_at, a millisecond
// before it, exactly H after it and a millisecond either side), holdouts,
// multi-invoice and partial payments, payments before any reminder.
// TestJoiner_AnyArrivalOrderMatchesOracle checks that every corner is
// reached (see corners).
type world struct {
	reminders []schemas.Reminder
	payments  []schemas.Payment
}

// worldSpec sizes a random world.
type worldSpec struct {
	invoices, reminders, payments int
	// customers own the invoices round-robin; a payment settles invoices
	// of one customer only, as reminders and payments are co-partitioned
	// by customer.
	customers int
	// horizons are the windows the aimed payments' lags are built from.
	horizons []Horizon
}

// randomWorld is a world of one customer aimed at the default horizons.
func randomWorld(seed uint64, nInv, nRem, nPay int) world {
	return newWorld(seed, worldSpec{invoices: nInv, reminders: nRem, payments: nPay, customers: 1, horizons: DefaultHorizons})
}

// amountDue is every invoice's outstanding amount; allocations range from
// far below it (partial payments) to twice it.
const amountDue = 50000

func newWorld(seed uint64, s worldSpec) world {
	rng := rand.New(rand.NewPCG(seed, 99))
	var w world
	instant := func() time.Time {
		// Half on a 12h grid (exact-H lags, same-ms ties), half anywhere.
		if rng.IntN(2) == 0 {
			return t0.Add(time.Duration(rng.IntN(180)) * 12 * time.Hour)
		}
		return t0.Add(time.Duration(rng.Int64N(int64(90*day/time.Millisecond))) * time.Millisecond)
	}
	amount := func() int64 { return 1 + rng.Int64N(2*amountDue) }
	// One event in ten in another currency: its reminders are no
	// candidates for the others' payments (SEMANTICS §3). Drawn apart, so
	// that the rest of a seed's world stays what it was.
	curRng := rand.New(rand.NewPCG(seed, 7))
	currency := func() string {
		if curRng.IntN(10) == 0 {
			return "USD"
		}
		return "EUR"
	}
	invoiceID := func(i int) string { return fmt.Sprintf("I%03d", i) }
	customerID := func(inv int) string { return fmt.Sprintf("C%d", inv%s.customers) }
	chans := []string{"email", "sms", "phone", "letter"}
	var remInv []int // invoice index of each reminder
	for i := 0; i < s.reminders; i++ {
		inv := rng.IntN(s.invoices)
		remInv = append(remInv, inv)
		w.reminders = append(w.reminders, schemas.Reminder{
			EventID: fmt.Sprintf("re-%d", i), ReminderID: fmt.Sprintf("R%04d", rng.IntN(s.reminders*2)),
			InvoiceID: invoiceID(inv), CustomerID: customerID(inv), SentAt: instant(),
			Channel: chans[rng.IntN(len(chans))], Level: int32(rng.IntN(3)), Plan: "PME", Sender: "s",
			AmountDueMinor: amountDue, Currency: currency(), InvoiceDueDate: t0, Holdout: rng.IntN(8) == 0,
		})
	}
	// Twins: reminders sent on the invoice of another at the same
	// millisecond, half at its level (reminder_id breaks the tie), half
	// not (level does). Their ids are shorter than the others' ("R57"
	// against "R0123"): byte order, not numeric order, must decide.
	n := len(w.reminders)
	for i := 0; i < s.reminders/4; i++ {
		k := rng.IntN(n)
		tw := w.reminders[k]
		tw.EventID = fmt.Sprintf("te-%d", i)
		tw.ReminderID = fmt.Sprintf("R%d", rng.IntN(s.reminders*20))
		tw.Channel = chans[rng.IntN(len(chans))]
		if rng.IntN(2) == 0 {
			tw.Level = (tw.Level + 1 + int32(rng.IntN(2))) % 3
		}
		tw.Holdout = rng.IntN(8) == 0
		w.reminders = append(w.reminders, tw)
		remInv = append(remInv, remInv[k])
	}
	// Lags at which a payment is aimed at a reminder: the same millisecond,
	// a millisecond before it (the reminder comes after the payment), and
	// for every horizon exactly H, a millisecond less and a millisecond
	// more.
	lags := []time.Duration{0, -time.Millisecond}
	for _, h := range s.horizons {
		d := time.Duration(h)
		lags = append(lags, d-time.Millisecond, d, d+time.Millisecond)
	}
	for i := 0; i < s.payments; i++ {
		inv := rng.IntN(s.invoices)
		p := schemas.Payment{EventID: fmt.Sprintf("pe-%d", i), PaymentID: fmt.Sprintf("P%04d", i), PaidAt: instant(), Method: "transfer", Currency: currency()}
		if rng.IntN(3) == 0 {
			k := rng.IntN(len(w.reminders))
			inv = remInv[k]
			p.PaidAt = w.reminders[k].SentAt.Add(lags[rng.IntN(len(lags))])
			p.Allocations = append(p.Allocations, schemas.Allocation{InvoiceID: invoiceID(inv), AmountMinor: amount()})
		}
		// Allocations on invoices of the same customer: several invoices
		// per payment, several payments per invoice.
		c := inv % s.customers
		owned := (s.invoices - c + s.customers - 1) / s.customers
		for k := 0; k < 1+rng.IntN(3); k++ {
			p.Allocations = append(p.Allocations, schemas.Allocation{InvoiceID: invoiceID(c + s.customers*rng.IntN(owned)), AmountMinor: amount()})
		}
		p.CustomerID = customerID(inv)
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

// rule is the matching rule of SPEC §3 as the oracle applies it; the
// mutants (see corners) each get one corner of it wrong.
type rule struct {
	// candidate reports whether r, on the allocation's invoice, is a
	// candidate for an allocation paid at paid in currency cur, for
	// horizon h.
	candidate func(r schemas.Reminder, paid time.Time, cur string, h Horizon) bool
	// later reports whether a is "later" than b: preferred by last_touch.
	later func(a, b schemas.Reminder) bool
}

// spec: not a holdout, in the payment's currency and sent_at <= paid_at <=
// sent_at + H; latest is the
// greatest (sent_at, level, reminder_id), reminder_id in byte order.
var spec = rule{
	candidate: func(r schemas.Reminder, paid time.Time, cur string, h Horizon) bool {
		return !r.Holdout && r.Currency == cur && !r.SentAt.After(paid) && !paid.After(r.SentAt.Add(time.Duration(h)))
	},
	later: func(a, b schemas.Reminder) bool {
		if !a.SentAt.Equal(b.SentAt) {
			return a.SentAt.After(b.SentAt)
		}
		if a.Level != b.Level {
			return a.Level > b.Level
		}
		return a.ReminderID > b.ReminderID
	},
}

// oracle applies SPEC §3 by brute force: for every allocation and horizon,
// scan every reminder. Written without the joiner's code.
func oracle(w world, hs []Horizon, m Model, halfLife time.Duration) []row {
	return oracleBy(spec, w, hs, m, halfLife)
}

// oracleBy is oracle under the matching rule ru.
func oracleBy(ru rule, w world, hs []Horizon, m Model, halfLife time.Duration) []row {
	var out []row
	for _, p := range w.payments {
		for ai, a := range p.Allocations {
			for _, h := range hs {
				var cs []schemas.Reminder
				for _, r := range w.reminders {
					if r.InvoiceID == a.InvoiceID && ru.candidate(r, p.PaidAt, p.Currency, h) {
						cs = append(cs, r)
					}
				}
				if len(cs) == 0 {
					out = append(out, row{p.PaymentID, ai, h, "", 0})
					continue
				}
				later := ru.later
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
					// Weights relative to the latest candidate's (the
					// smallest lag), as docs/SEMANTICS.md §3 states: the
					// same ratios, with ties weighing exactly 1.
					var total float64
					ws := map[string]float64{}
					for _, c := range cs {
						ws[c.ReminderID] = math.Pow(2, -float64(latest.SentAt.Sub(c.SentAt).Milliseconds())/float64(halfLife.Milliseconds()))
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

// mutants each get one corner of the rule wrong. A data set on which a
// mutant's facts equal the spec's cannot tell a joiner making that mistake
// from a right one: the property tests require every mutant to differ
// somewhere, under every model.
var mutants = []struct {
	name string
	rule rule
}{
	{"reminder_id tie-break reversed", rule{spec.candidate, func(a, b schemas.Reminder) bool {
		if a.SentAt.Equal(b.SentAt) && a.Level == b.Level {
			return a.ReminderID < b.ReminderID
		}
		return spec.later(a, b)
	}}},
	{"reminder_id compared as a number", rule{spec.candidate, func(a, b schemas.Reminder) bool {
		if a.SentAt.Equal(b.SentAt) && a.Level == b.Level {
			x, _ := strconv.Atoi(a.ReminderID[1:])
			y, _ := strconv.Atoi(b.ReminderID[1:])
			if x != y {
				return x > y
			}
		}
		return spec.later(a, b)
	}}},
	{"level tie-break reversed", rule{spec.candidate, func(a, b schemas.Reminder) bool {
		if a.SentAt.Equal(b.SentAt) && a.Level != b.Level {
			return a.Level < b.Level
		}
		return spec.later(a, b)
	}}},
	{"lag exactly H excluded", rule{func(r schemas.Reminder, paid time.Time, cur string, h Horizon) bool {
		return spec.candidate(r, paid, cur, h) && paid.Before(r.SentAt.Add(time.Duration(h)))
	}, spec.later}},
	{"lag 0 (same millisecond) excluded", rule{func(r schemas.Reminder, paid time.Time, cur string, h Horizon) bool {
		return spec.candidate(r, paid, cur, h) && r.SentAt.Before(paid)
	}, spec.later}},
	{"holdouts credited", rule{func(r schemas.Reminder, paid time.Time, cur string, h Horizon) bool {
		r.Holdout = false
		return spec.candidate(r, paid, cur, h)
	}, spec.later}},
	{"reminders of another currency credited", rule{func(r schemas.Reminder, paid time.Time, cur string, h Horizon) bool {
		return spec.candidate(r, paid, r.Currency, h)
	}, spec.later}},
	{"reminders sent after the payment credited", rule{func(r schemas.Reminder, paid time.Time, cur string, h Horizon) bool {
		return spec.candidate(r, paid, cur, h) || (!r.Holdout && r.SentAt.After(paid) && !r.SentAt.After(paid.Add(time.Duration(h))))
	}, spec.later}},
}

// corners counts, over the worlds added, how often each corner of the rule
// decides facts: per mutant and model, the allocations × horizons whose
// facts the mutant gets wrong; and the shapes of data the spec names.
type corners struct {
	decided map[string]*[4]int // mutant name -> per model
	shapes  map[string]int
}

func newCorners() *corners {
	c := &corners{decided: map[string]*[4]int{}, shapes: map[string]int{}}
	for _, mu := range mutants {
		c.decided[mu.name] = new([4]int)
	}
	for _, s := range []string{"payment before any reminder", "reminder after a matched payment", "holdout in the window", "multi-invoice payment, matched", "partial payment, matched, invoice paid by several payments"} {
		c.shapes[s] = 0
	}
	return c
}

func (c *corners) add(w world, hs []Horizon, halfLife time.Duration) {
	for _, m := range models {
		want := oracle(w, hs, m, halfLife)
		for _, mu := range mutants {
			c.decided[mu.name][m] += differing(want, oracleBy(mu.rule, w, hs, m, halfLife))
		}
	}
	hmax := time.Duration(hs[len(hs)-1])
	payers := map[string]map[string]bool{} // invoice -> payments
	for _, p := range w.payments {
		for _, a := range p.Allocations {
			if payers[a.InvoiceID] == nil {
				payers[a.InvoiceID] = map[string]bool{}
			}
			payers[a.InvoiceID][p.PaymentID] = true
		}
	}
	for _, p := range w.payments {
		invs := map[string]bool{}
		anyMatched := false
		for _, a := range p.Allocations {
			invs[a.InvoiceID] = true
			var before, after, held, matched int
			for _, r := range w.reminders {
				if r.InvoiceID != a.InvoiceID {
					continue
				}
				lag := p.PaidAt.Sub(r.SentAt)
				switch {
				case lag < 0:
					after++
				case r.Holdout && lag <= hmax:
					held++
				case lag <= hmax:
					matched++
					before++
				default:
					before++
				}
			}
			if before == 0 && after > 0 {
				c.shapes["payment before any reminder"]++
			}
			if matched > 0 && after > 0 {
				c.shapes["reminder after a matched payment"]++
			}
			if held > 0 {
				c.shapes["holdout in the window"]++
			}
			if matched > 0 && a.AmountMinor < amountDue && len(payers[a.InvoiceID]) > 1 {
				c.shapes["partial payment, matched, invoice paid by several payments"]++
			}
			anyMatched = anyMatched || matched > 0
		}
		if len(invs) > 1 && anyMatched {
			c.shapes["multi-invoice payment, matched"]++
		}
	}
}

// check fails t for every corner never reached, and logs the counts.
func (c *corners) check(t *testing.T) {
	t.Helper()
	for _, mu := range mutants {
		d := c.decided[mu.name]
		t.Logf("%-45s decides %v allocation×horizons (%s, %s, %s, %s)", mu.name, *d, models[0], models[1], models[2], models[3])
		for m, n := range d {
			if n == 0 {
				t.Errorf("corner never decisive under %s: a joiner with %q would pass", Model(m), mu.name)
			}
		}
	}
	var names []string
	for s := range c.shapes {
		names = append(names, s)
	}
	sort.Strings(names)
	for _, s := range names {
		n := c.shapes[s]
		t.Logf("%-45s %d allocations or payments", s, n)
		if n == 0 {
			t.Errorf("corner never reached: %s", s)
		}
	}
}

// differing counts the allocations × horizons whose rows differ in a and
// b (both sorted).
func differing(a, b []row) int {
	type key struct {
		payment string
		index   int
		h       Horizon
	}
	group := func(rs []row) map[key][]row {
		g := map[key][]row{}
		for _, r := range rs {
			k := key{r.payment, r.index, r.horizon}
			g[k] = append(g[k], r)
		}
		return g
	}
	ga, gb := group(a), group(b)
	n := 0
	for k, v := range ga {
		if !slices.Equal(gb[k], v) {
			n++
		}
	}
	return n
}

// sortRows sorts by every field, so that equal sets of rows are equal
// slices.
func sortRows(rs []row) {
	slices.SortFunc(rs, func(a, b row) int {
		return cmp.Or(cmp.Compare(a.payment, b.payment), cmp.Compare(a.index, b.index), cmp.Compare(a.horizon, b.horizon),
			cmp.Compare(a.reminderID, b.reminderID), cmp.Compare(a.credited, b.credited))
	})
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

// joinConfigs are the configurations the property tests run: the defaults
// (given as no option at all), and other horizons (one not a whole number
// of days; a single one), listed unsorted, with another time_decay
// half-life. horizons and halfLife are what the oracle is told.
var joinConfigs = []struct {
	name     string
	horizons []Horizon
	halfLife time.Duration
	opts     []Opt
	seeds    uint64
}{
	{"defaults 7d,15d,30d half-life 7d", DefaultHorizons, 7 * day, nil, 40},
	{"36h,10d half-life 3d", []Horizon{Horizon(36 * time.Hour), Horizon(10 * day)}, 3 * day,
		[]Opt{Horizons(Horizon(10*day), Horizon(36*time.Hour)), HalfLife(3 * day)}, 20},
	{"10d half-life 3d", []Horizon{Horizon(10 * day)}, 3 * day, []Opt{Horizons(Horizon(10 * day)), HalfLife(3 * day)}, 20},
}

// Rule: whatever the arrival order, once corrections are applied the facts
// the store keeps equal SPEC §3 computed by brute force — for every model,
// under the default and other horizons and half-life (retention long
// enough that nothing is too late). The data sets reach every corner of
// the rule: each one decides some facts under every model (see corners).
func TestJoiner_AnyArrivalOrderMatchesOracle(t *testing.T) {
	for _, c := range joinConfigs {
		t.Run(c.name, func(t *testing.T) {
			seen := newCorners()
			for seed := uint64(1); seed <= c.seeds; seed++ {
				w := newWorld(seed, worldSpec{invoices: 6 + int(seed%5), reminders: 40, payments: 40, customers: 1, horizons: c.horizons})
				seen.add(w, c.horizons, c.halfLife)
				for _, m := range models {
					want := oracle(w, c.horizons, m, c.halfLife)
					opts := append([]Opt{Attribution(m), Retention(365 * day)}, c.opts...)
					for shuffle := 0; shuffle < 5; shuffle++ {
						order := shuffled(w, seed, shuffle)
						facts, _ := run(t, w, order, opts...)
						got := finalRows(t, facts)
						if d := diff(want, got); d != "" {
							t.Fatalf("seed %d model %s shuffle %d: facts differ from oracle:\n%s", seed, m, shuffle, d)
						}
					}
				}
			}
			seen.check(t)
		})
	}
}

// Rule: with customers spread over partitions, one Joiner per partition as
// ingest runs them and the partitions' events interleaved in any order, the
// union of the facts the store keeps equals SPEC §3 computed by brute force
// over the whole data set, for every model and horizon; each partition
// writes facts of its own customers only.
func TestJoiner_PartitionedArrivalMatchesOracle(t *testing.T) {
	const parts, customers = 3, 6
	for _, c := range joinConfigs[:2] {
		t.Run(c.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 15; seed++ {
				w := newWorld(seed, worldSpec{invoices: 9 + int(seed%5), reminders: 50, payments: 50, customers: customers, horizons: c.horizons})
				// Two customers per partition, a different pairing per seed.
				rng := rand.New(rand.NewPCG(seed, 11))
				partOf := map[string]int{}
				for k, p := range rng.Perm(customers) {
					partOf[fmt.Sprintf("C%d", k)] = p % parts
				}
				for _, m := range models {
					want := oracle(w, c.horizons, m, c.halfLife)
					opts := append([]Opt{Attribution(m), Retention(365 * day)}, c.opts...)
					for mode := 0; mode < 5; mode++ {
						order := partitionedOrder(w, partOf, parts, mode, rand.New(rand.NewPCG(seed, uint64(mode))))
						facts := runPartitioned(t, w, order, partOf, parts, opts...)
						if d := diff(want, finalRows(t, facts)); d != "" {
							t.Fatalf("seed %d model %s order %d: facts differ from oracle:\n%s", seed, m, mode, d)
						}
					}
				}
			}
		})
	}
}

// partArrival is an arrival at one partition; idle, instead of an event,
// says that the partition's src has nothing more to read.
type partArrival struct {
	arrival
	part int
	idle bool
}

// partitionedOrder interleaves the partitions' events: mode 0 all in event
// time; odd modes in any order; other even modes each partition of each
// topic in event time (as produced) and the partitions read at random, a
// partition that runs dry declared idle, as ingest does after its idle
// timeout.
func partitionedOrder(w world, partOf map[string]int, parts, mode int, rng *rand.Rand) []partArrival {
	var all []partArrival
	for _, a := range inOrder(w) {
		cust := ""
		if a.src == Reminders {
			cust = w.reminders[a.i].CustomerID
		} else {
			cust = w.payments[a.i].CustomerID
		}
		all = append(all, partArrival{arrival: a, part: partOf[cust]})
	}
	switch {
	case mode == 0:
		return all
	case mode%2 == 1:
		rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		return all
	}
	queues := make([][]partArrival, 2*parts) // index part*2 + src
	for _, a := range all {
		k := a.part*2 + int(a.src)
		queues[k] = append(queues[k], a)
	}
	var out []partArrival
	for k, q := range queues {
		if len(q) == 0 {
			out = append(out, partArrival{arrival: arrival{src: Source(k % 2)}, part: k / 2, idle: true})
		}
	}
	for left := len(all); left > 0; left-- {
		k := rng.IntN(len(queues))
		for len(queues[k]) == 0 {
			k = (k + 1) % len(queues)
		}
		out = append(out, queues[k][0])
		queues[k] = queues[k][1:]
		if len(queues[k]) == 0 {
			out = append(out, partArrival{arrival: arrival{src: Source(k % 2)}, part: k / 2, idle: true})
		}
	}
	return out
}

// runPartitioned feeds each arrival to its partition's Joiner, then ends
// the input as ingest does: every Joiner flushed to the newest event time
// of all partitions. It returns every partition's facts.
func runPartitioned(t *testing.T, w world, order []partArrival, partOf map[string]int, parts int, opts ...Opt) []Fact {
	t.Helper()
	js := make([]*Joiner, parts)
	for p := range js {
		var n uint64
		j, err := NewJoiner(append([]Opt{VersionClock(func() uint64 { n++; return n })}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		js[p] = j
	}
	offs := make([][2]int64, parts)
	var facts []Fact
	wrote := make([]bool, parts)
	drain := func(p int) {
		f, late := js[p].Drain()
		if len(late) > 0 {
			t.Fatalf("unexpected too-late events: %+v", late[0])
		}
		for _, x := range f {
			if partOf[x.CustomerID] != p {
				t.Fatalf("partition %d wrote a fact of customer %s (partition %d)", p, x.CustomerID, partOf[x.CustomerID])
			}
		}
		facts = append(facts, f...)
		wrote[p] = wrote[p] || len(f) > 0
	}
	for _, a := range order {
		j := js[a.part]
		switch {
		case a.idle:
			j.Idle(a.src)
		case a.src == Reminders:
			j.AddReminder(w.reminders[a.i], offs[a.part][Reminders])
		default:
			j.AddPayment(w.payments[a.i], offs[a.part][Payments])
		}
		if !a.idle {
			offs[a.part][a.src]++
		}
		drain(a.part)
	}
	var end time.Time
	for _, j := range js {
		if m := j.MaxEventTime(); m.After(end) {
			end = m
		}
	}
	for p, j := range js {
		j.FlushTo(end)
		drain(p)
	}
	for p, ok := range wrote {
		if !ok {
			t.Fatalf("partition %d wrote no fact: the data set does not spread over the partitions", p)
		}
	}
	return facts
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

// diff lists what differs between two sorted sets of rows, "" if nothing.
func diff(want, got []row) string {
	if slices.Equal(want, got) {
		return ""
	}
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
