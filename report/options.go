package report

import (
	"fmt"
	"time"

	"github.com/relance-io/relance/stream"
)

// Options say what the report shows and how. The zero value is valid:
// every field has a default.
type Options struct {
	// Lang is "fr" (default) or "en": labels, month names, number and
	// currency formats ("1 234,56 €" or "€1,234.56").
	Lang string
	// Horizons are the observation windows shown, as written by the pipeline
	// (attribution_facts.horizon). Default 7d, 15d, 30d. The tiles show
	// every horizon; the detailed sections have a horizon selector, opened
	// on the first one.
	Horizons []stream.Horizon
	// TimeZone of the months (IANA name). Default Europe/Paris.
	TimeZone string
	// DPDEdges are the days-past-due bucket edges, ascending (SPEC §4):
	// below the first is "preventive", then one bucket per interval, the
	// last open-ended. Default 0, 30, 60, 90.
	DPDEdges []int
	// Title is the page title. Default "Impact des relances sur les
	// encaissements" (fr) or "Impact of reminders on collections" (en).
	Title string
	// Dimensions are the segment dimensions charted, in order: the built-in
	// ones (channel, level, dpd_bucket, sender, plan, final_notice) and
	// attribute keys. Default channel, level, dpd_bucket, sender, plan,
	// final_notice, customer_segment.
	Dimensions []string
	// Band is the performance threshold, relative to the overall rate of the
	// same month: a segment whose rate is at least (1+Band) × overall is
	// "good" (green), at most (1-Band) × overall "poor" (red), "average"
	// (amber) in between. Default 0.10.
	Band float64
	// MinInvoices is the number of invoices under which a segment-month is
	// shown grey ("too few to judge") instead of with a performance colour.
	// Default 5.
	MinInvoices int
	// Now is the generation time printed in the footer. Default time.Now().
	Now time.Time
}

// DefaultDimensions are the segment dimensions of SPEC §4 charted by default.
var DefaultDimensions = []string{"channel", "level", "dpd_bucket", "sender", "plan", "final_notice", "customer_segment"}

// Check returns what Build would refuse in o, so that a caller can refuse
// it before any costly work (the demo runs a whole pipeline first).
func (o Options) Check() error {
	_, _, err := o.withDefaults()
	return err
}

func (o Options) withDefaults() (Options, *time.Location, error) {
	if o.Lang == "" {
		o.Lang = "fr"
	}
	if o.Lang != "fr" && o.Lang != "en" {
		return o, nil, fmt.Errorf("report: lang %q: want \"fr\" or \"en\"", o.Lang)
	}
	if len(o.Horizons) == 0 {
		o.Horizons = stream.DefaultHorizons
	}
	for i, h := range o.Horizons {
		if h <= 0 {
			return o, nil, fmt.Errorf("report: horizons[%d]: %q must be positive (e.g. \"7d\")", i, h)
		}
	}
	if o.TimeZone == "" {
		o.TimeZone = "Europe/Paris"
	}
	loc, err := time.LoadLocation(o.TimeZone)
	if err != nil {
		return o, nil, fmt.Errorf("report: time zone %q: %w (e.g. \"Europe/Paris\")", o.TimeZone, err)
	}
	if len(o.DPDEdges) == 0 {
		o.DPDEdges = []int{0, 30, 60, 90}
	}
	for i := 1; i < len(o.DPDEdges); i++ {
		if o.DPDEdges[i] <= o.DPDEdges[i-1] {
			return o, nil, fmt.Errorf("report: dpd edges %v: want strictly ascending days, e.g. 0,30,60,90", o.DPDEdges)
		}
	}
	if len(o.Dimensions) == 0 {
		o.Dimensions = DefaultDimensions
	}
	if o.Band == 0 {
		o.Band = 0.10
	}
	if o.Band < 0 || o.Band >= 1 {
		return o, nil, fmt.Errorf("report: band %v: want a fraction in (0, 1), e.g. 0.10", o.Band)
	}
	if o.MinInvoices == 0 {
		o.MinInvoices = 5
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.Title == "" {
		o.Title = labels[o.Lang]["title"]
	}
	return o, loc, nil
}
