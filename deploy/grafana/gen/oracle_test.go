package main

import (
	"strconv"
	"time"

	"github.com/relance-io/relance/generate"
	"github.com/relance-io/relance/schemas"
)

// The oracles below recompute the KPIs of SPEC §4 by brute force over the
// generated events, independently of the pipeline and of the SQL: every
// allocation is compared with every reminder of its invoice (last_touch).

// agg is one oracle cell of the post-reminder collection rate.
type agg struct {
	reminded, collected int64
	invoices, reminders int
	payments            map[string]bool
}

func (a *agg) rate() float64 { return float64(a.collected) / float64(a.reminded) }

// rkey is a (period, segment value) cell; the currency is fixed by the test.
type rkey struct{ period, segment string }

// rateQuery says which reminders count and how they are grouped.
type rateQuery struct {
	h   time.Duration
	seg func(r *schemas.Reminder) string
	// period returns the reminder's period (cohort month, window) and
	// whether it is in the range at all.
	period func(r *schemas.Reminder) (string, bool)
	// keep filters reminders (plan, currency).
	keep func(r *schemas.Reminder) bool
}

// credited returns, per allocation (payment index, allocation index), the
// reminder credited under last_touch: the latest non-holdout reminder of
// the invoice sent at most h before the payment (ties: higher level, then
// higher reminder_id), or nil.
func credited(ds *generate.Dataset, h time.Duration) map[[2]int]*schemas.Reminder {
	byInvoice := map[string][]*schemas.Reminder{}
	for i := range ds.Reminders {
		r := &ds.Reminders[i]
		byInvoice[r.InvoiceID] = append(byInvoice[r.InvoiceID], r)
	}
	out := map[[2]int]*schemas.Reminder{}
	for pi, p := range ds.Payments {
		for ai, a := range p.Allocations {
			var latest *schemas.Reminder
			for _, r := range byInvoice[a.InvoiceID] {
				if r.Holdout || r.SentAt.After(p.PaidAt) || p.PaidAt.Sub(r.SentAt) > h {
					continue
				}
				if latest == nil || r.SentAt.After(latest.SentAt) ||
					(r.SentAt.Equal(latest.SentAt) && (r.Level > latest.Level || (r.Level == latest.Level && r.ReminderID > latest.ReminderID))) {
					latest = r
				}
			}
			if latest != nil {
				out[[2]int{pi, ai}] = latest
			}
		}
	}
	return out
}

// rates is the post-reminder collection rate oracle.
func rates(ds *generate.Dataset, q rateQuery) map[rkey]*agg {
	out := map[rkey]*agg{}
	get := func(k rkey) *agg {
		if out[k] == nil {
			out[k] = &agg{payments: map[string]bool{}}
		}
		return out[k]
	}
	type invKey struct {
		rkey
		invoice string
	}
	first := map[invKey]*schemas.Reminder{}
	count := map[invKey]int{}
	for i := range ds.Reminders {
		r := &ds.Reminders[i]
		period, in := q.period(r)
		if r.Holdout || !in || !q.keep(r) {
			continue
		}
		k := invKey{rkey{period, q.seg(r)}, r.InvoiceID}
		count[k]++
		if f := first[k]; f == nil || r.SentAt.Before(f.SentAt) || (r.SentAt.Equal(f.SentAt) && r.ReminderID < f.ReminderID) {
			first[k] = r
		}
	}
	for k, r := range first {
		e := get(k.rkey)
		e.reminded += r.AmountDueMinor
		e.invoices++
		e.reminders += count[k]
	}
	for pa, r := range credited(ds, q.h) {
		period, in := q.period(r)
		if !in || !q.keep(r) {
			continue
		}
		p := ds.Payments[pa[0]]
		e := get(rkey{period, q.seg(r)})
		e.collected += p.Allocations[pa[1]].AmountMinor
		e.payments[p.PaymentID] = true
	}
	return out
}

// total sums the cells of m whose key passes pick, per pick's group name.
func total(m map[rkey]*agg, group func(rkey) string) map[string]*agg {
	out := map[string]*agg{}
	for k, a := range m {
		g := group(k)
		if out[g] == nil {
			out[g] = &agg{payments: map[string]bool{}}
		}
		out[g].reminded += a.reminded
		out[g].collected += a.collected
		out[g].invoices += a.invoices
		out[g].reminders += a.reminders
		for p := range a.payments {
			out[g].payments[k.period+"/"+p] = true // counted per period, as the query sums monthly counts
		}
	}
	return out
}

// dependency is the reminder dependency oracle over the payment months
// [fromMonth, toMonth] of one currency.
type dep struct {
	total, after int64
	payments     int
}

func dependency(ds *generate.Dataset, h time.Duration, tz *time.Location, currency, fromMonth, toMonth string) dep {
	var d dep
	cr := credited(ds, h)
	for pi, p := range ds.Payments {
		m := monthOf(p.PaidAt, tz)
		if p.Currency != currency || m < fromMonth || m > toMonth {
			continue
		}
		d.payments++
		for ai, a := range p.Allocations {
			d.total += a.AmountMinor
			if cr[[2]int{pi, ai}] != nil {
				d.after += a.AmountMinor
			}
		}
	}
	return d
}

func monthOf(t time.Time, tz *time.Location) string { return t.In(tz).Format("2006-01") + "-01" }

// dpdOf is date(sent_at) in tz minus the due date, in days.
func dpdOf(r *schemas.Reminder, tz *time.Location) int {
	y, m, d := r.SentAt.In(tz).Date()
	return int(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Sub(r.InvoiceDueDate) / (24 * time.Hour))
}

// segmentOf is the test's own reading of the segment dimensions.
func segmentOf(dim string, tz *time.Location) func(r *schemas.Reminder) string {
	return func(r *schemas.Reminder) string {
		switch dim {
		case "all":
			return "all"
		case "channel":
			return r.Channel
		case "sender":
			return r.Sender
		case "plan":
			return r.Plan
		case "level":
			return strconv.Itoa(int(r.Level))
		case "timing":
			if dpdOf(r, tz) < 0 {
				return "preventive"
			}
			return "post-due"
		}
		return r.Attributes[dim]
	}
}
