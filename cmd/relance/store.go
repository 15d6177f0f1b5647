package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/relance-io/relance/sinks"
	"github.com/relance-io/relance/sinks/chdb"
	clickhouse "github.com/relance-io/relance/sinks/clickhouse"
)

// storeFlags choose the store: the embedded chDB engine (a directory) or a
// ClickHouse server (an address). Secrets come from env or files only.
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
	switch {
	case f.chdbDir != "" && f.addr != "":
		return nil, fmt.Errorf("--chdb-dir and --clickhouse-addr both given: choose the embedded store or a server")
	case f.chdbDir != "":
		s, err := chdb.Open(f.chdbDir, chdb.Database(f.database))
		if err != nil {
			return nil, err
		}
		return s, nil
	case f.addr != "":
		pw, err := secret("RELANCE_CLICKHOUSE_PASSWORD")
		if err != nil {
			return nil, err
		}
		opts := []clickhouse.Opt{clickhouse.Addr(f.addr), clickhouse.Database(f.database), clickhouse.Username(f.user), clickhouse.Password(pw)}
		if f.tls {
			opts = append(opts, clickhouse.TLS(&tls.Config{MinVersion: tls.VersionTLS12}))
		}
		return clickhouse.Open(ctx, opts...)
	}
	return nil, fmt.Errorf("no store given: pass --chdb-dir DIR (embedded) or --clickhouse-addr HOST:PORT (server)")
}

// secret reads NAME from the environment, or the file named by NAME_FILE.
func secret(name string) (string, error) {
	if v := os.Getenv(name); v != "" {
		return v, nil
	}
	if p := os.Getenv(name + "_FILE"); p != "" {
		b, err := os.ReadFile(p)
		if err != nil {
			return "", fmt.Errorf("%s_FILE: %w", name, err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return "", nil
}
