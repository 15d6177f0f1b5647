package sinks

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Store is a Sink that can also run DDL and read queries: the chDB engine or
// a ClickHouse server. Implementations set the current database at open:
// statements and queries use unqualified table names.
type Store interface {
	Sink
	// Exec runs one statement that returns no rows (DDL, INSERT … SELECT).
	Exec(ctx context.Context, stmt string) error
	// Query runs one SELECT and returns its whole result.
	Query(ctx context.Context, q string) (*Rows, error)
}

// Rows is a small, exact result: values as strings exactly as ClickHouse
// prints them in its JSON formats, with no float64 round trip (an Int64 of
// money stays exact). Integers and decimals are their digits ("-12",
// "9007199254740993"), Date is "2006-01-02", DateTime64(3) is
// "2006-01-02 15:04:05.000", Bool is "true"/"false", strings are unquoted,
// NULL is "NULL", and arrays, maps and tuples are their JSON text
// (`{"k":"v"}`, `[1,2]`).
type Rows struct {
	Columns []string
	// Types are the ClickHouse types of the columns, e.g. "Int64",
	// "DateTime64(3, 'UTC')".
	Types []string
	Data  [][]string
}

// Col returns the index of the column called name, or -1.
func (r *Rows) Col(name string) int {
	for i, c := range r.Columns {
		if c == name {
			return i
		}
	}
	return -1
}

// Len is the number of rows.
func (r *Rows) Len() int { return len(r.Data) }

// Error is a failure reported by a store, carrying the ClickHouse error code
// when there is one. Both sinks return it (wrapped or not) for errors that
// come from the engine, so IsRetryable can classify them by Code.
type Error struct {
	// Op is what failed: "insert reminders", "exec", "query", "open".
	Op string
	// Code is the ClickHouse error code (e.g. 252 TOO_MANY_PARTS), 0 when
	// unknown or not from ClickHouse.
	Code int
	// Temporary is set by a sink that knows the failure is transient even
	// without a code (e.g. no connection could be acquired in time).
	Temporary bool
	Err       error
}

func (e *Error) Error() string {
	return e.Op + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// CodeFromMessage extracts the code of a ClickHouse exception message,
// "Code: 252. DB::Exception: …" (chDB, clickhouse-client) or
// "code: 252, message: …" (clickhouse-go), and returns 0 when there is none.
func CodeFromMessage(msg string) int {
	msg = strings.TrimSpace(msg)
	if len(msg) < 5 || !strings.EqualFold(msg[:5], "code:") {
		return 0
	}
	msg = strings.TrimLeft(msg[5:], " ")
	i := 0
	for i < len(msg) && msg[i] >= '0' && msg[i] <= '9' {
		i++
	}
	n, err := strconv.Atoi(msg[:i])
	if err != nil {
		return 0
	}
	return n
}

// retryableCodes are ClickHouse error codes of transient conditions: the
// same statement may succeed later.
var retryableCodes = map[int]string{
	3:    "UNEXPECTED_END_OF_FILE",
	32:   "ATTEMPT_TO_READ_AFTER_EOF",
	159:  "TIMEOUT_EXCEEDED",
	201:  "QUOTA_EXCEEDED",
	202:  "TOO_MANY_SIMULTANEOUS_QUERIES",
	203:  "NO_FREE_CONNECTION",
	209:  "SOCKET_TIMEOUT",
	210:  "NETWORK_ERROR",
	225:  "NO_ZOOKEEPER",
	236:  "ABORTED",
	241:  "MEMORY_LIMIT_EXCEEDED",
	242:  "TABLE_IS_READ_ONLY",
	243:  "NOT_ENOUGH_SPACE",
	252:  "TOO_MANY_PARTS",
	279:  "ALL_CONNECTION_TRIES_FAILED",
	285:  "TOO_FEW_LIVE_REPLICAS",
	319:  "UNKNOWN_STATUS_OF_INSERT",
	394:  "QUERY_WAS_CANCELLED",
	425:  "SYSTEM_ERROR",
	439:  "CANNOT_SCHEDULE_TASK",
	473:  "DEADLOCK_AVOIDED",
	517:  "CANNOT_ASSIGN_ALTER",
	999:  "KEEPER_EXCEPTION",
	1000: "POCO_EXCEPTION",
}

// IsRetryable reports whether a Write/Exec error is transient (network,
// timeout, too many parts …) so the caller may retry the same batch: the
// store's keys and deduplication tokens make the retry idempotent. Errors of
// the data or of the schema (bad type, unknown table, syntax) and a canceled
// context are not retryable: retrying the same batch would fail again.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var se *Error
	if errors.As(err, &se) && se.Temporary {
		return true
	}
	if errors.As(err, &se) && se.Code != 0 {
		_, ok := retryableCodes[se.Code]
		return ok
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ETIMEDOUT) || errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, syscall.ENETUNREACH) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return true // dial, read or write on the network failed
	}
	var dnse *net.DNSError
	if errors.As(err, &dnse) {
		return dnse.IsTemporary || dnse.IsTimeout || dnse.IsNotFound
	}
	return false
}

// quote returns s as a ClickHouse string literal.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(s) + "'"
}
