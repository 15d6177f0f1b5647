package clickhouse

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/http"
	"strings"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	chdriver "github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/relance-io/relance/sinks"
)

// unknownDatabase is ClickHouse's UNKNOWN_DATABASE error code.
const unknownDatabase = 81

// Store is a ClickHouse server as a sinks.Store. It is safe for concurrent
// use (a pool of MaxOpenConns connections).
type Store struct {
	conn     chdriver.Conn
	addr     string
	database string
	password string // only to scrub it from errors
	async    bool
}

var (
	_ sinks.Store        = (*Store)(nil)
	_ sinks.ParamQuerier = (*Store)(nil)
)

// Open connects to the server, creates the database if it does not exist
// (which needs the CREATE DATABASE grant the first time only) and checks
// the connection with a ping. It does not apply migrations: call
// sinks.Migrate. A failure to reach the server is an error that
// sinks.IsRetryable reports as retryable.
func Open(ctx context.Context, opts ...Opt) (*Store, error) {
	c := defaultCfg()
	for _, o := range opts {
		o(&c)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	s := &Store{addr: c.addr, database: c.database, password: c.password, async: c.asyncInsert}
	conn, err := s.connect(ctx, &c, c.database)
	var se *sinks.Error
	if errors.As(err, &se) && se.Code == unknownDatabase {
		boot, berr := s.connect(ctx, &c, "")
		if berr != nil {
			return nil, berr
		}
		berr = boot.Exec(ctx, "CREATE DATABASE IF NOT EXISTS `"+c.database+"`")
		boot.Close()
		if berr != nil {
			return nil, s.wrap("create database "+c.database, berr)
		}
		conn, err = s.connect(ctx, &c, c.database)
	}
	if err != nil {
		return nil, err
	}
	s.conn = conn
	return s, nil
}

func (s *Store) connect(ctx context.Context, c *cfg, database string) (chdriver.Conn, error) {
	conn, err := ch.Open(&ch.Options{
		Protocol:     c.protocol,
		Addr:         []string{c.addr},
		Auth:         ch.Auth{Database: database, Username: c.username, Password: c.password},
		TLS:          c.tls,
		Compression:  &ch.Compression{Method: compressions[c.compression]},
		DialTimeout:  c.dialTimeout,
		MaxOpenConns: c.maxConns,
		MaxIdleConns: c.maxConns,
	})
	if err != nil {
		return nil, s.wrap("open "+c.addr, err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, s.wrap(fmt.Sprintf("connect to %s as %s", c.addr, c.username), err)
	}
	return conn, nil
}

// Exec runs one statement that returns no rows.
func (s *Store) Exec(ctx context.Context, stmt string) error {
	return s.wrap("exec", s.conn.Exec(ctx, stmt))
}

// Write inserts the rows of b (sinks.Tables), one batch INSERT per non-empty
// table (PrepareBatch, appendRow, Send; maps with sorted keys, as the chDB
// sink writes them), each with insert_deduplication_token "<b.Token>-<table>" when
// b.Token is set. Tables are written one after the other: on error some may
// be written already, and the retry of the same batch is idempotent (same
// tokens, ReplacingMergeTree keys).
func (s *Store) Write(ctx context.Context, b *sinks.Batch) error {
	tables, err := sinks.Tables(b)
	if err != nil {
		return err
	}
	for i := range tables {
		if err := s.insert(ctx, b.Token, &tables[i]); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) insert(ctx context.Context, token string, t *sinks.Table) error {
	op := "insert " + t.Name
	settings := ch.Settings{
		// Into a Distributed table (relance migrate --cluster), an insert
		// otherwise returns once the rows are queued on the receiving
		// node's disk: the offsets would be committed before any shard
		// has them, and the shards' errors would never reach us. (The old
		// name of distributed_foreground_insert, which servers of every
		// version know.)
		"insert_distributed_sync": 1,
		// Said either way: servers of 26.x insert asynchronously unless
		// told not to.
		"async_insert": 0,
		// Rows are stored as written, equal keys not replaced within the
		// insert: readers use FINAL, which picks the highest version
		// anyway, and the replacing pass costs the server CPU (see the
		// chdb sink's insertFile).
		"optimize_on_insert": 0,
	}
	if token != "" {
		settings["insert_deduplication_token"] = token + "-" + t.Name
	}
	if s.async {
		settings["async_insert"] = 1
		settings["wait_for_async_insert"] = 1
	}
	ctx = ch.Context(ctx, ch.WithSettings(settings))
	batch, err := s.conn.PrepareBatch(ctx, t.Insert())
	if err != nil {
		return s.wrap(op, err)
	}
	defer batch.Close()
	for _, r := range t.Rows {
		if err := appendRow(batch, r); err != nil {
			return s.wrap(op, err)
		}
	}
	return s.wrap(op, batch.Send())
}

// QueryParams runs q with ClickHouse query parameters ({name:Type} in the
// SQL) bound to params, each given as its text form ("2025-10-01", "7d").
func (s *Store) QueryParams(ctx context.Context, q string, params map[string]string) (*sinks.Rows, error) {
	return s.Query(ch.Context(ctx, ch.WithParameters(ch.Parameters(params))), q)
}

// Query runs one query and returns its whole result as exact strings (see
// sinks.Rows and format).
func (s *Store) Query(ctx context.Context, q string) (*sinks.Rows, error) {
	rows, err := s.conn.Query(ctx, q)
	if err != nil {
		return nil, s.wrap("query", err)
	}
	defer rows.Close()
	cts := rows.ColumnTypes()
	out := &sinks.Rows{Columns: rows.Columns(), Types: make([]string, len(cts))}
	dest := make([]any, len(cts))
	for i, ct := range cts {
		out.Types[i] = ct.DatabaseTypeName()
		dest[i] = newScanDest(ct.ScanType())
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, s.wrap("query", err)
		}
		row := make([]string, len(dest))
		for i, d := range dest {
			row[i] = format(d, out.Types[i])
		}
		out.Data = append(out.Data, row)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("query", err)
	}
	return out, nil
}

// Close closes the connection pool.
func (s *Store) Close() error {
	if s.conn == nil {
		return nil
	}
	return s.wrap("close", s.conn.Close())
}

// wrap turns a driver error into a *sinks.Error: the ClickHouse code of a
// server exception (over HTTP too: the driver parses the exception text),
// Temporary for failures to reach the server and for HTTP 502, 503 and 504
// without a ClickHouse code (a proxy or load balancer in front of it), and
// the password scrubbed from the text.
func (s *Store) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	se := &sinks.Error{Op: "clickhouse: " + op, Err: err}
	var ex *ch.Exception
	if errors.As(err, &ex) {
		se.Code = int(ex.Code)
	}
	var he *ch.HTTPError
	gateway := errors.As(err, &he) && (he.StatusCode == http.StatusBadGateway ||
		he.StatusCode == http.StatusServiceUnavailable || he.StatusCode == http.StatusGatewayTimeout)
	se.Temporary = se.Code == 0 && (sinks.IsRetryable(err) || gateway ||
		errors.Is(err, ch.ErrAcquireConnTimeout) || errors.Is(err, ch.ErrConnectionClosed) ||
		errors.Is(err, driver.ErrBadConn))
	if s.password != "" && strings.Contains(err.Error(), s.password) {
		// Opaque on purpose: unwrapping would give the password back.
		se.Err = errors.New(strings.ReplaceAll(err.Error(), s.password, "[redacted]"))
	}
	return se
}
