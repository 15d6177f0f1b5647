// Package sql is the one source of SQL in relance: the versioned schema
// migrations (migrations/NNNN_name.sql) and the KPI queries (queries/*.sql),
// embedded in the binary.
//
// It owns the text of the SQL and its parsing into statements only. It must
// not open connections, run statements or know which engine runs them
// (chDB or a ClickHouse server): sinks.Migrate applies the migrations and the
// sinks run the queries. The same SQL must run unchanged on both engines.
package sql
