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
			if checkWindows(t, ctx, store, name, base, 4) == 0 {
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

// checkWindows runs the named query name with base over all months, then
// over windows of them (each month; the first two; the last two), "to"
// given mid-month, and checks that each window's rows are the all-months
// rows of its months. The data must span at least minMonths months. It
// returns the rows compared.
func checkWindows(t *testing.T, ctx context.Context, store sinks.Store, name string, base map[string]string, minMonths int) int {
	t.Helper()
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
	if len(months) < max(2, minMonths) {
		t.Fatalf("%s %v: %d months in the data, want at least %d to cut windows", name, base, len(months), max(2, minMonths))
	}
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
			t.Errorf("%s %v months %s..%s:\n got  %v\n want %v (the all-months rows of those months)", name, base, w[0], w[1], got.Data, want)
		}
		compared += len(want)
	}
	return compared
}

// Rule: a reminder or a payment sent again with its time moved to another
// month (a conflicting event: the joiner keeps the first copy, the raw
// tables keep both, one per month) counts in each copy's own month, the
// same whatever months are asked for; no allocation is counted twice in a
// month, and the copy the joiner dropped has no attribution.
func TestNamedQueries_CopiesMovedToAnotherMonthCountInTheirOwnMonth(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	e := &events{t: t}
	e.remind("R1", "INV-A", "C1", "2025-10-20 09:00", "2025-10-01", 1, "email", 100_000, false)
	e.remind("R1", "INV-A", "C1", "2025-11-02 09:00", "2025-10-01", 1, "email", 100_000, false) // moved copy
	e.remind("RH", "INV-H", "C2", "2025-10-21 09:00", "2025-10-01", 1, "email", 100_000, true)
	e.pay("PA", "C1", "2025-11-03 10:00", "INV-A", 40_000)
	e.pay("PH", "C2", "2025-10-22 10:00", "INV-H", 10_000)
	e.remind("R2", "INV-B", "C4", "2025-10-25 09:00", "2025-10-01", 1, "sms", 50_000, false)
	e.pay("PB", "C4", "2025-10-30 10:00", "INV-B", 20_000)
	e.pay("PB", "C4", "2025-11-02 10:00", "INV-B", 20_000) // moved copy
	e.remind("R3", "INV-C", "C5", "2025-10-08 09:00", "2025-10-01", 1, "email", 30_000, false)
	e.pay("PC", "C5", "2025-10-10 10:00", "INV-C", 30_000)
	e.pay("PC", "C5", "2025-10-10 18:00", "INV-C", 30_000) // copy moved within its month
	e.remind("RZ", "INV-Z", "C3", "2025-12-20 09:00", "2025-12-01", 1, "email", 1_000, false)
	e.pay("PZ", "C3", "2025-12-21 10:00", "INV-Z", 1_000)
	pipeline(t, ctx, store, &e.ds)

	names, err := relsql.QueryNames()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		_, declared := loadQuery(t, name)
		if !declared["from"] || !declared["to"] {
			continue
		}
		for _, h := range []string{"7d", "30d"} {
			base := map[string]string{"horizon": h, "tz": "UTC"}
			if declared["dimension"] {
				base["dimension"] = "all"
			}
			checkWindows(t, ctx, store, name, base, 2)
		}
	}
	// PA (40 000) is the only payment on INV-A, PB (20 000) on INV-B, PC
	// (30 000) on INV-C: a month's reminders were paid 90 000 at most.
	rows := namedQuery(t, ctx, store, "holdout_uplift", map[string]string{"horizon": "30d", "tz": "UTC", "dimension": "all"})
	for _, r := range rows.Data {
		if paid, _ := strconv.ParseInt(r[rows.Col("sent_paid_minor")], 10, 64); paid > 90_000 {
			t.Errorf("holdout_uplift 30d %s: sent_paid_minor %d, more than was paid (40 000 on INV-A, 20 000 on INV-B, 30 000 on INV-C)", r[rows.Col("month")], paid)
		}
	}
	// PC's copies share a month: one row, attributed.
	rows = namedQuery(t, ctx, store, "reminder_dependency", map[string]string{"horizon": "7d", "tz": "UTC", "from": "2025-10-01", "to": "2025-10-01"})
	if len(rows.Data) != 1 || rows.Data[0][rows.Col("collected_unattributed_minor")] != "0" || rows.Data[0][rows.Col("collected_total_minor")] != "60000" {
		t.Errorf("reminder_dependency October: %v %v, want 60 000 collected (PH 10 000, PB 20 000, PC once 30 000), none unattributed", rows.Columns, rows.Data)
	}
	// PB's November copy has no fact (the joiner kept October's): it is
	// collected without a reminder, unattributed, in November.
	rows = namedQuery(t, ctx, store, "reminder_dependency", map[string]string{"horizon": "7d", "tz": "UTC", "from": "2025-11-01", "to": "2025-11-01"})
	if len(rows.Data) != 1 || rows.Data[0][rows.Col("collected_unattributed_minor")] != "20000" {
		t.Errorf("reminder_dependency November: %v %v, want PB's moved copy (20 000) unattributed", rows.Columns, rows.Data)
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
