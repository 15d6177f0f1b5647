package main

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/relance-io/relance/generate"
	"github.com/relance-io/relance/internal/oracle"
)

// Rule: `relance demo` on generated data (what `make demo` runs) prints,
// per horizon, the reminder dependency share per payment month and the
// post-reminder collection rate per reminder month and channel, and every
// figure equals the brute force over the same generated year; it also
// writes the report.
func TestDemo_GeneratedDataPrintsTheOracleKPIs(t *testing.T) {
	demoOnTestStore(t)
	dir := t.TempDir()
	// The generated history ends with last month, as cmdDemo computes it.
	p := generate.DefaultParams()
	p.Seed, p.Customers, p.Months = 5, 250, 4
	now := time.Now().UTC()
	p.Start = time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -p.Months, 0)
	var out bytes.Buffer
	args := []string{"--seed", "5", "--customers", "250", "--months", "4", "--partitions", "2", "--data-dir", dir, "--lang", "en"}
	if err := cmdDemo(context.Background(), args, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "report.html")); err != nil {
		t.Errorf("no report: %v", err)
	}
	ds, err := generate.Generate(p)
	if err != nil {
		t.Fatal(err)
	}
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	got := out.String()
	compared := 0
	for _, h := range []time.Duration{7 * 24 * time.Hour, 15 * 24 * time.Hour, 30 * 24 * time.Hour} {
		label := strconv.Itoa(int(h.Hours()/24)) + "d"
		// The first payment month and the last month are marked.
		tables := got[max(0, strings.Index(got, "== Horizon "+label+" — reminder dependency share")):]
		if strings.Count(tables, "(incomplete)") < 2 || !strings.Contains(tables, "(data starts)") {
			t.Errorf("%s: the last month of each table is not marked (incomplete), or the first payment month (data starts)", label)
		}
		dep, rate := horizonTables(t, got, label)

		// Dependency: month, total, after, without (amounts "1 234.56 EUR"),
		// share %, payments.
		wantDep := oracle.Dependency(ds, h, paris)
		rows := 0
		for _, l := range strings.Split(dep, "\n")[2:] {
			f := strings.Fields(l)
			if len(f) == 0 {
				continue
			}
			rows++
			w := wantDep[oracle.Key{Period: f[0] + "-01", Currency: "EUR"}]
			if w == nil {
				t.Errorf("%s dependency: month %s not in the oracle", label, f[0])
				continue
			}
			line := strings.Join(f, " ")
			exp := f[0] + " " + eur(w.Total) + " " + eur(w.After) + " " + eur(w.Without())
			if !strings.HasPrefix(line, exp+" ") {
				t.Errorf("%s dependency row %q, oracle amounts %q", label, line, exp)
			}
			share, err := strconv.ParseFloat(f[len(f)-3], 64)
			if err != nil || math.Abs(share-100*w.Share()) > 0.006 {
				t.Errorf("%s dependency %s: share %q, oracle %.4f %%", label, f[0], f[len(f)-3], 100*w.Share())
			}
			if f[len(f)-1] != strconv.Itoa(w.Payments) {
				t.Errorf("%s dependency %s: %s payments, oracle %d", label, f[0], f[len(f)-1], w.Payments)
			}
			compared++
		}
		if rows != len(wantDep) {
			t.Errorf("%s dependency: %d months printed, oracle has %d", label, rows, len(wantDep))
		}

		// Rate: a month × channel matrix of "12.34 % (56)" or "—".
		wantRate := oracle.Rates(ds, h, "channel", paris)
		lines := strings.Split(rate, "\n")
		header := strings.Fields(lines[1])[1:]
		cells := 0
		for _, l := range lines[2:] {
			f := strings.Fields(l)
			if len(f) == 0 || !strings.HasPrefix(f[0], "20") {
				continue
			}
			month, rest := f[0], f[1:]
			for _, ch := range header {
				if len(rest) > 0 && rest[0] == "—" {
					if w := wantRate[oracle.Key{Period: month + "-01", Segment: ch, Currency: "EUR"}]; w != nil {
						t.Errorf("%s %s %s: printed —, oracle has %+v", label, month, ch, *w)
					}
					rest = rest[1:]
					continue
				}
				if len(rest) < 3 {
					t.Fatalf("%s rate row %q: cells missing", label, l)
				}
				pct, inv := rest[0], strings.Trim(rest[2], "()")
				rest = rest[3:]
				w := wantRate[oracle.Key{Period: month + "-01", Segment: ch, Currency: "EUR"}]
				if w == nil {
					t.Errorf("%s %s %s: printed %s %% (%s), not in the oracle", label, month, ch, pct, inv)
					continue
				}
				v, err := strconv.ParseFloat(pct, 64)
				if err != nil || math.Abs(v-100*w.Value()) > 0.006 || inv != strconv.Itoa(w.Invoices) {
					t.Errorf("%s %s %s: printed %s %% (%s), oracle %.4f %% (%d)", label, month, ch, pct, inv, 100*w.Value(), w.Invoices)
				}
				cells++
				compared++
			}
		}
		if cells != len(wantRate) {
			t.Errorf("%s rate: %d cells printed, oracle has %d", label, cells, len(wantRate))
		}
	}
	if compared < 40 {
		t.Fatalf("only %d figures compared: the data set proves too little\n%s", compared, got)
	}
	t.Logf("%d printed figures equal the oracle", compared)
}

// eur formats minor units as the demo prints euros, "1 234.56 EUR",
// written here independently of the demo's formatter.
func eur(minor int64) string {
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	units := strconv.FormatInt(minor/100, 10)
	var groups []string
	for len(units) > 3 {
		groups = append([]string{units[len(units)-3:]}, groups...)
		units = units[:len(units)-3]
	}
	groups = append([]string{units}, groups...)
	return sign + strings.Join(groups, " ") + "." + strconv.FormatInt(minor%100/10, 10) + strconv.FormatInt(minor%10, 10) + " EUR"
}
