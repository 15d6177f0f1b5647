package oracle

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/relance-io/relance/generate"
	"github.com/relance-io/relance/schemas"
)

// Key names one KPI cell. Period is a cohort month ("2026-03-01") for
// Rates, a payment month for Dependency, or whatever a Cohort returns;
// Segment is "" in Dependency.
type Key struct{ Period, Segment, Currency string }

// Rate is one cell of the post-reminder collection rate (SPEC §4).
type Rate struct {
	// Reminded is the amount due of each invoice reminded in the cell, at
	// its first reminder there (earliest sent_at, then smallest
	// reminder_id); holdout reminders excluded.
	Reminded int64
	// Collected is the sum of the allocations credited (last_touch) to the
	// cell's reminders.
	Collected int64
	// Reminders and Invoices count the cell's non-holdout reminders and
	// distinct invoices.
	Reminders, Invoices int
	// Payments is the set of payment ids with an allocation credited to the
	// cell (after Pool: "period/id", see there).
	Payments map[string]bool
}

// Value is the post-reminder collection rate, Collected / Reminded (NaN
// or ±Inf when Reminded is 0).
func (r *Rate) Value() float64 { return float64(r.Collected) / float64(r.Reminded) }

// Cohort places a reminder in a cell: its period and segment value, and
// ok = false to leave it out of every cell (its invoice's amount and the
// allocations credited to it alike).
type Cohort func(r *schemas.Reminder) (period, segment string, ok bool)

// Monthly is MonthlyWith under the default dpd edges.
func Monthly(dim string, tz *time.Location) Cohort {
	return MonthlyWith(dim, tz, DefaultDPDEdges)
}

// MonthlyWith is SPEC §4's cohort: the month of sent_at in tz and the
// reminder's value for dimension dim, dpd buckets cut at edges (see
// SegmentWith).
func MonthlyWith(dim string, tz *time.Location, edges []int) Cohort {
	return func(r *schemas.Reminder) (string, string, bool) {
		return MonthOf(r.SentAt, tz), SegmentWith(r, dim, tz, edges), true
	}
}

// Rates is the post-reminder collection rate at horizon h per (cohort
// month in tz, value of dimension dim, currency): RatesBy with Monthly.
func Rates(ds *generate.Dataset, h time.Duration, dim string, tz *time.Location) map[Key]*Rate {
	return RatesBy(ds, h, Monthly(dim, tz))
}

// RatesBy is the post-reminder collection rate at horizon h per cell of
// cohort. A cell's reminded amount and counts are keyed by the reminder's
// currency, its collected amount by the paying allocation's currency. A
// cell exists when it has a reminded invoice or a credited allocation.
func RatesBy(ds *generate.Dataset, h time.Duration, cohort Cohort) map[Key]*Rate {
	out := map[Key]*Rate{}
	get := func(k Key) *Rate {
		if out[k] == nil {
			out[k] = &Rate{Payments: map[string]bool{}}
		}
		return out[k]
	}
	type invKey struct {
		Key
		invoice string
	}
	first := map[invKey]*schemas.Reminder{}
	count := map[invKey]int{}
	for i := range ds.Reminders {
		r := &ds.Reminders[i]
		if r.Holdout {
			continue
		}
		period, seg, ok := cohort(r)
		if !ok {
			continue
		}
		k := invKey{Key{period, seg, r.Currency}, r.InvoiceID}
		count[k]++
		if f := first[k]; f == nil || r.SentAt.Before(f.SentAt) || (r.SentAt.Equal(f.SentAt) && r.ReminderID < f.ReminderID) {
			first[k] = r
		}
	}
	for k, r := range first {
		e := get(k.Key)
		e.Reminded += r.AmountDueMinor
		e.Invoices++
		e.Reminders += count[k]
	}
	for _, c := range Credits(ds, h) {
		if c.Reminder == nil {
			continue
		}
		period, seg, ok := cohort(c.Reminder)
		if !ok {
			continue
		}
		e := get(Key{period, seg, c.Payment.Currency})
		e.Collected += c.Allocation.AmountMinor
		e.Payments[c.Payment.PaymentID] = true
	}
	return out
}

// BaselineSlice names the period of a reminder sent at sent in the
// baseline of a rate-drop comparison whose recent window starts at
// recentStart: "baseline/k", k the slice of recentDays days (of 24 h)
// counted back from recentStart (k = 0 ends at recentStart). An invoice
// counts once per slice, as it does once in the recent window.
func BaselineSlice(sent, recentStart time.Time, recentDays int) string {
	k := (recentStart.Sub(sent) - time.Millisecond) / (time.Duration(recentDays) * 24 * time.Hour)
	return "baseline/" + strconv.Itoa(int(k))
}

// WholeBaseline groups the baseline slices of BaselineSlice into one
// "baseline" cell (for Pool).
func WholeBaseline(k Key) Key {
	if strings.HasPrefix(k.Period, "baseline/") {
		k.Period = "baseline"
	}
	return k
}

// Pool adds up the cells of m that group maps to the same key: amounts and
// counts are summed (an invoice reminded in two cells counts twice, as the
// queries sum per-cell counts), and a payment counts once per period it is
// credited in (its Payments entries become "period/id").
func Pool(m map[Key]*Rate, group func(Key) Key) map[Key]*Rate {
	out := map[Key]*Rate{}
	for k, r := range m {
		g := group(k)
		if out[g] == nil {
			out[g] = &Rate{Payments: map[string]bool{}}
		}
		o := out[g]
		o.Reminded += r.Reminded
		o.Collected += r.Collected
		o.Invoices += r.Invoices
		o.Reminders += r.Reminders
		for p := range r.Payments {
			o.Payments[k.Period+"/"+p] = true
		}
	}
	return out
}

// Collection is one cell of the reminder dependency share (SPEC §4): what
// was paid in a payment month.
type Collection struct {
	// Total is collected_total, every allocation paid in the month; After
	// is collected_after_reminder_pm, those with at least one candidate.
	Total, After int64
	// Allocations and Payments count the allocations and payments.
	Allocations, Payments int
}

// Share is the reminder dependency share, After / Total.
func (c Collection) Share() float64 { return float64(c.After) / float64(c.Total) }

// Without is collected_without_reminder, Total - After.
func (c Collection) Without() int64 { return c.Total - c.After }

// Dependency is the reminder dependency table at horizon h per (payment
// month of paid_at in tz, currency of the payment); Key.Segment is "".
func Dependency(ds *generate.Dataset, h time.Duration, tz *time.Location) map[Key]*Collection {
	byInvoice := ByInvoice(ds)
	out := map[Key]*Collection{}
	for _, p := range ds.Payments {
		k := Key{Period: MonthOf(p.PaidAt, tz), Currency: p.Currency}
		if out[k] == nil {
			out[k] = &Collection{}
		}
		e := out[k]
		e.Payments++
		for _, a := range p.Allocations {
			e.Total += a.AmountMinor
			e.Allocations++
			if LastTouch(byInvoice[a.InvoiceID], p.PaidAt, p.Currency, h) != nil {
				e.After += a.AmountMinor
			}
		}
	}
	return out
}

// Collected sums the cells of a Dependency table whose key keep accepts
// (e.g. one currency over a range of months).
func Collected(m map[Key]*Collection, keep func(Key) bool) Collection {
	var s Collection
	for k, c := range m {
		if keep(k) {
			s.Total += c.Total
			s.After += c.After
			s.Allocations += c.Allocations
			s.Payments += c.Payments
		}
	}
	return s
}

// QuantileExact is ClickHouse's quantileExact(level)(xs): the element at
// position floor(level × n) of the sorted values (the last one for level
// 1). It sorts xs in place; xs must not be empty.
func QuantileExact(xs []int64, level float64) int64 {
	sort.Slice(xs, func(i, j int) bool { return xs[i] < xs[j] })
	return xs[min(int(math.Floor(level*float64(len(xs)))), len(xs)-1)]
}

// Control is one cell of the holdout comparison (SPEC §3): index 0 the
// reminders sent, 1 those withheld (holdout).
type Control struct {
	// Due is the amount due of the cell's reminders.
	Due [2]int64
	// Paid is, per reminder, what was paid on its invoice within
	// [sent_at, sent_at+H] (every allocation, not the attributed credit),
	// capped at its amount due, added up.
	Paid [2]int64
	// N counts the reminders.
	N [2]int
}

// Uplift is the holdout comparison at horizon h per cell of cohort, keyed
// by the reminder's currency. uplift = Paid[0]/Due[0] − Paid[1]/Due[1],
// defined where both groups have an amount due.
func Uplift(ds *generate.Dataset, h time.Duration, cohort Cohort) map[Key]*Control {
	out := map[Key]*Control{}
	outcomes := Outcomes(ds, h)
	for i := range ds.Reminders {
		r := &ds.Reminders[i]
		period, seg, ok := cohort(r)
		if !ok {
			continue
		}
		k := Key{Period: period, Segment: seg, Currency: r.Currency}
		if out[k] == nil {
			out[k] = &Control{}
		}
		g := 0
		if r.Holdout {
			g = 1
		}
		out[k].Due[g] += r.AmountDueMinor
		out[k].Paid[g] += min(outcomes[i].Collected, r.AmountDueMinor)
		out[k].N[g]++
	}
	return out
}
