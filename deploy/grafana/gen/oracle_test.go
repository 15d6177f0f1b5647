package main

import (
	"testing"
	"time"

	"github.com/relance-io/relance/generate"
	"github.com/relance-io/relance/internal/oracle"
	"github.com/relance-io/relance/schemas"
)

// The KPIs are recomputed by internal/oracle, the brute-force reading of
// SPEC §3–§4 (independent of the pipeline and of the SQL); the helpers
// below only shape its cells the way the dashboards group them.

// dashboardCurrency is the default of the dashboards' currency variable.
const dashboardCurrency = "EUR"

// segment is r's value for dim as the dashboards split it: the SPEC §4
// dimensions, plus "timing" (the "Preventive vs post-due" panel: the
// preventive dpd bucket vs every other one).
func segment(r *schemas.Reminder, dim string, tz *time.Location) string {
	if dim == "timing" {
		if oracle.DPD(r, tz) < 0 {
			return "preventive"
		}
		return "post-due"
	}
	return oracle.Segment(r, dim, tz)
}

// rateDropCells is the post-reminder collection rate of the rate_drop
// query's two windows of reminders, per (period "recent" or "baseline",
// value of dim, currency), for horizon h and the observation end until:
// recent = sent in [until - h - recentDays, until - h), baseline = the
// baselineDays before it (days of 24 h: the query counts them in UTC), an
// invoice counted once per slice of recentDays of it (oracle.BaselineSlice).
// keep leaves reminders out (the plan filter).
func rateDropCells(ds *generate.Dataset, tz *time.Location, dim string, h time.Duration, until time.Time, recentDays, baselineDays int, keep func(*schemas.Reminder) bool) map[oracle.Key]*oracle.Rate {
	const day = 24 * time.Hour
	recentEnd := until.Add(-h)
	recentStart := recentEnd.Add(-time.Duration(recentDays) * day)
	baselineStart := recentStart.Add(-time.Duration(baselineDays) * day)
	sliced := oracle.RatesBy(ds, h, func(r *schemas.Reminder) (string, string, bool) {
		seg := segment(r, dim, tz)
		switch {
		case !keep(r):
		case !r.SentAt.Before(recentStart) && r.SentAt.Before(recentEnd):
			return "recent", seg, true
		case !r.SentAt.Before(baselineStart) && r.SentAt.Before(recentStart):
			return oracle.BaselineSlice(r.SentAt, recentStart, recentDays), seg, true
		}
		return "", seg, false
	})
	return oracle.Pool(sliced, oracle.WholeBaseline)
}

// named keeps the cells of m in the dashboard currency and names them by
// name (checkTable's key: key columns joined by "|"). Two cells with one
// name are a test bug.
func named(t *testing.T, m map[oracle.Key]*oracle.Rate, name func(oracle.Key) string) map[string]*oracle.Rate {
	t.Helper()
	out := map[string]*oracle.Rate{}
	for k, r := range m {
		if k.Currency != dashboardCurrency {
			continue
		}
		n := name(k)
		if out[n] != nil {
			t.Fatalf("two oracle cells named %q", n)
		}
		out[n] = r
	}
	return out
}

// pooled is m's cells of the dashboard currency added up per name(k), as
// named cells (see oracle.Pool).
func pooled(t *testing.T, m map[oracle.Key]*oracle.Rate, name func(oracle.Key) string) map[string]*oracle.Rate {
	t.Helper()
	p := oracle.Pool(m, func(k oracle.Key) oracle.Key { return oracle.Key{Segment: name(k), Currency: k.Currency} })
	return named(t, p, func(k oracle.Key) string { return k.Segment })
}
