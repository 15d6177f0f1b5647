package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/relance-io/relance/sinks"
	"github.com/relance-io/relance/sinks/chdb"
	clickhouse "github.com/relance-io/relance/sinks/clickhouse"
)

// storeFlags choose the store for the one-shot commands (migrate, query,
// report): the embedded chDB engine (a directory) or a ClickHouse server
// (an address). Secrets come from env or files only.
type storeFlags struct {
	fs       *flag.FlagSet
	config   string
	chdbDir  string
	addr     string
	database string
	user     string
	tls      bool
}

func (f *storeFlags) register(fs *flag.FlagSet) {
	f.fs = fs
	fs.StringVar(&f.config, "config", os.Getenv("RELANCE_CONFIG"), "the YAML configuration of relance run (env RELANCE_CONFIG): its store section (server, protocol, TLS with a CA, credentials, env overrides) is used, the flags below override it")
	fs.StringVar(&f.chdbDir, "chdb-dir", "", "embedded store: the chDB data directory (e.g. data/demo/chdb)")
	fs.StringVar(&f.addr, "clickhouse-addr", "", "ClickHouse server native address host:port (e.g. localhost:9000); password from RELANCE_CLICKHOUSE_PASSWORD or RELANCE_CLICKHOUSE_PASSWORD_FILE")
	fs.StringVar(&f.database, "database", "relance", "ClickHouse database")
	fs.StringVar(&f.user, "clickhouse-user", "default", "ClickHouse user")
	fs.BoolVar(&f.tls, "clickhouse-tls", false, "connect to ClickHouse over TLS")
}

func (f *storeFlags) open(ctx context.Context) (sinks.Store, error) {
	if f.config != "" {
		return f.openConfigured(ctx)
	}
	if f.chdbDir == "" && f.addr == "" {
		return nil, fmt.Errorf("no store given: pass --chdb-dir DIR (embedded), --clickhouse-addr HOST:PORT (server) or --config FILE (relance run's)")
	}
	sc := StoreConfig{ChDBDir: f.chdbDir, ClickHouse: ClickHouseConfig{Addr: f.addr, Database: f.database, User: f.user, TLS: TLSConfig{Enabled: f.tls}}}
	sc.ClickHouse.Password = Secret(os.Getenv("RELANCE_CLICKHOUSE_PASSWORD"))
	sc.ClickHouse.PasswordFile = os.Getenv("RELANCE_CLICKHOUSE_PASSWORD_FILE")
	return openStore(ctx, sc)
}

// openConfigured opens the store of relance run's configuration file (and
// its environment overrides), with the flags given explicitly on top: the
// one-shot commands then reach a server exactly as run does (protocol,
// TLS with a private CA, client certificate).
func (f *storeFlags) openConfigured(ctx context.Context) (sinks.Store, error) {
	sc, err := f.configured()
	if err != nil {
		return nil, err
	}
	return openStore(ctx, sc)
}

// configured is the store section of --config with the flags set on top.
func (f *storeFlags) configured() (StoreConfig, error) {
	c, err := loadConfig(f.config, os.Getenv)
	if err != nil {
		return StoreConfig{}, err
	}
	sc := c.Store
	f.fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "chdb-dir":
			sc.ChDBDir, sc.ClickHouse.Addr = f.chdbDir, ""
		case "clickhouse-addr":
			sc.ClickHouse.Addr, sc.ChDBDir = f.addr, ""
		case "database":
			sc.ClickHouse.Database = f.database
		case "clickhouse-user":
			sc.ClickHouse.User = f.user
		case "clickhouse-tls":
			sc.ClickHouse.TLS.Enabled = f.tls
		}
	})
	if sc.ChDBDir == "" && sc.ClickHouse.Addr == "" {
		return StoreConfig{}, fmt.Errorf("%s: no store: set store.chdb_dir or store.clickhouse.addr (or pass --chdb-dir or --clickhouse-addr)", f.config)
	}
	return sc, nil
}

// openExisting opens the store of a command that only reads it (query,
// report): an embedded directory must exist already — opening one creates
// it, and the error would then be about a missing table.
func (f *storeFlags) openExisting(ctx context.Context) (sinks.Store, error) {
	if f.chdbDir != "" {
		if _, err := os.Stat(f.chdbDir); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("--chdb-dir %s: no such directory, so no relance store there: run relance demo, or relance migrate --chdb-dir %s and relance run", f.chdbDir, f.chdbDir)
		}
	}
	return f.open(ctx)
}

// requireSchema fails, saying what to run, when the store's database has
// no relance schema (no migration applied).
func requireSchema(ctx context.Context, s sinks.Store) error {
	rows, err := s.Query(ctx, "SELECT currentDatabase(), (SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'schema_migrations')")
	if err != nil {
		return err
	}
	if len(rows.Data) == 1 && rows.Data[0][1] == "0" {
		msg := "database " + rows.Data[0][0] + " has no relance schema: run relance migrate (then relance run), or relance demo for sample data"
		if others, err := s.Query(ctx, "SELECT arrayStringConcat(groupArray(database), ', ') FROM system.tables WHERE name = 'schema_migrations' AND database NOT IN ('system', 'INFORMATION_SCHEMA', 'information_schema')"); err == nil && len(others.Data) == 1 && others.Data[0][0] != "" {
			msg += "; the store's databases with one: " + others.Data[0][0] + " (--database)"
		}
		return errors.New(msg)
	}
	return nil
}

// openStore opens the configured store: chDB or a ClickHouse server.
func openStore(ctx context.Context, sc StoreConfig) (sinks.Store, error) {
	switch {
	case sc.ChDBDir != "" && sc.ClickHouse.Addr != "":
		return nil, fmt.Errorf("store: an embedded chDB directory and a ClickHouse server are both given: choose one")
	case sc.ChDBDir != "":
		db := sc.ClickHouse.Database
		if db == "" {
			db = "relance"
		}
		return chdb.Open(sc.ChDBDir, chdb.Database(db))
	case sc.ClickHouse.Addr != "":
		pw, err := secretValue("store.clickhouse.password_file", sc.ClickHouse.Password, sc.ClickHouse.PasswordFile)
		if err != nil {
			return nil, err
		}
		opts := []clickhouse.Opt{clickhouse.Addr(sc.ClickHouse.Addr), clickhouse.Password(pw), clickhouse.AsyncInsert(sc.ClickHouse.AsyncInsert)}
		if sc.ClickHouse.Compression != "" {
			opts = append(opts, clickhouse.Compression(sc.ClickHouse.Compression))
		}
		if sc.ClickHouse.Protocol == "http" {
			opts = append(opts, clickhouse.Protocol(ch.HTTP))
		}
		if sc.ClickHouse.Database != "" {
			opts = append(opts, clickhouse.Database(sc.ClickHouse.Database))
		}
		if sc.ClickHouse.User != "" {
			opts = append(opts, clickhouse.Username(sc.ClickHouse.User))
		}
		tc, err := sc.ClickHouse.TLS.build("store.clickhouse.tls")
		if err != nil {
			return nil, err
		}
		if tc != nil {
			opts = append(opts, clickhouse.TLS(tc))
		}
		return clickhouse.Open(ctx, opts...)
	}
	return nil, fmt.Errorf("store: none given: set store.chdb_dir (embedded) or store.clickhouse.addr (server)")
}
