// Package clickhouse is the production store: a ClickHouse server (or
// cluster) through github.com/ClickHouse/clickhouse-go/v2 over the native
// protocol (the default) or HTTP (Protocol). It implements sinks.Store.
//
// It owns the connection pool, batch inserts of the rows of sinks.Tables
// (PrepareBatch, Append, Send, one INSERT per table with an
// insert_deduplication_token; maps with sorted keys, see appendRow) and the
// conversion of query results to exact strings (sinks.Rows). It must not define rows or SQL of its own (they come
// from sinks.Tables and package sql, shared with the chDB store), must not
// read flags, env or files (cmd/ passes options), and must never log or
// return the password: errors are scrubbed of it.
//
// Tests run it over HTTP against chDB through the test-only front of
// package chfront (see the README, "The ClickHouse server path").
package clickhouse
