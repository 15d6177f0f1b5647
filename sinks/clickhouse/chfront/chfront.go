// Package chfront is a test-only HTTP front over chDB: it speaks enough of
// ClickHouse's HTTP interface for clickhouse-go/v2's HTTP protocol
// (clickhouse.Options{Protocol: clickhouse.HTTP}) so that the production
// sink, package sinks/clickhouse, runs against the real engine with no
// server. Import it from tests only.
//
// What it does with a request (clickhouse-go always POSTs):
//
//   - the statement is the body, or the "query" URL parameter when the body
//     carries data (a batch INSERT);
//   - "database" selects the database (USE, failing with code 81
//     UNKNOWN_DATABASE like a server), "param_NAME" binds query parameters
//     (SET param_NAME), and every other unknown URL parameter is a setting;
//   - a result is chDB's own Native output, passed on untouched. chDB
//     writes Native as for protocol revision 0 (no block info, no
//     serialization kinds: a server writes those for the
//     client_protocol_version of the request), so clickhouse-go's hello
//     query (SELECT displayName(), version(), revision(), timezone()) is
//     answered, by hand, with revision 0, and the client then reads every
//     answer in the revision-0 layout;
//   - "INSERT … FORMAT Native" with the block in the body is written to a
//     temporary file and run as INSERT … SETTINGS … SELECT * FROM
//     file(path, 'Native'): the engine decodes clickhouse-go's block;
//   - compress=1 / decompress=1 (clickhouse-go's LZ4 and ZSTD over HTTP):
//     responses are framed and bodies unframed with ClickHouse's compressed
//     block format (ch-go/compress, the codec clickhouse-go itself uses);
//   - errors are HTTP 500 with X-ClickHouse-Exception-Code and the engine's
//     "Code: N. DB::Exception: …" text, as a server sends them.
//
// It does not check credentials, ignores query_id, quota_key and
// wait_end_of_query, rejects gzip/deflate/brotli bodies, and runs one
// request at a time, under the chdb.Store's lock (Store.Raw): a test may
// use the store while the front serves a request.
package chfront

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	chcompress "github.com/ClickHouse/ch-go/compress"

	"github.com/relance-io/relance/sinks"
	"github.com/relance-io/relance/sinks/chdb"
)

// Front is a running HTTP front. Its address is Addr.
type Front struct {
	// Addr is the host:port the front listens on (clickhouse.Addr).
	Addr string

	srv   *httptest.Server
	store *chdb.Store
	dir   string
	mu    sync.Mutex
	// query runs a statement on the session, set while a request is
	// served under the store's lock.
	query func(stmt, format string) ([]byte, error)
	home  string // the store's current database, restored after a request

	requests atomic.Int64
	inserts  atomic.Int64
	// log holds the statements run, for tests that check what the client
	// sent (e.g. the insert_deduplication_token setting).
	logMu sync.Mutex
	log   []string
}

// Start starts a front over the chDB session held by store (the shared
// store of chdbtest) and stops it when tb ends. The store's current database
// is restored after every request.
func Start(tb testing.TB, store *chdb.Store) *Front {
	tb.Helper()
	f := &Front{store: store, dir: tb.TempDir()}
	f.srv = httptest.NewServer(f)
	f.Addr = strings.TrimPrefix(f.srv.URL, "http://")
	tb.Cleanup(f.srv.Close)
	return f
}

// Requests is the number of requests served.
func (f *Front) Requests() int64 { return f.requests.Load() }

// Inserts is the number of Native blocks inserted.
func (f *Front) Inserts() int64 { return f.inserts.Load() }

// Statements returns the statements run so far, as sent to chDB.
func (f *Front) Statements() []string {
	f.logMu.Lock()
	defer f.logMu.Unlock()
	return append([]string(nil), f.log...)
}

// helloQuery is what clickhouse-go's HTTP transport asks when it dials.
const helloQuery = "SELECT displayName(), version(), revision(), timezone()"

// clientParams are URL parameters that are not settings.
var clientParams = map[string]bool{
	"query": true, "database": true, "default_format": true, "client_protocol_version": true,
	"query_id": true, "quota_key": true, "compress": true, "decompress": true,
	"network_compression_method": true, "network_zstd_compression_level": true,
	"wait_end_of_query": true, "user": true, "password": true,
}

// nativeInsert matches the tail clickhouse-go gives a batch INSERT.
var nativeInsert = regexp.MustCompile(`(?is)^(INSERT\s+INTO\s.*?)\s+FORMAT\s+Native\s*$`)

// hasSettings finds a SETTINGS clause already in an INSERT head.
var hasSettings = regexp.MustCompile("(?i)\\)\\s*SETTINGS\\s|^INSERT\\s+INTO\\s+[^(]*\\sSETTINGS\\s")

// ServeHTTP serves one request of ClickHouse's HTTP interface.
func (f *Front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	if enc := r.Header.Get("Content-Encoding"); enc != "" {
		fail(w, http.StatusNotImplemented, 0, "chfront: Content-Encoding "+enc+" is not supported (use lz4, zstd or none)")
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		fail(w, http.StatusBadRequest, 0, "chfront: read body: "+err.Error())
		return
	}
	q := r.URL.Query()
	if q.Get("decompress") == "1" {
		if body, err = decompress(body); err != nil {
			fail(w, http.StatusBadRequest, 0, "chfront: decompress body: "+err.Error())
			return
		}
	}
	stmt, data := string(body), []byte(nil)
	if qs := q.Get("query"); qs != "" {
		stmt, data = qs, body
	}
	settings := settingsOf(q)

	var (
		out  []byte
		code int
	)
	f.mu.Lock()
	f.home = f.store.Database() // read before taking the store's lock
	// The store's lock too: the test may use the store while a request is
	// served, and the request switches the session's current database.
	err = f.store.Raw(func(query func(stmt, format string) ([]byte, error)) error {
		f.query = query
		defer func() { f.query = nil }()
		var err error
		out, code, err = f.serve(q, stmt, data, settings)
		return err
	})
	f.mu.Unlock()
	if err != nil {
		fail(w, http.StatusInternalServerError, code, err.Error())
		return
	}
	if q.Get("compress") == "1" && len(out) > 0 {
		if out, err = compress(out, q.Get("network_compression_method")); err != nil {
			fail(w, http.StatusInternalServerError, 0, "chfront: compress: "+err.Error())
			return
		}
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("X-ClickHouse-Format", "Native")
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(http.StatusOK)
	w.Write(out)
}

// serve runs stmt in the request's database (f.mu held) and returns the
// Native result, or the error with its ClickHouse code.
func (f *Front) serve(q url.Values, stmt string, data []byte, settings [][2]string) ([]byte, int, error) {
	db := q.Get("database")
	if db == "" {
		db = "default"
	}
	defer f.run("USE `"+f.home+"`", "TabSeparated") // give the Store its database back
	if _, code, err := f.run("USE `"+strings.ReplaceAll(db, "`", "")+"`", "TabSeparated"); err != nil {
		return nil, code, err
	}
	names := make([]string, 0)
	for k := range q {
		if name, ok := strings.CutPrefix(k, "param_"); ok {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		if _, code, err := f.run("SET param_"+name+" = "+quote(q.Get("param_"+name)), "TabSeparated"); err != nil {
			return nil, code, err
		}
	}

	if strings.TrimSpace(stmt) == helloQuery {
		out, code, err := f.run("SELECT displayName(), version(), timezone()", "TabSeparated")
		if err != nil {
			return nil, code, err
		}
		v := strings.Split(strings.TrimRight(string(out), "\n"), "\t")
		if len(v) != 3 {
			return nil, 0, fmt.Errorf("chfront: hello: unexpected answer %q", out)
		}
		rev, _ := strconv.ParseUint(q.Get("client_protocol_version"), 10, 64)
		return helloBlock(rev, v[0], v[1], v[2]), 0, nil
	}
	if data != nil {
		return f.insert(stmt, data, settings)
	}
	// Settings of a query apply to it only: set before, reset after.
	for _, s := range settings {
		if _, code, err := f.run("SET "+s[0]+" = "+s[1], "TabSeparated"); err != nil {
			return nil, code, err
		}
		defer f.run("SET "+s[0]+" = DEFAULT", "TabSeparated")
	}
	return f.run(stmt, "Native")
}

// insert loads a Native block (the body of a batch INSERT) through a file.
func (f *Front) insert(stmt string, data []byte, settings [][2]string) ([]byte, int, error) {
	m := nativeInsert.FindStringSubmatch(stmt)
	if m == nil {
		return nil, 0, fmt.Errorf("chfront: a request with data must be INSERT INTO … FORMAT Native, got %.80q", stmt)
	}
	head := m[1]
	if len(settings) > 0 {
		kv := make([]string, len(settings))
		for i, s := range settings {
			kv[i] = s[0] + " = " + s[1]
		}
		if hasSettings.MatchString(head) {
			head += ", " + strings.Join(kv, ", ")
		} else {
			head += " SETTINGS " + strings.Join(kv, ", ")
		}
	}
	tmp, err := os.CreateTemp(f.dir, "insert-*.native")
	if err != nil {
		return nil, 0, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return nil, 0, err
	}
	if err := tmp.Close(); err != nil {
		return nil, 0, err
	}
	path, _ := filepath.Abs(tmp.Name())
	out, code, err := f.run(head+" SELECT * FROM file("+quote(path)+", 'Native')", "TabSeparated")
	if err == nil {
		f.inserts.Add(1)
	}
	return out, code, err
}

// run runs one statement on the chDB session and returns its output.
func (f *Front) run(stmt, format string) ([]byte, int, error) {
	f.logMu.Lock()
	f.log = append(f.log, stmt)
	f.logMu.Unlock()
	out, err := f.query(stmt, format)
	if err != nil {
		msg := strings.TrimSpace(err.Error())
		var se *sinks.Error
		if errors.As(err, &se) && se.Err != nil {
			msg = strings.TrimSpace(se.Err.Error())
		}
		return nil, sinks.CodeFromMessage(msg), errors.New(msg)
	}
	return out, 0, nil
}

// settingsOf returns the settings of the request, as (name, SQL literal)
// pairs sorted by name: numbers as they are, anything else quoted.
func settingsOf(q url.Values) [][2]string {
	var out [][2]string
	for k := range q {
		if clientParams[k] || strings.HasPrefix(k, "param_") || !isIdent(k) {
			continue
		}
		v := q.Get(k)
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			v = quote(v)
		}
		out = append(out, [2]string{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

// helloBlock answers clickhouse-go's hello query: one row (displayName,
// version, revision 0, timezone) in the Native layout of the client's
// protocol revision, which it decodes this first answer with. Revision 0
// tells it to read every later answer in the layout chDB writes: Native of
// revision 0, without block info and serialization kinds.
func helloBlock(clientRev uint64, name, version, tz string) []byte {
	var b []byte
	if clientRev > 0 { // block info: is_overflows = false, bucket_num = -1
		b = append(b, 1, 0, 2, 0xff, 0xff, 0xff, 0xff, 0)
	}
	b = binary.AppendUvarint(b, 4) // columns
	b = binary.AppendUvarint(b, 1) // rows
	col := func(name, typ string, data []byte) {
		b = appendStr(appendStr(b, name), typ)
		if clientRev >= 54454 { // DBMS_MIN_REVISION_WITH_CUSTOM_SERIALIZATION
			b = append(b, 0) // no custom serialization
		}
		b = append(b, data...)
	}
	col("displayName()", "String", appendStr(nil, name))
	col("version()", "String", appendStr(nil, version))
	col("revision()", "UInt32", []byte{0, 0, 0, 0})
	col("timezone()", "String", appendStr(nil, tz))
	return b
}

func appendStr(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// frameSize is the uncompressed size of one compressed frame of a response
// (a server uses max_compress_block_size, 1 MiB by default).
const frameSize = 1 << 20

// compress frames out in ClickHouse's compressed block format.
func compress(out []byte, method string) ([]byte, error) {
	m := chcompress.LZ4
	if strings.EqualFold(method, "zstd") {
		m = chcompress.ZSTD
	}
	w := chcompress.NewWriter(chcompress.LevelZero, m)
	var dst []byte
	for len(out) > 0 {
		n := min(len(out), frameSize)
		if err := w.Compress(out[:n]); err != nil {
			return nil, err
		}
		dst = append(dst, w.Data...)
		out = out[n:]
	}
	return dst, nil
}

// decompress reads a body framed in ClickHouse's compressed block format.
func decompress(body []byte) ([]byte, error) {
	r := chcompress.NewReader(bytes.NewReader(body))
	var out bytes.Buffer
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		out.Write(buf[:n])
		if errors.Is(err, io.EOF) { // ch-go wraps the EOF after the last frame
			return out.Bytes(), nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// fail writes an error response as a ClickHouse server does.
func fail(w http.ResponseWriter, status, code int, msg string) {
	if code != 0 {
		w.Header().Set("X-ClickHouse-Exception-Code", strconv.Itoa(code))
	}
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	w.WriteHeader(status)
	io.WriteString(w, msg+"\n")
}

func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
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
