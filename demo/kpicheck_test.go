package demo

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/relance-io/relance/generate"
	"github.com/relance-io/relance/internal/oracle"
	"github.com/relance-io/relance/schemas"
	"github.com/relance-io/relance/sinks"
	"github.com/relance-io/relance/stream"
)

// The checks below run one named query of sql/queries and compare every
// row with internal/oracle (the brute-force reading of SPEC §3–§4, which
// shares no code with stream/ or sql/). Each returns the number of rows
// compared, so that a caller can refuse a comparison that proved nothing.

// kpiParams are the parameters a query runs under. The oracle is given the
// same ones; a parameter left at its zero value is not passed to the query,
// which then takes its declared default (the oracle's defaults are the
// same: Europe/Paris is set by every caller, edges default to
// oracle.DefaultDPDEdges, the months to everything).
type kpiParams struct {
	tz *time.Location
	// edges are the dpd bucket edges, nil for the default.
	edges []int
	// from and to bound the cohort or payment months ("2025-11-01"),
	// both or neither.
	from, to string
}

func (p kpiParams) String() string {
	s := "tz=" + p.tz.String()
	if p.edges != nil {
		s += " dpd_edges=" + edgesParam(p.edges)
	}
	if p.from != "" {
		s += " months=" + p.from + ".." + p.to
	}
	return s
}

// dpdEdges are the edges the oracle buckets with.
func (p kpiParams) dpdEdges() []int {
	if p.edges == nil {
		return oracle.DefaultDPDEdges
	}
	return p.edges
}

// inMonths reports whether month ("2025-11-01") is within from..to.
// cohort is SPEC §4's monthly cohort under p's time zone and dpd edges,
// restricted to p's months.
func (p kpiParams) cohort(dim string) oracle.Cohort {
	monthly := oracle.MonthlyWith(dim, p.tz, p.dpdEdges())
	return func(r *schemas.Reminder) (string, string, bool) {
		m, seg, _ := monthly(r)
		return m, seg, p.inMonths(m)
	}
}

func (p kpiParams) inMonths(month string) bool {
	return p.from == "" || (month >= p.from && month <= p.to)
}

// values are the query parameters: horizon, tz, and dimension when dim is
// not "", dpd_edges when set and withEdges, from and to when set and
// withMonths (not every query declares them).
func (p kpiParams) values(h stream.Horizon, dim string, withEdges, withMonths bool) map[string]string {
	v := map[string]string{"horizon": h.String(), "tz": p.tz.String()}
	if dim != "" {
		v["dimension"] = dim
	}
	if withEdges && p.edges != nil {
		v["dpd_edges"] = edgesParam(p.edges)
	}
	if withMonths && p.from != "" {
		v["from"], v["to"] = p.from, p.to
	}
	return v
}

func edgesParam(edges []int) string {
	s := make([]string, len(edges))
	for i, e := range edges {
		s[i] = strconv.Itoa(e)
	}
	return "[" + strings.Join(s, ",") + "]"
}

func namedQuery(t *testing.T, ctx context.Context, store sinks.Store, name string, vals map[string]string) *sinks.Rows {
	t.Helper()
	rows, err := sinks.QueryNamed(ctx, store, name, vals)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// oracleRows runs the named query name with vals and pairs each row with
// the oracle's value for its key (month, segment, currency: those of the
// columns the query has). The row count and every key must be the
// oracle's; check compares the rest of the row, what naming it in errors
// (label and key). It returns the row count.
func oracleRows[V any](t *testing.T, ctx context.Context, store sinks.Store, name string, vals map[string]string, label string, want map[oracle.Key]V,
	check func(r []string, rows *sinks.Rows, w V, what string)) int {
	t.Helper()
	rows := namedQuery(t, ctx, store, name, vals)
	if rows.Len() != len(want) {
		t.Errorf("%s: %d rows, oracle has %d", label, rows.Len(), len(want))
	}
	col := func(r []string, c string) string {
		if rows.Col(c) < 0 {
			return ""
		}
		return r[rows.Col(c)]
	}
	for _, r := range rows.Data {
		k := oracle.Key{Period: col(r, "month"), Segment: col(r, "segment"), Currency: cell(t, rows, r, "currency")}
		what := fmt.Sprintf("%s %v", label, k)
		w, ok := want[k]
		if !ok {
			t.Errorf("%s: row not in the oracle", what)
			continue
		}
		check(r, rows, w, what)
	}
	return rows.Len()
}

// checkRates compares post_reminder_rate with oracle.RatesBy over SPEC
// §4's monthly cohorts.
func checkRates(t *testing.T, ctx context.Context, store sinks.Store, ds *generate.Dataset, h stream.Horizon, dim string, p kpiParams) int {
	t.Helper()
	want := oracle.RatesBy(ds, h.Duration(), p.cohort(dim))
	label := fmt.Sprintf("post_reminder_rate %s %s %s", h, dim, p)
	return oracleRows(t, ctx, store, "post_reminder_rate", p.values(h, dim, true, true), label, want, func(r []string, rows *sinks.Rows, w *oracle.Rate, what string) {
		if got := num(t, cell(t, rows, r, "reminded_minor")); got != w.Reminded {
			t.Errorf("%s reminded = %d, want %d", what, got, w.Reminded)
		}
		if got := num(t, cell(t, rows, r, "collected_minor")); got != w.Collected {
			t.Errorf("%s collected = %d, want %d", what, got, w.Collected)
		}
		if got := num(t, cell(t, rows, r, "invoices")); got != int64(w.Invoices) {
			t.Errorf("%s invoices = %d, want %d", what, got, w.Invoices)
		}
		if got := num(t, cell(t, rows, r, "reminders")); got != int64(w.Reminders) {
			t.Errorf("%s reminders = %d, want %d", what, got, w.Reminders)
		}
		if got := num(t, cell(t, rows, r, "payments")); got != int64(len(w.Payments)) {
			t.Errorf("%s payments = %d, want %d", what, got, len(w.Payments))
		}
		checkRatio(t, what+" rate", cell(t, rows, r, "rate"), w.Collected, w.Reminded)
	})
}

// checkDependency compares reminder_dependency with oracle.Dependency.
func checkDependency(t *testing.T, ctx context.Context, store sinks.Store, ds *generate.Dataset, h stream.Horizon, p kpiParams) int {
	t.Helper()
	want := map[oracle.Key]*oracle.Collection{}
	for k, c := range oracle.Dependency(ds, h.Duration(), p.tz) {
		if p.inMonths(k.Period) {
			want[k] = c
		}
	}
	label := fmt.Sprintf("reminder_dependency %s %s", h, p)
	return oracleRows(t, ctx, store, "reminder_dependency", p.values(h, "", false, true), label, want, func(r []string, rows *sinks.Rows, w *oracle.Collection, what string) {
		if got := num(t, cell(t, rows, r, "collected_total_minor")); got != w.Total {
			t.Errorf("%s total = %d, want %d", what, got, w.Total)
		}
		if got := num(t, cell(t, rows, r, "collected_after_reminder_minor")); got != w.After {
			t.Errorf("%s after = %d, want %d", what, got, w.After)
		}
		if got := num(t, cell(t, rows, r, "collected_without_reminder_minor")); got != w.Without() {
			t.Errorf("%s without = %d, want %d", what, got, w.Without())
		}
		// Allocations with no fact count as without reminder.
		if got := num(t, cell(t, rows, r, "collected_unattributed_minor")); got < 0 || got > w.Without() {
			t.Errorf("%s unattributed = %d, want within [0, without = %d]", what, got, w.Without())
		}
		if got := num(t, cell(t, rows, r, "allocations")); got != int64(w.Allocations) {
			t.Errorf("%s allocations = %d, want %d", what, got, w.Allocations)
		}
		if got := num(t, cell(t, rows, r, "payments")); got != int64(w.Payments) {
			t.Errorf("%s payments = %d, want %d", what, got, w.Payments)
		}
		checkRatio(t, what+" share", cell(t, rows, r, "share"), w.After, w.Total)
	})
}

// checkUplift compares the holdout_uplift query with a brute-force reading
// of SPEC §3: per reminder, sent or withheld, the allocations on its invoice
// paid within [sent_at, sent_at+H], capped at its amount due. It also
// returns how many rows have both sent and withheld reminders (the rows
// whose uplift is defined and compared).
func checkUplift(t *testing.T, ctx context.Context, store sinks.Store, ds *generate.Dataset, h stream.Horizon, dim string, p kpiParams) (compared, both int) {
	t.Helper()
	want := oracle.Uplift(ds, h.Duration(), p.cohort(dim))
	label := fmt.Sprintf("holdout_uplift %s %s %s", h, dim, p)
	compared = oracleRows(t, ctx, store, "holdout_uplift", p.values(h, dim, true, true), label, want, func(r []string, rows *sinks.Rows, w *oracle.Control, what string) {
		for g, prefix := range []string{"sent", "holdout"} {
			if got := num(t, cell(t, rows, r, prefix+"_due_minor")); got != w.Due[g] {
				t.Errorf("%s %s due = %d, want %d", what, prefix, got, w.Due[g])
			}
			if got := num(t, cell(t, rows, r, prefix+"_paid_minor")); got != w.Paid[g] {
				t.Errorf("%s %s paid = %d, want %d", what, prefix, got, w.Paid[g])
			}
		}
		if w.Due[0] > 0 && w.Due[1] > 0 {
			both++
			want := float64(w.Paid[0])/float64(w.Due[0]) - float64(w.Paid[1])/float64(w.Due[1])
			if g, err := strconv.ParseFloat(cell(t, rows, r, "uplift"), 64); err != nil || math.Abs(g-want) > 2e-6 {
				t.Errorf("%s uplift = %s, want %.6f", what, cell(t, rows, r, "uplift"), want)
			}
		}
	})
	return compared, both
}

// checkOutcomes compares reminder_outcomes (read with FINAL) with a brute
// force over the events: per reminder, the allocations on its invoice paid
// within the horizon, and the last_touch credit it received. Every outcome
// of a reminder whose horizon ended before the last event is final.
func checkOutcomes(t *testing.T, ctx context.Context, store sinks.Store, ds *generate.Dataset, h stream.Horizon) int {
	t.Helper()
	type key struct{ invoice, reminder string }
	type want struct {
		collected, credited int64
		final               bool
	}
	end := oracle.End(ds)
	ws := map[key]*want{}
	for i, o := range oracle.Outcomes(ds, h.Duration()) {
		r := &ds.Reminders[i]
		w := ws[key{r.InvoiceID, r.ReminderID}]
		if w == nil {
			w = &want{}
			ws[key{r.InvoiceID, r.ReminderID}] = w
		}
		w.final = !r.SentAt.Add(h.Duration()).After(end)
		w.collected += o.Collected
		w.credited += o.Credited
	}
	rows, err := store.Query(ctx, "SELECT invoice_id, reminder_id, collected_minor, credited_minor, is_final FROM reminder_outcomes FINAL WHERE horizon = '"+h.String()+"'")
	if err != nil {
		t.Fatal(err)
	}
	if rows.Len() != len(ws) {
		t.Errorf("%s outcomes: %d rows, want one per reminder (%d)", h, rows.Len(), len(ws))
	}
	for _, r := range rows.Data {
		w := ws[key{r[0], r[1]}]
		if w == nil {
			t.Errorf("%s outcome for unknown reminder %s/%s", h, r[0], r[1])
			continue
		}
		if num(t, r[2]) != w.collected || num(t, r[3]) != w.credited || (r[4] == "1") != w.final {
			t.Errorf("%s outcome %s/%s = collected %s credited %s final %s; want %+v", h, r[0], r[1], r[2], r[3], r[4], *w)
		}
	}
	return rows.Len()
}

// checkDaysToPay compares the days_to_pay query with the lags of the
// brute-force last_touch credits: per cohort month and segment value, the
// lag at position floor(q × n) of the sorted lags (ClickHouse's
// quantileExact).
func checkDaysToPay(t *testing.T, ctx context.Context, store sinks.Store, ds *generate.Dataset, h stream.Horizon, dim string, p kpiParams) int {
	t.Helper()
	lags := map[oracle.Key][]int64{}
	for _, c := range oracle.Credits(ds, h.Duration()) {
		if c.Reminder == nil {
			continue
		}
		m := oracle.MonthOf(c.Reminder.SentAt, p.tz)
		if !p.inMonths(m) {
			continue
		}
		k := oracle.Key{Period: m, Segment: oracle.SegmentWith(c.Reminder, dim, p.tz, p.dpdEdges()), Currency: c.Payment.Currency}
		lags[k] = append(lags[k], c.Lag().Milliseconds())
	}
	label := fmt.Sprintf("days_to_pay %s %s %s", h, dim, p)
	return oracleRows(t, ctx, store, "days_to_pay", p.values(h, dim, true, true), label, lags, func(r []string, rows *sinks.Rows, xs []int64, what string) {
		if got := num(t, cell(t, rows, r, "credited_allocations")); got != int64(len(xs)) {
			t.Errorf("%s: %d allocations, want %d", what, got, len(xs))
		}
		if got, want := num(t, cell(t, rows, r, "p50_lag_ms")), oracle.QuantileExact(xs, 0.5); got != want {
			t.Errorf("%s: p50 %d ms, want %d", what, got, want)
		}
		if got, want := num(t, cell(t, rows, r, "p90_lag_ms")), oracle.QuantileExact(xs, 0.9); got != want {
			t.Errorf("%s: p90 %d ms, want %d", what, got, want)
		}
	})
}

// checkRateDrop compares the rate_drop query (min_invoices 1 so that small
// data sets can fire; the windows and max_drop at their defaults: 28 recent
// days, 84 baseline days, 20 %) with a brute force: the recent window ends
// one horizon before the last event, and each window's cells are
// oracle.RatesBy over the reminders sent in it, the baseline's per slice of
// 28 days (oracle.BaselineSlice) added up.
func checkRateDrop(t *testing.T, ctx context.Context, store sinks.Store, ds *generate.Dataset, h stream.Horizon, dim string, p kpiParams) int {
	t.Helper()
	const recentDays, baselineDays, maxDrop = 28, 84, 0.2
	recentEnd := oracle.End(ds).UTC().Add(-h.Duration())
	recentStart := recentEnd.AddDate(0, 0, -recentDays)
	baselineStart := recentStart.AddDate(0, 0, -baselineDays)
	sliced := oracle.RatesBy(ds, h.Duration(), func(r *schemas.Reminder) (string, string, bool) {
		seg := oracle.SegmentWith(r, dim, p.tz, p.dpdEdges())
		switch {
		case r.SentAt.Before(baselineStart) || !r.SentAt.Before(recentEnd):
			return "", seg, false
		case r.SentAt.Before(recentStart):
			return oracle.BaselineSlice(r.SentAt, recentStart, recentDays), seg, true
		}
		return "recent", seg, true
	})
	cells := oracle.Pool(sliced, oracle.WholeBaseline)
	type windows struct{ baseline, recent oracle.Rate }
	want := map[oracle.Key]*windows{}
	for k, c := range cells {
		sk := oracle.Key{Segment: k.Segment, Currency: k.Currency}
		if want[sk] == nil {
			want[sk] = &windows{}
		}
		if k.Period == "baseline" {
			want[sk].baseline = *c
		} else {
			want[sk].recent = *c
		}
	}
	vals := p.values(h, dim, true, false)
	vals["min_invoices"] = "1"
	label := fmt.Sprintf("rate_drop %s %s %s", h, dim, p)
	return oracleRows(t, ctx, store, "rate_drop", vals, label, want, func(r []string, rows *sinks.Rows, w *windows, what string) {
		for _, c := range []struct {
			col  string
			want int64
		}{
			{"baseline_invoices", int64(w.baseline.Invoices)},
			{"baseline_reminded_minor", w.baseline.Reminded},
			{"baseline_collected_minor", w.baseline.Collected},
			{"recent_invoices", int64(w.recent.Invoices)},
			{"recent_reminded_minor", w.recent.Reminded},
			{"recent_collected_minor", w.recent.Collected},
		} {
			if got := num(t, cell(t, rows, r, c.col)); got != c.want {
				t.Errorf("%s %s = %d, want %d", what, c.col, got, c.want)
			}
		}
		b, rc := &w.baseline, &w.recent
		firing := b.Invoices >= 1 && rc.Invoices >= 1 && b.Collected > 0 && rc.Reminded > 0 && 1-rc.Value()/b.Value() > maxDrop
		if got := cell(t, rows, r, "firing") == "1"; got != firing {
			t.Errorf("%s firing = %v, want %v (baseline %d/%d, recent %d/%d)", what, got, firing, b.Collected, b.Reminded, rc.Collected, rc.Reminded)
		}
		if got, want := cell(t, rows, r, "recent_to"), recentEnd.Format("2006-01-02 15:04:05.000"); got != want {
			t.Errorf("%s recent window ends %s, want %s", what, got, want)
		}
	})
}
