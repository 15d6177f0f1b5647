package report_test

import (
	"context"
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/relance-io/relance/demo"
	"github.com/relance-io/relance/generate"
	"github.com/relance-io/relance/internal/oracle"
	"github.com/relance-io/relance/report"
	"github.com/relance-io/relance/schemas"
	"github.com/relance-io/relance/sinks"
	"github.com/relance-io/relance/sinks/chdb/chdbtest"
	"github.com/relance-io/relance/stream"
)

// fixture is a report built from generated data run through the real
// pipeline into chDB, with the data set it came from.
type fixture struct {
	ds    *generate.Dataset
	html  []byte
	tz    *time.Location
	opts  report.Options
	store sinks.Store
}

// newFixture generates a small book in euros, runs it through the embedded
// pipeline (kfake → ingest → chDB) and builds the report in lang.
func newFixture(t *testing.T, lang string) *fixture {
	return newFixtureIn(t, lang, "EUR")
}

// newFixtureIn is newFixture for a book in currency.
func newFixtureIn(t *testing.T, lang, currency string) *fixture {
	t.Helper()
	ctx := context.Background()
	store := chdbtest.NewStore(t)
	p := generate.DefaultParams()
	p.Customers, p.Months, p.Seed, p.Currency = 150, 6, 11, currency
	p.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sum, err := demo.Run(ctx, store, demo.Options{Params: p, Dir: t.TempDir(), Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	tz, _ := time.LoadLocation("Europe/Paris")
	fx := &fixture{ds: sum.Dataset, tz: tz, store: store}
	fx.html = fx.build(t, lang)
	return fx
}

// build renders the fixture's store as a report in lang.
func (fx *fixture) build(t *testing.T, lang string) []byte {
	t.Helper()
	fx.opts = report.Options{Lang: lang, Now: time.Date(2026, 7, 15, 9, 30, 0, 0, time.UTC)}
	html, err := report.Build(context.Background(), fx.store, fx.opts)
	if err != nil {
		t.Fatal(err)
	}
	return html
}

// artifactDir is $RELANCE_ARTIFACTS/report, or else .artifacts/report at
// the root of the module (git-ignored), created: the pages and
// screenshots outlive the test run for a human look, wherever the test was
// started from (make sets RELANCE_ARTIFACTS to the same place).
func artifactDir(t *testing.T) string {
	t.Helper()
	root := os.Getenv("RELANCE_ARTIFACTS")
	if root == "" {
		// go test runs in the package directory: the module root is the
		// nearest parent with a go.mod.
		dir, err := filepath.Abs(".")
		if err != nil {
			t.Fatal(err)
		}
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				break
			}
			if filepath.Dir(dir) == dir {
				t.Fatal("RELANCE_ARTIFACTS is unset and no go.mod above the test's directory")
			}
			dir = filepath.Dir(dir)
		}
		root = filepath.Join(dir, ".artifacts")
	}
	d := filepath.Join(root, "report")
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("artifacts: %s", d)
	return d
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

// textFmt is the test's own rendering of figures, written from the
// formats the report documents (Options.Lang): "€1,234.56", "62.5%",
// "+12.3 pts" in English; "1 234,56 €", "62,5 %", "+12,3 pts" in French
// (narrow no-break space between digit groups and before %, no-break space
// before the currency and "pts"). A currency without a symbol shows its
// code: "CHF 1,234.56", "1 234,56 CHF".
type textFmt struct{ lang, currency string }

var (
	en = textFmt{"en", "EUR"}
	fr = textFmt{"fr", "EUR"}
)

func (x textFmt) count(n int64) string {
	sep := ","
	if x.lang == "fr" {
		sep = "\u202f"
	}
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString(sep)
		}
		b.WriteRune(c)
	}
	return b.String()
}

// decimal swaps the decimal point of s for the language's mark.
func (x textFmt) decimal(s string) string {
	if x.lang == "fr" {
		return strings.Replace(s, ".", ",", 1)
	}
	return s
}

func (x textFmt) money(minor int64) string {
	num := x.count(minor/100) + x.decimal("."+strconv.FormatInt(100+minor%100, 10)[1:])
	sym := map[string]string{"EUR": "€", "CHF": ""}[x.currency]
	switch {
	case x.lang == "fr" && sym != "":
		return num + "\u00a0" + sym
	case x.lang == "fr":
		return num + "\u00a0" + x.currency
	case sym != "":
		return sym + num
	}
	return x.currency + "\u00a0" + num
}

// percent is a/b with one decimal, "—" when b is 0.
func (x textFmt) percent(a, b int64) string { return x.percentN(a, b, 1) }

// percentN is a/b with n decimals (the key figures have two).
func (x textFmt) percentN(a, b int64, n int) string {
	if b == 0 {
		return "—"
	}
	s := x.decimal(strconv.FormatFloat(100*float64(a)/float64(b), 'f', n, 64))
	if x.lang == "fr" {
		return s + "\u202f%"
	}
	return s + "%"
}

// points is a difference of rates in signed percentage points.
func (x textFmt) points(diff float64) string {
	s := strconv.FormatFloat(100*diff, 'f', 1, 64)
	if !strings.HasPrefix(s, "-") {
		s = "+" + s
	}
	return x.decimal(s) + "\u00a0pts"
}

// level names a reminder level as the report's reader sees it.
func (x textFmt) level(l string) string {
	if x.lang == "fr" {
		if l == "0" {
			return "Préventive"
		}
		return "Niveau " + l
	}
	if l == "0" {
		return "Preventive"
	}
	return "Level " + l
}

// wantTile is one tile value the oracle expects: exact value and text.
type wantTile struct {
	raw  string  // minor units, or "" for a ratio
	num  float64 // the ratio
	text string
}

// oracleTiles computes every tile of the report (per horizon, latest
// complete month and whole period) from the events of a book in euros, as
// the English report shows them.
func oracleTiles(ds *generate.Dataset, hs []stream.Horizon, tz *time.Location) map[string]wantTile {
	return oracleTilesIn(ds, hs, tz, en)
}

// oracleTilesIn is oracleTiles for x's language and currency.
func oracleTilesIn(ds *generate.Dataset, hs []stream.Horizon, tz *time.Location, x textFmt) map[string]wantTile {
	want := map[string]wantTile{}
	lm := oracleLatestMonth(ds, tz)
	cur := x.currency
	for _, h := range hs {
		rates := oracle.Rates(ds, h.Duration(), "all", tz)
		all := cellOf(oracle.Pool(rates, func(k oracle.Key) oracle.Key { return oracle.Key{Currency: k.Currency} }), oracle.Key{Currency: cur})
		mon := cellOf(rates, oracle.Key{Period: lm, Segment: "all", Currency: cur})
		dep := oracle.Dependency(ds, h.Duration(), tz)
		dall := oracle.Collected(dep, func(k oracle.Key) bool { return k.Currency == cur })
		var dmon oracle.Collection
		if c := dep[oracle.Key{Period: lm, Currency: cur}]; c != nil {
			dmon = *c
		}
		id := func(k, p string) string { return "kpi-" + h.String() + "-" + cur + "-" + k + "-" + p }
		ratio := func(a, b int64) wantTile {
			return wantTile{num: float64(a) / float64(b), text: x.percentN(a, b, 2)}
		}
		money := func(n int64) wantTile { return wantTile{raw: strconv.FormatInt(n, 10), text: x.money(n)} }
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

// tableOf returns the HTML of the table with the given id, failing the
// test when the page has none.
func tableOf(t *testing.T, page []byte, id string) string {
	t.Helper()
	s := string(page)
	i := strings.Index(s, `id="`+id+`"`)
	if i < 0 {
		t.Fatalf("no table %s on the page", id)
	}
	j := strings.Index(s[i:], "</table>")
	if j < 0 {
		t.Fatalf("table %s is not closed", id)
	}
	return s[i : i+j]
}

var rankRowRe = regexp.MustCompile(`<tr data-rate="([^"]*)" data-reminded="(-?\d+)" data-collected="(-?\d+)"><td>(\d+)</td><td[^>]*>([^<]*)</td><td class="([a-z]+)">([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td></tr>`)

// checkRanking compares the ranking table of dim at horizon h with the
// oracle: per segment value, the whole period's cells added up (amounts,
// invoices, reminders, payments), its rate, the latest complete month's
// rate, the performance colour against the dimension's pooled rate
// (Options.Band 10 %, Options.MinInvoices 5) and the rank by rate, highest
// first. It returns the number of rows compared.
func checkRanking(t *testing.T, page []byte, ds *generate.Dataset, h stream.Horizon, tz *time.Location, x textFmt, dim string) int {
	t.Helper()
	cells := oracle.Rates(ds, h.Duration(), dim, tz)
	lm := oracleLatestMonth(ds, tz)
	want := map[string]*oracle.Rate{}
	for k, r := range oracle.Pool(cells, func(k oracle.Key) oracle.Key { return oracle.Key{Segment: k.Segment, Currency: k.Currency} }) {
		if k.Currency == x.currency {
			want[k.Segment] = r
		}
	}
	var pooled oracle.Rate
	for _, r := range want {
		pooled.Reminded += r.Reminded
		pooled.Collected += r.Collected
	}
	overall := pooled.Value()

	rows := rankRowRe.FindAllStringSubmatch(tableOf(t, page, "rank-"+h.String()+"-"+x.currency+"-"+dim), -1)
	if len(rows) != len(want) || len(rows) < 2 {
		t.Errorf("%s ranking by %s: %d rows, oracle has %d segment values (at least 2 to rank)", h, dim, len(rows), len(want))
	}
	seen := map[string]bool{}
	for _, m := range rows {
		m = unescapeAll(m)
		name := m[5]
		w := want[name]
		what := fmt.Sprintf("%s ranking by %s, %q", h, dim, name)
		if w == nil || seen[name] {
			t.Errorf("%s: not in the oracle, or twice", what)
			continue
		}
		seen[name] = true
		got := fmt.Sprintf("reminded %s collected %s | %s %s %s %s %s %s %s", m[2], m[3], m[7], m[8], m[9], m[10], m[11], m[12], m[13])
		latest := "—"
		if l := cells[oracle.Key{Period: lm, Segment: name, Currency: x.currency}]; l != nil && l.Reminded > 0 {
			latest = x.percent(l.Collected, l.Reminded)
		}
		exp := fmt.Sprintf("reminded %d collected %d | %s %s %s %s %s %s %s", w.Reminded, w.Collected,
			x.percent(w.Collected, w.Reminded), x.money(w.Reminded), x.money(w.Collected),
			x.count(int64(w.Invoices)), x.count(int64(w.Reminders)), x.count(int64(len(w.Payments))), latest)
		if got != exp {
			t.Errorf("%s:\n shows  %s\n oracle %s", what, got, exp)
		}
		if r, err := strconv.ParseFloat(m[1], 64); err != nil || math.Abs(r-w.Value()) > 1e-6 {
			t.Errorf("%s: data-rate %q, oracle %.6f", what, m[1], w.Value())
		}
		// Rank: one more than the number of values with a strictly higher
		// rate; values with the same rate may come in any order.
		higher, same := 0, 0
		for s, o := range want {
			switch {
			case s == name:
			case o.Value() > w.Value():
				higher++
			case o.Value() == w.Value():
				same++
			}
		}
		if rank, _ := strconv.Atoi(m[4]); rank < higher+1 || rank > higher+1+same {
			t.Errorf("%s: rank %d, oracle %d (rate %.4f)", what, rank, higher+1, w.Value())
		}
		class := "average"
		switch rate := w.Value(); {
		case w.Invoices < 5:
			class = "small"
		case rate >= overall*1.1:
			class = "good"
		case rate <= overall*0.9:
			class = "poor"
		}
		if m[6] != class {
			t.Errorf("%s: colour %s, oracle %s (rate %.4f, pooled %.4f)", what, m[6], class, w.Value(), overall)
		}
	}
	return len(rows)
}

var upliftRowRe = regexp.MustCompile(`<tr data-uplift="([^"]*)"><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td><td class="([a-z]+)">([^<]*)</td></tr>`)

// checkUpliftTable compares the holdout table at horizon h with a brute
// force over the events (SPEC §3): per level over the whole period, each
// reminder's amount due and the allocations on its invoice paid within
// [sent_at, sent_at+h], capped at that amount, added up separately for
// sent and withheld reminders; uplift = sent rate − withheld rate, levels
// in ascending order. It returns the number of levels with both groups.
func checkUpliftTable(t *testing.T, page []byte, ds *generate.Dataset, h stream.Horizon, x textFmt) int {
	t.Helper()
	want := map[string]*oracle.Control{}
	var levels []string
	byLevel := func(r *schemas.Reminder) (string, string, bool) { return "", strconv.Itoa(int(r.Level)), true }
	for k, c := range oracle.Uplift(ds, h.Duration(), byLevel) {
		if k.Currency == x.currency {
			want[k.Segment] = c
			levels = append(levels, k.Segment)
		}
	}
	sort.Slice(levels, func(i, j int) bool { a, _ := strconv.Atoi(levels[i]); b, _ := strconv.Atoi(levels[j]); return a < b })

	rows := upliftRowRe.FindAllStringSubmatch(tableOf(t, page, "uplift-"+h.String()+"-"+x.currency), -1)
	if len(rows) != len(levels) {
		t.Fatalf("%s uplift: %d rows, oracle has %d levels", h, len(rows), len(levels))
	}
	both := 0
	for i, m := range rows {
		m = unescapeAll(m)
		w := want[levels[i]]
		text, class := "—", "small"
		d := math.NaN()
		if w.Due[0] > 0 && w.Due[1] > 0 {
			both++
			d = float64(w.Paid[0])/float64(w.Due[0]) - float64(w.Paid[1])/float64(w.Due[1])
			text = x.points(d)
			switch {
			case w.N[1] < 5:
			case d > 0:
				class = "good"
			case d < 0:
				class = "poor"
			default:
				class = "average"
			}
		}
		if g, err := strconv.ParseFloat(m[1], 64); math.IsNaN(d) && m[1] != "" || !math.IsNaN(d) && (err != nil || math.Abs(g-d) > 2e-6) {
			t.Errorf("%s uplift level %s: data-uplift %q, oracle %.6f", h, levels[i], m[1], d)
		}
		got := strings.Join(m[2:], " | ")
		exp := strings.Join([]string{x.level(levels[i]), x.count(int64(w.N[0])), x.percent(w.Paid[0], w.Due[0]),
			x.count(int64(w.N[1])), x.percent(w.Paid[1], w.Due[1]), class, text}, " | ")
		if got != exp {
			t.Errorf("%s uplift row %d:\n shows  %s\n oracle %s", h, i+1, got, exp)
		}
	}
	return both
}

// unescapeAll turns matched HTML text into what a reader sees ("&#43;" is
// "+").
func unescapeAll(m []string) []string {
	out := make([]string, len(m))
	for i, s := range m {
		out[i] = html.UnescapeString(s)
	}
	return out
}
