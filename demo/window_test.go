package demo

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/relance-io/relance/generate"
	"github.com/relance-io/relance/sinks"
	relsql "github.com/relance-io/relance/sql"
)

// Rule: a named query asked for some months (from, to) returns exactly the
// rows it returns for all months, restricted to those months, in any time
// zone, from UTC-11 to UTC+14, where a month starts up to 14 hours away
// from its start in UTC. The queries narrow the rows they read to a day
// around the months asked for before the exact test, so that a dashboard
// showing a quarter does not read years of partitions: EXPLAIN ESTIMATE
// shows fewer rows read for one month than for all.
func TestNamedQueries_MonthWindowsEqualTheFullResultRestricted(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	p := generate.DefaultParams()
	p.Customers, p.Months, p.Seed = 120, 5, 5
	p.Start = time.Date(2025, 9, 1, 0, 0, 0, 0, time.UTC)
	if _, err := Run(ctx, store, Options{Params: p, Dir: t.TempDir(), Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	names, err := relsql.QueryNames()
	if err != nil {
		t.Fatal(err)
	}
	windowed := 0
	for _, name := range names {
		n, declared := loadQuery(t, name)
		if !declared["from"] || !declared["to"] {
			continue
		}
		windowed++
		for _, tz := range []string{"Pacific/Kiritimati", "Pacific/Pago_Pago", "UTC"} {
			base := map[string]string{"horizon": "7d", "tz": tz}
			if declared["dimension"] {
				base["dimension"] = "channel"
			}
			full := namedQuery(t, ctx, store, name, base)
			mc := full.Col("month")
			if mc < 0 {
				t.Fatalf("%s has from and to but no month column: %v", name, full.Columns)
			}
			var months []string
			for _, r := range full.Data {
				if !slices.Contains(months, r[mc]) {
					months = append(months, r[mc])
				}
			}
			slices.Sort(months)
			if len(months) < 4 {
				t.Fatalf("%s tz=%s: %d months in the data, want at least 4 to cut windows", name, tz, len(months))
			}
			// Single months, and the first and last two; "to" is given
			// mid-month (its whole month is included).
			var windows [][2]string
			for _, m := range months {
				windows = append(windows, [2]string{m, m})
			}
			windows = append(windows, [2]string{months[0], months[1]}, [2]string{months[len(months)-2], months[len(months)-1]})
			compared := 0
			for _, w := range windows {
				vals := map[string]string{"from": w[0], "to": midMonth(t, w[1])}
				for k, v := range base {
					vals[k] = v
				}
				got := namedQuery(t, ctx, store, name, vals)
				var want [][]string
				for _, r := range full.Data {
					if r[mc] >= w[0] && r[mc] <= w[1] {
						want = append(want, r)
					}
				}
				if !slices.EqualFunc(got.Data, want, slices.Equal) {
					t.Errorf("%s tz=%s months %s..%s:\n got  %v\n want %v (the all-months rows of those months)", name, tz, w[0], w[1], got.Data, want)
				}
				compared += len(want)
			}
			if compared == 0 {
				t.Errorf("%s tz=%s: no row compared", name, tz)
			}
		}
		// One month reads less than all of them.
		one := map[string]string{"horizon": "7d", "tz": "UTC", "from": "2025-10-01", "to": "2025-10-31"}
		all := map[string]string{"horizon": "7d", "tz": "UTC"}
		if declared["dimension"] {
			one["dimension"], all["dimension"] = "channel", "channel"
		}
		if r1, ra := estimatedRows(t, ctx, store, n, one), estimatedRows(t, ctx, store, n, all); r1 >= ra {
			t.Errorf("%s: one month would read %d rows, all months %d: the months are not narrowed before reading", name, r1, ra)
		} else {
			t.Logf("%s: one month reads %d rows, all months %d", name, r1, ra)
		}
	}
	if windowed < 4 {
		t.Errorf("%d named queries take from and to, want at least 4", windowed)
	}
}

// loadQuery loads the named query name and the set of its parameters.
func loadQuery(t *testing.T, name string) (*relsql.Named, map[string]bool) {
	t.Helper()
	n, err := relsql.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	declared := map[string]bool{}
	for _, p := range n.Params {
		declared[p.Name] = true
	}
	return n, declared
}

// midMonth returns the 15th of month ("2025-10-01").
func midMonth(t *testing.T, month string) string {
	t.Helper()
	m, err := time.Parse(time.DateOnly, month)
	if err != nil {
		t.Fatal(err)
	}
	return m.AddDate(0, 0, 14).Format(time.DateOnly)
}

// estimatedRows is the number of rows the engine plans to read for the
// named query n with vals (EXPLAIN ESTIMATE, every table summed).
func estimatedRows(t *testing.T, ctx context.Context, store sinks.Store, n *relsql.Named, vals map[string]string) int64 {
	t.Helper()
	params, err := n.Bind(vals)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := store.(sinks.ParamQuerier).QueryParams(ctx, "EXPLAIN ESTIMATE "+strings.TrimSpace(n.Text), params)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, r := range rows.Data {
		v, err := strconv.ParseInt(r[rows.Col("rows")], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		sum += v
	}
	return sum
}
