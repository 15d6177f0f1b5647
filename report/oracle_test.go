package report_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/relance-io/relance/demo"
	"github.com/relance-io/relance/generate"
	"github.com/relance-io/relance/internal/oracle"
	"github.com/relance-io/relance/report"
	"github.com/relance-io/relance/sinks/chdb/chdbtest"
	"github.com/relance-io/relance/stream"
)

// fixture is a report built from generated data run through the real
// pipeline into chDB, with the data set it came from.
type fixture struct {
	ds   *generate.Dataset
	html []byte
	tz   *time.Location
	opts report.Options
}

// newFixture generates a small book, runs it through the embedded pipeline
// (kfake → ingest → chDB) and builds the report in lang.
func newFixture(t *testing.T, lang string) *fixture {
	t.Helper()
	ctx := context.Background()
	store := chdbtest.NewStore(t)
	p := generate.DefaultParams()
	p.Customers, p.Months, p.Seed = 150, 6, 11
	p.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sum, err := demo.Run(ctx, store, demo.Options{Params: p, Dir: t.TempDir(), Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	opts := report.Options{Lang: lang, Now: time.Date(2026, 7, 15, 9, 30, 0, 0, time.UTC)}
	html, err := report.Build(ctx, store, opts)
	if err != nil {
		t.Fatal(err)
	}
	tz, _ := time.LoadLocation("Europe/Paris")
	return &fixture{ds: sum.Dataset, html: html, tz: tz, opts: opts}
}

// artifactDir is $RELANCE_ARTIFACTS (created) or a test temp dir.
func artifactDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("RELANCE_ARTIFACTS"); d != "" {
		d = filepath.Join(d, "report")
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// oracleLatestMonth is the month before the last month with a sent
// (non-holdout) reminder or a payment.
func oracleLatestMonth(ds *generate.Dataset, tz *time.Location) string {
	var last time.Time
	for _, r := range ds.Reminders {
		if !r.Holdout && r.SentAt.After(last) {
			last = r.SentAt
		}
	}
	for _, p := range ds.Payments {
		if p.PaidAt.After(last) {
			last = p.PaidAt
		}
	}
	y, m, _ := last.In(tz).Date()
	return time.Date(y, m-1, 1, 0, 0, 0, 0, time.UTC).Format("2006-01-02")
}

// tileValues reads every KPI element (id="kpi-…") of the HTML: its
// data-value and its text.
func tileValues(t *testing.T, html []byte) map[string][2]string {
	t.Helper()
	re := regexp.MustCompile(`id="(kpi-[^"]+)" data-value="([^"]*)">([^<]*)<`)
	out := map[string][2]string{}
	for _, m := range re.FindAllSubmatch(html, -1) {
		out[string(m[1])] = [2]string{string(m[2]), string(m[3])}
	}
	return out
}

// enMoney is the test's own English rendering of minor units: €1,234.56.
func enMoney(minor int64) string {
	s := strconv.FormatInt(minor/100, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return "€" + b.String() + "." + strconv.FormatInt(100+minor%100, 10)[1:]
}

func enPercent(a, b int64) string {
	return strconv.FormatFloat(100*float64(a)/float64(b), 'f', 1, 64) + "%"
}

// wantTile is one tile value the oracle expects: exact value and text.
type wantTile struct {
	raw  string  // minor units, or "" for a ratio
	num  float64 // the ratio
	text string
}

// oracleTiles computes every tile of the report (per horizon, latest
// complete month and whole period) from the events.
func oracleTiles(ds *generate.Dataset, hs []stream.Horizon, tz *time.Location) map[string]wantTile {
	want := map[string]wantTile{}
	lm := oracleLatestMonth(ds, tz)
	for _, h := range hs {
		rates := oracle.Rates(ds, h.Duration(), "all", tz)
		all := cellOf(oracle.Pool(rates, func(k oracle.Key) oracle.Key { return oracle.Key{Currency: k.Currency} }), oracle.Key{Currency: "EUR"})
		mon := cellOf(rates, oracle.Key{Period: lm, Segment: "all", Currency: "EUR"})
		dep := oracle.Dependency(ds, h.Duration(), tz)
		dall := oracle.Collected(dep, func(k oracle.Key) bool { return k.Currency == "EUR" })
		dmon := dep[oracle.Key{Period: lm, Currency: "EUR"}]
		id := func(k, p string) string { return "kpi-" + h.String() + "-EUR-" + k + "-" + p }
		ratio := func(a, b int64) wantTile {
			return wantTile{num: float64(a) / float64(b), text: enPercent(a, b)}
		}
		money := func(n int64) wantTile { return wantTile{raw: strconv.FormatInt(n, 10), text: enMoney(n)} }
		want[id("rate", "month")] = ratio(mon.Collected, mon.Reminded)
		want[id("rate", "all")] = ratio(all.Collected, all.Reminded)
		want[id("share", "month")] = ratio(dmon.After, dmon.Total)
		want[id("share", "all")] = ratio(dall.After, dall.Total)
		want[id("reminded", "month")] = money(mon.Reminded)
		want[id("reminded", "all")] = money(all.Reminded)
		want[id("collected", "month")] = money(mon.Collected)
		want[id("collected", "all")] = money(all.Collected)
	}
	return want
}

// cellOf is m[k], or an empty cell when the oracle has none.
func cellOf(m map[oracle.Key]*oracle.Rate, k oracle.Key) oracle.Rate {
	if r := m[k]; r != nil {
		return *r
	}
	return oracle.Rate{}
}

// checkTiles compares the tiles read from a page with the oracle.
func checkTiles(t *testing.T, got map[string][2]string, want map[string]wantTile) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d KPI tiles on the page, the oracle has %d", len(got), len(want))
	}
	for id, w := range want {
		g, ok := got[id]
		if !ok {
			t.Errorf("%s: not on the page", id)
			continue
		}
		if w.raw != "" {
			if g[0] != w.raw {
				t.Errorf("%s: data-value %s, oracle %s", id, g[0], w.raw)
			}
		} else if f, err := strconv.ParseFloat(g[0], 64); err != nil || f-w.num > 1e-6 || w.num-f > 1e-6 {
			t.Errorf("%s: data-value %q, oracle %.6f", id, g[0], w.num)
		}
		if g[1] != w.text {
			t.Errorf("%s: shows %q, oracle %q", id, g[1], w.text)
		}
	}
}
