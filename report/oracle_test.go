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
	"github.com/relance-io/relance/report"
	"github.com/relance-io/relance/schemas"
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

type key struct{ month, segment string }

// amounts is one oracle cell: reminded and collected minor units, counts.
type amounts struct {
	reminded, collected int64
	invoices, reminders int
	total, after        int64
}

func monthOf(t time.Time, tz *time.Location) string { return t.In(tz).Format("2006-01") + "-01" }

func segmentOf(r *schemas.Reminder, dim string) string {
	switch dim {
	case "all":
		return "all"
	case "channel":
		return r.Channel
	case "plan":
		return r.Plan
	case "sender":
		return r.Sender
	case "level":
		return strconv.Itoa(int(r.Level))
	}
	return r.Attributes[dim]
}

// latest returns the candidate reminder credited under last_touch (SPEC §4,
// docs/SEMANTICS.md §2): non-holdout, same invoice, sent_at ≤ paid_at ≤
// sent_at + h; the latest sent_at, then higher level, then greater id.
func latest(rs []*schemas.Reminder, paid time.Time, h time.Duration) *schemas.Reminder {
	var l *schemas.Reminder
	for _, r := range rs {
		if r.Holdout || r.SentAt.After(paid) || paid.Sub(r.SentAt) > h {
			continue
		}
		if l == nil || r.SentAt.After(l.SentAt) ||
			(r.SentAt.Equal(l.SentAt) && (r.Level > l.Level || (r.Level == l.Level && r.ReminderID > l.ReminderID))) {
			l = r
		}
	}
	return l
}

// oracleRates is the post-reminder rate by brute force over the events:
// per (cohort month, segment), each invoice's amount due at its first
// reminder there, and every allocation credited to its last-touch reminder.
func oracleRates(ds *generate.Dataset, h time.Duration, dim string, tz *time.Location) map[key]*amounts {
	out := map[key]*amounts{}
	get := func(k key) *amounts {
		if out[k] == nil {
			out[k] = &amounts{}
		}
		return out[k]
	}
	type ik struct {
		key
		inv string
	}
	first := map[ik]*schemas.Reminder{}
	n := map[ik]int{}
	byInvoice := map[string][]*schemas.Reminder{}
	for i := range ds.Reminders {
		r := &ds.Reminders[i]
		byInvoice[r.InvoiceID] = append(byInvoice[r.InvoiceID], r)
		if r.Holdout {
			continue
		}
		k := ik{key{monthOf(r.SentAt, tz), segmentOf(r, dim)}, r.InvoiceID}
		n[k]++
		if f := first[k]; f == nil || r.SentAt.Before(f.SentAt) || (r.SentAt.Equal(f.SentAt) && r.ReminderID < f.ReminderID) {
			first[k] = r
		}
	}
	for k, r := range first {
		a := get(k.key)
		a.reminded += r.AmountDueMinor
		a.invoices++
		a.reminders += n[k]
	}
	for _, p := range ds.Payments {
		for _, al := range p.Allocations {
			if l := latest(byInvoice[al.InvoiceID], p.PaidAt, h); l != nil {
				get(key{monthOf(l.SentAt, tz), segmentOf(l, dim)}).collected += al.AmountMinor
			}
		}
	}
	return out
}

// oracleDependency is the dependency share by brute force: per payment
// month, every allocation, and those with at least one candidate reminder.
func oracleDependency(ds *generate.Dataset, h time.Duration, tz *time.Location) map[string]*amounts {
	byInvoice := map[string][]*schemas.Reminder{}
	for i := range ds.Reminders {
		byInvoice[ds.Reminders[i].InvoiceID] = append(byInvoice[ds.Reminders[i].InvoiceID], &ds.Reminders[i])
	}
	out := map[string]*amounts{}
	for _, p := range ds.Payments {
		m := monthOf(p.PaidAt, tz)
		if out[m] == nil {
			out[m] = &amounts{}
		}
		for _, al := range p.Allocations {
			out[m].total += al.AmountMinor
			if latest(byInvoice[al.InvoiceID], p.PaidAt, h) != nil {
				out[m].after += al.AmountMinor
			}
		}
	}
	return out
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
		rates := oracleRates(ds, h.Duration(), "all", tz)
		var mon, all amounts
		for k, a := range rates {
			all.reminded += a.reminded
			all.collected += a.collected
			if k.month == lm {
				mon = *a
			}
		}
		dep := oracleDependency(ds, h.Duration(), tz)
		var dall amounts
		for _, a := range dep {
			dall.total += a.total
			dall.after += a.after
		}
		dmon := dep[lm]
		id := func(k, p string) string { return "kpi-" + h.String() + "-EUR-" + k + "-" + p }
		ratio := func(a, b int64) wantTile {
			return wantTile{num: float64(a) / float64(b), text: enPercent(a, b)}
		}
		money := func(n int64) wantTile { return wantTile{raw: strconv.FormatInt(n, 10), text: enMoney(n)} }
		want[id("rate", "month")] = ratio(mon.collected, mon.reminded)
		want[id("rate", "all")] = ratio(all.collected, all.reminded)
		want[id("share", "month")] = ratio(dmon.after, dmon.total)
		want[id("share", "all")] = ratio(dall.after, dall.total)
		want[id("reminded", "month")] = money(mon.reminded)
		want[id("reminded", "all")] = money(all.reminded)
		want[id("collected", "month")] = money(mon.collected)
		want[id("collected", "all")] = money(all.collected)
	}
	return want
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
