package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

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
	dir := fs.String("data-dir", "data/demo", "where the embedded Kafka log and the chDB store live")
	parts := fs.Int("partitions", 4, "partitions per topic")
	horizons := fs.String("horizons", "7d,15d,30d", "observation horizons")
	tz := fs.String("tz", "Europe/Paris", "report time zone")
	lang := fs.String("lang", "fr", "language of the HTML report: fr or en")
	if err := fs.Parse(args); err != nil {
		return err
	}
	hs, err := stream.ParseHorizons(*horizons)
	if err != nil {
		return fmt.Errorf("--horizons: %w", err)
	}
	if *parts < 1 {
		return fmt.Errorf("--partitions %d: must be at least 1", *parts)
	}
	// The year ends with last month, so that no event lies in the future.
	now := time.Now().UTC()
	p.Start = time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -p.Months, 0)

	start := time.Now()
	store, err := chdb.Open(filepath.Join(*dir, "chdb"))
	if err != nil {
		return err
	}
	defer store.Close()
	// A demo starts from nothing: drop what a previous run left.
	if err := store.Exec(ctx, "DROP DATABASE IF EXISTS relance"); err != nil {
		return err
	}
	if err := store.UseDatabase(ctx, "relance"); err != nil {
		return err
	}
	if _, err := sinks.Migrate(ctx, store); err != nil {
		return err
	}
	_, err = demo.Run(ctx, store, demo.Options{Params: p, Dir: *dir, Partitions: int32(*parts), Horizons: hs, TimeZone: *tz, Out: stdout})
	if err != nil {
		return err
	}
	html, err := report.Build(ctx, store, report.Options{Lang: *lang, Horizons: hs, TimeZone: *tz, Now: time.Now()})
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
