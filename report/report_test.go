package report_test

import (
	"context"
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/relance-io/relance/internal/oracle"
	"github.com/relance-io/relance/report"
	"github.com/relance-io/relance/stream"
)

// Rule: on generated events run through the real pipeline into chDB, every
// KPI tile of the report (rate, dependency share, amount reminded,
// collected after reminder; per horizon; latest complete month and whole
// period) and every cell of the month × channel table (with its "All
// segments" column, each invoice once a month) equal a brute-force
// computation over the generated events, both as exact values (data-*)
// and as the text a reader sees.
func TestReport_KPIsEqualOracle(t *testing.T) {
	fx := newFixture(t, "en")
	dir := artifactDir(t)
	if err := os.WriteFile(filepath.Join(dir, "report-en.html"), fx.html, 0o644); err != nil {
		t.Fatal(err)
	}
	checkTiles(t, tileValues(t, fx.html), oracleTiles(fx.ds, stream.DefaultHorizons, fx.tz))

	cellRe := regexp.MustCompile(`<td class="c [a-z]+" data-cell="([^"]+)" data-reminded="(\d+)" data-collected="(\d+)" data-rate="([^"]*)" data-invoices="(\d+)" data-reminders="(\d+)"`)
	compared := 0
	for _, h := range stream.DefaultHorizons {
		want := oracle.Rates(fx.ds, h.Duration(), "channel", fx.tz)
		// The "All segments" column is the month's rate with each invoice
		// once (dimension all, as the key figures), not the channels'
		// figures added up (an invoice reminded by e-mail and SMS would
		// count twice).
		all := oracle.Rates(fx.ds, h.Duration(), "all", fx.tz)
		n := len(want) + len(all)
		for k, a := range all {
			want[k] = a
		}
		seen := 0
		for _, m := range cellRe.FindAllSubmatch(fx.html, -1) {
			parts := strings.Split(string(m[1]), "|") // horizon|currency|dimension|month|segment
			if parts[0] != h.String() || parts[2] != "channel" {
				continue
			}
			seen++
			w := want[oracle.Key{Period: parts[3], Segment: parts[4], Currency: parts[1]}]
			if w == nil {
				t.Errorf("%s: cell %s not in the oracle", h, m[1])
				continue
			}
			got := fmt.Sprintf("reminded %s collected %s invoices %s reminders %s", m[2], m[3], m[5], m[6])
			exp := fmt.Sprintf("reminded %d collected %d invoices %d reminders %d", w.Reminded, w.Collected, w.Invoices, w.Reminders)
			if got != exp {
				t.Errorf("%s cell %s: %s, oracle %s", h, m[1], got, exp)
			}
			rate, err := strconv.ParseFloat(string(m[4]), 64)
			if want := w.Value(); err != nil || math.Abs(rate-want) > 1e-6 {
				t.Errorf("%s cell %s: rate %s, oracle %.6f", h, m[1], m[4], want)
			}
			compared++
		}
		if seen != n {
			t.Errorf("%s: %d month × channel cells, oracle has %d", h, seen, n)
		}
	}
	if compared < 30 {
		t.Fatalf("only %d cells compared: the data set proves too little", compared)
	}
	t.Logf("%d tiles and %d month × channel cells equal the oracle", len(tileValues(t, fx.html)), compared)
}

// Rule: the report is self-contained: no element loads anything (no src,
// href, url(...), @import or srcset pointing anywhere but the page itself),
// and no http(s):// address appears at all; a Content-Security-Policy of
// default-src 'none' forbids any load even if one slipped in.
func TestReport_NoExternalURL(t *testing.T) {
	fx := newFixture(t, "fr")
	html := string(fx.html)
	if err := os.WriteFile(filepath.Join(artifactDir(t), "report-fr.html"), fx.html, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, re := range []*regexp.Regexp{
		regexp.MustCompile(`(?i)https?://`),
		regexp.MustCompile(`(?i)\b(src|srcset|action|poster|data)\s*=`),
		regexp.MustCompile(`(?i)href\s*=\s*"[^#]`),
		regexp.MustCompile(`(?i)url\s*\(`),
		regexp.MustCompile(`(?i)@import`),
		regexp.MustCompile(`(?i)<(link|iframe|object|embed|img|script\s+src)\b`),
	} {
		if loc := re.FindStringIndex(html); loc != nil {
			t.Errorf("external reference %q in the report: …%s…", re, html[max(0, loc[0]-60):min(len(html), loc[1]+60)])
		}
	}
	if !strings.Contains(html, `content="default-src 'none';`) {
		t.Error("no Content-Security-Policy default-src 'none'")
	}
	// French: labels, months and amounts formatted as a French reader expects.
	// Horizons read in days; the first payment month and the months after
	// the latest complete one are marked.
	for _, want := range []string{"Taux d'encaissement post-relance", "Part des encaissements liés à une relance", "mars\u00a02026", "\u00a0€",
		"Horizon 7 jours", "(début des données)", "(incomplet)"} {
		if !strings.Contains(html, want) && !strings.Contains(html, strings.ReplaceAll(want, "'", "&#39;")) {
			t.Errorf("French report lacks %q", want)
		}
	}
	if regexp.MustCompile("\\d\\.\\d\\d\u00a0€").MatchString(html) {
		t.Error("French report has an amount with a decimal point")
	}
}

// Rule: the rankings by sender and by plan (per horizon, whole period) and
// the holdout uplift table by level equal a brute-force computation over
// the generated events: amounts, counts, rates, latest month's rate,
// colours and rank order, as exact values and as the text a reader sees.
func TestReport_RankingsAndUpliftEqualOracle(t *testing.T) {
	fx := newFixture(t, "en")
	ranked, withHoldouts := 0, 0
	for _, h := range stream.DefaultHorizons {
		for _, dim := range []string{"sender", "plan"} {
			ranked += checkRanking(t, fx.html, fx.ds, h, fx.tz, en, dim)
		}
		n := checkUpliftTable(t, fx.html, fx.ds, h, en)
		if n < 3 {
			t.Errorf("%s: only %d levels have both sent and withheld reminders: the data set proves too little", h, n)
		}
		withHoldouts += n
	}
	t.Logf("%d ranking rows and %d uplift levels with a control group equal the oracle", ranked, withHoldouts)
}

// Rule: in French (--lang fr) every KPI tile, ranking and uplift figure
// shows the oracle's numbers as a French reader writes them: "1 234,56 €"
// (narrow no-break space between thousands, decimal comma, no-break space
// before €), "62,5 %" and "+12,3 pts".
func TestReport_FrenchShowsOracleFiguresInFrenchFormat(t *testing.T) {
	fx := newFixture(t, "fr")
	want := oracleTilesIn(fx.ds, stream.DefaultHorizons, fx.tz, fr)
	grouped := 0
	for _, w := range want {
		if w.raw != "" && strings.Contains(w.text, "\u202f") {
			grouped++
		}
	}
	if grouped == 0 {
		t.Fatal("no amount of the oracle reaches a thousand: the digit grouping is not exercised")
	}
	checkTiles(t, tileValues(t, fx.html), want)
	for _, h := range stream.DefaultHorizons {
		for _, dim := range []string{"sender", "plan"} {
			checkRanking(t, fx.html, fx.ds, h, fx.tz, fr, dim)
		}
		checkUpliftTable(t, fx.html, fx.ds, h, fr)
	}
}

// Rule: a book in a currency without a symbol (CHF) is reported in it, in
// both languages: "CHF 1,234.56" (en) and "1 234,56 CHF" (fr), with the
// oracle's numbers, and no euro sign anywhere on the page.
func TestReport_OtherCurrencyShowsItsCode(t *testing.T) {
	fx := newFixtureIn(t, "fr", "CHF")
	for _, x := range []textFmt{{"fr", "CHF"}, {"en", "CHF"}} {
		page := fx.html
		if x.lang != "fr" {
			page = fx.build(t, x.lang)
		}
		if err := os.WriteFile(filepath.Join(artifactDir(t), "report-"+x.lang+"-chf.html"), page, 0o644); err != nil {
			t.Fatal(err)
		}
		checkTiles(t, tileValues(t, page), oracleTilesIn(fx.ds, stream.DefaultHorizons, fx.tz, x))
		for _, h := range stream.DefaultHorizons {
			for _, dim := range []string{"sender", "plan"} {
				checkRanking(t, page, fx.ds, h, fx.tz, x, dim)
			}
			checkUpliftTable(t, page, fx.ds, h, x)
		}
		if i := strings.Index(string(page), "€"); i >= 0 {
			t.Errorf("%s: euro sign in a CHF report: …%s…", x.lang, page[max(0, i-80):min(len(page), i+40)])
		}
	}
}

// Rule: Options.DPDEdges cut the dpd buckets of the report (SPEC §4,
// configurable edges): with edges 0, 15, 45 every month × dpd bucket cell
// equals the brute force's buckets under the same edges ("0-15", "15-45",
// "45+", "preventive"), and none of the default buckets appears.
func TestReport_DPDEdgesCutTheBuckets(t *testing.T) {
	fx := newFixture(t, "en")
	edges := []int{0, 15, 45}
	page, err := report.Build(context.Background(), fx.store, report.Options{Lang: "en", DPDEdges: edges, Dimensions: []string{"dpd_bucket"}, Now: time.Date(2026, 7, 15, 9, 30, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	cellRe := regexp.MustCompile(`data-cell="([^"]+)" data-reminded="(\d+)" data-collected="(\d+)" data-rate="[^"]*" data-invoices="(\d+)"`)
	h := stream.DefaultHorizons[0]
	want := oracle.RatesBy(fx.ds, h.Duration(), oracle.MonthlyWith("dpd_bucket", fx.tz, edges))
	// The "All segments" column: each invoice once a month (dimension all).
	wantAll := oracle.RatesBy(fx.ds, h.Duration(), oracle.MonthlyWith("all", fx.tz, edges))
	buckets := map[string]bool{}
	compared, comparedAll := 0, 0
	for _, m := range cellRe.FindAllSubmatch(page, -1) {
		parts := strings.Split(html.UnescapeString(string(m[1])), "|") // horizon|currency|dimension|month|segment
		if parts[0] != h.String() || parts[2] != "dpd_bucket" {
			continue
		}
		from, n := want, &compared
		if parts[4] == "all" {
			from, n = wantAll, &comparedAll
		} else {
			buckets[parts[4]] = true
		}
		w := from[oracle.Key{Period: parts[3], Segment: parts[4], Currency: parts[1]}]
		if w == nil {
			t.Errorf("cell %s not in the oracle (edges %v)", m[1], edges)
			continue
		}
		got := fmt.Sprintf("reminded %s collected %s invoices %s", m[2], m[3], m[4])
		exp := fmt.Sprintf("reminded %d collected %d invoices %d", w.Reminded, w.Collected, w.Invoices)
		if got != exp {
			t.Errorf("cell %s: %s, oracle %s", m[1], got, exp)
		}
		*n++
	}
	if compared != len(want) {
		t.Errorf("%d month × dpd bucket cells, oracle has %d", compared, len(want))
	}
	if comparedAll != len(wantAll) {
		t.Errorf("%d \"All segments\" cells, oracle has %d months", comparedAll, len(wantAll))
	}
	for _, b := range []string{"preventive", "0-15", "15-45", "45+"} {
		if !buckets[b] {
			t.Errorf("bucket %q missing from the report (got %v)", b, buckets)
		}
	}
	for _, b := range []string{"0-30", "30-60", "60-90", "90+"} {
		if buckets[b] {
			t.Errorf("default bucket %q shown although the edges are %v", b, edges)
		}
	}
	t.Logf("%d month × dpd bucket cells under edges %v equal the oracle", compared, edges)
}
