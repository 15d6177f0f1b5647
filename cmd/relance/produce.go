package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/relance-io/relance/generate"
	"github.com/relance-io/relance/produce"
	"github.com/relance-io/relance/progress"
)

// cmdProduce generates a realistic book and produces it to a real Kafka
// and schema registry, as live producers would: the one-shot data loader
// of docker-compose, or a load for a staging cluster. Kafka and the
// registry come from the same configuration as `relance run` (file, env,
// flags, TLS and SASL included).
func cmdProduce(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("produce", flag.ContinueOnError)
	cf := newConfigFlags(fs, "brokers", "registry")
	p := generate.DefaultParams()
	fs.Int64Var(&p.Seed, "seed", p.Seed, "generator seed: the same seed gives the same events")
	fs.IntVar(&p.Customers, "customers", p.Customers, "number of customers")
	fs.IntVar(&p.Months, "months", p.Months, "months of history, ending with last month")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	c, err := cf.loadFor(false)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	p.Start = time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -p.Months, 0)
	ds, err := generate.Generate(p)
	if err != nil {
		return err
	}
	serde, err := c.serde(ctx)
	if err != nil {
		return err
	}
	recs, err := produce.Records(serde, ds.Invoices, ds.Reminders, ds.Payments)
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
	fmt.Fprintf(stdout, "produced %d invoices, %d reminders, %d payments (%d records) in %s\n",
		len(ds.Invoices), len(ds.Reminders), len(ds.Payments), len(recs), time.Since(start).Round(time.Millisecond))
	return nil
}
