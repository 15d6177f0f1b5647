package sql

import (
	"strings"
	"testing"
)

// Rule: a parameter value ClickHouse would refuse with an engine error, or
// silently read as another value (a Date of 2026-02-30 rolls over to March;
// one of 2026-13-01 becomes 1970-01-01), is refused by Bind with what is
// wanted; a month is a valid Date (its first day); from after to is an
// error.
func TestBind_TypedParametersAreCheckedBeforeTheEngine(t *testing.T) {
	rate, err := Load("post_reminder_rate")
	if err != nil {
		t.Fatal(err)
	}
	drop, err := Load("rate_drop")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		n      *Named
		vals   map[string]string
		want   map[string]string // bound values checked
		errHas string            // "" = no error
	}{
		{rate, map[string]string{"from": "2026-10"}, map[string]string{"from": "2026-10-01"}, ""},
		{rate, map[string]string{"from": "2026-10-15", "to": "2026-10-01"}, map[string]string{"from": "2026-10-15", "to": "2026-10-01"}, ""},
		{rate, map[string]string{"from": " 2026-10-01 "}, map[string]string{"from": "2026-10-01"}, ""},
		{rate, map[string]string{"from": "2026-13-01"}, nil, `parameter from: "2026-13-01" is not a date`},
		{rate, map[string]string{"from": "2026-02-30"}, nil, `parameter from: "2026-02-30" is not a date`},
		{rate, map[string]string{"to": "1969-12-31"}, nil, `parameter to: "1969-12-31" is not a date`},
		{rate, map[string]string{"to": "next month"}, nil, "want YYYY-MM-DD or a month YYYY-MM"},
		{rate, map[string]string{"from": "2026-11", "to": "2026-10-31"}, nil, "from 2026-11-01 is after to 2026-10-31"},
		{drop, map[string]string{"as_of": "2026-10-31T12:00:00+02:00"}, map[string]string{"as_of": "2026-10-31 10:00:00"}, ""},
		{drop, map[string]string{"as_of": "2026-10-31"}, map[string]string{"as_of": "2026-10-31 00:00:00"}, ""},
		{drop, map[string]string{"as_of": "yesterday"}, nil, `parameter as_of: "yesterday" is not a time`},
		{drop, map[string]string{"min_invoices": "abc"}, nil, `parameter min_invoices: "abc" is not a whole number`},
		{drop, map[string]string{"recent_days": "-1"}, nil, `parameter recent_days: "-1" is not a whole number`},
		{drop, map[string]string{"max_drop": "20%"}, nil, `parameter max_drop: "20%" is not a number`},
		{drop, map[string]string{"max_drop": "NaN"}, nil, `parameter max_drop: "NaN" is not a number`},
		{drop, map[string]string{"max_drop": "0.25", "min_invoices": "30"}, map[string]string{"max_drop": "0.25", "min_invoices": "30"}, ""},
		{drop, map[string]string{"max_drop": "20"}, nil, `parameter max_drop: "20" is out of range: want 0 to 1`},
		{drop, map[string]string{"recent_days": "0"}, nil, `parameter recent_days: "0" is out of range: want 1 to 3660`},
		{drop, map[string]string{"baseline_days": "365"}, map[string]string{"baseline_days": "365"}, ""},
	} {
		got, err := c.n.Bind(c.vals)
		switch {
		case c.errHas == "" && err != nil:
			t.Errorf("%s %v: %v", c.n.Name, c.vals, err)
		case c.errHas != "" && (err == nil || !strings.Contains(err.Error(), c.errHas)):
			t.Errorf("%s %v: error %v, want one containing %q", c.n.Name, c.vals, err, c.errHas)
		}
		for k, v := range c.want {
			if got[k] != v {
				t.Errorf("%s %v: bound %s = %q, want %q", c.n.Name, c.vals, k, got[k], v)
			}
		}
	}
}

// Rule: every query's declared defaults pass its own parameter checks.
func TestLoad_DefaultsPassTheirChecks(t *testing.T) {
	names, err := QueryNames()
	if err != nil {
		t.Fatal(err)
	}
	ranged := 0
	for _, name := range names {
		n, err := Load(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range n.Params {
			if _, err := p.check(p.Default); err != nil {
				t.Errorf("%s: default of %s: %v", name, p.Name, err)
			}
			if p.Ranged {
				ranged++
			}
		}
	}
	if ranged < 3 {
		t.Errorf("%d parameters declare a range, want rate_drop's 3 at least", ranged)
	}
}
