package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/relance-io/relance/schemas"
)

// Typographic spaces: French groups digits with a narrow no-break space and
// puts a no-break space before the currency symbol and the percent sign.
const (
	nnbsp = "\u202f"
	nbsp  = "\u00a0"
)

// fmtr formats numbers, amounts, percentages and months for one language.
type fmtr struct{ lang string }

// symbols are the currencies shown with a symbol; others show their code.
var symbols = map[string]string{"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥"}

// group inserts the thousands separator of the language into digits.
func (f fmtr) group(digits string) string {
	sep := ","
	if f.lang == "fr" {
		sep = nnbsp
	}
	var b strings.Builder
	for i, ch := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteString(sep)
		}
		b.WriteRune(ch)
	}
	return b.String()
}

// withCurrency places the currency: "1 234,56 €" (fr), "€1,234.56" (en),
// "CHF 1,234.56" (en, no symbol).
func (f fmtr) withCurrency(num string, neg bool, currency string) string {
	sign := ""
	if neg {
		sign = "-"
	}
	sym, ok := symbols[currency]
	if f.lang == "fr" {
		if !ok {
			sym = currency
		}
		return sign + num + nbsp + sym
	}
	if !ok {
		return sign + currency + nbsp + num
	}
	return sign + sym + num
}

// Money renders an exact amount in minor units: 123456 EUR → "1 234,56 €"
// (fr) or "€1,234.56" (en).
func (f fmtr) Money(minor int64, currency string) string {
	neg := minor < 0
	u := uint64(minor)
	if neg {
		u = uint64(-minor)
	}
	d := schemas.MinorDigits(currency)
	scale := uint64(math.Pow10(d))
	num := f.group(strconv.FormatUint(u/scale, 10))
	if d > 0 {
		dec := "."
		if f.lang == "fr" {
			dec = ","
		}
		frac := strconv.FormatUint(u%scale, 10)
		num += dec + strings.Repeat("0", d-len(frac)) + frac
	}
	return f.withCurrency(num, neg, currency)
}

// Short renders an amount rounded for a chart axis: "120 k€", "1,2 M€"
// (fr); "€120k", "€1.2M" (en).
func (f fmtr) Short(minor int64, currency string) string {
	v := float64(minor) / math.Pow10(schemas.MinorDigits(currency))
	neg := v < 0
	v = math.Abs(v)
	var num, unit string
	switch {
	case v >= 1e6:
		num, unit = f.decimal(v/1e6, 1), "M"
	case v >= 1e3:
		num, unit = f.decimal(v/1e3, 0), "k"
	default:
		num = f.decimal(v, 0)
	}
	num = strings.TrimSuffix(strings.TrimSuffix(num, ",0"), ".0")
	if f.lang == "fr" {
		sym, ok := symbols[currency]
		if !ok {
			sym = currency
		}
		if neg {
			num = "-" + num
		}
		return num + nbsp + unit + sym
	}
	return f.withCurrency(num+unit, neg, currency)
}

// decimal renders v with n decimals and the language's decimal mark, with
// grouped thousands.
func (f fmtr) decimal(v float64, n int) string {
	s := strconv.FormatFloat(v, 'f', n, 64)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	ip, fp, _ := strings.Cut(s, ".")
	out := f.group(ip)
	if fp != "" {
		if f.lang == "fr" {
			out += "," + fp
		} else {
			out += "." + fp
		}
	}
	if neg {
		out = "-" + out
	}
	return out
}

// Percent renders a fraction with one decimal: 0.625 → "62,5 %" (fr),
// "62.5%" (en).
func (f fmtr) Percent(ratio float64) string { return f.PercentN(ratio, 1) }

// PercentN renders a fraction with n decimals: 0.41667 → "41,67 %" (fr,
// n = 2).
func (f fmtr) PercentN(ratio float64, n int) string {
	s := f.decimal(100*ratio, n)
	if f.lang == "fr" {
		return s + nnbsp + "%"
	}
	return s + "%"
}

// Points renders a difference of two rates in percentage points, signed:
// 0.123 → "+12,3 pts".
func (f fmtr) Points(diff float64) string {
	s := f.decimal(100*diff, 1)
	if !strings.HasPrefix(s, "-") {
		s = "+" + s
	}
	return s + nbsp + "pts"
}

// Int renders a count with grouped thousands.
func (f fmtr) Int(n int64) string {
	if n < 0 {
		return "-" + f.group(strconv.FormatInt(-n, 10))
	}
	return f.group(strconv.FormatInt(n, 10))
}

// Days renders a number of days with one decimal: "3,5 j" (fr), "3.5 d" (en).
func (f fmtr) Days(d float64) string {
	unit := "d"
	if f.lang == "fr" {
		unit = "j"
	}
	return f.decimal(d, 1) + nbsp + unit
}

var monthNames = map[string][12]string{
	"fr": {"janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."},
	"en": {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"},
}

var monthNamesLong = map[string][12]string{
	"fr": {"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"},
	"en": {"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
}

// Month renders a month key ("2026-03-01", as the queries return it) short:
// "mars 2026" (fr), "Mar 2026" (en). An unparsable key is returned as is.
func (f fmtr) Month(key string) string {
	t, err := time.Parse("2006-01-02", key)
	if err != nil {
		return key
	}
	return monthNames[f.lang][t.Month()-1] + nbsp + strconv.Itoa(t.Year())
}

// MonthLong renders a month key in full: "septembre 2026", "September 2026".
func (f fmtr) MonthLong(key string) string {
	t, err := time.Parse("2006-01-02", key)
	if err != nil {
		return key
	}
	return monthNamesLong[f.lang][t.Month()-1] + " " + strconv.Itoa(t.Year())
}

// MonthAxis renders a month key for a chart axis: "mars" / "Mar", with the
// year ("janv. ’26", "Jan '26") on January and on the first month shown —
// unless that is December, whose neighbour January carries it (two years
// side by side overlap).
func (f fmtr) MonthAxis(key string, first bool) string {
	t, err := time.Parse("2006-01-02", key)
	if err != nil {
		return key
	}
	s := monthNames[f.lang][t.Month()-1]
	if t.Month() == time.January || (first && t.Month() != time.December) {
		yy := fmt.Sprintf("%02d", t.Year()%100)
		if f.lang == "fr" {
			return s + nbsp + "’" + yy
		}
		return s + " '" + yy
	}
	return s
}
