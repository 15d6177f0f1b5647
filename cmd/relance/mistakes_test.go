package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/relance-io/relance/sinks"
)

// Rule: a word left among the flags is refused by every command: Go's flag
// parsing stops at it, and the flags after it (a --data-dir, a --chdb-dir)
// would be silently ignored.
func TestCommands_RefuseWordsLeftAmongTheFlags(t *testing.T) {
	for _, args := range [][]string{
		{"demo", "extra", "--data-dir", t.TempDir()},
		{"run", "extra", "--chdb-dir", t.TempDir()},
		{"config", "print", "extra", "--chdb-dir", t.TempDir()},
		{"config", "check", "extra"},
		{"produce", "extra"},
		{"bench", "--quick", "extra"},
	} {
		_, err := relance(t, args...)
		if err == nil || !strings.Contains(err.Error(), `unexpected argument "extra"`) {
			t.Errorf("relance %s: error %v, want unexpected argument \"extra\"", strings.Join(args, " "), err)
		}
	}
}

// Rule: `relance demo` refuses what its report would refuse (time zone,
// language, dpd edges) and a --mapping without --input before it runs the
// pipeline: nothing is written.
func TestDemo_BadReportOptionsAreRefusedBeforeAnythingRuns(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--tz", "Mars/Olympus"}, `time zone "Mars/Olympus"`},
		{[]string{"--lang", "de"}, `lang "de"`},
		{[]string{"--mapping", "layout.yaml"}, "--mapping layout.yaml: goes with --input DIR"},
	} {
		dir := filepath.Join(t.TempDir(), "demo")
		out, err := relance(t, append([]string{"demo", "--customers", "20", "--months", "1", "--data-dir", dir}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("demo %v: error %v, want it to say %q", c.args, err, c.want)
		}
		if _, serr := os.Stat(dir); !os.IsNotExist(serr) || out != "" {
			t.Errorf("demo %v ran before refusing: data dir %v, output %q", c.args, serr, out)
		}
	}
}

// Rule: `relance query` and `relance report` read an existing store: a
// --chdb-dir that does not exist is an error naming it, and is not created;
// a database without the relance schema is an error saying what to run.
func TestQueryAndReport_NeedAnExistingStore(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nowhere")
	for _, args := range [][]string{
		{"query", "--chdb-dir", missing, "post_reminder_rate"},
		{"report", "--chdb-dir", missing, "--out", filepath.Join(t.TempDir(), "r.html")},
	} {
		_, err := relance(t, args...)
		if err == nil || !strings.Contains(err.Error(), "--chdb-dir "+missing+": no such directory") {
			t.Errorf("relance %s: error %v, want one naming the missing directory", args[0], err)
		}
		if _, serr := os.Stat(missing); !os.IsNotExist(serr) {
			t.Fatalf("relance %s created %s", args[0], missing)
		}
	}

	s := freshStore(t) // a database without any table
	prevQ, prevR := openQueryStore, openReportStore
	openQueryStore = func(context.Context, *storeFlags) (sinks.Store, error) { return keepOpen{s}, nil }
	openReportStore = openQueryStore
	t.Cleanup(func() { openQueryStore, openReportStore = prevQ, prevR })
	for _, args := range [][]string{
		{"query", "--chdb-dir", "unused", "post_reminder_rate"},
		{"report", "--chdb-dir", "unused", "--out", filepath.Join(t.TempDir(), "r.html")},
	} {
		_, err := relance(t, args...)
		if err == nil || !strings.Contains(err.Error(), "database "+s.Database()+" has no relance schema: run relance migrate") {
			t.Errorf("relance %s on an empty database: error %v, want one naming it and saying to run relance migrate", args[0], err)
		}
	}
	// Raw SQL may read anything.
	if out, err := relance(t, "query", "--chdb-dir", "unused", "SELECT 41 + 1"); err != nil || !strings.Contains(out, "42") {
		t.Errorf("raw SQL on an empty database: %q, %v", out, err)
	}
}

// Rule: `relance migrate --raw-ttl` is checked before any migration is
// applied, and --print shows the TTL statements up would run.
func TestMigrate_RawTTLIsCheckedFirstAndPrinted(t *testing.T) {
	s := freshStore(t)
	_, err := relance(t, "migrate", "--chdb-dir", "unused", "--raw-ttl", "2y")
	if err == nil || !strings.Contains(err.Error(), `--raw-ttl: "2y"`) {
		t.Fatalf("--raw-ttl 2y: error %v", err)
	}
	if _, err := relance(t, "migrate", "--chdb-dir", "unused", "--raw-ttl", "2h"); err == nil || !strings.Contains(err.Error(), "want at least a day") {
		t.Fatalf("--raw-ttl 2h: error %v", err)
	}
	rows, err := s.Query(context.Background(), "SELECT count() FROM system.tables WHERE database = currentDatabase()")
	if err != nil || rows.Data[0][0] != "0" {
		t.Fatalf("a refused --raw-ttl applied migrations: %v tables (%v)", rows, err)
	}
	out, err := relance(t, "migrate", "--print", "--raw-ttl", "730d")
	if err != nil {
		t.Fatal(err)
	}
	ttl, _ := sinks.RawTTLStatements(730 * 24 * 3600e9)
	for _, stmt := range ttl {
		if !strings.Contains(out, stmt+";") {
			t.Errorf("migrate --print --raw-ttl 730d lacks %q", stmt)
		}
	}
}

// Rule: `relance config print` shows the configuration even when it does
// not validate yet (it is how one sees the defaults and what the file, env
// and flags add up to), then fails with what to fix.
func TestConfig_PrintShowsAnInvalidConfigurationThenFails(t *testing.T) {
	var out bytes.Buffer
	err := cmdConfig(context.Background(), []string{"print"}, &out)
	if err == nil || !strings.Contains(err.Error(), "the configuration printed above is not valid yet") || !strings.Contains(err.Error(), "store.chdb_dir") {
		t.Fatalf("config print without a store: error %v", err)
	}
	if !strings.Contains(out.String(), "group: relance") || !strings.Contains(out.String(), "horizons:") {
		t.Fatalf("config print without a store printed:\n%s", out.String())
	}
	// What it prints reads back as the same configuration: durations in
	// their short form ("1m", "7d").
	out.Reset()
	if err := cmdConfig(context.Background(), []string{"print", "--chdb-dir", "d"}, &out); err != nil {
		t.Fatal(err)
	}
	first := out.String()
	if !strings.Contains(first, "idle_timeout: 1m\n") || !strings.Contains(first, "retention: 7d\n") {
		t.Errorf("durations printed as:\n%s", first)
	}
	path := filepath.Join(t.TempDir(), "printed.yaml")
	if err := os.WriteFile(path, []byte(first), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := cmdConfig(context.Background(), []string{"print", "--config", path}, &out); err != nil || out.String() != first {
		t.Errorf("printed configuration read back: %v\n%s\nwant\n%s", err, out.String(), first)
	}
	// A file that cannot be read is not printed around.
	out.Reset()
	if err := cmdConfig(context.Background(), []string{"print", "--config", filepath.Join(t.TempDir(), "none.yaml")}, &out); err == nil || out.Len() != 0 {
		t.Fatalf("config print of a missing file: %v, printed %q", err, out.String())
	}
}

// Rule: `relance` alone is a mistake (usage on stderr, exit status 1);
// `relance help` is not.
func TestDispatch_NoCommandIsAnError(t *testing.T) {
	if _, err := relance(t); err == nil || err.Error() != "no command given" {
		t.Errorf("relance with no argument: %v, want an error", err)
	}
	if out, err := relance(t, "help"); err != nil || !strings.Contains(out, "usage: relance <command>") {
		t.Errorf("relance help: %q, %v", out, err)
	}
}

// Rule: `relance demo` wipes its data directory, so it only takes one that
// is new, empty or an earlier demo's: a directory holding anything else (a
// store of relance run) is refused and left as it was.
func TestDemo_WipesOnlyItsOwnDataDir(t *testing.T) {
	dir := t.TempDir()
	precious := filepath.Join(dir, "chdb", "metadata")
	if err := os.MkdirAll(precious, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := relance(t, "demo", "--customers", "20", "--months", "1", "--data-dir", dir)
	if err == nil || !strings.Contains(err.Error(), "holds files no demo wrote") {
		t.Fatalf("demo over a foreign directory: %v", err)
	}
	if _, err := os.Stat(precious); err != nil {
		t.Fatalf("the refused demo touched the directory: %v", err)
	}
	// So is one holding a chDB store beside other files.
	if err := os.WriteFile(filepath.Join(dir, "kafka"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := claimDemoDir(dir); err == nil {
		t.Fatal("a directory with a chdb, a kafka and a notes.txt was claimed")
	}
	// An older demo's (chdb, kafka, report.html: before the mark) is
	// claimed; so is an empty one, again on the next run.
	older := t.TempDir()
	for _, d := range []string{"chdb", "kafka"} {
		if err := os.Mkdir(filepath.Join(older, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := claimDemoDir(older); err != nil {
		t.Fatalf("an older demo's directory: %v", err)
	}
	fresh := filepath.Join(t.TempDir(), "d")
	for range 2 {
		if err := claimDemoDir(fresh); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(fresh, "report.html"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
