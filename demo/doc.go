// Package demo runs the whole pipeline in one process with no external
// service: an embedded Kafka-protocol broker (franz-go's kfake, persisted in
// a data dir), an embedded schema registry (srfake) and the chDB engine as
// the store. The demo command and the end-to-end tests use it.
//
// It owns only wiring and the printed summary; it must not hold pipeline
// logic of its own: events go through the same ingest, stream and sinks code
// as in production, over the Kafka protocol.
package demo
