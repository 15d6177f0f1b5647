// Package chdb is the embedded store: the ClickHouse engine as a library
// (chDB, libchdb.so, driven by github.com/chdb-io/chdb-go), used by
// `relance demo` and by tests. It implements sinks.Store on a chDB session
// kept in a directory.
//
// It owns the chDB session, the RowBinary encoding of the rows of
// sinks.Scan (written to a file, inserted with INSERT … SELECT FROM file())
// and the decoding of JSONCompact results into sinks.Rows. It
// must not define rows or SQL of its own: rows come from sinks.Tables, the
// schema from package sql (through sinks.Migrate), so that it writes exactly
// what the ClickHouse sink writes.
//
// chDB allows one session per process, and the session is not safe for
// concurrent statements: Open fails while a Store is open, every call is
// serialized by a mutex, and the current database (USE) is global to the
// process. Tests share one Store per test binary and isolate themselves with
// one database each (UseDatabase).
//
// Importing this package loads libchdb.so at init; package libpath finds it
// first (see there) and exits with a clear message when it is missing.
package chdb
