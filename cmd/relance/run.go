package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/relance-io/relance/ingest"
	"github.com/relance-io/relance/schemas"
	"github.com/relance-io/relance/sinks"
	"github.com/relance-io/relance/stream"
)

func cmdRun(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var sf storeFlags
	sf.register(fs)
	brokers := fs.String("brokers", "localhost:9092", "Kafka seed brokers, comma-separated")
	registry := fs.String("registry", "http://localhost:8081", "schema registry URL")
	group := fs.String("group", "relance", "Kafka consumer group")
	horizons := fs.String("horizons", "7d,15d,30d", "observation horizons")
	model := fs.String("model", "last_touch", "attribution model: last_touch, first_touch, linear, time_decay")
	halfLife := fs.Duration("half-life", 7*24*time.Hour, "time_decay half-life")
	lateness := fs.Duration("allowed-lateness", 24*time.Hour, "how late an event may arrive and still be in the first emission")
	retention := fs.Duration("retention", 7*24*time.Hour, "how long past the watermark state is kept for corrections")
	flushEvery := fs.Duration("flush-interval", time.Second, "longest wait before rows are written")
	idle := fs.Duration("idle-timeout", time.Minute, "after this long without records, an input partition no longer holds the watermark back")
	migrate := fs.Bool("migrate", true, "apply schema migrations at start")
	if err := fs.Parse(args); err != nil {
		return err
	}
	hs, err := stream.ParseHorizons(*horizons)
	if err != nil {
		return fmt.Errorf("--horizons: %w", err)
	}
	m, err := stream.ParseModel(*model)
	if err != nil {
		return fmt.Errorf("--model: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))

	store, err := sf.open(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	if *migrate {
		if _, err := sinks.Migrate(ctx, store); err != nil {
			return err
		}
	}
	rcl, err := sr.NewClient(sr.URLs(*registry))
	if err != nil {
		return fmt.Errorf("--registry: %w", err)
	}
	serde, err := schemas.NewSerde(ctx, rcl)
	if err != nil {
		return fmt.Errorf("schema registry %s: %w", *registry, err)
	}
	c, err := ingest.New(serde, store,
		ingest.Brokers(strings.Split(*brokers, ",")...),
		ingest.Group(*group),
		ingest.FlushInterval(*flushEvery),
		ingest.IdleTimeout(*idle),
		ingest.Logger(log),
		ingest.JoinerOpts(stream.Horizons(hs...), stream.Attribution(m), stream.HalfLife(*halfLife),
			stream.AllowedLateness(*lateness), stream.Retention(*retention)),
	)
	if err != nil {
		return err
	}
	defer c.Close()
	log.Info("relance running", "brokers", *brokers, "group", *group, "horizons", *horizons, "model", m.String())
	err = c.Run(ctx)
	log.Info("relance stopped", "err", err)
	return err
}
