package generate

import (
	"strings"
	"testing"
	"time"
)

// Invalid Params are rejected before any work, with an error that names the
// field, the rule and the offending value; DefaultParams is valid.
func TestParams_Validate(t *testing.T) {
	if err := DefaultParams().validate(); err != nil {
		t.Fatalf("DefaultParams: %v", err)
	}
	f := func(change func(p *Params), want string) {
		t.Helper()
		p := DefaultParams()
		change(&p)
		ds, err := Generate(p)
		if err == nil {
			t.Fatalf("want error containing %q, got nil", want)
		}
		if ds != nil {
			t.Fatalf("want nil dataset with error %q", err)
		}
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not contain %q", err, want)
		}
	}
	f(func(p *Params) { p.Customers = -3 }, "customers: must be > 0, got -3")
	f(func(p *Params) { p.Months = 0 }, "months: must be in 1..120, got 0")
	f(func(p *Params) { p.Start = time.Time{} }, "start: must be set")
	f(func(p *Params) { p.Start = p.Start.Add(time.Hour) }, "start: must be a date at midnight UTC")
	f(func(p *Params) { p.Currency = "eur" }, `currency: must be a 3-letter ISO 4217 code like "EUR", got "eur"`)
	f(func(p *Params) { p.HoldoutShare = 1 }, "holdout_share: must be in [0, 1), got 1")
	f(func(p *Params) { p.PartialShare = -0.1 }, "partial_share")
	f(func(p *Params) { p.MultiInvoiceShare = 2 }, "multi_invoice_share")
	f(func(p *Params) { p.EdgeCases = -1 }, "edge_cases: must be >= 0, got -1")
	f(func(p *Params) { p.MaxAmountMinor = 10 }, "max_amount_minor: must be >= min_amount_minor")
	f(func(p *Params) { p.Segments = nil }, "segments: must not be empty")
	f(func(p *Params) {
		p.Segments = []Segment{{Name: "X", Share: 1, Plan: "nope", InvoicesPerMonth: 1, MedianAmountMinor: 1, PaymentTerms: []int{30}}}
	},
		`segments[0] (X): plan "nope" is not in plans`)
	f(func(p *Params) {
		p.Plans = []Plan{{Name: "PME", Steps: []Step{{Level: 1, DayOffset: 5, Channel: "email"}}}}
	},
		"plans[0] (PME).steps[0]: level must be 0")
	f(func(p *Params) {
		p.Plans = []Plan{{Name: "PME", Steps: []Step{{Level: 0, DayOffset: -5, Channel: "fax"}}}}
	}, `channel "fax" has no entry in channel_effects`)
	f(func(p *Params) { p.Behaviours[0].DelayMax = -100 }, "behaviours[0] (punctual): delay_max (-100) must be >= delay_min")
	f(func(p *Params) { p.Collectors = nil }, "collectors: must not be empty")
	f(func(p *Params) { p.Methods = []Choice{{Value: "cash", Share: 0}} }, "methods: shares must sum to > 0")
}
