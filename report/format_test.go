package report

import (
	"math"
	"sort"
	"testing"
)

// Rule: amounts are exact, grouped by thousands and carry their currency the
// way a reader of the language writes them: "1 234,56 €" in French (narrow
// no-break spaces between groups, a no-break space before the symbol),
// "€1,234.56" in English.
func TestFormat_Money(t *testing.T) {
	f := func(lang string, minor int64, cur, want string) {
		t.Helper()
		if got := (fmtr{lang}).Money(minor, cur); got != want {
			t.Errorf("%s Money(%d, %s) = %q, want %q", lang, minor, cur, got, want)
		}
	}
	f("fr", 123456, "EUR", "1\u202f234,56\u00a0€")
	f("en", 123456, "EUR", "€1,234.56")
	f("fr", 5, "EUR", "0,05\u00a0€")
	f("en", 5, "EUR", "€0.05")
	f("fr", 8_000_000, "EUR", "80\u202f000,00\u00a0€")
	f("en", 123456789012, "EUR", "€1,234,567,890.12")
	f("en", -123456, "EUR", "-€1,234.56")
	f("fr", -123456, "EUR", "-1\u202f234,56\u00a0€")
	f("en", 123456, "USD", "$1,234.56")
	f("en", 123456, "CHF", "CHF\u00a01,234.56")
	f("fr", 123456, "CHF", "1\u202f234,56\u00a0CHF")
	f("fr", 1234, "JPY", "1\u202f234\u00a0¥")
}

// Rule: rates are shown as percentages with one decimal (SPEC §4's worked
// examples: 62,5 % and 41,7 %), points for uplifts; months are localized.
func TestFormat_PercentAndMonths(t *testing.T) {
	f := func(got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	fr, en := fmtr{"fr"}, fmtr{"en"}
	f(fr.Percent(0.625), "62,5\u202f%")
	f(en.Percent(0.625), "62.5%")
	f(fr.Percent(50000.0/120000), "41,7\u202f%")
	f(fr.pct(math.NaN()), "—")
	f(en.Points(0.1234), "+12.3\u00a0pts")
	f(fr.Points(-0.05), "-5,0\u00a0pts")
	f(fr.Month("2026-10-01"), "oct.\u00a02026")
	f(en.Month("2026-10-01"), "Oct\u00a02026")
	f(fr.MonthLong("2025-08-01"), "août 2025")
	f(en.MonthLong("2025-08-01"), "August 2025")
	f(fr.Short(12_000_000, "EUR"), "120\u00a0k€")
	f(en.Short(123_000_000, "EUR"), "€1.2M")
	f(fr.Days(3.456), "3,5\u00a0j")
	f(fr.Segment("dpd_bucket", "30-60"), "30–60 jours")
	f(en.Segment("level", "2"), "Level 2")
	f(fr.Segment("customer_segment", ""), "(non renseigné)")
}

// Rule: every label exists in both languages, so a French report never
// shows an English word or a raw key (and vice versa).
func TestLabels_BothLanguages(t *testing.T) {
	for a, b := range map[string]string{"fr": "en", "en": "fr"} {
		var missing []string
		for k := range labels[a] {
			if _, ok := labels[b][k]; !ok {
				missing = append(missing, k)
			}
		}
		sort.Strings(missing)
		if len(missing) > 0 {
			t.Errorf("labels in %s but not in %s: %v", a, b, missing)
		}
	}
}

// Rule: the latest complete month is the month before the last month with
// data (the last one is still filling up); with one month only, that month.
func TestLatestCompleteMonth(t *testing.T) {
	f := func(months []string, want string) {
		t.Helper()
		if got := LatestCompleteMonth(months); got != want {
			t.Errorf("LatestCompleteMonth(%v) = %q, want %q", months, got, want)
		}
	}
	f(nil, "")
	f([]string{"2026-03-01"}, "2026-03-01")
	f([]string{"2026-01-01", "2026-03-01", "2026-02-01"}, "2026-02-01")
	f([]string{"2025-12-01", "2026-01-01"}, "2025-12-01")
	f([]string{"2025-10-01", "2026-01-01"}, "2025-12-01")
}

// Rule: segment values read in their natural order: levels by number, dpd
// buckets by lower edge with "preventive" first, names alphabetically.
func TestSortSegments(t *testing.T) {
	f := func(dim string, in []string, want string) {
		t.Helper()
		sortSegments(dim, in)
		if got := fmtList(in); got != want {
			t.Errorf("%s: %s, want %s", dim, got, want)
		}
	}
	f("level", []string{"10", "2", "0", "1"}, "0,1,2,10")
	f("dpd_bucket", []string{"90+", "0-30", "preventive", "60-90", "30-60"}, "preventive,0-30,30-60,60-90,90+")
	f("sender", []string{"Léa", "", "Camille"}, "Camille,Léa,")
}

func fmtList(xs []string) string {
	s := ""
	for i, x := range xs {
		if i > 0 {
			s += ","
		}
		s += x
	}
	return s
}

// Rule: counts agree with their number: one invoice, two invoices; in
// French zero and one take the singular.
func TestFormat_Count(t *testing.T) {
	for _, c := range []struct {
		lang string
		n    int64
		want string
	}{
		{"en", 0, "0 invoices"}, {"en", 1, "1 invoice"}, {"en", 2, "2 invoices"},
		{"fr", 0, "0 facture"}, {"fr", 1, "1 facture"}, {"fr", 2, "2 factures"},
	} {
		if got := (fmtr{lang: c.lang}).Count(c.n, "invoices"); got != c.want {
			t.Errorf("%s Count(%d) = %q, want %q", c.lang, c.n, got, c.want)
		}
	}
	if got := (fmtr{lang: "en"}).Count(1, "payments"); got != "1 payment" {
		t.Errorf("Count(1, payments) = %q", got)
	}
}

// Rule: horizons read as days ("7 jours", "1 day"), other labels stay as
// stored; the key figures' two decimals give the article's 41,67 %.
func TestFormat_HorizonsAndTwoDecimals(t *testing.T) {
	fr, en := fmtr{lang: "fr"}, fmtr{lang: "en"}
	for _, c := range []struct{ got, want string }{
		{fr.HorizonText("7d"), "7 jours"}, {en.HorizonText("30d"), "30 days"}, {en.HorizonText("1d"), "1 day"},
		{fr.HorizonText("36h0m0s"), "36h0m0s"}, {fr.HorizonTitle("15d"), "Horizon 15 jours"},
		{fr.PercentN(50000.0/120000, 2), "41,67\u202f%"}, {en.PercentN(0.625, 2), "62.50%"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// Rule: a chart's axis names the year on January and on its first month,
// but not on a first December, whose label would run into January's.
func TestFormat_MonthAxis(t *testing.T) {
	fr, en := fmtr{lang: "fr"}, fmtr{lang: "en"}
	for _, c := range []struct{ got, want string }{
		{fr.MonthAxis("2025-12-01", true), "déc."}, {fr.MonthAxis("2026-01-01", false), "janv.\u00a0’26"},
		{en.MonthAxis("2025-11-01", true), "Nov '25"}, {en.MonthAxis("2026-03-01", false), "Mar"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// Rule: an axis top is four round steps, so that every tick reads exactly.
func TestChart_AxisTicksAreRound(t *testing.T) {
	for _, v := range []float64{1, 7, 99, 2.3e6, 2.5e6, 1.1e5, 61e4, 3.2e7} {
		top := niceCeil(v)
		step := top / 4
		p := math.Pow(10, math.Floor(math.Log10(step)))
		m := step / p
		round := false
		for _, r := range []float64{1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8} {
			round = round || math.Abs(m-r) < 1e-9
		}
		if top < v || !round || top > 2*v+4*p {
			t.Errorf("niceCeil(%g) = %g (step %g): want the smallest top of 4 round steps holding it", v, top, step)
		}
	}
	if got := (fmtr{lang: "en"}).percentTick(1); got != "100%" {
		t.Errorf("percentTick(1) = %q", got)
	}
}
