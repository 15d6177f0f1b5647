package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/relance-io/relance/ingest"
	"github.com/relance-io/relance/schemas"
	"github.com/relance-io/relance/sinks"
	"github.com/relance-io/relance/stream"
)

// configFlags are the flags every config-driven command takes: --config and
// the overrides, applied over the file and the environment.
type configFlags struct {
	fs   *flag.FlagSet
	path string
	set  map[string]func(*Config) error
}

// With only, just the overrides named there are flags (produce and import
// write to Kafka: the join, store and HTTP flags would mean nothing).
func newConfigFlags(fs *flag.FlagSet, only ...string) *configFlags {
	cf := &configFlags{fs: fs, set: map[string]func(*Config) error{}}
	fs.StringVar(&cf.path, "config", os.Getenv("RELANCE_CONFIG"), "YAML configuration file (env RELANCE_CONFIG); env and flags override it")
	str := func(name, usage string, apply func(*Config, string) error) {
		if len(only) > 0 && !slices.Contains(only, name) {
			return
		}
		v := fs.String(name, "", usage)
		cf.set[name] = func(c *Config) error { return apply(c, *v) }
	}
	str("brokers", "kafka.brokers, comma-separated", func(c *Config, v string) error { c.Kafka.Brokers = splitList(v); return nil })
	str("group", "kafka.group", func(c *Config, v string) error { c.Kafka.Group = v; return nil })
	str("registry", "registry.url", func(c *Config, v string) error { c.Registry.URL = v; return nil })
	str("chdb-dir", "store.chdb_dir (embedded store)", func(c *Config, v string) error { c.Store.ChDBDir = v; return nil })
	str("clickhouse-addr", "store.clickhouse.addr (server)", func(c *Config, v string) error { c.Store.ClickHouse.Addr = v; return nil })
	str("horizons", "join.horizons, comma-separated (e.g. 7d,15d,30d)", func(c *Config, v string) error { c.Join.Horizons = splitList(v); return nil })
	str("model", "join.model", func(c *Config, v string) error { c.Join.Model = v; return nil })
	dur := func(name, key string, dst func(*Config) *Duration) {
		str(name, key, func(c *Config, v string) error {
			d, err := parseDuration(v)
			if err != nil {
				return fmt.Errorf("--%s: %w", name, err)
			}
			*dst(c) = Duration(d)
			return nil
		})
	}
	dur("half-life", "join.half_life", func(c *Config) *Duration { return &c.Join.HalfLife })
	dur("allowed-lateness", "join.allowed_lateness", func(c *Config) *Duration { return &c.Join.AllowedLateness })
	dur("retention", "join.retention", func(c *Config) *Duration { return &c.Join.Retention })
	dur("idle-timeout", "join.idle_timeout", func(c *Config) *Duration { return &c.Join.IdleTimeout })
	dur("flush-interval", "pipeline.flush_interval", func(c *Config) *Duration { return &c.Pipeline.FlushInterval })
	dur("snapshot-interval", "pipeline.snapshot_interval", func(c *Config) *Duration { return &c.Pipeline.SnapshotInterval })
	str("listen", "http.listen (/metrics, /healthz, /readyz), \"\" disables", func(c *Config, v string) error { c.HTTP.Listen = v; return nil })
	return cf
}

// load reads file, env and the flags that were set, then validates.
func (cf *configFlags) load() (Config, error) { return cf.loadFor(true) }

// loadFor is load; without needStore (produce writes no store) the store
// section may be left empty.
func (cf *configFlags) loadFor(needStore bool) (Config, error) {
	c, err := loadConfig(cf.path, os.Getenv)
	if err != nil {
		return c, err
	}
	var ferr error
	cf.fs.Visit(func(f *flag.Flag) {
		if apply, ok := cf.set[f.Name]; ok && ferr == nil {
			ferr = apply(&c)
		}
	})
	if ferr != nil {
		return c, ferr
	}
	v := c
	if !needStore && v.Store.ChDBDir == "" && v.Store.ClickHouse.Addr == "" {
		v.Store.ChDBDir = "-" // not used: only the other sections are checked
		v.Store.ClickHouse.AsyncInsert = false
	}
	if err := v.validate(); err != nil {
		return c, &invalidConfigError{err}
	}
	return c, nil
}

// invalidConfigError is a configuration that was read but does not
// validate: `config print` still shows it.
type invalidConfigError struct{ err error }

func (e *invalidConfigError) Error() string { return "invalid configuration:\n" + e.err.Error() }
func (e *invalidConfigError) Unwrap() error { return e.err }

func cmdRun(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	cf := newConfigFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	c, err := cf.load()
	if err != nil {
		return err
	}
	return run(ctx, c, os.Stderr, nil)
}

// run is `relance run` once configured: store, then stream and ingest;
// on ctx's end (SIGTERM) it stops fetching, flushes, commits and returns
// within pipeline.shutdown_timeout. ready, when not nil, receives the ops
// endpoint's address once it listens (tests).
func run(ctx context.Context, c Config, logTo io.Writer, ready chan<- string) error {
	log := c.logger(logTo)
	hs := make([]stream.Horizon, len(c.Join.Horizons))
	for i, h := range c.Join.Horizons {
		hs[i], _ = stream.ParseHorizon(h) // validated
	}
	model, _ := stream.ParseModel(c.Join.Model)
	kopts, err := c.kafkaOpts()
	if err != nil {
		return err
	}

	store, err := openStore(ctx, c.Store)
	if err != nil {
		return err
	}
	defer store.Close()
	if c.Store.Migrate == nil || *c.Store.Migrate {
		// A database migrated for a cluster is migrated on the cluster
		// again: plain DDL would create a new table on this node only.
		cluster, database, err := sinks.MigratedCluster(ctx, store)
		if err != nil {
			return err
		}
		var opts []sinks.MigrateOpt
		if cluster != "" {
			opts = append(opts, sinks.OnCluster(cluster, database))
			log.Info("migrating on the cluster the tables were created for", "cluster", cluster)
		}
		if _, err := sinks.Migrate(ctx, store, opts...); err != nil {
			return err
		}
	}
	// Consuming only: never add relance's copy of a schema to the
	// producers' subjects.
	serde, err := c.serde(ctx, schemas.ReadOnly())
	if err != nil {
		return err
	}
	reg := newRegistry()
	consumer, err := ingest.New(serde, store,
		ingest.Brokers(c.Kafka.Brokers...),
		ingest.Group(c.Kafka.Group),
		ingest.DeadLetterTopic(c.Kafka.DeadLetterTopic),
		ingest.KafkaOpts(kopts...),
		ingest.FlushInterval(time.Duration(c.Pipeline.FlushInterval)),
		ingest.FlushRows(c.Pipeline.FlushRows),
		ingest.FlushBytes(c.Pipeline.FlushBytes),
		ingest.IdleTimeout(time.Duration(c.Join.IdleTimeout)),
		ingest.Snapshots(c.Kafka.StateTopic, time.Duration(c.Pipeline.SnapshotInterval)),
		ingest.ShutdownTimeout(time.Duration(c.Pipeline.ShutdownTimeout)),
		ingest.Metrics(reg),
		ingest.Logger(log),
		ingest.JoinerOpts(stream.Horizons(hs...), stream.Attribution(model), stream.HalfLife(time.Duration(c.Join.HalfLife)),
			stream.AllowedLateness(time.Duration(c.Join.AllowedLateness)), stream.Retention(time.Duration(c.Join.Retention))),
	)
	if err != nil {
		return err
	}
	defer consumer.Close()
	if c.HTTP.Listen != "" {
		ops, err := startOps(c.HTTP.Listen, reg, consumer.Status, store, log)
		if err != nil {
			return fmt.Errorf("http.listen %s: %w", c.HTTP.Listen, err)
		}
		defer ops.Close()
		log.Info("ops endpoint listening", "addr", ops.Addr())
		if ready != nil {
			ready <- ops.Addr()
		}
	}
	log.Info("relance running", "brokers", strings.Join(c.Kafka.Brokers, ","), "group", c.Kafka.Group,
		"horizons", strings.Join(c.Join.Horizons, ","), "model", c.Join.Model, "sasl", c.Kafka.SASL.Mechanism, "tls", c.Kafka.TLS.Enabled)
	err = consumer.Run(ctx)
	st := consumer.Stats()
	var read, dead uint64
	for _, n := range st.Records {
		read += n
	}
	for _, n := range st.DeadLetters {
		dead += n
	}
	// What this run did, for the operator who stopped it.
	args := []any{"records_read", read, "batches_written", st.Batches, "rows_written", st.Rows, "commits", st.Commits, "dead_letters", dead}
	if err != nil {
		log.Error("relance stopped", append(args, "err", err)...)
	} else {
		log.Info("relance stopped", args...)
	}
	return err
}

// cmdConfig is `relance config check|print`. check also asks the schema
// registry and the brokers (with the configured TLS and SASL) whether they
// answer, unless --offline: a wrong address, certificate or password is
// then found before `relance run` starts retrying it.
func cmdConfig(ctx context.Context, args []string, stdout io.Writer) error {
	const usage = "usage: relance config check|print [--config FILE] [--offline] [flags of relance run]"
	const offlineUsage = "check: only check the configuration itself, do not try the registry and the brokers"
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		fs := flag.NewFlagSet("config", flag.ContinueOnError)
		newConfigFlags(fs)
		fs.Bool("offline", false, offlineUsage)
		fmt.Fprintf(fs.Output(), "%s\n\n  check  validate the configuration and try the registry and the brokers\n  print  print it, secrets redacted (an invalid one too, then its errors)\n\nflags:\n", usage)
		fs.PrintDefaults()
		return flag.ErrHelp
	}
	if len(args) == 0 || (args[0] != "check" && args[0] != "print") {
		return errors.New(usage)
	}
	fs := flag.NewFlagSet("config "+args[0], flag.ContinueOnError)
	cf := newConfigFlags(fs)
	offline := fs.Bool("offline", false, offlineUsage)
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	c, err := cf.load()
	var invalid *invalidConfigError
	if err != nil && (args[0] != "print" || !errors.As(err, &invalid)) {
		return err
	}
	if args[0] == "check" {
		if !*offline {
			if err := c.probe(ctx, stdout); err != nil {
				return err
			}
		}
		fmt.Fprintln(stdout, "configuration is valid")
		return nil
	}
	b, perr := c.print()
	if perr != nil {
		return perr
	}
	if _, perr := stdout.Write(b); perr != nil {
		return perr
	}
	if invalid != nil {
		// Printed all the same: what the file, env and flags add up to is
		// what there is to fix.
		return fmt.Errorf("the configuration printed above is not valid yet:\n%w", invalid.err)
	}
	return nil
}

// probeTimeout bounds each reachability check of `config check`: long
// enough for a TLS handshake and a SASL exchange, short enough for a
// deployment script.
const probeTimeout = 5 * time.Second

// probe asks the registry for its subjects and the brokers for metadata,
// and returns every failure, each naming its key.
func (c *Config) probe(ctx context.Context, stdout io.Writer) error {
	var errs []error
	rctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	if rcl, err := c.registry(); err != nil {
		errs = append(errs, err)
	} else if _, err := rcl.Subjects(rctx); err != nil {
		errs = append(errs, fmt.Errorf("registry.url: %s is unreachable: %v (check the address and that the registry runs; --offline skips this check)", c.Registry.URL, err))
	} else {
		fmt.Fprintf(stdout, "schema registry %s answers\n", c.Registry.URL)
	}
	kctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	kopts, err := c.kafkaOpts()
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.Kafka.Brokers...)}, kopts...)...)
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("kafka.brokers: %w", err))...)
	}
	defer cl.Close()
	if err := cl.Ping(kctx); err != nil {
		errs = append(errs, fmt.Errorf("kafka.brokers: %s unreachable or refusing the connection: %v (check the addresses, kafka.tls and kafka.sasl; --offline skips this check)",
			strings.Join(c.Kafka.Brokers, ","), err))
	} else {
		fmt.Fprintf(stdout, "kafka brokers %s answer\n", strings.Join(c.Kafka.Brokers, ","))
	}
	return errors.Join(errs...)
}
