package chdb

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/chdb-io/chdb-go/chdb"

	// libpath must be initialized before chdb-go's chdb-purego, which
	// dlopens libchdb.so in its init: see package libpath.
	"github.com/relance-io/relance/sinks/chdb/libpath"

	"github.com/relance-io/relance/sinks"
)

// Opt configures Open.
type Opt func(*cfg)

type cfg struct {
	database string
}

func defaultCfg() cfg { return cfg{database: "relance"} }

func (c *cfg) validate() error {
	if !isIdent(c.database) {
		return fmt.Errorf("chdb: database %q: want letters, digits and '_', not starting with a digit (e.g. \"relance\")", c.database)
	}
	return nil
}

// Database sets the database that Open creates if needed and selects,
// overriding the default of "relance".
func Database(name string) Opt { return func(c *cfg) { c.database = name } }

// Store is the chDB engine as a sinks.Store. Its methods are safe for
// concurrent use (they are serialized), but a statement, once started,
// cannot be interrupted: ctx is only checked before it starts.
type Store struct {
	mu       sync.Mutex
	sess     *chdb.Session
	dir      string
	database string
	closed   bool
	inserts  string // directory of the files of Write, created on first use, removed by Close

	// encodeMu serializes Writes on encoder, whose buffer is kept from
	// one Write to the next: a flush encodes tens of megabytes, which,
	// grown anew each time, cost more than the encoding itself.
	encodeMu sync.Mutex
	encoder  rowEncoder
}

var (
	_ sinks.Store        = (*Store)(nil)
	_ sinks.ParamQuerier = (*Store)(nil)
)

var (
	openMu sync.Mutex
	opened *Store // the Store holding the process's chDB session, if any
)

// ErrAlreadyOpen is returned by Open while another Store is open in the
// process: chDB has a single session per process. Share the open Store (and
// isolate with UseDatabase) or Close it first.
var ErrAlreadyOpen = errors.New("chdb: a store is already open in this process (chDB allows one session per process)")

// Open opens the chDB session persisted in dir (created if needed), creates
// the database if needed and selects it. It does not apply migrations: call
// sinks.Migrate. Close does not delete dir.
func Open(dir string, opts ...Opt) (*Store, error) {
	c := defaultCfg()
	for _, o := range opts {
		o(&c)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	if dir == "" {
		return nil, errors.New("chdb: Open needs a data directory (e.g. \"./data/chdb\")")
	}
	// The engine's own messages lose the reason ("failed to check
	// directory"): say it first.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("chdb: data directory %s: %w", dir, err)
	}
	openMu.Lock()
	defer openMu.Unlock()
	if opened != nil {
		return nil, fmt.Errorf("%w: at %s", ErrAlreadyOpen, opened.dir)
	}
	if err := notLockedByAnother(dir); err != nil {
		return nil, err
	}
	// After an unclean stop (a crash, SIGKILL), the engine's asynchronous
	// loading of the tables at start has been seen to fail once
	// ("recursive_mutex lock failed") and succeed on the next attempt.
	var sess *chdb.Session
	var err error
	for attempt, wait := 1, 100*time.Millisecond; ; attempt, wait = attempt+1, 2*wait {
		if sess, err = chdb.NewSession(dir); err == nil || attempt == 4 {
			break
		}
		time.Sleep(wait)
	}
	if err != nil {
		return nil, &sinks.Error{Op: "chdb: open " + dir, Code: sinks.CodeFromMessage(err.Error()), Err: err}
	}
	s := &Store{sess: sess, dir: dir}
	// The engine installed its own signal handlers when the session
	// started: give Go's back (a nil dereference must panic, not hang).
	libpath.RestoreSignals()
	// ClickHouse's query and memory profilers arm per-thread timer signals
	// and unwind the stack in their handlers. In chDB a query runs on the
	// calling Go thread, whose stack they cannot unwind: off, or the process
	// can crash on a long query.
	if err := s.run(context.Background(), "open", "SET query_profiler_real_time_period_ns = 0, query_profiler_cpu_time_period_ns = 0, memory_profiler_step = 0", nil); err != nil {
		sess.Close()
		return nil, err
	}
	if err := s.UseDatabase(context.Background(), c.database); err != nil {
		sess.Close()
		return nil, err
	}
	opened = s
	return s, nil
}

// notLockedByAnother fails, saying what to do, when another process has
// dir open: the engine locks dir/status for as long as it runs, and on
// finding it locked only prints its own message and fails with "could not
// create a chdb connection".
func notLockedByAnother(dir string) error {
	f, err := os.OpenFile(filepath.Join(dir, "status"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil // the engine says why
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("chdb: the store %s is open in another process (e.g. relance run or relance demo): stop it first, or query a ClickHouse server it writes to", dir)
		}
		return nil
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return nil
}

// Dir is the data directory of the session.
func (s *Store) Dir() string { return s.dir }

// Database is the current database.
func (s *Store) Database() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.database
}

// UseDatabase creates the database name if needed and makes it current for
// every later statement of the process (chDB's USE is session-wide).
func (s *Store) UseDatabase(ctx context.Context, name string) error {
	if !isIdent(name) {
		return fmt.Errorf("chdb: database %q: want letters, digits and '_', not starting with a digit", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.run(ctx, "use database", "CREATE DATABASE IF NOT EXISTS `"+name+"`", nil); err != nil {
		return err
	}
	if err := s.run(ctx, "use database", "USE `"+name+"`", nil); err != nil {
		return err
	}
	s.database = name
	return nil
}

// Exec runs one statement that returns no rows.
func (s *Store) Exec(ctx context.Context, stmt string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.run(ctx, "exec", stmt, nil)
}

// Query runs one query and returns its whole result, values exact (see
// sinks.Rows). It reads the JSONCompact output of chDB.
func (s *Store) Query(ctx context.Context, q string) (*sinks.Rows, error) {
	var out []byte
	s.mu.Lock()
	err := s.runFormat(ctx, "query", q, "JSONCompact", func(b []byte) { out = append(out, b...) })
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return decodeJSONCompact(out)
}

// Write inserts the rows of b (sinks.Scan: the rows of sinks.Tables), one
// INSERT per non-empty table, with insert_deduplication_token
// "<b.Token>-<table>" when b.Token is set. Tables are written one after the
// other: on error some may be written already, and the retry of the same
// batch is idempotent (same tokens, ReplacingMergeTree keys).
//
// The rows go to the engine as a RowBinary file, read by
// INSERT … SELECT * FROM file(…) with strings declared String. The ways
// that look more direct cost several times more engine time: data inline
// in the statement is a C string (text only, no binary) and is read
// slowly, and values parsed straight into a LowCardinality(String) column
// go through a temporary column each, where the INSERT … SELECT converts
// whole columns.
func (s *Store) Write(ctx context.Context, b *sinks.Batch) error {
	s.encodeMu.Lock()
	defer s.encodeMu.Unlock()
	enc := &s.encoder
	return sinks.Scan(b, func(t *sinks.Table, rows func(yield func(row any) error) error) error {
		data := enc.buf[:0]
		enc.reset()
		var structure string
		err := rows(func(r any) error {
			if structure == "" {
				var err error
				if structure, err = structureOf(t, r); err != nil {
					return err
				}
			}
			var err error
			data, err = enc.appendRow(data, r)
			return err
		})
		enc.buf = data
		if err != nil {
			return fmt.Errorf("chdb: insert %s: %w", t.Name, err)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.insertFile(ctx, t, b.Token, structure, data)
	})
}

// insertFile writes data to the file of t in the store's insert directory
// and inserts it into t. Called with s.mu held: one file per table, and no
// other statement may switch the current database meanwhile.
func (s *Store) insertFile(ctx context.Context, t *sinks.Table, token, structure string, data []byte) error {
	op := "insert " + t.Name
	if s.closed {
		return &sinks.Error{Op: "chdb: " + op, Err: errors.New("store is closed")}
	}
	if s.inserts == "" {
		// In the data directory, which only this process uses (one session
		// per directory): nothing is left elsewhere by a process that ends
		// without Close. Absolute, or file() would look in user_files.
		dir, err := filepath.Abs(filepath.Join(s.dir, "relance-insert"))
		if err == nil {
			err = os.MkdirAll(dir, 0o700)
		}
		if err != nil {
			return &sinks.Error{Op: "chdb: " + op, Err: err}
		}
		s.inserts = dir
	}
	// The file is emptied afterwards rather than removed: creating and
	// deleting a file per insert showed in the profile (inode allocation).
	path := filepath.Join(s.inserts, t.Name+".bin")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return &sinks.Error{Op: "chdb: " + op, Err: err}
	}
	defer os.Truncate(path, 0)
	// optimize_on_insert = 0: rows are stored as written, with no
	// replacing of equal keys within the insert. Readers use FINAL, which
	// picks the highest version whether the rows met at insert or not (and
	// one batch rarely holds two versions of a key: the Joiner is drained
	// once per flush); the replacing pass cost the engine 3 to 28 % of the
	// sink's CPU (BenchmarkSink, three alternating pairs).
	stmt := t.Insert() + " SETTINGS optimize_on_insert = 0"
	if token != "" {
		stmt += ", insert_deduplication_token = " + quote(token+"-"+t.Name)
	}
	stmt += " SELECT * FROM file(" + quote(path) + ", 'RowBinary', " + quote(structure) + ")"
	return s.run(ctx, op, stmt, nil)
}

// Close closes the chDB session. The data directory is kept. Close is
// idempotent; after it, Open may be called again.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.sess.Close()
	if s.inserts != "" {
		os.RemoveAll(s.inserts)
	}
	openMu.Lock()
	if opened == s {
		opened = nil
	}
	openMu.Unlock()
	return nil
}

// run executes stmt (s.mu held), discarding or handing out the result.
func (s *Store) run(ctx context.Context, op, stmt string, sink func([]byte)) error {
	return s.runFormat(ctx, op, stmt, "TabSeparated", sink)
}

func (s *Store) runFormat(ctx context.Context, op, stmt, format string, sink func([]byte)) error {
	if s.closed {
		return &sinks.Error{Op: "chdb: " + op, Err: errors.New("store is closed")}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	res, err := s.sess.Query(stmt, format)
	if err != nil {
		return &sinks.Error{Op: "chdb: " + op, Code: sinks.CodeFromMessage(err.Error()), Err: errors.New(strings.TrimSpace(err.Error()))}
	}
	if res == nil {
		return nil
	}
	defer res.Free()
	if err := res.Error(); err != nil {
		return &sinks.Error{Op: "chdb: " + op, Code: sinks.CodeFromMessage(err.Error()), Err: err}
	}
	if sink != nil {
		sink(res.Buf())
	}
	return nil
}

// decodeJSONCompact reads ClickHouse's JSONCompact output into exact
// strings: numbers keep their digits, strings are unquoted, null is "NULL",
// arrays, maps and tuples keep their JSON text.
func decodeJSONCompact(b []byte) (*sinks.Rows, error) {
	rows := &sinks.Rows{}
	if len(bytes.TrimSpace(b)) == 0 {
		return rows, nil
	}
	var doc struct {
		Meta []struct {
			Name string `json:"name"`
			Type string `json:"type"`
		} `json:"meta"`
		Data [][]json.RawMessage `json:"data"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("chdb: decode JSONCompact result: %w", err)
	}
	for _, m := range doc.Meta {
		rows.Columns = append(rows.Columns, m.Name)
		rows.Types = append(rows.Types, m.Type)
	}
	rows.Data = make([][]string, len(doc.Data))
	for i, raw := range doc.Data {
		row := make([]string, len(raw))
		for j, v := range raw {
			switch {
			case len(v) > 0 && v[0] == '"':
				if err := json.Unmarshal(v, &row[j]); err != nil {
					return nil, fmt.Errorf("chdb: decode row %d column %d: %w", i, j, err)
				}
			case string(v) == "null":
				row[j] = "NULL"
			default:
				row[j] = string(v)
			}
		}
		rows.Data[i] = row
	}
	return rows, nil
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// quote returns s as a ClickHouse string literal.
func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// Raw runs fn with the store's lock held and a function that runs one
// statement on the chDB session in the given output format. It is for test
// fronts that serve ClickHouse's wire formats over the one session of the
// process: fn may switch the current database but must switch it back.
func (s *Store) Raw(fn func(query func(stmt, format string) ([]byte, error)) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return &sinks.Error{Op: "chdb: raw", Err: errors.New("store is closed")}
	}
	return fn(func(stmt, format string) ([]byte, error) {
		var out []byte
		err := s.runFormat(context.Background(), "raw", stmt, format, func(b []byte) { out = append(out, b...) })
		return out, err
	})
}
