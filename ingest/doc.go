// Package ingest consumes the reminders, payments and invoices topics as one
// consumer group, decodes and validates each record, routes it to the
// stream.Joiner of its partition, writes raw events and facts through a
// sinks.Sink, and commits offsets only after the sink acknowledged the rows
// they produced.
//
// It owns the partition lifecycle (assign, revoke), batching, sink retries,
// dead letters, offset commits, and where join-state snapshots are kept
// (a compacted topic) and when they are taken and restored. It must not decide attribution (that is
// package stream) nor know SQL (that is the sinks and sql packages).
//
// Co-partitioning: a customer's reminders and payments carry the customer id
// as key, so they land in the same partition number on both topics; the
// group uses CoPartitionedBalancer (sticky, cooperative), which hands
// partition p of every topic to the same member when the topics have equal
// partition counts.
package ingest
