package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/relance-io/relance/csvimport"
	"github.com/relance-io/relance/demo"
	"github.com/relance-io/relance/generate"
	"github.com/relance-io/relance/report"
	"github.com/relance-io/relance/sinks"
	"github.com/relance-io/relance/sinks/chdb"
	"github.com/relance-io/relance/stream"
)

func cmdDemo(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	p := generate.DefaultParams()
	fs.Int64Var(&p.Seed, "seed", p.Seed, "generator seed: the same seed gives the same data and KPIs")
	fs.IntVar(&p.Customers, "customers", p.Customers, "number of customers")
	fs.IntVar(&p.Months, "months", p.Months, "months of history, ending with last month")
	dir := fs.String("data-dir", "data/demo", "where the embedded Kafka log and the chDB store live: wiped and recreated at each demo, so it must be new, empty or an earlier demo's")
	parts := fs.Int("partitions", 4, "partitions per topic")
	horizons := fs.String("horizons", "7d,15d,30d", "observation horizons")
	tz := fs.String("tz", "Europe/Paris", "report time zone")
	lang := fs.String("lang", "fr", "language of the HTML report: fr or en")
	edges := fs.String("dpd-edges", "0,30,60,90", "days-past-due bucket edges of the HTML report, ascending")
	input := fs.String("input", "", "run on CSV exports instead of generated data: a directory with reminders.csv, payments.csv, invoices.csv (layout: relance import -h)")
	mapping := fs.String("mapping", "", "with --input: YAML mapping file for another CSV layout")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	hs, err := stream.ParseHorizons(*horizons)
	if err != nil {
		return fmt.Errorf("--horizons: %w", err)
	}
	dpd, err := parseDPDEdges(*edges)
	if err != nil {
		return err
	}
	if *parts < 1 {
		return fmt.Errorf("--partitions %d: must be at least 1", *parts)
	}
	if *mapping != "" && *input == "" {
		return fmt.Errorf("--mapping %s: goes with --input DIR (the CSV exports it describes)", *mapping)
	}
	// The report's options are checked now: the pipeline runs first.
	ro := report.Options{Lang: *lang, Horizons: hs, TimeZone: *tz, DPDEdges: dpd}
	if err := ro.Check(); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if err := claimDemoDir(*dir); err != nil {
		return err
	}
	// The year ends with last month, so that no event lies in the future.
	now := time.Now().UTC()
	p.Start = time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -p.Months, 0)

	start := time.Now()
	var ds *generate.Dataset
	if *input != "" {
		if ds, err = readInput(*input, *mapping, *dir, stdout); err != nil {
			return err
		}
	}
	store, err := openDemoStore(ctx, filepath.Join(*dir, "chdb"))
	if err != nil {
		return err
	}
	defer store.Close()
	o := demo.Options{Params: p, Dir: *dir, Partitions: int32(*parts), Horizons: hs, TimeZone: *tz, Out: stdout, Progress: stdout}
	if ds != nil {
		_, err = demo.RunDataset(ctx, store, ds, o)
	} else {
		_, err = demo.Run(ctx, store, o)
	}
	if err != nil {
		return err
	}
	ro.Now = time.Now()
	html, err := report.Build(ctx, store, ro)
	if err != nil {
		return err
	}
	out := filepath.Join(*dir, "report.html")
	if err := os.WriteFile(out, html, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "report: %s (offline HTML, open it in a browser)\n", out)
	fmt.Fprintf(stdout, "demo finished in %s; the chDB store is in %s (relance query --chdb-dir %s …)\n",
		time.Since(start).Round(time.Millisecond), filepath.Join(*dir, "chdb"), filepath.Join(*dir, "chdb"))
	return nil
}

// demoMark names the file that marks a directory as the demo's own: the
// demo wipes its data directory, and must not wipe anything else (the
// store of relance run, say).
const demoMark = ".relance-demo"

// claimDemoDir makes sure dir is the demo's to wipe: absent, empty, or
// marked by an earlier demo; it creates and marks it.
func claimDemoDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("--data-dir %s: %w", dir, err)
	}
	if len(entries) > 0 && !olderDemo(entries) {
		if _, err := os.Stat(filepath.Join(dir, demoMark)); err != nil {
			return fmt.Errorf("--data-dir %s holds files no demo wrote, and a demo wipes its data dir: choose an empty or new directory (or remove this one if it is a demo's of an older relance)", dir)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--data-dir %s: %w", dir, err)
	}
	return os.WriteFile(filepath.Join(dir, demoMark), []byte("written by relance demo, which wipes this directory at each run\n"), 0o644)
}

// olderDemo reports whether entries are those of a demo run before the
// mark existed: its embedded broker's kafka directory, and nothing but
// what a demo writes.
func olderDemo(entries []os.DirEntry) bool {
	kafka := false
	for _, e := range entries {
		switch e.Name() {
		case "kafka":
			kafka = true
		case "chdb", "report.html", "rejects.csv":
		default:
			return false
		}
	}
	return kafka
}

// openDemoStore opens the demo's chDB store in dir, empty and migrated (a
// variable so that tests use the test binary's one chDB session).
var openDemoStore = func(ctx context.Context, dir string) (sinks.Store, error) {
	store, err := chdb.Open(dir)
	if err != nil {
		return nil, err
	}
	// A demo starts from nothing: drop what a previous run left.
	err = store.Exec(ctx, "DROP DATABASE IF EXISTS relance")
	if err == nil {
		err = store.UseDatabase(ctx, "relance")
	}
	if err == nil {
		_, err = sinks.Migrate(ctx, store)
	}
	if err != nil {
		store.Close()
		return nil, err
	}
	return store, nil
}

// readInput reads the CSV exports of `relance demo --input` (csvimport),
// prints the import summary and writes the rejected rows to
// dataDir/rejects.csv.
func readInput(dir, mapping, dataDir string, stdout io.Writer) (*generate.Dataset, error) {
	m := csvimport.DefaultMapping()
	if mapping != "" {
		var err error
		if m, err = csvimport.LoadMapping(mapping); err != nil {
			return nil, err
		}
	}
	files, err := csvimport.FilesIn(dir, m)
	if err != nil {
		return nil, err
	}
	res, err := csvimport.Read(files, csvimport.WithMapping(m))
	if err != nil {
		return nil, err
	}
	res.WriteSummary(stdout)
	if res.Rejected() > 0 {
		if err := os.MkdirAll(dataDir, 0o755); err != nil {
			return nil, err
		}
		path := filepath.Join(dataDir, "rejects.csv")
		if err := writeRejects(path, res); err != nil {
			return nil, err
		}
		fmt.Fprintf(stdout, "%d rejected rows written to %s\n", res.Rejected(), path)
	}
	if res.Events() == 0 {
		return nil, fmt.Errorf("demo --input %s: no valid event to run on", dir)
	}
	return &generate.Dataset{Invoices: res.Invoices, Reminders: res.Reminders, Payments: res.Payments}, nil
}
