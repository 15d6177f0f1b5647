package generate

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/relance-io/relance/schemas"
)

// Dataset is everything generated. Each slice is sorted by event time, ties
// by id; ids are numbered in that order, so they read chronologically.
type Dataset struct {
	Invoices  []schemas.Invoice
	Reminders []schemas.Reminder
	Payments  []schemas.Payment
}

// Generate simulates the receivables book described by p, day by day, and
// returns its events. It returns an error naming the field when p is
// invalid; it never fills in defaults (start from DefaultParams).
func Generate(p Params) (*Dataset, error) {
	return GenerateWithProgress(p, nil)
}

// GenerateWithProgress is Generate, calling progress (when not nil) with
// the number of customers simulated so far, out of p.Customers, after each
// one. Customers are the unit because the simulation runs one customer at
// a time and their number is known before it starts, which gives a
// progress bar its total. progress only observes: the output is the one
// Generate gives for p. It is called from the calling goroutine; a slow
// progress slows generation down.
func GenerateWithProgress(p Params, progress func(customersDone int)) (*Dataset, error) {
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	g := newGenerator(p)
	for i := range p.Customers {
		g.simulateCustomer(i)
		if progress != nil {
			progress(i + 1)
		}
	}
	return g.dataset(), nil
}

// Model constants that are not worth a knob.
const (
	// effectDays is how long a sent reminder keeps raising the payment
	// hazard; its weight decays geometrically by effectDecay a day.
	effectDays  = 10
	effectDecay = 0.75
	// weekendFactor damps reminder-driven payments on Saturdays and
	// Sundays (only card payments happen then).
	weekendFactor = 0.2
	// preferredMethodShare is how often a customer uses its usual method.
	preferredMethodShare = 0.8
	// Chances that an opportunity for an edge case is taken, until
	// Params.EdgeCases of the kind exist. Low enough to spread them across
	// customers, high enough to reach the quota on small data sets.
	sameMillisecondChance = 0.05
	sevenDayChance        = 0.01
	samePairChance        = 0.002
	// multiInvoiceHorizon: a grouped payment picks up invoices due within
	// this many days.
	multiInvoiceHorizon = 10
)

type generator struct {
	p     Params
	cal   *calendar
	decay [effectDays]float64
	// cumulative weights, for draws
	segments, behaviours, collectors, countries, businessUnits, methods []float64
	effects                                                             [][]float64 // per plan, per step: channel effect

	invoices  []rawInvoice
	reminders []rawReminder
	payments  []rawPayment

	sameMillisecond, sevenDays, samePair int
}

type rawInvoice struct {
	customer int
	seq      int
	ev       schemas.Invoice // InvoiceID and EventID set at the end
}

type rawReminder struct {
	customer, invoice, seq int
	ev                     schemas.Reminder
}

type rawPayment struct {
	customer, seq int
	invoices      []int // raw invoice index per allocation
	ev            schemas.Payment
}

// customer is the static profile of one customer.
type customer struct {
	index      int
	id         string
	segment    *Segment
	plan       int
	behaviour  *Behaviour
	collector  *Collector
	method     string
	country    string
	unit       string
	terms      int
	sizeFactor float64
}

func (c *customer) attributes() map[string]string {
	return map[string]string{
		"customer_segment": c.segment.Name,
		"country":          c.country,
		"business_unit":    c.unit,
	}
}

// invoiceState is one invoice during the simulation.
type invoiceState struct {
	raw         int
	issueDay    int
	dueDay      int
	outstanding int64
	// natural is the day the customer pays on its own, or -1.
	natural        int
	responsiveness float64
	partial        bool
	disputed       bool
	next           int // next plan step to schedule
	sent           []sentReminder

	// today's state, reset every day
	step    int // step scheduled today, or -1
	stepAt  time.Time
	holdout bool
	hit     bool // pays today
	grouped bool
	paid    bool
	paidAt  time.Time
	before  int64
}

type sentReminder struct {
	day      int
	at       time.Time
	strength float64
}

func newGenerator(p Params) *generator {
	start := p.Start.UTC()
	end := start.AddDate(0, p.Months, 0)
	g := &generator{p: p, cal: newCalendar(start, int(end.Sub(start)/day))}
	var sum float64
	for k := range effectDays {
		g.decay[k] = math.Pow(effectDecay, float64(k))
		sum += g.decay[k]
	}
	for k := range g.decay {
		g.decay[k] /= sum
	}
	g.segments = cumulative(len(p.Segments), func(i int) float64 { return p.Segments[i].Share })
	g.behaviours = cumulative(len(p.Behaviours), func(i int) float64 { return p.Behaviours[i].Share })
	g.collectors = cumulative(len(p.Collectors), func(i int) float64 { return p.Collectors[i].Share })
	g.countries = cumulative(len(p.Countries), func(i int) float64 { return p.Countries[i].Share })
	g.businessUnits = cumulative(len(p.BusinessUnits), func(i int) float64 { return p.BusinessUnits[i].Share })
	g.methods = cumulative(len(p.Methods), func(i int) float64 { return p.Methods[i].Share })
	// Pre-size the event slices from the expected volume: growing them by
	// doubling was most of the allocated bytes.
	var perMonth float64
	for _, s := range p.Segments {
		perMonth += s.InvoicesPerMonth * s.Share / g.segments[len(g.segments)-1]
	}
	expected := int(perMonth*float64(p.Customers*p.Months)*1.05) + 16
	g.invoices = make([]rawInvoice, 0, expected)
	g.reminders = make([]rawReminder, 0, expected*5/2)
	g.payments = make([]rawPayment, 0, expected)
	for _, pl := range p.Plans {
		effects := make([]float64, len(pl.Steps))
		for j, s := range pl.Steps {
			effects[j], _ = p.channelEffect(s.Channel)
		}
		g.effects = append(g.effects, effects)
	}
	return g
}

func cumulative(n int, weight func(int) float64) []float64 {
	c := make([]float64, n)
	var sum float64
	for i := range n {
		sum += weight(i)
		c[i] = sum
	}
	return c
}

// pick draws an index with probability proportional to its weight.
func pick(r *rand.Rand, cum []float64) int {
	x := r.Float64() * cum[len(cum)-1]
	i, _ := slices.BinarySearch(cum, x)
	for i < len(cum)-1 && cum[i] <= x {
		i++
	}
	return i
}

// uniformDuration is a random duration in [0, span) at millisecond precision.
func uniformDuration(r *rand.Rand, span time.Duration) time.Duration {
	return time.Duration(r.Int64N(int64(span/time.Millisecond))) * time.Millisecond
}

func poisson(r *rand.Rand, mean float64) int {
	limit := math.Exp(-mean)
	k, prod := 0, r.Float64()
	for prod > limit {
		k++
		prod *= r.Float64()
	}
	return k
}

// newCustomer draws a customer's profile. Each customer has its own random
// stream, so adding customers does not reshuffle the existing ones.
func (g *generator) newCustomer(i int, r *rand.Rand) *customer {
	p := g.p
	seg := &p.Segments[pick(r, g.segments)]
	c := &customer{
		index:      i,
		id:         fmt.Sprintf("C%05d", i+1),
		segment:    seg,
		plan:       p.planIndex(seg.Plan),
		behaviour:  &p.Behaviours[pick(r, g.behaviours)],
		collector:  &p.Collectors[pick(r, g.collectors)],
		method:     p.Methods[pick(r, g.methods)].Value,
		country:    p.Countries[pick(r, g.countries)].Value,
		unit:       p.BusinessUnits[pick(r, g.businessUnits)].Value,
		terms:      seg.PaymentTerms[r.IntN(len(seg.PaymentTerms))],
		sizeFactor: math.Exp(r.NormFloat64() * 0.5),
	}
	return c
}

// newInvoices draws the customer's invoices for the whole window: Poisson
// per month around a billing day of its own, on business days, sorted by
// issue time.
func (g *generator) newInvoices(c *customer, r *rand.Rand) []*invoiceState {
	p, cal := g.p, g.cal
	billingDay := r.IntN(28)
	var out []*invoiceState
	for m := range p.Months {
		monthStart := int(cal.start.AddDate(0, m, 0).Sub(cal.start) / day)
		monthDays := int(cal.start.AddDate(0, m+1, 0).Sub(cal.start)/day) - monthStart
		for j := range poisson(r, c.segment.InvoicesPerMonth) {
			dom := billingDay + r.IntN(5) - 2
			if j > 0 {
				dom = r.IntN(monthDays)
			}
			dom = min(max(dom, 0), monthDays-1)
			d := cal.businessDay(monthStart + dom)
			if d >= cal.days {
				continue
			}
			out = append(out, g.newInvoice(c, r, d))
		}
	}
	slices.SortStableFunc(out, func(a, b *invoiceState) int {
		return g.invoices[a.raw].ev.IssuedAt.Compare(g.invoices[b.raw].ev.IssuedAt)
	})
	return out
}

func (g *generator) newInvoice(c *customer, r *rand.Rand, issueDay int) *invoiceState {
	p, cal := g.p, g.cal
	issuedAt := cal.at(issueDay, 7*time.Hour+uniformDuration(r, 12*time.Hour))
	dueDay := issueDay + c.terms
	amount := int64(float64(c.segment.MedianAmountMinor) * c.sizeFactor * math.Exp(r.NormFloat64()*0.7))
	amount = min(max(amount, p.MinAmountMinor), p.MaxAmountMinor)
	st := &invoiceState{
		raw:            len(g.invoices),
		issueDay:       issueDay,
		dueDay:         dueDay,
		outstanding:    amount,
		natural:        -1,
		responsiveness: c.behaviour.Responsiveness,
		disputed:       r.Float64() < p.DisputedShare,
	}
	b := c.behaviour
	switch {
	case st.disputed:
		// A disputed invoice is settled when the dispute is, not when
		// reminded; some customers never settle.
		st.responsiveness = 0
		if b.PaysUnprompted {
			st.natural = dueDay + 60 + r.IntN(121)
		}
	case b.PaysUnprompted:
		st.natural = dueDay + b.DelayMin + r.IntN(b.DelayMax-b.DelayMin+1)
	}
	if st.natural >= 0 {
		st.natural = cal.businessDay(max(st.natural, issueDay+1))
	}
	// Skip steps that would fall on or before the issue day (very short
	// payment terms): a reminder cannot precede its invoice.
	for st.next < len(p.Plans[c.plan].Steps) && g.stepDay(st, c.plan, st.next) <= issueDay {
		st.next++
	}
	status := "issued"
	if st.disputed {
		status = "disputed"
	}
	g.invoices = append(g.invoices, rawInvoice{
		customer: c.index,
		seq:      len(g.invoices),
		ev: schemas.Invoice{
			CustomerID:  c.id,
			IssuedAt:    issuedAt,
			DueDate:     cal.start.AddDate(0, 0, dueDay),
			AmountMinor: amount,
			Currency:    p.Currency,
			Status:      status,
			Attributes:  c.attributes(),
		},
	})
	return st
}

// stepDay is the day a plan step falls on for an invoice.
func (g *generator) stepDay(st *invoiceState, plan, step int) int {
	return g.cal.businessDay(st.dueDay + g.p.Plans[plan].Steps[step].DayOffset)
}

// simulateCustomer runs one customer's invoices day by day. Each day:
// schedule today's plan steps, decide who pays (own habit, or the hazard
// raised by reminders sent on earlier days), group payers into bank
// payments, then emit the reminders still due at their scheduled time.
func (g *generator) simulateCustomer(i int) {
	r := rand.New(rand.NewPCG(uint64(g.p.Seed), uint64(i)*0x9e3779b97f4a7c15+1))
	c := g.newCustomer(i, r)
	invoices := g.newInvoices(c, r)
	plan := g.p.Plans[c.plan]
	var active []*invoiceState
	nextInvoice := 0
	for d := 0; d < g.cal.days; d++ {
		// Invoices become payable the day after issue.
		for nextInvoice < len(invoices) && invoices[nextInvoice].issueDay < d {
			active = append(active, invoices[nextInvoice])
			nextInvoice++
		}
		if len(active) == 0 {
			if nextInvoice == len(invoices) {
				return
			}
			continue
		}
		weekend := g.cal.weekend(d)
		anyHit := false
		for _, st := range active {
			st.step, st.hit, st.grouped, st.paid = -1, false, false, false
			if st.next < len(plan.Steps) && g.stepDay(st, c.plan, st.next) == d {
				step := plan.Steps[st.next]
				st.step = st.next
				st.stepAt = g.cal.at(d, reminderTime(r, step.Channel))
				st.holdout = step.Level >= 1 && r.Float64() < g.p.HoldoutShare
				st.next++
				if st.disputed && step.Level >= 1 {
					st.next = len(plan.Steps) // dunning on hold
				}
			}
			st.hit = st.natural == d
			if h := g.hazard(st, d); h > 0 {
				if weekend {
					h *= weekendFactor
				}
				if r.Float64() < h {
					st.hit = true
				}
			}
			anyHit = anyHit || st.hit
		}
		if anyHit {
			g.pay(c, r, d, active)
		}
		for _, st := range active {
			if st.step >= 0 {
				g.remind(c, r, d, st)
			}
		}
		active = slices.DeleteFunc(active, func(st *invoiceState) bool { return st.outstanding == 0 })
	}
}

// hazard is the probability that reminders sent on earlier days make the
// customer pay today.
func (g *generator) hazard(st *invoiceState, d int) float64 {
	var h float64
	for _, s := range st.sent {
		if k := d - s.day; k >= 1 && k <= effectDays {
			h += s.strength * g.decay[k-1]
		}
	}
	return h * st.responsiveness
}

// pay turns today's payers into bank payments.
func (g *generator) pay(c *customer, r *rand.Rand, d int, active []*invoiceState) {
	p := g.p
	for _, first := range active {
		if !first.hit || first.grouped {
			continue
		}
		group := []*invoiceState{first}
		first.grouped = true
		if r.Float64() < p.MultiInvoiceShare {
			want := 1 + r.IntN(2)
			for _, o := range active {
				if len(group) > want {
					break
				}
				if !o.grouped && o.dueDay <= d+multiInvoiceHorizon {
					o.grouped = true
					group = append(group, o)
				}
			}
		}
		method := c.method
		if r.Float64() >= preferredMethodShare {
			method = p.Methods[pick(r, g.methods)].Value
		}
		if g.cal.weekend(d) {
			method = "card"
		}
		paidAt := g.cal.at(d, paymentTime(r, method))
		paidAt = g.edgeCasePaymentTime(r, d, first, paidAt)

		pay := rawPayment{customer: c.index, seq: len(g.payments), ev: schemas.Payment{
			CustomerID: c.id,
			PaidAt:     paidAt,
			Method:     method,
			Currency:   p.Currency,
		}}
		for _, st := range group {
			amount := st.outstanding
			if len(group) == 1 && !st.partial && r.Float64() < p.PartialShare {
				frac := 0.3 + 0.4*r.Float64()
				if a := int64(float64(amount)*frac) / 100 * 100; a > 0 && a < amount {
					amount = a
					st.partial = true
					// The customer promised the rest within weeks.
					st.natural = g.cal.businessDay(d + 10 + r.IntN(31))
				}
			}
			st.paid, st.paidAt, st.before = true, paidAt, st.outstanding
			st.outstanding -= amount
			pay.invoices = append(pay.invoices, st.raw)
			pay.ev.Allocations = append(pay.ev.Allocations, schemas.Allocation{AmountMinor: amount})
		}
		g.payments = append(g.payments, pay)
	}
}

// edgeCasePaymentTime moves a payment onto a reminder's sent_at, or to
// exactly 7 days after one, a few times per data set, so the join's
// inclusive bounds are exercised.
func (g *generator) edgeCasePaymentTime(r *rand.Rand, d int, st *invoiceState, paidAt time.Time) time.Time {
	if st.step >= 0 && !st.holdout && g.sameMillisecond < g.p.EdgeCases && r.Float64() < sameMillisecondChance {
		g.sameMillisecond++
		return st.stepAt
	}
	if g.sevenDays < g.p.EdgeCases {
		for _, s := range st.sent {
			if s.day == d-7 && r.Float64() < sevenDayChance {
				g.sevenDays++
				return s.at.Add(7 * day)
			}
		}
	}
	return paidAt
}

// remind emits today's scheduled reminder of st, if the invoice was still
// unpaid at the scheduled time (a payment at the very same millisecond
// comes after it).
func (g *generator) remind(c *customer, r *rand.Rand, d int, st *invoiceState) {
	due := st.outstanding
	if st.paid {
		if st.stepAt.After(st.paidAt) {
			if st.outstanding == 0 {
				return
			}
		} else {
			due = st.before
		}
	}
	step := g.p.Plans[c.plan].Steps[st.step]
	inv := &g.invoices[st.raw].ev
	ev := schemas.Reminder{
		CustomerID:     c.id,
		SentAt:         st.stepAt,
		Channel:        step.Channel,
		Level:          step.Level,
		FinalNotice:    step.FinalNotice,
		Plan:           g.p.Plans[c.plan].Name,
		Sender:         c.collector.Name,
		AmountDueMinor: due,
		Currency:       g.p.Currency,
		InvoiceDueDate: inv.DueDate,
		Holdout:        st.holdout,
		Attributes:     c.attributes(),
	}
	g.reminders = append(g.reminders, rawReminder{customer: c.index, invoice: st.raw, seq: len(g.reminders), ev: ev})
	if st.holdout {
		return // withheld: no effect on the customer
	}
	if g.samePair < g.p.EdgeCases && r.Float64() < samePairChance {
		// The dunning tool retried and sent the same reminder twice.
		g.samePair++
		ev.Attributes = c.attributes()
		g.reminders = append(g.reminders, rawReminder{customer: c.index, invoice: st.raw, seq: len(g.reminders), ev: ev})
	}
	strength := g.effects[c.plan][st.step]
	if step.Channel == "phone" {
		strength *= c.collector.Skill
	}
	st.sent = append(st.sent, sentReminder{day: d, at: st.stepAt, strength: strength})
}

// reminderTime is the Paris wall-clock time a reminder goes out: e-mails in
// the morning batch, calls in office hours, letters when the post is done.
func reminderTime(r *rand.Rand, channel string) time.Duration {
	switch channel {
	case "email":
		return 8*time.Hour + uniformDuration(r, time.Hour)
	case "sms":
		return 9*time.Hour + uniformDuration(r, 3*time.Hour)
	case "phone":
		if r.IntN(2) == 0 {
			return 9*time.Hour + uniformDuration(r, 3*time.Hour+30*time.Minute)
		}
		return 14*time.Hour + uniformDuration(r, 4*time.Hour)
	case "letter":
		return 10*time.Hour + uniformDuration(r, 6*time.Hour)
	}
	return 9*time.Hour + uniformDuration(r, 8*time.Hour)
}

// paymentTime is the Paris wall-clock time a payment is booked.
func paymentTime(r *rand.Rand, method string) time.Duration {
	switch method {
	case "transfer":
		return 7*time.Hour + uniformDuration(r, 11*time.Hour)
	case "direct_debit":
		return 6*time.Hour + uniformDuration(r, 2*time.Hour)
	case "card":
		return 8*time.Hour + uniformDuration(r, 14*time.Hour)
	case "cheque":
		return 9*time.Hour + uniformDuration(r, 8*time.Hour)
	}
	return 8*time.Hour + uniformDuration(r, 10*time.Hour)
}

// dataset sorts the raw events by time and numbers them in that order.
func (g *generator) dataset() *Dataset {
	ds := &Dataset{
		Invoices:  make([]schemas.Invoice, len(g.invoices)),
		Reminders: make([]schemas.Reminder, len(g.reminders)),
		Payments:  make([]schemas.Payment, len(g.payments)),
	}

	order := make([]int, len(g.invoices))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		x, y := &g.invoices[a], &g.invoices[b]
		return cmp.Or(x.ev.IssuedAt.Compare(y.ev.IssuedAt), cmp.Compare(x.customer, y.customer), cmp.Compare(x.seq, y.seq))
	})
	invoiceIDs := make([]string, len(g.invoices))
	year, n := 0, 0
	for i, raw := range order {
		ev := g.invoices[raw].ev
		if y := ev.IssuedAt.Year(); y != year {
			year, n = y, 0 // invoice numbers restart every year, as in French bookkeeping
		}
		n++
		ev.InvoiceID = fmt.Sprintf("INV-%d-%06d", year, n)
		ev.EventID = fmt.Sprintf("inv-%06d", i+1)
		invoiceIDs[raw] = ev.InvoiceID
		ds.Invoices[i] = ev
	}

	slices.SortFunc(g.reminders, func(x, y rawReminder) int {
		return cmp.Or(x.ev.SentAt.Compare(y.ev.SentAt), cmp.Compare(x.customer, y.customer), cmp.Compare(x.seq, y.seq))
	})
	for i, raw := range g.reminders {
		ev := raw.ev
		ev.ReminderID = fmt.Sprintf("R-%06d", i+1)
		ev.EventID = fmt.Sprintf("rem-%06d", i+1)
		ev.InvoiceID = invoiceIDs[raw.invoice]
		ds.Reminders[i] = ev
	}

	slices.SortFunc(g.payments, func(x, y rawPayment) int {
		return cmp.Or(x.ev.PaidAt.Compare(y.ev.PaidAt), cmp.Compare(x.customer, y.customer), cmp.Compare(x.seq, y.seq))
	})
	for i, raw := range g.payments {
		ev := raw.ev
		ev.PaymentID = fmt.Sprintf("P-%06d", i+1)
		ev.EventID = fmt.Sprintf("pay-%06d", i+1)
		for k, inv := range raw.invoices {
			ev.Allocations[k].InvoiceID = invoiceIDs[inv]
		}
		ds.Payments[i] = ev
	}
	return ds
}
