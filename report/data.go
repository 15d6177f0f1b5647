package report

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/relance-io/relance/sinks"
)

// rateRow is one row of post_reminder_rate: a reminder cohort month, a
// segment value and a currency.
type rateRow struct {
	Month, Segment, Currency                      string
	Reminded, Collected, Reminders, Invoices, Pay int64
}

// depRow is one row of reminder_dependency: a payment month and a currency.
type depRow struct {
	Month, Currency                         string
	Total, After, Without, Allocs, Payments int64
}

// upliftRow is one row of holdout_uplift.
type upliftRow struct {
	Month, Segment, Currency                           string
	SentDue, SentPaid, SentN, HoldDue, HoldPaid, HoldN int64
}

// dtpRow is one row of days_to_pay.
type dtpRow struct {
	Month, Segment, Currency string
	N                        int64
	P50, P90                 float64
}

// horizonData is everything the report reads for one horizon.
type horizonData struct {
	Rates  map[string][]rateRow // by dimension ("all" included)
	Dep    []depRow
	Uplift []upliftRow
	DTP    []dtpRow
}

// reader turns a query's text rows into values, remembering the first
// error (a missing column or an unparsable number).
type reader struct {
	name string
	rows *sinks.Rows
	row  []string
	err  error
}

func (r *reader) str(col string) string {
	i := r.rows.Col(col)
	if i < 0 {
		if r.err == nil {
			r.err = fmt.Errorf("report: query %s has no column %q (columns: %s)", r.name, col, strings.Join(r.rows.Columns, ", "))
		}
		return ""
	}
	return r.row[i]
}

func (r *reader) int(col string) int64 {
	s := r.str(col)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("report: query %s column %s: %q is not an integer", r.name, col, s)
	}
	return n
}

func (r *reader) float(col string) float64 {
	s := r.str(col)
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("report: query %s column %s: %q is not a number", r.name, col, s)
	}
	return f
}

func query(ctx context.Context, store sinks.Store, name string, params map[string]string, each func(r *reader)) error {
	rows, err := sinks.QueryNamed(ctx, store, name, params)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	r := &reader{name: name, rows: rows}
	for _, row := range rows.Data {
		r.row = row
		each(r)
		if r.err != nil {
			return r.err
		}
	}
	return nil
}

// fetch runs the named queries the report needs for horizon h.
func fetch(ctx context.Context, store sinks.Store, h, tz, edges string, dims []string) (*horizonData, error) {
	d := &horizonData{Rates: map[string][]rateRow{}}
	for _, dim := range dims {
		err := query(ctx, store, "post_reminder_rate", map[string]string{"horizon": h, "tz": tz, "dpd_edges": edges, "dimension": dim}, func(r *reader) {
			d.Rates[dim] = append(d.Rates[dim], rateRow{
				Month: r.str("month"), Segment: r.str("segment"), Currency: r.str("currency"),
				Reminded: r.int("reminded_minor"), Collected: r.int("collected_minor"),
				Reminders: r.int("reminders"), Invoices: r.int("invoices"), Pay: r.int("payments"),
			})
		})
		if err != nil {
			return nil, err
		}
	}
	err := query(ctx, store, "reminder_dependency", map[string]string{"horizon": h, "tz": tz}, func(r *reader) {
		d.Dep = append(d.Dep, depRow{
			Month: r.str("month"), Currency: r.str("currency"),
			Total: r.int("collected_total_minor"), After: r.int("collected_after_reminder_minor"),
			Without: r.int("collected_without_reminder_minor"), Allocs: r.int("allocations"), Payments: r.int("payments"),
		})
	})
	if err != nil {
		return nil, err
	}
	err = query(ctx, store, "holdout_uplift", map[string]string{"horizon": h, "tz": tz, "dpd_edges": edges, "dimension": "level"}, func(r *reader) {
		d.Uplift = append(d.Uplift, upliftRow{
			Month: r.str("month"), Segment: r.str("segment"), Currency: r.str("currency"),
			SentDue: r.int("sent_due_minor"), SentPaid: r.int("sent_paid_minor"), SentN: r.int("sent_reminders"),
			HoldDue: r.int("holdout_due_minor"), HoldPaid: r.int("holdout_paid_minor"), HoldN: r.int("holdout_reminders"),
		})
	})
	if err != nil {
		return nil, err
	}
	err = query(ctx, store, "days_to_pay", map[string]string{"horizon": h, "tz": tz, "dpd_edges": edges, "dimension": "all"}, func(r *reader) {
		d.DTP = append(d.DTP, dtpRow{
			Month: r.str("month"), Segment: r.str("segment"), Currency: r.str("currency"),
			N: r.int("credited_allocations"), P50: r.float("p50_days"), P90: r.float("p90_days"),
		})
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// LatestCompleteMonth returns the month ("2006-01-02", first day) before
// the last month in months, or the last month when it is the only one. It
// is "" when months is empty.
func LatestCompleteMonth(months []string) string {
	last := ""
	for _, m := range months {
		if m > last {
			last = m
		}
	}
	if last == "" {
		return ""
	}
	t, err := time.Parse("2006-01-02", last)
	if err != nil {
		return last
	}
	prev := t.AddDate(0, -1, 0).Format("2006-01-02")
	for _, m := range months {
		if m == prev {
			return prev
		}
	}
	// No data the month before: the only month, or a gap. Use the month
	// before anyway unless nothing precedes the last month.
	for _, m := range months {
		if m < last {
			return prev
		}
	}
	return last
}

// sortSegments orders segment values for reading: numerically for levels,
// by lower edge for dpd buckets ("preventive" first), alphabetically
// otherwise (empty last).
func sortSegments(dim string, vs []string) {
	key := func(v string) (float64, bool) {
		if dim == "dpd_bucket" {
			if v == "preventive" {
				return -1, true
			}
			lo, _, _ := strings.Cut(strings.TrimSuffix(v, "+"), "-")
			f, err := strconv.ParseFloat(lo, 64)
			return f, err == nil
		}
		f, err := strconv.ParseFloat(v, 64)
		return f, err == nil
	}
	sort.SliceStable(vs, func(i, j int) bool {
		a, aok := key(vs[i])
		b, bok := key(vs[j])
		switch {
		case aok && bok:
			return a < b
		case aok != bok:
			return aok
		case (vs[i] == "") != (vs[j] == ""):
			return vs[j] == ""
		}
		return vs[i] < vs[j]
	})
}
