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
	chdbDir  string
	addr     string
	database string
	user     string
	tls      bool
}

func (f *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.chdbDir, "chdb-dir", "", "embedded store: the chDB data directory (e.g. data/demo/chdb)")
	fs.StringVar(&f.addr, "clickhouse-addr", "", "ClickHouse server native address host:port (e.g. localhost:9000); password from RELANCE_CLICKHOUSE_PASSWORD or RELANCE_CLICKHOUSE_PASSWORD_FILE")
	fs.StringVar(&f.database, "database", "relance", "ClickHouse database")
	fs.StringVar(&f.user, "clickhouse-user", "default", "ClickHouse user")
	fs.BoolVar(&f.tls, "clickhouse-tls", false, "connect to ClickHouse over TLS")
}

func (f *storeFlags) open(ctx context.Context) (sinks.Store, error) {
	if f.chdbDir == "" && f.addr == "" {
		return nil, fmt.Errorf("no store given: pass --chdb-dir DIR (embedded) or --clickhouse-addr HOST:PORT (server)")
	}
	sc := StoreConfig{ChDBDir: f.chdbDir, ClickHouse: ClickHouseConfig{Addr: f.addr, Database: f.database, User: f.user, TLS: TLSConfig{Enabled: f.tls}}}
	sc.ClickHouse.Password = Secret(os.Getenv("RELANCE_CLICKHOUSE_PASSWORD"))
	sc.ClickHouse.PasswordFile = os.Getenv("RELANCE_CLICKHOUSE_PASSWORD_FILE")
	return openStore(ctx, sc)
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
	rows, err := s.Query(ctx, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'schema_migrations'")
	if err != nil {
		return err
	}
	if len(rows.Data) == 1 && rows.Data[0][0] == "0" {
		return fmt.Errorf("the store's database has no relance schema: run relance migrate (then relance run), or relance demo for sample data")
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
