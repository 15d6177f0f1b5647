package main

import (
	"context"
	"flag"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
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

// book generates a receivables book of customers over months from
// September 2025.
func book(t *testing.T, customers, months int, seed int64) *generate.Dataset {
	t.Helper()
	p := generate.DefaultParams()
	p.Customers, p.Months, p.Seed = customers, months, seed
	p.Start = time.Date(2025, 9, 1, 0, 0, 0, 0, time.UTC)
	ds, err := generate.Generate(p)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// rateDropOracle computes, by brute force, the recent and baseline rates
// of the alert rule for channel per (period, channel, currency), as of the
// last event, and the channels that fire.
func rateDropOracle(ds *generate.Dataset, tz *time.Location) (map[oracle.Key]*oracle.Rate, []string) {
	m := rateDropCells(ds, tz, "channel", 7*24*time.Hour, oracle.End(ds), RateDrop.RecentDays, RateDrop.BaselineDays,
		func(*schemas.Reminder) bool { return true })
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
// no other; on the same data without the drop, it fires for no channel
// although every channel is judged (both windows large enough). Its rates
// equal a brute-force computation.
func TestRateDropAlert_FiresForTheDroppedSegmentOnly(t *testing.T) {
	ctx := context.Background()
	tz, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	ds := book(t, 300, 8, 1)
	clean, firing := rateDropOracle(ds, tz)
	if len(firing) != 0 {
		t.Fatalf("the clean data set already fires for %v: choose other parameters", firing)
	}
	judged := judgedSegments(clean)
	if len(judged) == 0 {
		t.Fatal("oracle: no channel has enough invoices in both windows: the clean run would prove nothing")
	}

	t.Run("clean data fires for no segment", func(t *testing.T) {
		store := runPipeline(t, ctx, ds)
		got, rows := alertFiring(t, ctx, store)
		if len(got) != 0 {
			t.Errorf("alert fires for %v on the clean data; rows %v", got, rows.Data)
		}
		var segs []string
		for _, r := range rows.Data {
			segs = append(segs, r[0]+"|"+r[1])
		}
		sort.Strings(segs)
		if !reflect.DeepEqual(segs, channels(clean)) {
			t.Errorf("alert rows for %v, the oracle has %v (segment|currency)", segs, channels(clean))
		}
		t.Logf("clean: no firing among %v (judged: %v)", segs, judged)
	})

	const channel = "email"
	n := injectDrop(ds, channel, RateDrop.RecentDays+7+5)
	want, firing := rateDropOracle(ds, tz)
	if !reflect.DeepEqual(firing, []string{channel}) {
		t.Fatalf("oracle: after removing %d allocations, firing %v, want [%s]", n, firing, channel)
	}
	t.Logf("removed %d allocations credited to recent %s reminders", n, channel)

	store := runPipeline(t, ctx, ds)
	got, rows := alertFiring(t, ctx, store)
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

	// The knobs an operator sets by flags reach the rule: a lower
	// -max-drop also catches sms (its rate fell by about 15 %), a
	// -min-invoices above email's recent window leaves no channel judged.
	// Each changes which channels fire, and the rule agrees with the
	// brute force under the same knobs.
	recent := want[oracle.Key{Period: "recent", Segment: channel, Currency: "EUR"}]
	for _, args := range [][]string{
		{"-max-drop", "0.1"},
		{"-min-invoices", strconv.Itoa(recent.Invoices + 1)},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			withKnobs(t, args...)
			_, fire := rateDropOracle(ds, tz)
			if reflect.DeepEqual(fire, []string{channel}) {
				t.Fatalf("oracle: %v fires for %v as with the defaults: the case proves nothing", args, fire)
			}
			if got, rows := alertFiring(t, ctx, store); !reflect.DeepEqual(got, fire) {
				t.Errorf("fires for %v, the oracle under the same knobs for %v; rows %v", got, fire, rows.Data)
			}
			t.Logf("fires for %v", fire)
		})
	}
}

// withKnobs parses args as gen's alert flags for the rest of t, then
// restores the defaults the committed rules use.
func withKnobs(t *testing.T, args ...string) {
	t.Helper()
	saved := RateDrop
	saved.Dimensions = append([]string(nil), RateDrop.Dimensions...)
	t.Cleanup(func() { RateDrop = saved })
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	registerKnobs(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	if err := checkKnobs(); err != nil {
		t.Fatal(err)
	}
}

// Rule: an out-of-range knob is refused by name with an example of a
// valid value, before anything is written.
func TestKnobs_OutOfRangeAreRefusedByName(t *testing.T) {
	for args, want := range map[string]string{
		"-max-drop 1.5":     "-max-drop 1.5: a fraction in (0, 1), e.g. 0.2",
		"-max-drop 0":       "-max-drop 0: a fraction in (0, 1)",
		"-min-invoices 0":   "-min-invoices 0: must be at least 1",
		"-recent-days 0":    "both must be at least 1",
		"-every soon":       `-every "soon"`,
		"-dimensions ,":     "-dimensions: at least one",
		"-baseline-days -3": "both must be at least 1",
	} {
		saved := RateDrop
		saved.Dimensions = append([]string(nil), RateDrop.Dimensions...)
		fs := flag.NewFlagSet("gen", flag.ContinueOnError)
		registerKnobs(fs)
		if err := fs.Parse(strings.Fields(args)); err != nil {
			t.Fatal(err)
		}
		err := checkKnobs()
		RateDrop = saved
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error containing %q", args, err, want)
		}
	}
	if err := checkKnobs(); err != nil {
		t.Errorf("the defaults are refused: %v", err)
	}
}

// runPipeline runs ds through the real pipeline (kfake, srfake, the
// consumer with the default horizons) into a fresh chDB database of t.
func runPipeline(t *testing.T, ctx context.Context, ds *generate.Dataset) sinks.Store {
	t.Helper()
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
	return store
}

// alertFiring runs the provisioned channel rule as Grafana runs it now
// (as_of = the end of its time range, later than the data) and returns
// the segments it fires for, sorted, and its rows.
func alertFiring(t *testing.T, ctx context.Context, store sinks.Store) ([]string, *sinks.Rows) {
	t.Helper()
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
	sort.Strings(got)
	return got, rows
}

// channels is the sorted "channel|currency" of the oracle's cells (either
// window): the alert has one row, one instance, for each.
func channels(m map[oracle.Key]*oracle.Rate) []string {
	set := map[string]bool{}
	for k := range m {
		set[k.Segment+"|"+k.Currency] = true
	}
	return keys(set)
}

// judgedSegments is the sorted channels with at least MinInvoices invoices
// in both windows: those the rule compares at all.
func judgedSegments(m map[oracle.Key]*oracle.Rate) []string {
	var out []string
	for k, a := range m {
		b := m[oracle.Key{Period: "baseline", Segment: k.Segment, Currency: k.Currency}]
		if k.Period == "recent" && b != nil && a.Invoices >= RateDrop.MinInvoices && b.Invoices >= RateDrop.MinInvoices {
			out = append(out, k.Segment)
		}
	}
	sort.Strings(out)
	return out
}

// Rule: the rate-drop windows end where the join has got to: when the
// outcome of a reminder in the recent window is still provisional (the
// pipeline's watermark has not passed sent_at + horizon, so payments after
// it may not be attributed yet), the recent window ends at that reminder,
// and the rates equal the brute force over the windows ending there —
// never a window whose payments are only partly attributed.
func TestRateDrop_WindowsEndWhereTheJoinHasGot(t *testing.T) {
	ctx := context.Background()
	tz, _ := time.LoadLocation("Europe/Paris")
	ds := book(t, 120, 6, 3)
	store := runPipeline(t, ctx, ds)
	const h = 7 * 24 * time.Hour
	end := oracle.End(ds).Add(-h)
	// The pipeline ran to the end: the windows end at the last event - h.
	check := func(until time.Time) {
		t.Helper()
		res, err := sinks.QueryNamed(ctx, store, "rate_drop", map[string]string{"dimension": "channel"})
		if err != nil {
			t.Fatal(err)
		}
		want := rateDropCells(ds, tz, "channel", h, until, RateDrop.RecentDays, RateDrop.BaselineDays, func(*schemas.Reminder) bool { return true })
		if len(res.Data) == 0 {
			t.Fatal("rate_drop: no row")
		}
		for _, r := range res.Data {
			if got, want := r[res.Col("recent_to")], until.Add(-h).UTC().Format("2006-01-02 15:04:05.000"); got != want {
				t.Errorf("%s: recent window ends %s, want %s", r[0], got, want)
			}
			for _, period := range []string{"baseline", "recent"} {
				w := want[oracle.Key{Period: period, Segment: r[res.Col("segment")], Currency: r[res.Col("currency")]}]
				if w == nil {
					w = &oracle.Rate{}
				}
				got := r[res.Col(period+"_invoices")] + " " + r[res.Col(period+"_reminded_minor")] + " " + r[res.Col(period+"_collected_minor")]
				if exp := strconv.Itoa(w.Invoices) + " " + strconv.FormatInt(w.Reminded, 10) + " " + strconv.FormatInt(w.Collected, 10); got != exp {
					t.Errorf("%s %s: invoices reminded collected %s, want %s", period, r[0], got, exp)
				}
			}
		}
	}
	check(end.Add(h))

	// A reminder 10 days before that end turns provisional again, as if
	// the join were that far behind.
	var mid *schemas.Reminder
	for i := range ds.Reminders {
		r := &ds.Reminders[i]
		if !r.Holdout && r.SentAt.Before(end.AddDate(0, 0, -10)) && (mid == nil || r.SentAt.After(mid.SentAt)) {
			mid = r
		}
	}
	if err := store.Exec(ctx, "INSERT INTO reminder_outcomes SELECT * REPLACE (0 AS is_final, version + 1 AS version) FROM reminder_outcomes FINAL WHERE horizon = '7d' AND reminder_id = '"+mid.ReminderID+"'"); err != nil {
		t.Fatal(err)
	}
	check(mid.SentAt.Add(h))
}
