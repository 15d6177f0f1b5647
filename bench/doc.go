// Package bench measures relance's hot paths in one process and reports
// medians and ratios: Avro decode alone (the goavro ceiling), the Joiner
// alone on pre-decoded events, the whole pipeline (kfake → decode → join →
// chDB sink), bytes of join state per open reminder, Joiner throughput as
// its open state grows, and the same last_touch attribution computed by
// ClickHouse's ASOF JOIN in chDB over the same events.
//
// It is used by `relance bench` (which prints the table) and by the go test
// benchmarks of this package and of package stream. The workloads are
// deterministic: the same options measure the same events.
//
// Nothing here is run by the pipeline; it only wires existing packages
// (generate, schemas, stream, ingest, demo, sinks) the way production does.
package bench
