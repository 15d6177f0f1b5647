package main

import (
	"context"
	"math"
	"reflect"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/relance-io/relance/demo"
	"github.com/relance-io/relance/generate"
	"github.com/relance-io/relance/ingest"
	"github.com/relance-io/relance/internal/oracle"
	"github.com/relance-io/relance/schemas"
	"github.com/relance-io/relance/sinks"
	"github.com/relance-io/relance/sinks/chdb/chdbtest"
	"github.com/relance-io/relance/stream"
)

// rateDropOracle computes, by brute force, the recent and baseline rates
// of the rate_drop query per (period, channel, currency), and the channels
// that fire.
func rateDropOracle(ds *generate.Dataset, tz *time.Location) (map[oracle.Key]*oracle.Rate, []string) {
	h := 7 * 24 * time.Hour
	recentEnd := oracle.End(ds).Add(-h)
	recentStart := recentEnd.AddDate(0, 0, -RateDrop.RecentDays)
	baselineStart := recentStart.AddDate(0, 0, -RateDrop.BaselineDays)
	m := oracle.RatesBy(ds, h, func(r *schemas.Reminder) (string, string, bool) {
		seg := segment(r, "channel", tz)
		switch {
		case !r.SentAt.Before(recentStart) && r.SentAt.Before(recentEnd):
			return "recent", seg, true
		case !r.SentAt.Before(baselineStart) && r.SentAt.Before(recentStart):
			return "baseline", seg, true
		}
		return "", seg, false
	})
	var firing []string
	for k, a := range m {
		if k.Period != "recent" {
			continue
		}
		b := m[oracle.Key{Period: "baseline", Segment: k.Segment, Currency: k.Currency}]
		if b == nil || a.Invoices < RateDrop.MinInvoices || b.Invoices < RateDrop.MinInvoices || b.Collected == 0 {
			continue
		}
		if 1-a.Value()/b.Value() > RateDrop.MaxDrop {
			firing = append(firing, k.Segment)
		}
	}
	sort.Strings(firing)
	return m, firing
}

// injectDrop removes from ds the allocations credited (7d, last_touch) to
// reminders of channel sent in the last days before the end of the data:
// customers stop paying after that channel's reminders.
func injectDrop(ds *generate.Dataset, channel string, days int) int {
	var end time.Time
	for _, p := range ds.Payments {
		if p.PaidAt.After(end) {
			end = p.PaidAt
		}
	}
	since := end.AddDate(0, 0, -days)
	drop := map[[2]int]bool{}
	for _, c := range oracle.Credits(ds, 7*24*time.Hour) {
		if r := c.Reminder; r != nil && r.Channel == channel && !r.SentAt.Before(since) {
			drop[[2]int{c.PaymentIndex, c.AllocationIndex}] = true
		}
	}
	var kept []schemas.Payment
	for pi, p := range ds.Payments {
		var allocs []schemas.Allocation
		for ai, a := range p.Allocations {
			if !drop[[2]int{pi, ai}] {
				allocs = append(allocs, a)
			}
		}
		if len(allocs) > 0 {
			p.Allocations = allocs
			kept = append(kept, p)
		}
	}
	ds.Payments = kept
	return len(drop)
}

// Rule: when the customers reminded through one channel stop paying in the
// last weeks, the collection-rate drop alert (the provisioned Grafana rule's
// SQL, run on chDB after the real pipeline) fires for that channel and for
// no other; on the same data without the drop, no channel fires. Its rates
// equal a brute-force computation.
func TestRateDropAlert_FiresForTheDroppedSegmentOnly(t *testing.T) {
	ctx := context.Background()
	tz, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	p := generate.DefaultParams()
	p.Customers, p.Months, p.Seed = 300, 8, 1
	p.Start = time.Date(2025, 9, 1, 0, 0, 0, 0, time.UTC)
	ds, err := generate.Generate(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, firing := rateDropOracle(ds, tz); len(firing) != 0 {
		t.Fatalf("the clean data set already fires for %v: choose other parameters", firing)
	}
	const channel = "email"
	n := injectDrop(ds, channel, RateDrop.RecentDays+7+5)
	want, firing := rateDropOracle(ds, tz)
	if !reflect.DeepEqual(firing, []string{channel}) {
		t.Fatalf("oracle: after removing %d allocations, firing %v, want [%s]", n, firing, channel)
	}
	t.Logf("removed %d allocations credited to recent %s reminders", n, channel)

	store := chdbtest.NewStore(t)
	st, err := demo.StartStack(ctx, t.TempDir(), 2, store)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ends, err := st.Produce(ctx, ds)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ingest.New(st.Serde, store, ingest.Brokers(st.Brokers()...), ingest.JoinerOpts(stream.Horizons(stream.DefaultHorizons...)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.RunUntil(ctx, ends); err != nil {
		t.Fatal(err)
	}

	// The provisioned rule, as Grafana runs it now (as_of = the end of its
	// time range, later than the data).
	sql, err := RateDropAlertSQL("channel")
	if err != nil {
		t.Fatal(err)
	}
	g := &grafana{from: time.Now().Add(-24 * time.Hour), to: time.Now()}
	sql, err = g.expand(sql)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := store.Query(ctx, sql)
	if err != nil {
		t.Fatalf("%v\n%s", err, sql)
	}
	if !reflect.DeepEqual(rows.Columns, []string{"segment", "currency", "firing"}) {
		t.Fatalf("alert query columns %v: Grafana labels the instances by the string columns and reads the one number", rows.Columns)
	}
	var got []string
	for _, r := range rows.Data {
		if r[2] == "1" {
			got = append(got, r[0])
		}
	}
	if !reflect.DeepEqual(got, []string{channel}) {
		t.Fatalf("alert fires for %v, want [%s] only; rows %v", got, channel, rows.Data)
	}

	// The rates behind it equal the oracle.
	res, err := sinks.QueryNamed(ctx, store, "rate_drop", map[string]string{"dimension": "channel"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Data {
		seg, cur := r[res.Col("segment")], r[res.Col("currency")]
		for _, period := range []string{"baseline", "recent"} {
			w := want[oracle.Key{Period: period, Segment: seg, Currency: cur}]
			if w == nil {
				t.Errorf("%s %s: not in the oracle", period, seg)
				continue
			}
			get := func(col string) int64 {
				v, err := strconv.ParseInt(r[res.Col(period+"_"+col)], 10, 64)
				if err != nil {
					t.Fatalf("%s_%s: %v", period, col, err)
				}
				return v
			}
			if get("invoices") != int64(w.Invoices) || get("reminded_minor") != w.Reminded || get("collected_minor") != w.Collected {
				t.Errorf("%s %s: invoices %d reminded %d collected %d; want %d %d %d", period, seg,
					get("invoices"), get("reminded_minor"), get("collected_minor"), w.Invoices, w.Reminded, w.Collected)
			}
			if rate, err := strconv.ParseFloat(r[res.Col(period+"_rate")], 64); err != nil || math.Abs(rate-w.Value()) > 1e-6 {
				t.Errorf("%s %s: rate %s, want %.6f", period, seg, r[res.Col(period+"_rate")], w.Value())
			}
		}
	}
	t.Logf("rate_drop: %v", res.Data)
}
