// Package sinks defines how the pipeline hands its output to a store: the
// Batch (the unit of acknowledgement), the Sink and Store interfaces, the one
// mapping from a Batch to table rows (Tables, with row structs mirroring the
// DDL of sql/migrations), schema migration (Migrate) and the retry
// classifier (IsRetryable).
//
// It must not hold SQL of its own beyond the bookkeeping of Migrate (the
// schema lives in package sql), must not import an engine (chDB or
// clickhouse-go: those are sinks/chdb and sinks/clickhouse), and must not
// decide the attribution (package stream does). Both engines write the rows
// Tables returns, so they cannot drift apart.
package sinks
