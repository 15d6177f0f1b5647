package main

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/relance-io/relance/demo"
	"github.com/relance-io/relance/generate"
	"github.com/relance-io/relance/internal/oracle"
	"github.com/relance-io/relance/schemas"
	"github.com/relance-io/relance/sinks"
	"github.com/relance-io/relance/sinks/chdb/chdbtest"
)

// wantColumns is, per panel of the reminder-impact dashboard, the columns
// its SQL returns (the panels' field names and overrides rely on them).
var wantColumns = map[string][]string{
	"Collected after reminder":                                     {"rate", "reminded", "collected", "invoices", "reminders"},
	"Reminder dependency (payment months)":                         {"share", "collected_total", "collected_without_reminder", "payments"},
	"Reminded and collected after reminder, per month and segment": {"time", "segment", "reminded", "collected", "rate", "invoices", "reminders", "payments"},
	"Collection rate by segment (time range)":                      {"segment", "rate"},
	"Segments: rate with its counts":                               {"segment", "rate", "reminded", "collected", "reminders", "invoices", "payments"},
	"Collection rate, month × segment":                             {"cohort", "segment", "rate"},
	"Invoices reminded, month × segment":                           {"cohort", "segment", "invoices"},
	"Sender leaderboard":                                           {"sender", "rate", "collected", "reminded", "invoices", "reminders"},
	"Preventive vs post-due":                                       {"time", "timing", "rate", "invoices"},
	"Days to pay after reminder (p50, p90)":                        {"time", "segment", "p50_days", "p90_days", "credited_allocations"},
	"Collected after vs without reminder (payment month)":          {"time", "after_reminder", "without_reminder", "share"},
	"Holdout uplift":                                               {"cohort", "segment", "sent_rate", "holdout_rate", "uplift", "sent_reminders", "holdout_reminders"},
	"Collection-rate drop check":                                   {"segment", "baseline_rate", "recent_rate", "drop", "baseline_invoices", "recent_invoices", "firing"},
}

// runPanels expands and runs every ClickHouse target of d, checking its
// columns and that it returns rows; it returns the rows by panel title.
func runPanels(t *testing.T, ctx context.Context, store sinks.Store, g *grafana, d *dashboardJSON) map[string]*sinks.Rows {
	t.Helper()
	out := map[string]*sinks.Rows{}
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		want, ok := wantColumns[p.Title]
		if !ok {
			t.Errorf("panel %q: no expected columns in wantColumns: add them", p.Title)
			continue
		}
		if len(p.Targets) != 1 || p.Targets[0].Datasource.Type != clickhouseType || p.Targets[0].Datasource.UID != clickhouseUID {
			t.Errorf("panel %q: want one target on the ClickHouse data source, got %+v", p.Title, p.Targets)
			continue
		}
		sql, err := g.expand(p.Targets[0].RawSQL)
		if err != nil {
			t.Errorf("panel %q: %v", p.Title, err)
			continue
		}
		rows, err := store.Query(ctx, sql)
		if err != nil {
			t.Errorf("panel %q: %v\n%s", p.Title, err, sql)
			continue
		}
		if !reflect.DeepEqual(rows.Columns, want) {
			t.Errorf("panel %q: columns %v, want %v", p.Title, rows.Columns, want)
		}
		if rows.Len() == 0 {
			t.Errorf("panel %q: no rows", p.Title)
		}
		out[p.Title] = rows
	}
	for title := range wantColumns {
		if out[title] == nil && !t.Failed() {
			t.Errorf("panel %q is in wantColumns but not on the dashboard", title)
		}
	}
	return out
}

// Rule: every panel of the reminder-impact dashboard, its SQL expanded as
// Grafana expands it (ClickHouse plugin macros, dashboard variables at
// their defaults), runs on chDB over data that went through the real
// pipeline, returns its columns and rows, and its values equal a brute-force
// computation over the generated events. So do they with other variables:
// a custom attribute as the segment dimension, a subset of its values and
// of the plans, and another horizon; and over a narrower time range.
func TestReminderImpact_PanelsEqualBruteForce(t *testing.T) {
	ctx := context.Background()
	store := chdbtest.NewStore(t)
	p := generate.DefaultParams()
	p.Customers, p.Months, p.Seed = 200, 6, 11
	p.Start = time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC)
	sum, err := demo.Run(ctx, store, demo.Options{Params: p, Dir: t.TempDir(), Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	ds := sum.Dataset
	tz, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	end := p.Start.AddDate(0, p.Months, 0).Add(-time.Second)
	g := &grafana{from: p.Start, to: end}
	d := readDashboard(t, "reminder-impact.json")
	g.resolveVariables(t, ctx, store, d)
	plans := map[string]bool{}
	for _, r := range ds.Reminders {
		plans[r.Plan] = true
	}
	v := view{ds: ds, tz: tz, h: 7 * 24 * time.Hour, dim: "channel", plans: plans, from: g.from, to: g.to}
	v.segments = v.values("channel")
	for name, want := range map[string][]string{
		"horizon": {"7d"}, "dimension": {"channel"}, "currency": {"EUR"}, "tz": {"Europe/Paris"}, "plan": keys(plans),
		"segment": keys(v.segments),
	} {
		if got := g.vars[name]; !reflect.DeepEqual(got, want) {
			t.Fatalf("default of variable %s = %v, want %v", name, got, want)
		}
	}
	t.Logf("%d reminders, %d payments; variables %v", len(ds.Reminders), len(ds.Payments), g.vars)

	got := runPanels(t, ctx, store, g, d)
	if t.Failed() {
		return
	}
	checkPanels(t, got, v)

	t.Run("attribute dimension, plan and segment subsets, 30d horizon", func(t *testing.T) {
		const dim = "country"
		if !contains(g.options(t, ctx, store, d, "dimension"), dim) {
			t.Fatalf("the dimension variable does not offer the attribute key %s", dim)
		}
		v := view{ds: ds, tz: tz, h: 30 * 24 * time.Hour, dim: dim, from: g.from, to: g.to,
			plans: map[string]bool{"PME": true, "ETI": true}}
		g2 := &grafana{from: g.from, to: g.to, vars: map[string][]string{}}
		for k, x := range g.vars {
			g2.vars[k] = x
		}
		g2.vars["horizon"], g2.vars["dimension"], g2.vars["plan"] = []string{"30d"}, []string{dim}, keys(v.plans)
		countries := g2.options(t, ctx, store, d, "segment")
		if want := keys(v.values(dim)); !reflect.DeepEqual(countries, want) {
			t.Fatalf("segment options for %s: %v, want %v", dim, countries, want)
		}
		if len(countries) < 3 {
			t.Fatalf("only %d countries: a subset would not differ from all", len(countries))
		}
		g2.vars["segment"] = countries[1:]
		v.segments = map[string]bool{}
		for _, c := range countries[1:] {
			v.segments[c] = true
		}
		t.Logf("variables %v", g2.vars)
		got := runPanels(t, ctx, store, g2, d)
		if t.Failed() {
			return
		}
		checkPanels(t, got, v)
		if got["Segments: rate with its counts"].Len() >= len(countries) {
			t.Errorf("%d segment rows for %d of %d countries: the segment selection has no effect",
				got["Segments: rate with its counts"].Len(), len(countries)-1, len(countries))
		}
	})

	t.Run("a narrower time range counts only the cohort months it touches", func(t *testing.T) {
		g2 := &grafana{from: p.Start.AddDate(0, 2, 10), to: p.Start.AddDate(0, 4, 0).Add(-time.Second), vars: g.vars}
		sub := runPanels(t, ctx, store, g2, d)
		v2 := v
		v2.from, v2.to = g2.from, g2.to
		whole := func(oracle.Key) string { return "" }
		all := pooled(t, oracle.RatesBy(ds, v.h, v.cohort("all", false)), whole)[""]
		part := pooled(t, oracle.RatesBy(ds, v2.h, v2.cohort("all", false)), whole)[""]
		checkRow(t, "Collected after reminder", sub["Collected after reminder"], 0, map[string]float64{
			"rate": part.Value(), "reminded": float64(part.Reminded) / 100, "invoices": float64(part.Invoices)})
		if part.Reminded >= all.Reminded {
			t.Errorf("the narrower range reminded %d, the whole range %d: the time range has no effect", part.Reminded, all.Reminded)
		}
	})
}

// view is what one state of the dashboard shows, as the oracle reads it:
// the horizon, the segment dimension, the selected plans and segment
// values, and the time range (in the dashboard currency, months in tz).
type view struct {
	ds       *generate.Dataset
	tz       *time.Location
	h        time.Duration
	dim      string
	plans    map[string]bool
	segments map[string]bool
	from, to time.Time
}

// cohort is the oracle cohort of the panels: cohort month of sent_at within
// the time range's months, the value of dim (see segment), the reminder's
// plan among the selected ones and, when bySegment, its value among the
// selected segment values (panels that split by a fixed dimension ignore
// that selection).
func (v view) cohort(dim string, bySegment bool) oracle.Cohort {
	first, last := oracle.MonthOf(v.from, v.tz), oracle.MonthOf(v.to, v.tz)
	return func(r *schemas.Reminder) (string, string, bool) {
		m, s := oracle.MonthOf(r.SentAt, v.tz), segment(r, dim, v.tz)
		return m, s, m >= first && m <= last && v.plans[r.Plan] && (!bySegment || v.segments[s])
	}
}

// values is the set of values of dim among the non-holdout reminders sent
// within the time range, whatever their plan: the options of the segment
// variable.
func (v view) values(dim string) map[string]bool {
	out := map[string]bool{}
	for i := range v.ds.Reminders {
		r := &v.ds.Reminders[i]
		if !r.Holdout && !r.SentAt.Before(v.from) && !r.SentAt.After(v.to) {
			out[segment(r, dim, v.tz)] = true
		}
	}
	return out
}

// checkPanels compares every panel of the reminder-impact dashboard (got,
// by title) with the oracle for v.
func checkPanels(t *testing.T, got map[string]*sinks.Rows, v view) {
	t.Helper()
	bySegment := func(k oracle.Key) string { return k.Segment }
	whole := func(oracle.Key) string { return "" }
	rates := func(dim string, bySeg bool) map[oracle.Key]*oracle.Rate {
		return oracle.RatesBy(v.ds, v.h, v.cohort(dim, bySeg))
	}
	first, last := oracle.MonthOf(v.from, v.tz), oracle.MonthOf(v.to, v.tz)

	// Tiles: the overall rate and the amounts and counts beside it.
	overall := pooled(t, rates("all", false), whole)[""]
	checkRow(t, "Collected after reminder", got["Collected after reminder"], 0, map[string]float64{
		"rate": overall.Value(), "reminded": float64(overall.Reminded) / 100, "collected": float64(overall.Collected) / 100,
		"invoices": float64(overall.Invoices), "reminders": float64(overall.Reminders)})
	dep := oracle.Dependency(v.ds, v.h, v.tz)
	inRange := func(k oracle.Key) bool {
		return k.Currency == dashboardCurrency && k.Period >= first && k.Period <= last
	}
	dp := oracle.Collected(dep, inRange)
	checkRow(t, "Reminder dependency (payment months)", got["Reminder dependency (payment months)"], 0, map[string]float64{
		"share": dp.Share(), "collected_total": float64(dp.Total) / 100,
		"collected_without_reminder": float64(dp.Without()) / 100, "payments": float64(dp.Payments)})

	// Per segment over the range, per sender, per month × segment, and
	// preventive vs post-due per month.
	amounts := func(a *oracle.Rate) map[string]float64 {
		return map[string]float64{"rate": a.Value(), "reminded": float64(a.Reminded) / 100, "collected": float64(a.Collected) / 100,
			"reminders": float64(a.Reminders), "invoices": float64(a.Invoices), "payments": float64(len(a.Payments))}
	}
	checkTable(t, "Segments: rate with its counts", got, []string{"segment"}, cellValues(pooled(t, rates(v.dim, true), bySegment), amounts))
	checkTable(t, "Collection rate by segment (time range)", got, []string{"segment"}, cellValues(pooled(t, rates(v.dim, true), bySegment),
		func(a *oracle.Rate) map[string]float64 { return map[string]float64{"rate": a.Value()} }))
	checkTable(t, "Sender leaderboard", got, []string{"sender"}, cellValues(pooled(t, rates("sender", false), bySegment),
		func(a *oracle.Rate) map[string]float64 {
			return map[string]float64{"rate": a.Value(), "reminded": float64(a.Reminded) / 100, "collected": float64(a.Collected) / 100,
				"invoices": float64(a.Invoices), "reminders": float64(a.Reminders)}
		}))
	monthly := named(t, rates(v.dim, true), func(k oracle.Key) string { return k.Period + "|" + k.Segment })
	checkTable(t, "Reminded and collected after reminder, per month and segment", got, []string{"time", "segment"}, cellValues(monthly, amounts))
	cells := named(t, rates(v.dim, true), func(k oracle.Key) string { return k.Period[:7] + "|" + k.Segment })
	checkTable(t, "Collection rate, month × segment", got, []string{"cohort", "segment"}, cellValues(cells,
		func(a *oracle.Rate) map[string]float64 { return map[string]float64{"rate": a.Value()} }))
	checkTable(t, "Invoices reminded, month × segment", got, []string{"cohort", "segment"}, cellValues(cells,
		func(a *oracle.Rate) map[string]float64 { return map[string]float64{"invoices": float64(a.Invoices)} }))
	timing := named(t, rates("timing", false), func(k oracle.Key) string { return k.Period + "|" + k.Segment })
	checkTable(t, "Preventive vs post-due", got, []string{"time", "timing"}, cellValues(timing,
		func(a *oracle.Rate) map[string]float64 {
			return map[string]float64{"rate": a.Value(), "invoices": float64(a.Invoices)}
		}))

	// Collected after vs without reminder, per payment month: every
	// segment and plan, since money without reminder has neither.
	after := map[string]map[string]float64{}
	for k, c := range dep {
		if inRange(k) {
			after[k.Period] = map[string]float64{"after_reminder": float64(c.After) / 100,
				"without_reminder": float64(c.Without()) / 100, "share": c.Share()}
		}
	}
	checkTable(t, "Collected after vs without reminder (payment month)", got, []string{"time"}, after)

	checkDaysToPay(t, got["Days to pay after reminder (p50, p90)"], v)
	checkTable(t, "Holdout uplift", got, []string{"cohort", "segment"}, upliftOracle(v))
	checkTable(t, "Collection-rate drop check", got, []string{"segment"}, rateDropPanelOracle(v))
}

// checkDaysToPay compares the days-to-pay panel with the lags (paid_at -
// sent_at) of the allocations credited to the view's reminders, per cohort
// month and segment value: their count exactly, p50 and p90 (ClickHouse's
// quantileExact, see oracle.QuantileExact) to the panel's 2 decimals of a
// day.
func checkDaysToPay(t *testing.T, rows *sinks.Rows, v view) {
	t.Helper()
	const title = "Days to pay after reminder (p50, p90)"
	cohort := v.cohort(v.dim, true)
	lags := map[string][]int64{}
	for _, c := range oracle.Credits(v.ds, v.h) {
		if c.Reminder == nil || c.Payment.Currency != dashboardCurrency {
			continue
		}
		if m, s, ok := cohort(c.Reminder); ok {
			lags[m+"|"+s] = append(lags[m+"|"+s], c.Lag().Milliseconds())
		}
	}
	if rows.Len() != len(lags) {
		t.Errorf("%s: %d rows, oracle has %d", title, rows.Len(), len(lags))
	}
	for i, r := range rows.Data {
		k := r[rows.Col("time")] + "|" + r[rows.Col("segment")]
		xs := lags[k]
		if len(xs) == 0 {
			t.Errorf("%s: row %q not in the oracle", title, k)
			continue
		}
		checkRow(t, fmt.Sprintf("%s %q", title, k), rows, i, map[string]float64{"credited_allocations": float64(len(xs))})
		for col, q := range map[string]float64{"p50_days": 0.5, "p90_days": 0.9} {
			want := float64(oracle.QuantileExact(xs, q)) / 86400000
			if g, err := strconv.ParseFloat(r[rows.Col(col)], 64); err != nil || math.Abs(g-want) > 0.005+1e-9 {
				t.Errorf("%s %q: %s = %s, want %.4f", title, k, col, r[rows.Col(col)], want)
			}
		}
	}
}

// upliftOracle is the holdout uplift panel by brute force: per cohort
// month ("2026-03") and segment value of the view, over the reminders sent
// and those withheld, the amount due and what was paid on their invoice
// within the horizon (capped at the amount due); the panel keeps the cells
// with a control group.
func upliftOracle(v view) map[string]map[string]float64 {
	out := map[string]map[string]float64{}
	for k, a := range oracle.Uplift(v.ds, v.h, v.cohort(v.dim, true)) {
		if a.N[1] == 0 || k.Currency != dashboardCurrency {
			continue
		}
		sent, held := ratio(a.Paid[0], a.Due[0]), ratio(a.Paid[1], a.Due[1])
		out[k.Period[:7]+"|"+k.Segment] = map[string]float64{"sent_rate": sent, "holdout_rate": held, "uplift": sent - held,
			"sent_reminders": float64(a.N[0]), "holdout_reminders": float64(a.N[1])}
	}
	return out
}

// rateDropPanelOracle is the collection-rate drop check panel by brute
// force (see rateDropCells), with the query's default windows and
// thresholds, which the panel keeps, and the end of the time range as
// as_of.
func rateDropPanelOracle(v view) map[string]map[string]float64 {
	const recentDays, baselineDays, minInvoices, maxDrop = 28, 84, 100, 0.2
	// The plan filter applies to every read of reminders, the latest
	// sent_at included; payments have no plan.
	var last time.Time
	for _, r := range v.ds.Reminders {
		if v.plans[r.Plan] && r.SentAt.After(last) {
			last = r.SentAt
		}
	}
	for _, p := range v.ds.Payments {
		if p.PaidAt.After(last) {
			last = p.PaidAt
		}
	}
	until := v.to.Truncate(time.Second)
	if last.Before(until) {
		until = last
	}
	m := rateDropCells(v.ds, v.tz, v.dim, v.h, until, recentDays, baselineDays, func(r *schemas.Reminder) bool { return v.plans[r.Plan] })
	out := map[string]map[string]float64{}
	for k := range m {
		if k.Currency != dashboardCurrency {
			continue
		}
		get := func(period string) *oracle.Rate {
			if r := m[oracle.Key{Period: period, Segment: k.Segment, Currency: k.Currency}]; r != nil {
				return r
			}
			return &oracle.Rate{}
		}
		b, r := get("baseline"), get("recent")
		drop := math.NaN()
		if b.Collected != 0 && r.Reminded != 0 {
			drop = 1 - r.Value()/b.Value()
		}
		firing := 0.0
		if b.Invoices >= minInvoices && r.Invoices >= minInvoices && drop > maxDrop {
			firing = 1
		}
		out[k.Segment] = map[string]float64{"baseline_rate": ratio(b.Collected, b.Reminded), "recent_rate": ratio(r.Collected, r.Reminded),
			"drop": drop, "baseline_invoices": float64(b.Invoices), "recent_invoices": float64(r.Invoices), "firing": firing}
	}
	return out
}

// ratio is a / b, NaN when b is 0 (the queries' NULL).
func ratio(a, b int64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// checkRow compares row i of rows with want (column → value) within 1e-6:
// the queries round ratios to 6 decimals, while a wrong amount (in major
// units) is off by at least 0.01 and a wrong count by 1. A value the oracle
// cannot compute (NaN or ±Inf: a ratio over 0) must be NULL.
func checkRow(t *testing.T, what string, rows *sinks.Rows, i int, want map[string]float64) {
	t.Helper()
	if rows == nil || rows.Len() <= i {
		t.Errorf("%s: no row %d", what, i)
		return
	}
	for col, w := range want {
		j := rows.Col(col)
		if j < 0 {
			t.Errorf("%s: no column %s", what, col)
			continue
		}
		if math.IsNaN(w) || math.IsInf(w, 0) {
			if rows.Data[i][j] != "NULL" {
				t.Errorf("%s: %s = %s, want NULL (a ratio over 0)", what, col, rows.Data[i][j])
			}
			continue
		}
		g, err := strconv.ParseFloat(rows.Data[i][j], 64)
		if err != nil || math.Abs(g-w) > math.Max(1e-6, 1e-12*math.Abs(w)) {
			t.Errorf("%s: %s = %s, want %v", what, col, rows.Data[i][j], w)
		}
	}
}

// cellValues maps each oracle cell to its expected column values.
func cellValues(m map[string]*oracle.Rate, values func(*oracle.Rate) map[string]float64) map[string]map[string]float64 {
	out := map[string]map[string]float64{}
	for k, a := range m {
		out[k] = values(a)
	}
	return out
}

// checkTable compares every row of a panel with the oracle cell named by
// its key columns (joined by "|"), and the row count with the oracle's.
func checkTable(t *testing.T, title string, got map[string]*sinks.Rows, keyCols []string, want map[string]map[string]float64) {
	t.Helper()
	rows := got[title]
	if rows == nil {
		t.Errorf("%s: not run", title)
		return
	}
	if rows.Len() != len(want) {
		t.Errorf("%s: %d rows, oracle has %d", title, rows.Len(), len(want))
	}
	for i, r := range rows.Data {
		k := ""
		for n, c := range keyCols {
			if n > 0 {
				k += "|"
			}
			k += r[rows.Col(c)]
		}
		w, ok := want[k]
		if !ok {
			t.Errorf("%s: row %q not in the oracle", title, k)
			continue
		}
		checkRow(t, fmt.Sprintf("%s %q", title, k), rows, i, w)
	}
}
