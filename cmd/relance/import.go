package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/relance-io/relance/csvimport"
	"github.com/relance-io/relance/produce"
	"github.com/relance-io/relance/progress"
)

// cmdImport reads historical CSV exports (reminders, payments with their
// allocations, invoices; layout in the csvimport package doc, other layouts
// through a YAML mapping file), validates every row, writes the rejected
// rows with their reasons to a rejects file, and produces the events to the
// Kafka topics (Avro, schema registry wire format, keyed by customer id).
// Event ids are derived from the business keys, so importing the same
// files again changes no KPI. Kafka and the registry come from the same
// configuration as `relance run` (file, env, flags, TLS and SASL).
func cmdImport(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	cf := newConfigFlags(fs, "brokers", "registry")
	dir := fs.String("dir", "", "directory holding reminders.csv, payments.csv and invoices.csv (or the names the mapping gives); missing files are skipped")
	var files csvimport.Files
	fs.StringVar(&files.Reminders, "reminders", "", "reminders CSV file (overrides the one found in --dir)")
	fs.StringVar(&files.Payments, "payments", "", "payments CSV file, one row per allocation (overrides --dir)")
	fs.StringVar(&files.Invoices, "invoices", "", "invoices CSV file (overrides --dir)")
	mapping := fs.String("mapping", "", "YAML mapping file for another layout (column names, separator, decimal comma, date formats, constants)")
	rejects := fs.String("rejects", "rejects.csv", "where to write the rejected rows (file, line, reason, detail, row); written on every run, with the header only when nothing is rejected")
	tz := fs.String("tz", "", "time zone of timestamps written without an offset (IANA name; default: the mapping's time_zone, else Europe/Paris)")
	dryRun := fs.Bool("dry-run", false, "read and validate, write the rejects and the summary, produce nothing (no Kafka or registry needed)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: relance import [flags] (--dir DIR | --reminders F --payments F --invoices F)\n\n"+
			"Imports historical CSV exports into the Kafka topics; default layout: go doc github.com/relance-io/relance/csvimport\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return fmt.Errorf("import: unexpected argument %q (files are given with --dir or --reminders/--payments/--invoices)", fs.Arg(0))
	}
	m := csvimport.DefaultMapping()
	if *mapping != "" {
		var err error
		if m, err = csvimport.LoadMapping(*mapping); err != nil {
			return err
		}
	}
	if *dir != "" {
		found, err := csvimport.FilesIn(*dir, m)
		if err != nil && files == (csvimport.Files{}) {
			return err
		}
		for _, kind := range csvimport.Kinds {
			if files.Path(kind) == "" {
				setPath(&files, kind, found.Path(kind))
			}
		}
	}
	if files == (csvimport.Files{}) {
		fs.Usage()
		return fmt.Errorf("import: no input: pass --dir DIR or --reminders/--payments/--invoices FILE")
	}
	opts := []csvimport.Opt{csvimport.WithMapping(m)}
	if *tz != "" {
		loc, err := time.LoadLocation(*tz)
		if err != nil {
			return fmt.Errorf("--tz %q: not an IANA time zone (e.g. Europe/Paris, UTC)", *tz)
		}
		opts = append(opts, csvimport.TimeZone(loc))
	}
	c, err := cf.loadFor(false)
	if err != nil && !*dryRun {
		return err
	}

	read := progress.New(stdout, "read", 0, progress.Unit("rows"))
	var before, last int
	opts = append(opts, csvimport.OnRows(func(n int) {
		if n < last { // next file
			before += last
		}
		last = n
		read.Set(int64(before + n))
	}))
	res, err := csvimport.Read(files, opts...)
	read.Done()
	if err != nil {
		return err
	}
	res.WriteSummary(stdout)
	if err := writeRejects(*rejects, res); err != nil {
		return err
	}
	if n := res.Rejected(); n > 0 {
		fmt.Fprintf(stdout, "%d rejected rows written to %s (line, reason, row)\n", n, *rejects)
	}
	if *dryRun {
		fmt.Fprintf(stdout, "dry run: %d events (%d reminders, %d payments, %d invoices) not produced\n",
			res.Events(), len(res.Reminders), len(res.Payments), len(res.Invoices))
		return nil
	}
	if res.Events() == 0 {
		fmt.Fprintln(stdout, "nothing to produce")
		return nil
	}

	serde, err := c.serde(ctx)
	if err != nil {
		return err
	}
	recs, err := produce.Records(serde, res.Invoices, res.Reminders, res.Payments)
	if err != nil {
		return err
	}
	cl, err := c.producer(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	start := time.Now()
	bar := progress.New(stdout, "produce", int64(len(recs)), progress.Unit("records"))
	_, err = produce.Send(ctx, cl, recs, bar)
	bar.Done()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "produced %d records (%d reminders, %d payments, %d invoices) to %s in %s\n",
		len(recs), len(res.Reminders), len(res.Payments), len(res.Invoices), strings.Join(c.Kafka.Brokers, ","), time.Since(start).Round(time.Millisecond))
	return nil
}

func setPath(f *csvimport.Files, kind, path string) {
	switch kind {
	case csvimport.KindReminders:
		f.Reminders = path
	case csvimport.KindPayments:
		f.Payments = path
	case csvimport.KindInvoices:
		f.Invoices = path
	}
}

func writeRejects(path string, res *csvimport.Result) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--rejects: %w", err)
	}
	if err := res.WriteRejects(f); err != nil {
		f.Close()
		return fmt.Errorf("--rejects %s: %w", path, err)
	}
	return f.Close()
}
