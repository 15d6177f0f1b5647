package demo

import (
	"strings"
	"testing"

	"github.com/relance-io/relance/sinks"
)

// Rule: the console shows amounts in each currency's own major unit (ISO
// 4217 decimals), exactly: yen have no decimals, dinars three. It used to
// divide every currency by 100 (3 000 JPY read "30.00 JPY").
func TestMoney_UsesTheCurrencyDecimals(t *testing.T) {
	for _, c := range []struct{ minor, currency, want string }{
		{"123456", "EUR", "1 234.56 EUR"},
		{"-5", "EUR", "-0.05 EUR"},
		{"3000", "JPY", "3 000 JPY"},
		{"1234567", "KWD", "1 234.567 KWD"},
		{"x", "EUR", "x"},
	} {
		if got := money(c.minor, c.currency); got != c.want {
			t.Errorf("money(%s, %s) = %q, want %q", c.minor, c.currency, got, c.want)
		}
	}
}

// Rule: the month × segment matrix has one table per currency. It used to
// key cells by month and segment only, so the last currency's rate
// overwrote the others' (the audit's October e-mail cell showed the USD
// 90.00 % where EUR was 19.24 %).
func TestPrintRateMatrix_OneTablePerCurrency(t *testing.T) {
	rows := &sinks.Rows{Columns: []string{"month", "segment", "currency", "reminded_minor", "collected_minor", "rate", "invoices"}, Data: [][]string{
		{"2026-10-01", "email", "EUR", "10000", "1924", "0.1924", "8"},
		{"2026-10-01", "email", "USD", "1000", "900", "0.9", "1"},
	}}
	var b strings.Builder
	printRateMatrix(&b, rows)
	out := b.String()
	for _, want := range []string{"EUR\n", "USD\n", "19.24 % (8)", "90.00 % (1)"} {
		if !strings.Contains(out, want) {
			t.Errorf("matrix lacks %q:\n%s", want, out)
		}
	}
	eur, usd := strings.Index(out, "EUR\n"), strings.Index(out, "USD\n")
	if e, u := strings.Index(out, "19.24 %"), strings.Index(out, "90.00 %"); !(eur < e && e < usd && usd < u) {
		t.Errorf("each rate is not under its currency:\n%s", out)
	}
}

// Rule: the console's percentages are rounded once, from the amounts: CHF
// 50.03 collected on 100.05 reminded is 50.004998 %, shown 50.00 % (the
// query's rate column, already rounded to 0.500050, gave 50.01 %).
func TestConsole_PercentRoundsOnceFromTheAmounts(t *testing.T) {
	for _, c := range []struct{ num, den, want string }{
		{"5003", "10005", "50.00 %"},
		{"5000000", "8000000", "62.50 %"},
		{"1", "3", "33.33 %"},
		{"0", "0", "—"},
		{"x", "1", "—"},
	} {
		if got := percent(c.num, c.den); got != c.want {
			t.Errorf("percent(%s, %s) = %q, want %q", c.num, c.den, got, c.want)
		}
	}
}

// Rule: the console marks the last month of a table as incomplete (its
// reminders have not all had their horizon, its payments are not all in).
func TestPrintRateMatrix_LastMonthIsMarkedIncomplete(t *testing.T) {
	rows := &sinks.Rows{Columns: []string{"month", "segment", "currency", "reminded_minor", "collected_minor", "rate", "invoices"}, Data: [][]string{
		{"2026-10-01", "email", "EUR", "10000", "1924", "0.1924", "8"},
		{"2026-11-01", "email", "EUR", "10000", "500", "0.05", "3"},
	}}
	var b strings.Builder
	printRateMatrix(&b, rows)
	if out := b.String(); !strings.Contains(out, "2026-11 (incomplete)") || strings.Contains(out, "2026-10 (incomplete)") {
		t.Errorf("the last month alone should be marked incomplete:\n%s", out)
	}
}
