package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/relance-io/relance/demo"
	"github.com/relance-io/relance/generate"
	"github.com/relance-io/relance/schemas"
)

// cmdProduce generates a realistic book and produces it to a real Kafka
// and schema registry, as live producers would: the one-shot data loader
// of docker-compose, or a load for a staging cluster. Kafka and the
// registry come from the same configuration as `relance run` (file, env,
// flags, TLS and SASL included).
func cmdProduce(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("produce", flag.ContinueOnError)
	cf := newConfigFlags(fs)
	p := generate.DefaultParams()
	fs.Int64Var(&p.Seed, "seed", p.Seed, "generator seed: the same seed gives the same events")
	fs.IntVar(&p.Customers, "customers", p.Customers, "number of customers")
	fs.IntVar(&p.Months, "months", p.Months, "months of history, ending with last month")
	if err := fs.Parse(args); err != nil {
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
	rcl, err := sr.NewClient(sr.URLs(c.Registry.URL))
	if err != nil {
		return fmt.Errorf("registry.url: %w", err)
	}
	serde, err := schemas.NewSerde(ctx, rcl)
	if err != nil {
		return fmt.Errorf("schema registry %s: %w", c.Registry.URL, err)
	}
	recs, err := demo.Records(serde, ds)
	if err != nil {
		return err
	}
	kopts, err := c.kafkaOpts()
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.Kafka.Brokers...), kgo.ProducerLinger(5 * time.Millisecond)}, kopts...)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	start := time.Now()
	if _, err := demo.ProduceRecords(ctx, cl, recs); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "produced %d invoices, %d reminders, %d payments (%d records) in %s\n",
		len(ds.Invoices), len(ds.Reminders), len(ds.Payments), len(recs), time.Since(start).Round(time.Millisecond))
	return nil
}
