package report

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strings"
)

// bar is one bar of a chart, stacked from the bottom.
type bar []barPart

// barPart is one stacked part of a bar; Class picks its colour in the CSS.
type barPart struct {
	V     int64
	Class string
}

// chart is a monthly bar chart with an optional rate line on a right axis
// (0–100 %, more when a rate exceeds 1). It is drawn server-side as inline
// SVG; each month's <title> gives the exact figures on hover.
type chart struct {
	Label    string    // aria-label
	Months   []string  // month keys
	Bars     [][]bar   // per month, bars side by side
	Rate     []float64 // per month; NaN for none
	RateCls  []string  // per month, the class of the rate dot
	Tips     []string  // per month, the tooltip text
	Currency string
}

const (
	cw, ch                 = 460.0, 230.0
	padL, padR, padT, padB = 52.0, 40.0, 12.0, 30.0
)

// niceCeil returns the top of an axis of four equal steps that holds v,
// each step a round number (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a
// power of ten), so that every tick reads exactly: 250 k, 500 k, 750 k, 1 M.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	step := v / 4
	p := math.Pow(10, math.Floor(math.Log10(step)))
	for _, m := range []float64{1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10} {
		if step <= m*p*(1+1e-9) {
			return 4 * m * p
		}
	}
	return 40 * p
}

// percentTick renders a rate axis tick: no decimal when it is a whole
// percent ("25 %", "100%"), else one.
func (f fmtr) percentTick(r float64) string {
	if p := 100 * r; math.Abs(p-math.Round(p)) < 1e-9 {
		return f.PercentN(r, 0)
	}
	return f.Percent(r)
}

// svg renders c with the formats of f.
func (c chart) svg(f fmtr) template.HTML {
	var b strings.Builder
	pw, ph := cw-padL-padR, ch-padT-padB
	var vmax float64
	for _, bars := range c.Bars {
		for _, br := range bars {
			var s int64
			for _, p := range br {
				s += p.V
			}
			vmax = math.Max(vmax, float64(s))
		}
	}
	vmax = niceCeil(vmax)
	rmax := 1.0
	for _, r := range c.Rate {
		if !math.IsNaN(r) && r > rmax {
			rmax = niceCeil(r)
		}
	}
	y := func(v float64) float64 { return padT + ph - ph*v/vmax }
	yr := func(r float64) float64 { return padT + ph - ph*r/rmax }
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s">`, cw, ch, html.EscapeString(c.Label))
	// Grid and axes.
	for i := 0; i <= 4; i++ {
		v := vmax * float64(i) / 4
		yy := y(v)
		fmt.Fprintf(&b, `<line class="grid" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`, padL, cw-padR, yy, yy)
		fmt.Fprintf(&b, `<text class="ax" x="%.1f" y="%.1f" text-anchor="end">%s</text>`, padL-4, yy+3.5, html.EscapeString(f.Short(int64(v), c.Currency)))
		if c.Rate != nil {
			fmt.Fprintf(&b, `<text class="ax" x="%.1f" y="%.1f">%s</text>`, cw-padR+4, yr(rmax*float64(i)/4)+3.5, html.EscapeString(f.percentTick(rmax*float64(i)/4)))
		}
	}
	n := len(c.Months)
	if n == 0 {
		b.WriteString(`</svg>`)
		return template.HTML(b.String())
	}
	gw := pw / float64(n)
	every := 1
	if n > 12 {
		every = (n + 11) / 12
	}
	var line []string
	for i, m := range c.Months {
		x0 := padL + gw*float64(i)
		fmt.Fprintf(&b, `<g class="m"><title>%s</title>`, html.EscapeString(c.Tips[i]))
		fmt.Fprintf(&b, `<rect class="hover" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, x0, padT, gw, ph)
		bars := c.Bars[i]
		if len(bars) > 0 {
			inner := gw * 0.76
			bw := inner / float64(len(bars))
			for j, br := range bars {
				x := x0 + (gw-inner)/2 + bw*float64(j)
				var acc int64
				for _, p := range br {
					if p.V <= 0 {
						continue
					}
					top, bot := y(float64(acc+p.V)), y(float64(acc))
					fmt.Fprintf(&b, `<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, p.Class, x+0.5, top, bw-1, bot-top)
					acc += p.V
				}
			}
		}
		b.WriteString(`</g>`)
		if i%every == 0 {
			fmt.Fprintf(&b, `<text class="ax" x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, x0+gw/2, ch-padB+14, html.EscapeString(f.MonthAxis(m, i == 0)))
		}
		if c.Rate != nil && !math.IsNaN(c.Rate[i]) {
			line = append(line, fmt.Sprintf("%.1f,%.1f", x0+gw/2, yr(c.Rate[i])))
		}
	}
	if len(line) > 1 {
		fmt.Fprintf(&b, `<polyline class="rate" points="%s"/>`, strings.Join(line, " "))
	}
	if c.Rate != nil {
		for i := range c.Months {
			if math.IsNaN(c.Rate[i]) {
				continue
			}
			cls := "dot"
			if c.RateCls != nil {
				cls += " " + c.RateCls[i]
			}
			fmt.Fprintf(&b, `<circle class="%s" cx="%.1f" cy="%.1f" r="3.6"><title>%s</title></circle>`, cls, padL+gw*float64(i)+gw/2, yr(c.Rate[i]), html.EscapeString(c.Tips[i]))
		}
	}
	fmt.Fprintf(&b, `<line class="axis" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`, padL, cw-padR, padT+ph, padT+ph)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
