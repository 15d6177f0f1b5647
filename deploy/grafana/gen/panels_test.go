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
	"github.com/relance-io/relance/sinks"
	"github.com/relance-io/relance/sinks/chdb/chdbtest"
)

// wantColumns is, per panel of the reminder-impact dashboard, the columns
// its SQL returns (the panels' field names and overrides rely on them).
var wantColumns = map[string][]string{
	"Collected after reminder":                                     {"rate", "reminded", "collected", "invoices", "reminders"},
	"Reminder dependency (payment months)":                         {"share", "collected_total", "collected_without_reminder", "payments"},
	"Reminded and collected after reminder, per month and segment": {"time", "segment", "reminded", "collected", "rate"},
	"Collection rate by segment (time range)":                      {"segment", "rate"},
	"Segments: rate with its counts":                               {"segment", "rate", "reminded", "collected", "reminders", "invoices", "payments"},
	"Collection rate, month × segment":                             {"cohort", "segment", "rate"},
	"Sender leaderboard":                                           {"sender", "rate", "collected", "reminded", "invoices", "reminders"},
	"Preventive vs post-due":                                       {"time", "timing", "rate", "invoices"},
	"Days to pay after reminder (p50, p90)":                        {"time", "segment", "p50_days", "p90_days"},
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
// computation over the generated events.
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
	for name, want := range map[string][]string{
		"horizon": {"7d"}, "dimension": {"channel"}, "currency": {"EUR"}, "tz": {"Europe/Paris"}, "plan": keys(plans),
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
	h := 7 * 24 * time.Hour
	first, last := oracle.MonthOf(p.Start, tz), oracle.MonthOf(end, tz)
	byMonth := func(dim string) map[oracle.Key]*oracle.Rate {
		return oracle.RatesBy(ds, h, monthlyIn(dim, tz, first, last))
	}
	bySegment := func(k oracle.Key) string { return k.Segment }
	whole := func(oracle.Key) string { return "" }

	// Tiles: the overall rate and the amounts and counts beside it.
	overall := pooled(t, byMonth("all"), whole)[""]
	checkRow(t, "Collected after reminder", got["Collected after reminder"], 0, map[string]float64{
		"rate": overall.Value(), "reminded": float64(overall.Reminded) / 100, "collected": float64(overall.Collected) / 100,
		"invoices": float64(overall.Invoices), "reminders": float64(overall.Reminders)})
	dp := oracle.Collected(oracle.Dependency(ds, h, tz), func(k oracle.Key) bool {
		return k.Currency == dashboardCurrency && k.Period >= first && k.Period <= last
	})
	checkRow(t, "Reminder dependency (payment months)", got["Reminder dependency (payment months)"], 0, map[string]float64{
		"share": dp.Share(), "collected_total": float64(dp.Total) / 100,
		"collected_without_reminder": float64(dp.Without()) / 100, "payments": float64(dp.Payments)})

	// Per segment over the range, per sender, per month × segment, and
	// preventive vs post-due per month.
	checkTable(t, "Segments: rate with its counts", got, []string{"segment"}, pooled(t, byMonth("channel"), bySegment),
		func(a *oracle.Rate) map[string]float64 {
			return map[string]float64{"rate": a.Value(), "reminded": float64(a.Reminded) / 100, "collected": float64(a.Collected) / 100,
				"reminders": float64(a.Reminders), "invoices": float64(a.Invoices), "payments": float64(len(a.Payments))}
		})
	checkTable(t, "Collection rate by segment (time range)", got, []string{"segment"}, pooled(t, byMonth("channel"), bySegment),
		func(a *oracle.Rate) map[string]float64 { return map[string]float64{"rate": a.Value()} })
	checkTable(t, "Sender leaderboard", got, []string{"sender"}, pooled(t, byMonth("sender"), bySegment),
		func(a *oracle.Rate) map[string]float64 {
			return map[string]float64{"rate": a.Value(), "reminded": float64(a.Reminded) / 100, "collected": float64(a.Collected) / 100,
				"invoices": float64(a.Invoices), "reminders": float64(a.Reminders)}
		})
	cells := named(t, byMonth("channel"), func(k oracle.Key) string { return k.Period[:7] + "|" + k.Segment })
	checkTable(t, "Collection rate, month × segment", got, []string{"cohort", "segment"}, cells,
		func(a *oracle.Rate) map[string]float64 { return map[string]float64{"rate": a.Value()} })
	timing := named(t, byMonth("timing"), func(k oracle.Key) string { return k.Period + "|" + k.Segment })
	checkTable(t, "Preventive vs post-due", got, []string{"time", "timing"}, timing,
		func(a *oracle.Rate) map[string]float64 {
			return map[string]float64{"rate": a.Value(), "invoices": float64(a.Invoices)}
		})

	// A narrower time range: only the cohort months it touches count.
	g2 := &grafana{from: p.Start.AddDate(0, 2, 10), to: p.Start.AddDate(0, 4, 0).Add(-time.Second), vars: g.vars}
	sub := runPanels(t, ctx, store, g2, d)
	from2, to2 := oracle.MonthOf(g2.from, tz), oracle.MonthOf(g2.to, tz)
	part := pooled(t, oracle.RatesBy(ds, h, monthlyIn("all", tz, from2, to2)), whole)[""]
	checkRow(t, "Collected after reminder ["+from2+", "+to2+"]", sub["Collected after reminder"], 0, map[string]float64{
		"rate": part.Value(), "reminded": float64(part.Reminded) / 100, "invoices": float64(part.Invoices)})
	if part.Reminded >= overall.Reminded {
		t.Errorf("the narrower range reminded %d, the whole range %d: the time range has no effect", part.Reminded, overall.Reminded)
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// checkRow compares row i of rows with want (column → value): ratios (at
// most 1) within 1e-6, as the queries round rates to 6 decimals, amounts
// and counts exactly (to float64 precision).
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
		g, err := strconv.ParseFloat(rows.Data[i][j], 64)
		tol := 1e-9 * math.Max(1, math.Abs(w))
		if math.Abs(w) <= 1 {
			tol = 1e-6
		}
		if err != nil || math.Abs(g-w) > tol {
			t.Errorf("%s: %s = %s, want %v", what, col, rows.Data[i][j], w)
		}
	}
}

// checkTable compares every row of a panel with the oracle cell named by
// its key columns (joined by "|"), and the row count with the oracle's.
func checkTable(t *testing.T, title string, got map[string]*sinks.Rows, keyCols []string, want map[string]*oracle.Rate, values func(*oracle.Rate) map[string]float64) {
	t.Helper()
	rows := got[title]
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
		a := want[k]
		if a == nil {
			t.Errorf("%s: row %q not in the oracle", title, k)
			continue
		}
		checkRow(t, fmt.Sprintf("%s %q", title, k), rows, i, values(a))
	}
}
