package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/relance-io/relance/sinks"
	"github.com/relance-io/relance/sinks/chdb"
	"github.com/relance-io/relance/sinks/chdb/chdbtest"
)

// keepOpen is the test binary's chDB store with every method of its own
// (query parameters included) but Close, so that a command does not close
// the one session.
type keepOpen struct{ *chdb.Store }

func (keepOpen) Close() error { return nil }

// demoOnTestStore makes `relance demo` use a fresh database of the test
// binary's one chDB session instead of opening its own.
func demoOnTestStore(t *testing.T) sinks.Store {
	t.Helper()
	s := chdbtest.NewStore(t)
	prev := openDemoStore
	openDemoStore = func(context.Context, string) (sinks.Store, error) { return keepOpen{s}, nil }
	t.Cleanup(func() { openDemoStore = prev })
	return s
}

// Rule: `relance demo --input DIR` runs the whole embedded pipeline on CSV
// exports and prints the KPIs of the hand-checked October set (SPEC §4):
// 80 000 EUR reminded by e-mail, 50 000 EUR collected after the reminder →
// 62.50 %; 120 000 EUR collected in October, 50 000 after a reminder and
// 70 000 without → 41.67 %; the same for every horizon; and writes the
// report.
func TestDemo_InputPrintsTheHandCheckedKPIs(t *testing.T) {
	demoOnTestStore(t)
	dir := t.TempDir()
	var out bytes.Buffer
	if err := cmdDemo(context.Background(), []string{"--input", octoberDir, "--data-dir", dir, "--partitions", "2", "--lang", "en"}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{
		"reminders.csv: 2 rows read, 2 imported, 0 rejected",
		"payments.csv: 3 rows read, 3 imported as 2 payments, 0 rejected",
		"produced 8 records",
		"0 dead letters",
		"report: " + filepath.Join(dir, "report.html"),
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	for _, h := range []string{"7d", "15d", "30d"} {
		dep, rate := horizonTables(t, got, h)
		depRow := strings.Fields(lineWith(dep, "2026-10"))
		if strings.Join(depRow, " ") != "2026-10 120 000.00 EUR 50 000.00 EUR 70 000.00 EUR 41.67 % 2" {
			t.Errorf("%s dependency row %q", h, depRow)
		}
		if row := strings.Join(strings.Fields(lineWith(rate, "2026-10")), " "); row != "2026-10 62.50 % (2)" {
			t.Errorf("%s rate row %q", h, row)
		}
		if !strings.Contains(rate, "email") {
			t.Errorf("%s rate table has no email column:\n%s", h, rate)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", got)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "report.html")); err != nil || !bytes.Contains(b, []byte("<html")) {
		t.Fatalf("report: %v", err)
	}
}

// Rule: `relance demo --input` on a directory with bad rows runs on the good
// ones and writes the bad ones to DATA_DIR/rejects.csv.
func TestDemo_InputWritesRejects(t *testing.T) {
	demoOnTestStore(t)
	dir := t.TempDir()
	var out bytes.Buffer
	if err := cmdDemo(context.Background(), []string{"--input", "../../csvimport/testdata/bad", "--data-dir", dir, "--partitions", "1"}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "22 rejected rows written to "+filepath.Join(dir, "rejects.csv")) {
		t.Fatalf("output:\n%s", out.String())
	}
	b, err := os.ReadFile(filepath.Join(dir, "rejects.csv"))
	if err != nil || strings.Count(string(b), "\n") != 23 {
		t.Fatalf("rejects.csv: %v\n%s", err, b)
	}
}

func lineWith(s, prefix string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), prefix) {
			return l
		}
	}
	return ""
}

// horizonTables cuts the demo's output for horizon h ("7d") into its
// dependency table and its rate table.
func horizonTables(t *testing.T, out, h string) (dep, rate string) {
	t.Helper()
	i := strings.Index(out, "== Horizon "+h+" — reminder dependency share")
	j := strings.Index(out, "== Horizon "+h+" — post-reminder collection rate")
	if i < 0 || j < i {
		t.Fatalf("no %s tables in:\n%s", h, out)
	}
	dep, rate = out[i:j], out[j:]
	if k := strings.Index(rate[1:], "== Horizon"); k >= 0 {
		rate = rate[:k+1]
	}
	// The month markers (TestDemo_GeneratedDataPrintsTheOracleKPIs checks
	// them) are left out for the figures.
	unmark := strings.NewReplacer(" (incomplete)", "", " (data starts)", "")
	return unmark.Replace(dep), unmark.Replace(rate)
}
