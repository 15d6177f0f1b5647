package report

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"html/template"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/relance-io/relance/sinks"
)

//go:embed templates/report.html.tmpl templates/report.css
var templates embed.FS

var page = template.Must(template.New("report.html.tmpl").ParseFS(templates, "templates/report.html.tmpl"))

// Build queries store with the named KPI queries and returns the report as
// one self-contained HTML document (UTF-8). It fails when a query fails or
// returns a column the report does not know; an empty store gives a report
// that says there is no data.
func Build(ctx context.Context, store sinks.Store, opts Options) ([]byte, error) {
	o, _, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	f := fmtr{lang: o.Lang}
	dims := append([]string{"all"}, o.Dimensions...)
	for _, d := range []string{"sender", "plan"} {
		if !contains(dims, d) {
			dims = append(dims, d)
		}
	}
	// An attribute no reminder carries (customer_segment, charted by
	// default, on a book without it) has nothing to chart: left out, as
	// the named queries refuse it.
	if pq, ok := store.(sinks.ParamQuerier); ok {
		kept := dims[:0]
		for _, d := range dims {
			has, err := sinks.HasDimension(ctx, pq, d)
			if err != nil {
				return nil, fmt.Errorf("report: %w", err)
			}
			if has {
				kept = append(kept, d)
			}
		}
		dims = kept
	}
	edges := make([]string, len(o.DPDEdges))
	for i, e := range o.DPDEdges {
		edges[i] = strconv.Itoa(e)
	}
	edgesParam := "[" + strings.Join(edges, ",") + "]"
	hs := make([]string, len(o.Horizons))
	data := make([]*horizonData, len(o.Horizons))
	for i, h := range o.Horizons {
		hs[i] = h.String()
		if data[i], err = fetch(ctx, store, hs[i], o.TimeZone, edgesParam, dims); err != nil {
			return nil, err
		}
	}
	css, err := templates.ReadFile("templates/report.css")
	if err != nil {
		return nil, err
	}
	v := build(f, o, hs, data)
	v.CSS = template.CSS(css)
	var buf bytes.Buffer
	if err := page.Execute(&buf, v); err != nil {
		return nil, fmt.Errorf("report: render: %w", err)
	}
	return buf.Bytes(), nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// view is what the template renders.
type view struct {
	F         fmtr
	Title     string
	Lang      string
	TZ        string
	Generated string
	Horizons  []string
	First     string
	Blocks    []*curBlock
	Footnotes []string
	CSS       template.CSS
	HzCSS     template.CSS
}

// curBlock is the report for one currency (KPIs never add currencies).
type curBlock struct {
	Currency     string
	ShowCurrency bool
	Latest       string // month key
	LatestText   string
	PeriodText   string
	TileRows     []tileRow
	Details      []*hzBlock
}

type tileRow struct {
	H     string
	Tiles []tile
}

// tile is one KPI for one horizon: the latest complete month (big) and the
// whole period (small).
type tile struct {
	Key, Label       string
	Month, All       value
	MonthSub, AllSub string
}

// value is a shown KPI: its element id, exact value (data-value) and text.
type value struct {
	ID, Raw, Text string
}

type hzBlock struct {
	H        string
	Empty    bool
	DepChart template.HTML
	Dep      []depView
	Dims     []*dimBlock
	Rankings []*ranking
	Uplift   []upliftView
	DTP      []dtpView
}

type depView struct {
	Month                                  string
	Total, After, Without, Share, Payments string
	Raw                                    depRow
}

type dimBlock struct {
	Dim, Name, ID string
	Charts        []segChart
	Segments      []string // display names, in column order
	Rows          []mtRow
}

type segChart struct {
	Name, Class, RateText, Counts string
	SVG                           template.HTML
}

type mtRow struct {
	Month   string
	Cells   []mtCell
	Overall mtCell
}

// mtCell is one cell of a month × segment table; the data-* attributes
// carry the exact values.
type mtCell struct {
	Empty                                              bool
	Key, Class                                         string
	Reminded, Collected, Invoices, Reminders, Payments int64
	Rate                                               string // fraction, 6 decimals
	RateText, InvText, AmountText                      string
}

type ranking struct {
	Title string
	Dim   string
	Rows  []rankRow
}

type rankRow struct {
	Rank                              int
	Name, Class                       string
	Rate, Reminded, Collected, Latest string
	Invoices, Reminders, Payments     string
	RawRate                           string
	RawReminded, RawCollected         int64
}

type upliftView struct {
	Level, SentN, SentRate, HoldN, HoldRate, Uplift, Class string
	RawUplift                                              string
}

type dtpView struct{ Month, N, P50, P90 string }

// sums accumulates a rate over months.
type sums struct{ reminded, collected, reminders, invoices, payments int64 }

func (s *sums) add(r rateRow) {
	s.reminded += r.Reminded
	s.collected += r.Collected
	s.reminders += r.Reminders
	s.invoices += r.Invoices
	s.payments += r.Pay
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

func raw(r float64) string {
	if math.IsNaN(r) {
		return ""
	}
	return strconv.FormatFloat(r, 'f', 6, 64)
}

func (f fmtr) pct(r float64) string {
	if math.IsNaN(r) {
		return "—"
	}
	return f.Percent(r)
}

func (f fmtr) pct2(r float64) string {
	if math.IsNaN(r) {
		return "—"
	}
	return f.PercentN(r, 2)
}

// monthRow renders a table's month: marked incomplete after the latest
// complete month (its reminders have not all had their horizon).
func (f fmtr) monthRow(m, latest string) string {
	if latest != "" && m > latest {
		return fmt.Sprintf(f.L("incomplete"), f.Month(m))
	}
	return f.Month(m)
}

// perf classifies a segment's rate against the overall rate of the same
// period: good, average, poor, or small when too few invoices.
func perf(rate, overall float64, invoices int64, o Options) string {
	switch {
	case invoices < int64(o.MinInvoices) || math.IsNaN(rate):
		return "small"
	case math.IsNaN(overall) || overall == 0:
		if rate > 0 {
			return "good"
		}
		return "average"
	case rate >= overall*(1+o.Band):
		return "good"
	case rate <= overall*(1-o.Band):
		return "poor"
	}
	return "average"
}

func build(f fmtr, o Options, hs []string, data []*horizonData) *view {
	v := &view{F: f, Title: o.Title, Lang: o.Lang, TZ: o.TimeZone, Horizons: hs,
		Generated: o.Now.Format("2006-01-02 15:04")}
	if len(hs) > 0 {
		v.First = hs[0]
	}
	var css strings.Builder
	for _, h := range hs {
		fmt.Fprintf(&css, "body[data-h=%q] .hz[data-h=%q]{display:block}\n", h, h)
	}
	v.HzCSS = template.CSS(css.String())
	// Currencies and months, over every horizon and query.
	curSet := map[string]bool{}
	months := map[string][]string{}
	seenM := map[[2]string]bool{}
	note := func(cur, m string) {
		curSet[cur] = true
		if !seenM[[2]string{cur, m}] {
			seenM[[2]string{cur, m}] = true
			months[cur] = append(months[cur], m)
		}
	}
	for _, d := range data {
		for _, r := range d.Rates["all"] {
			note(r.Currency, r.Month)
		}
		for _, r := range d.Dep {
			note(r.Currency, r.Month)
		}
	}
	curs := make([]string, 0, len(curSet))
	for c := range curSet {
		curs = append(curs, c)
	}
	sort.Strings(curs)
	for _, cur := range curs {
		ms := months[cur]
		sort.Strings(ms)
		cb := &curBlock{Currency: cur, ShowCurrency: len(curs) > 1, Latest: LatestCompleteMonth(ms)}
		cb.LatestText = f.MonthLong(cb.Latest)
		cb.PeriodText = f.Month(ms[0]) + " – " + f.Month(ms[len(ms)-1])
		for i, h := range hs {
			cb.TileRows = append(cb.TileRows, tilesFor(f, h, cur, cb.Latest, data[i]))
			cb.Details = append(cb.Details, details(f, o, h, cur, cb.Latest, data[i]))
		}
		v.Blocks = append(v.Blocks, cb)
	}
	v.Footnotes = []string{
		f.L("fn_horizon"), f.L("fn_rate"), f.L("fn_share"), f.L("fn_without"),
		fmt.Sprintf(f.L("fn_colour"), f.Percent(o.Band), f.Percent(o.Band), o.MinInvoices),
		f.L("fn_month"), f.L("fn_holdout"), f.L("fn_dpd"),
	}
	return v
}

func tilesFor(f fmtr, h, cur, latest string, d *horizonData) tileRow {
	var mon, all sums
	for _, r := range d.Rates["all"] {
		if r.Currency != cur {
			continue
		}
		all.add(r)
		if r.Month == latest {
			mon.add(r)
		}
	}
	var depM, depA depRow
	for _, r := range d.Dep {
		if r.Currency != cur {
			continue
		}
		depA.Total += r.Total
		depA.After += r.After
		depA.Payments += r.Payments
		if r.Month == latest {
			depM = r
		}
	}
	id := func(k, p string) string { return "kpi-" + h + "-" + cur + "-" + k + "-" + p }
	// Two decimals in the key figures (41,67 %, as the article writes its
	// rates); one in the tables and charts.
	rv := func(k, p string, r float64) value { return value{ID: id(k, p), Raw: raw(r), Text: f.pct2(r)} }
	mv := func(k, p string, n int64) value {
		return value{ID: id(k, p), Raw: strconv.FormatInt(n, 10), Text: f.Money(n, cur)}
	}
	counts := func(s sums) string {
		return f.Count(s.invoices, "invoices") + " · " + f.Count(s.reminders, "reminders")
	}
	return tileRow{H: h, Tiles: []tile{
		{Key: "rate", Label: f.L("k_rate"),
			Month: rv("rate", "month", ratio(mon.collected, mon.reminded)), All: rv("rate", "all", ratio(all.collected, all.reminded)),
			MonthSub: counts(mon), AllSub: counts(all)},
		{Key: "share", Label: f.L("k_share"),
			Month: rv("share", "month", ratio(depM.After, depM.Total)), All: rv("share", "all", ratio(depA.After, depA.Total)),
			MonthSub: f.L("total") + " " + f.Money(depM.Total, cur), AllSub: f.L("total") + " " + f.Money(depA.Total, cur)},
		{Key: "reminded", Label: f.L("k_reminded"),
			Month: mv("reminded", "month", mon.reminded), All: mv("reminded", "all", all.reminded),
			MonthSub: f.Count(mon.invoices, "invoices"), AllSub: f.Count(all.invoices, "invoices")},
		{Key: "collected", Label: f.L("k_collected"),
			Month: mv("collected", "month", mon.collected), All: mv("collected", "all", all.collected),
			MonthSub: f.Count(mon.payments, "payments"), AllSub: f.Count(all.payments, "payments")},
	}}
}

func details(f fmtr, o Options, h, cur, latest string, d *horizonData) *hzBlock {
	hb := &hzBlock{H: h}
	// Cohort months and the overall rate per month (dimension "all").
	var months []string
	for _, r := range d.Rates["all"] {
		if r.Currency == cur {
			months = append(months, r.Month)
		}
	}
	sort.Strings(months)
	hb.Empty = len(months) == 0

	// Dependency, by payment month.
	dc := chart{Label: f.L("dependency"), Currency: cur}
	firstDep := ""
	for _, r := range d.Dep {
		if r.Currency == cur && (firstDep == "" || r.Month < firstDep) {
			firstDep = r.Month
		}
	}
	for _, r := range d.Dep {
		if r.Currency != cur {
			continue
		}
		share := ratio(r.After, r.Total)
		month := f.monthRow(r.Month, latest)
		if r.Month == firstDep && r.Month != latest {
			// Payments of its first weeks may follow reminders sent before
			// the data starts: counted "without reminder".
			month = fmt.Sprintf(f.L("data_starts"), f.Month(r.Month))
		}
		hb.Dep = append(hb.Dep, depView{Month: month, Total: f.Money(r.Total, cur), After: f.Money(r.After, cur),
			Without: f.Money(r.Without, cur), Share: f.pct(share), Payments: f.Int(r.Payments), Raw: r})
		dc.Months = append(dc.Months, r.Month)
		dc.Bars = append(dc.Bars, []bar{{{r.After, "after"}, {r.Without, "without"}}})
		dc.Rate = append(dc.Rate, share)
		dc.Tips = append(dc.Tips, fmt.Sprintf("%s — %s%s %s · %s%s %s · %s%s %s", f.MonthLong(r.Month),
			f.L("after"), f.L("colon"), f.Money(r.After, cur), f.L("without"), f.L("colon"), f.Money(r.Without, cur), f.L("share"), f.L("colon"), f.pct(share)))
	}
	hb.DepChart = dc.svg(f)

	// Segment dimensions.
	perSeg := func(dim string) (map[string]map[string]rateRow, []string) {
		by := map[string]map[string]rateRow{}
		var segs []string
		for _, r := range d.Rates[dim] {
			if r.Currency != cur {
				continue
			}
			if by[r.Segment] == nil {
				by[r.Segment] = map[string]rateRow{}
				segs = append(segs, r.Segment)
			}
			by[r.Segment][r.Month] = r
		}
		sortSegments(dim, segs)
		return by, segs
	}
	// The reference of a dimension's performance colours is its pooled
	// rate (all its segments together), per month and over the period: an
	// invoice reminded in two segments counts in both, so segment rates are
	// compared with their own weighted average, not with the "all" rate.
	pooled := func(by map[string]map[string]rateRow) (map[string]rateRow, sums) {
		pm := map[string]rateRow{}
		var tot sums
		for _, ms := range by {
			for m, r := range ms {
				p := pm[m]
				p.Month, p.Segment, p.Currency = m, "*", cur
				p.Reminded += r.Reminded
				p.Collected += r.Collected
				p.Reminders += r.Reminders
				p.Invoices += r.Invoices
				p.Pay += r.Pay
				pm[m] = p
				tot.add(r)
			}
		}
		return pm, tot
	}
	// The "All segments" column: each invoice once a month, as in the key
	// figures and dimension "all" (the colours' reference stays pooled).
	allByMonth := map[string]rateRow{}
	for _, r := range d.Rates["all"] {
		if r.Currency == cur {
			allByMonth[r.Month] = r
		}
	}
	for _, dim := range o.Dimensions {
		by, segs := perSeg(dim)
		if len(segs) == 0 {
			continue // an attribute the book does not have
		}
		overall, dimSum := pooled(by)
		overallRate := ratio(dimSum.collected, dimSum.reminded)
		db := &dimBlock{Dim: dim, Name: f.Dim(dim), ID: "dim-" + h + "-" + cur + "-" + dim}
		for _, s := range segs {
			name := f.Segment(dim, s)
			db.Segments = append(db.Segments, name)
			c := chart{Label: name, Currency: cur, Months: months}
			var tot sums
			for _, m := range months {
				r, ok := by[s][m]
				rate := math.NaN()
				cls := "small"
				if ok {
					tot.add(r)
					rate = ratio(r.Collected, r.Reminded)
					cls = perf(rate, ratio(overall[m].Collected, overall[m].Reminded), r.Invoices, o)
				}
				c.Bars = append(c.Bars, []bar{{{r.Reminded, "reminded"}}, {{r.Collected, "collected " + cls}}})
				c.Rate = append(c.Rate, rate)
				c.RateCls = append(c.RateCls, cls)
				c.Tips = append(c.Tips, fmt.Sprintf("%s — %s · %s%s %s · %s%s %s · %s%s %s · %s", name, f.MonthLong(m),
					f.L("reminded"), f.L("colon"), f.Money(r.Reminded, cur), f.L("collected"), f.L("colon"), f.Money(r.Collected, cur),
					f.L("rate"), f.L("colon"), f.pct(rate), f.Count(r.Invoices, "invoices")))
			}
			rate := ratio(tot.collected, tot.reminded)
			db.Charts = append(db.Charts, segChart{Name: name, Class: perf(rate, overallRate, tot.invoices, o), RateText: f.pct(rate),
				Counts: f.Count(tot.invoices, "invoices") + " · " + f.Short(tot.reminded, cur), SVG: c.svg(f)})
		}
		for _, m := range months {
			row := mtRow{Month: f.monthRow(m, latest)}
			ov, ok := overall[m]
			if !ok {
				continue
			}
			ovRate := ratio(ov.Collected, ov.Reminded)
			for _, s := range segs {
				r, ok := by[s][m]
				if !ok {
					row.Cells = append(row.Cells, mtCell{Empty: true, Key: h + "|" + cur + "|" + dim + "|" + m + "|" + s})
					continue
				}
				rate := ratio(r.Collected, r.Reminded)
				row.Cells = append(row.Cells, cellOf(f, h, cur, dim, r, perf(rate, ovRate, r.Invoices, o)))
			}
			row.Overall = cellOf(f, h, cur, dim, allByMonth[m], "overall")
			db.Rows = append(db.Rows, row)
		}
		hb.Dims = append(hb.Dims, db)
	}

	// Rankings by sender and plan over the whole period.
	for _, dim := range []string{"sender", "plan"} {
		by, segs := perSeg(dim)
		_, dimSum := pooled(by)
		overallRate := ratio(dimSum.collected, dimSum.reminded)
		rk := &ranking{Title: fmt.Sprintf(f.L("ranking"), f.Dim(dim)), Dim: dim}
		for _, s := range segs {
			var t sums
			for _, r := range by[s] {
				t.add(r)
			}
			rate := ratio(t.collected, t.reminded)
			lr := by[s][latest]
			lrate := math.NaN()
			if lr.Reminded > 0 {
				lrate = ratio(lr.Collected, lr.Reminded)
			}
			rk.Rows = append(rk.Rows, rankRow{Name: f.Segment(dim, s), Class: perf(rate, overallRate, t.invoices, o),
				Rate: f.pct(rate), Reminded: f.Money(t.reminded, cur), Collected: f.Money(t.collected, cur), Latest: f.pct(lrate),
				Invoices: f.Int(t.invoices), Reminders: f.Int(t.reminders), Payments: f.Int(t.payments),
				RawRate: raw(rate), RawReminded: t.reminded, RawCollected: t.collected})
		}
		sort.SliceStable(rk.Rows, func(i, j int) bool {
			a, b := ratio(rk.Rows[i].RawCollected, rk.Rows[i].RawReminded), ratio(rk.Rows[j].RawCollected, rk.Rows[j].RawReminded)
			if math.IsNaN(a) != math.IsNaN(b) {
				return !math.IsNaN(a)
			}
			return a > b
		})
		for i := range rk.Rows {
			rk.Rows[i].Rank = i + 1
		}
		hb.Rankings = append(hb.Rankings, rk)
	}

	// Holdout uplift by level, whole period.
	type up struct{ sd, sp, sn, hd, hp, hn int64 }
	ups := map[string]*up{}
	var levels []string
	for _, r := range d.Uplift {
		if r.Currency != cur {
			continue
		}
		u := ups[r.Segment]
		if u == nil {
			u = &up{}
			ups[r.Segment] = u
			levels = append(levels, r.Segment)
		}
		u.sd += r.SentDue
		u.sp += r.SentPaid
		u.sn += r.SentN
		u.hd += r.HoldDue
		u.hp += r.HoldPaid
		u.hn += r.HoldN
	}
	sortSegments("level", levels)
	for _, l := range levels {
		u := ups[l]
		sr, hr := ratio(u.sp, u.sd), ratio(u.hp, u.hd)
		uv := upliftView{Level: f.Segment("level", l), SentN: f.Int(u.sn), SentRate: f.pct(sr), HoldN: f.Int(u.hn), HoldRate: f.pct(hr),
			Uplift: "—", Class: "small"}
		if !math.IsNaN(sr) && !math.IsNaN(hr) {
			uv.Uplift, uv.RawUplift = f.Points(sr-hr), raw(sr-hr)
			switch {
			case u.hn < int64(o.MinInvoices):
				uv.Class = "small"
			case sr-hr > 0:
				uv.Class = "good"
			case sr-hr < 0:
				uv.Class = "poor"
			default:
				uv.Class = "average"
			}
		}
		hb.Uplift = append(hb.Uplift, uv)
	}

	// Days to pay, by cohort month.
	for _, r := range d.DTP {
		if r.Currency == cur {
			hb.DTP = append(hb.DTP, dtpView{Month: f.monthRow(r.Month, latest), N: f.Int(r.N), P50: f.Days(r.P50), P90: f.Days(r.P90)})
		}
	}
	return hb
}

func cellOf(f fmtr, h, cur, dim string, r rateRow, cls string) mtCell {
	rate := ratio(r.Collected, r.Reminded)
	return mtCell{Key: h + "|" + cur + "|" + dim + "|" + r.Month + "|" + r.Segment, Class: cls,
		Reminded: r.Reminded, Collected: r.Collected, Invoices: r.Invoices, Reminders: r.Reminders, Payments: r.Pay,
		Rate: raw(rate), RateText: f.pct(rate), InvText: f.Count(r.Invoices, "invoices"), AmountText: f.Short(r.Reminded, cur)}
}
