package generate

import (
	"fmt"
	"time"
)

// Params are the knobs of the generator. Start from DefaultParams and change
// what you need: Generate validates every field and never fills in defaults,
// so a forgotten field is an error rather than a silent surprise.
type Params struct {
	// Seed makes the run reproducible: the same Params give a byte-identical
	// Dataset. Default 1.
	Seed int64
	// Customers is the number of B2B customers in the receivables book.
	// Default 2000.
	Customers int
	// Months is the length of the simulated window, starting at Start. Only
	// events strictly before Start + Months are emitted. Default 12.
	Months int
	// Start is the first possible invoice issue date and the start of the
	// window. It must be a date (midnight UTC). Default 2026-01-01.
	Start time.Time
	// Currency is the ISO 4217 code put on every event. Amounts are in its
	// minor units (cents for EUR). Default "EUR".
	Currency string
	// HoldoutShare is the share of scheduled post-due reminders (level >= 1)
	// withheld as a control group: emitted with holdout=true, never sent,
	// so they do not change when the customer pays. Default 0.05.
	HoldoutShare float64
	// PartialShare is the probability that a payment of a single invoice is
	// only a first instalment (30–70 % of the outstanding amount, rounded to
	// whole units); the rest is paid later, and reminders in between show the
	// reduced amount due. At most one partial instalment per invoice.
	// Default 0.08.
	PartialShare float64
	// MultiInvoiceShare is the probability that a payment also settles one or
	// two other open invoices of the same customer that are due (or due
	// within 10 days), giving 2–3 allocations. Default 0.15.
	MultiInvoiceShare float64
	// DisputedShare is the share of invoices issued with status "disputed":
	// dunning is put on hold after level 1 and the customer pays late, if at
	// all, regardless of reminders. Default 0.02.
	DisputedShare float64
	// EdgeCases is how many of each deliberate edge case are injected (if
	// the data offers the opportunity): a payment at the exact millisecond of
	// a reminder's sent_at, a payment exactly 7 days (to the millisecond)
	// after a reminder, and two reminders of one invoice with the same
	// sent_at. They exist so the join's inclusive bounds and tie-breaks are
	// exercised by every demo. Default 5.
	EdgeCases int
	// MinAmountMinor and MaxAmountMinor clamp invoice amounts, in minor
	// units. Defaults 20_000 (200 EUR) and 5_000_000 (50 000 EUR).
	MinAmountMinor int64
	MaxAmountMinor int64

	// Segments split customers; each names the dunning plan its customers
	// follow. Default: PME (70 %), ETI (22 %), Grands Comptes (8 %).
	Segments []Segment
	// Plans are the dunning plans referenced by Segments. Default: "PME",
	// "ETI" and "Grands Comptes" (see DefaultParams).
	Plans []Plan
	// Behaviours are the payment habits customers are drawn from. Default:
	// punctual 35 %, slow 25 %, needs_reminders 25 %, very_late 10 %,
	// never_pays 5 %.
	Behaviours []Behaviour
	// ChannelEffects says how much a sent reminder on each channel raises the
	// chance of payment. Every channel used by a plan needs an entry.
	// Default: phone 0.45, letter 0.25, sms 0.18, email 0.10.
	ChannelEffects []ChannelEffect
	// Collectors is the credit team; each customer is assigned one, who is
	// the sender of all its reminders. Default: five collectors with skills
	// from 0.6 to 1.5.
	Collectors []Collector
	// Countries and BusinessUnits feed the "country" and "business_unit"
	// attributes. Defaults: FR-heavy European mix; Logiciels, Services,
	// Matériel.
	Countries     []Choice
	BusinessUnits []Choice
	// Methods are payment methods; each customer prefers one (used 80 % of
	// the time). Weekend payments are always by card. Default: transfer
	// 55 %, direct_debit 20 %, card 15 %, cheque 10 %.
	Methods []Choice
}

// Segment is a customer segment (the customer_segment attribute).
type Segment struct {
	// Name is the attribute value, e.g. "PME".
	Name string
	// Share is the relative weight of the segment among customers.
	Share float64
	// Plan is the name of the dunning plan applied to its invoices.
	Plan string
	// InvoicesPerMonth is the mean number of invoices per customer and month
	// (Poisson).
	InvoicesPerMonth float64
	// MedianAmountMinor is the median invoice amount, in minor units.
	// Amounts are log-normal around it, with a per-customer size factor.
	MedianAmountMinor int64
	// PaymentTerms are the net days offered; each customer gets one of them
	// uniformly. Due date = issue date + terms.
	PaymentTerms []int
}

// Plan is a dunning plan: the reminders scheduled for every invoice of a
// customer on this plan, each sent only if the invoice is still unpaid at
// its scheduled time.
type Plan struct {
	Name  string
	Steps []Step
}

// Step is one scheduled reminder of a plan.
type Step struct {
	// Level is 0 for the preventive notice, then 1..n; levels of a plan must
	// be 0, 1, 2, … in order.
	Level int32
	// DayOffset is days relative to the due date (negative = before). A step
	// falling on a weekend moves to the next Monday.
	DayOffset int
	// Channel is the reminder channel, e.g. "email", "sms", "phone", "letter".
	Channel string
	// FinalNotice marks the last reminder before formal demand.
	FinalNotice bool
}

// Behaviour is a payment habit.
type Behaviour struct {
	// Name is for documentation and tests; it is not emitted.
	Name string
	// Share is the relative weight among customers.
	Share float64
	// PaysUnprompted says whether the customer pays on its own; if so the
	// unprompted payment day is drawn uniformly in [DelayMin, DelayMax]
	// days relative to the due date (negative = early).
	PaysUnprompted bool
	DelayMin       int
	DelayMax       int
	// Responsiveness scales the effect of sent reminders (0 = reminders
	// never make this customer pay earlier).
	Responsiveness float64
}

// ChannelEffect is how strongly a sent reminder on Channel moves a fully
// responsive customer: Effect is roughly the extra probability of paying
// within the 10 days after it.
type ChannelEffect struct {
	Channel string
	Effect  float64
}

// Collector is a member of the credit team.
type Collector struct {
	Name string
	// Share is the relative weight of customers assigned to them.
	Share float64
	// Skill multiplies the effect of their phone calls (1 = average).
	Skill float64
}

// Choice is a weighted value of a categorical attribute.
type Choice struct {
	Value string
	Share float64
}

// DefaultParams returns the documented defaults: 2000 customers over the 12
// months of 2026, in EUR, with 5 % holdouts.
func DefaultParams() Params {
	return Params{
		Seed:              1,
		Customers:         2000,
		Months:            12,
		Start:             time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Currency:          "EUR",
		HoldoutShare:      0.05,
		PartialShare:      0.08,
		MultiInvoiceShare: 0.15,
		DisputedShare:     0.02,
		EdgeCases:         5,
		MinAmountMinor:    20_000,
		MaxAmountMinor:    5_000_000,
		Segments: []Segment{
			{Name: "PME", Share: 0.70, Plan: "PME", InvoicesPerMonth: 1.0, MedianAmountMinor: 150_000, PaymentTerms: []int{30}},
			{Name: "ETI", Share: 0.22, Plan: "ETI", InvoicesPerMonth: 1.5, MedianAmountMinor: 600_000, PaymentTerms: []int{30, 45}},
			{Name: "Grands Comptes", Share: 0.08, Plan: "Grands Comptes", InvoicesPerMonth: 2.5, MedianAmountMinor: 1_200_000, PaymentTerms: []int{45}},
		},
		Plans: []Plan{
			{Name: "PME", Steps: []Step{
				{Level: 0, DayOffset: -5, Channel: "email"},
				{Level: 1, DayOffset: 5, Channel: "email"},
				{Level: 2, DayOffset: 15, Channel: "sms"},
				{Level: 3, DayOffset: 30, Channel: "phone"},
				{Level: 4, DayOffset: 45, Channel: "letter"},
				{Level: 5, DayOffset: 60, Channel: "letter", FinalNotice: true},
			}},
			{Name: "ETI", Steps: []Step{
				{Level: 0, DayOffset: -5, Channel: "email"},
				{Level: 1, DayOffset: 5, Channel: "email"},
				{Level: 2, DayOffset: 12, Channel: "sms"},
				{Level: 3, DayOffset: 25, Channel: "phone"},
				{Level: 4, DayOffset: 40, Channel: "letter"},
				{Level: 5, DayOffset: 60, Channel: "letter", FinalNotice: true},
			}},
			// Key accounts get no SMS and an early call: the relationship
			// matters more than the automation.
			{Name: "Grands Comptes", Steps: []Step{
				{Level: 0, DayOffset: -5, Channel: "email"},
				{Level: 1, DayOffset: 5, Channel: "email"},
				{Level: 2, DayOffset: 15, Channel: "phone"},
				{Level: 3, DayOffset: 30, Channel: "phone"},
				{Level: 4, DayOffset: 45, Channel: "letter"},
				{Level: 5, DayOffset: 60, Channel: "letter", FinalNotice: true},
			}},
		},
		Behaviours: []Behaviour{
			{Name: "punctual", Share: 0.35, PaysUnprompted: true, DelayMin: -12, DelayMax: 2, Responsiveness: 0.6},
			{Name: "slow", Share: 0.25, PaysUnprompted: true, DelayMin: 3, DelayMax: 25, Responsiveness: 0.6},
			{Name: "needs_reminders", Share: 0.25, PaysUnprompted: true, DelayMin: 90, DelayMax: 240, Responsiveness: 1.0},
			{Name: "very_late", Share: 0.10, PaysUnprompted: true, DelayMin: 60, DelayMax: 180, Responsiveness: 0.4},
			{Name: "never_pays", Share: 0.05, PaysUnprompted: false, Responsiveness: 0},
		},
		ChannelEffects: []ChannelEffect{
			{Channel: "phone", Effect: 0.45},
			{Channel: "letter", Effect: 0.25},
			{Channel: "sms", Effect: 0.18},
			{Channel: "email", Effect: 0.10},
		},
		Collectors: []Collector{
			{Name: "Camille Martin", Share: 0.25, Skill: 1.5},
			{Name: "Julien Bernard", Share: 0.25, Skill: 1.0},
			{Name: "Sophie Laurent", Share: 0.20, Skill: 1.1},
			{Name: "Nicolas Dubois", Share: 0.15, Skill: 0.8},
			{Name: "Léa Moreau", Share: 0.15, Skill: 0.6},
		},
		Countries: []Choice{
			{Value: "FR", Share: 0.72}, {Value: "BE", Share: 0.08}, {Value: "DE", Share: 0.06},
			{Value: "ES", Share: 0.05}, {Value: "IT", Share: 0.05}, {Value: "CH", Share: 0.04},
		},
		BusinessUnits: []Choice{
			{Value: "Logiciels", Share: 0.40}, {Value: "Services", Share: 0.35}, {Value: "Matériel", Share: 0.25},
		},
		Methods: []Choice{
			{Value: "transfer", Share: 0.55}, {Value: "direct_debit", Share: 0.20},
			{Value: "card", Share: 0.15}, {Value: "cheque", Share: 0.10},
		},
	}
}

// maxMonths bounds the window so a typo cannot ask for a century of data.
const maxMonths = 120

// validate returns the first problem found, naming the field and the fix.
func (p Params) validate() error {
	switch {
	case p.Customers <= 0:
		return fmt.Errorf("customers: must be > 0, got %d", p.Customers)
	case p.Months <= 0 || p.Months > maxMonths:
		return fmt.Errorf("months: must be in 1..%d, got %d", maxMonths, p.Months)
	case p.Start.IsZero():
		return fmt.Errorf("start: must be set (e.g. 2026-01-01 UTC; start from DefaultParams())")
	case !p.Start.Equal(p.Start.UTC().Truncate(24 * time.Hour)):
		return fmt.Errorf("start: must be a date at midnight UTC, got %s", p.Start.Format(time.RFC3339Nano))
	case !isCurrencyCode(p.Currency):
		return fmt.Errorf("currency: must be a 3-letter ISO 4217 code like \"EUR\", got %q", p.Currency)
	case !(p.HoldoutShare >= 0 && p.HoldoutShare < 1):
		return fmt.Errorf("holdout_share: must be in [0, 1), got %v", p.HoldoutShare)
	case !(p.PartialShare >= 0 && p.PartialShare <= 1):
		return fmt.Errorf("partial_share: must be in [0, 1], got %v", p.PartialShare)
	case !(p.MultiInvoiceShare >= 0 && p.MultiInvoiceShare <= 1):
		return fmt.Errorf("multi_invoice_share: must be in [0, 1], got %v", p.MultiInvoiceShare)
	case !(p.DisputedShare >= 0 && p.DisputedShare <= 1):
		return fmt.Errorf("disputed_share: must be in [0, 1], got %v", p.DisputedShare)
	case p.EdgeCases < 0:
		return fmt.Errorf("edge_cases: must be >= 0, got %d", p.EdgeCases)
	case p.MinAmountMinor <= 0:
		return fmt.Errorf("min_amount_minor: must be > 0, got %d", p.MinAmountMinor)
	case p.MaxAmountMinor < p.MinAmountMinor:
		return fmt.Errorf("max_amount_minor: must be >= min_amount_minor (%d), got %d", p.MinAmountMinor, p.MaxAmountMinor)
	}
	if err := p.validateSegmentsAndPlans(); err != nil {
		return err
	}
	if len(p.Behaviours) == 0 {
		return fmt.Errorf("behaviours: must not be empty (start from DefaultParams())")
	}
	var behaviourShare float64
	for i, b := range p.Behaviours {
		switch {
		case !(b.Share >= 0):
			return fmt.Errorf("behaviours[%d] (%s): share must be >= 0, got %v", i, b.Name, b.Share)
		case !(b.Responsiveness >= 0):
			return fmt.Errorf("behaviours[%d] (%s): responsiveness must be >= 0, got %v", i, b.Name, b.Responsiveness)
		case b.PaysUnprompted && b.DelayMax < b.DelayMin:
			return fmt.Errorf("behaviours[%d] (%s): delay_max (%d) must be >= delay_min (%d)", i, b.Name, b.DelayMax, b.DelayMin)
		}
		behaviourShare += b.Share
	}
	if behaviourShare <= 0 {
		return fmt.Errorf("behaviours: shares must sum to > 0")
	}
	for i, c := range p.ChannelEffects {
		if c.Channel == "" || !(c.Effect >= 0 && c.Effect <= 1) {
			return fmt.Errorf("channel_effects[%d]: channel must be set and effect in [0, 1], got %q %v", i, c.Channel, c.Effect)
		}
	}
	if len(p.Collectors) == 0 {
		return fmt.Errorf("collectors: must not be empty (start from DefaultParams())")
	}
	var collectorShare float64
	for i, c := range p.Collectors {
		if c.Name == "" || !(c.Share >= 0) || !(c.Skill >= 0) {
			return fmt.Errorf("collectors[%d]: name must be set, share and skill >= 0, got %q %v %v", i, c.Name, c.Share, c.Skill)
		}
		collectorShare += c.Share
	}
	if collectorShare <= 0 {
		return fmt.Errorf("collectors: shares must sum to > 0")
	}
	for _, c := range []struct {
		name    string
		choices []Choice
	}{{"countries", p.Countries}, {"business_units", p.BusinessUnits}, {"methods", p.Methods}} {
		if err := validateChoices(c.name, c.choices); err != nil {
			return err
		}
	}
	return nil
}

func (p Params) validateSegmentsAndPlans() error {
	if len(p.Plans) == 0 {
		return fmt.Errorf("plans: must not be empty (start from DefaultParams())")
	}
	for i, pl := range p.Plans {
		if pl.Name == "" {
			return fmt.Errorf("plans[%d]: name must be set", i)
		}
		if len(pl.Steps) == 0 {
			return fmt.Errorf("plans[%d] (%s): steps must not be empty", i, pl.Name)
		}
		for j, s := range pl.Steps {
			if s.Level != int32(j) {
				return fmt.Errorf("plans[%d] (%s).steps[%d]: level must be %d (levels are 0, 1, 2, … in order), got %d", i, pl.Name, j, j, s.Level)
			}
			if j > 0 && s.DayOffset <= pl.Steps[j-1].DayOffset {
				return fmt.Errorf("plans[%d] (%s).steps[%d]: day_offset must be > the previous step's (%d), got %d", i, pl.Name, j, pl.Steps[j-1].DayOffset, s.DayOffset)
			}
			if (s.Level == 0) != (s.DayOffset < 0) {
				return fmt.Errorf("plans[%d] (%s).steps[%d]: level 0 is the preventive notice and only it may come before the due date, got level %d at day %d", i, pl.Name, j, s.Level, s.DayOffset)
			}
			if _, ok := p.channelEffect(s.Channel); !ok {
				return fmt.Errorf("plans[%d] (%s).steps[%d]: channel %q has no entry in channel_effects (add one, e.g. {%q, 0.1})", i, pl.Name, j, s.Channel, s.Channel)
			}
		}
		for k := range i {
			if p.Plans[k].Name == pl.Name {
				return fmt.Errorf("plans[%d]: name %q is already used by plans[%d]", i, pl.Name, k)
			}
		}
	}
	if len(p.Segments) == 0 {
		return fmt.Errorf("segments: must not be empty (start from DefaultParams())")
	}
	var share float64
	for i, s := range p.Segments {
		switch {
		case s.Name == "":
			return fmt.Errorf("segments[%d]: name must be set", i)
		case !(s.Share >= 0):
			return fmt.Errorf("segments[%d] (%s): share must be >= 0, got %v", i, s.Name, s.Share)
		case p.planIndex(s.Plan) < 0:
			return fmt.Errorf("segments[%d] (%s): plan %q is not in plans", i, s.Name, s.Plan)
		case !(s.InvoicesPerMonth > 0 && s.InvoicesPerMonth <= 20):
			return fmt.Errorf("segments[%d] (%s): invoices_per_month must be in (0, 20], got %v", i, s.Name, s.InvoicesPerMonth)
		case s.MedianAmountMinor <= 0:
			return fmt.Errorf("segments[%d] (%s): median_amount_minor must be > 0, got %d", i, s.Name, s.MedianAmountMinor)
		case len(s.PaymentTerms) == 0:
			return fmt.Errorf("segments[%d] (%s): payment_terms must not be empty (e.g. [30])", i, s.Name)
		}
		for _, t := range s.PaymentTerms {
			if t < 0 || t > 365 {
				return fmt.Errorf("segments[%d] (%s): payment_terms must be in 0..365 days, got %d", i, s.Name, t)
			}
		}
		share += s.Share
	}
	if share <= 0 {
		return fmt.Errorf("segments: shares must sum to > 0")
	}
	return nil
}

func validateChoices(name string, cs []Choice) error {
	if len(cs) == 0 {
		return fmt.Errorf("%s: must not be empty (start from DefaultParams())", name)
	}
	var sum float64
	for i, c := range cs {
		if c.Value == "" || !(c.Share >= 0) {
			return fmt.Errorf("%s[%d]: value must be set and share >= 0, got %q %v", name, i, c.Value, c.Share)
		}
		sum += c.Share
	}
	if sum <= 0 {
		return fmt.Errorf("%s: shares must sum to > 0", name)
	}
	return nil
}

func isCurrencyCode(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := range len(s) {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

func (p Params) channelEffect(channel string) (float64, bool) {
	for _, c := range p.ChannelEffects {
		if c.Channel == channel {
			return c.Effect, true
		}
	}
	return 0, false
}

func (p Params) planIndex(name string) int {
	for i, pl := range p.Plans {
		if pl.Name == name {
			return i
		}
	}
	return -1
}
