// Package schemas owns relance's event contract: the Avro schemas of the
// reminders, payments and invoices topics (reminder.avsc, payment.avsc,
// invoice.avsc, embedded in the binary) and their Go mirror (Reminder,
// Payment, Allocation, Invoice), with the codecs between the two.
//
// On the wire every event is Confluent Schema Registry framed: magic byte 0,
// a 4-byte big-endian schema id, then the Avro binary body. Subjects follow
// TopicNameStrategy, "<topic>-value". [Serde] encodes with the ids of the
// embedded schemas and decodes any writer schema id, resolving the writer
// schema from the registry once and mapping it by field name onto the Go
// struct. relance's schemas are the readers and the producers' newer
// versions the writers. The subjects evolve under BACKWARD compatibility
// (SPEC §2): added fields and removed fields with defaults are read; a
// removed field the reader has no default for is not (ErrWrongSchema), and
// only FULL_TRANSITIVE compatibility makes the registry refuse it.
//
// Decoding and validation are separate steps. Decode* answer "is this a
// well-formed event of the right type?" and fail with a *[DecodeError];
// Validate answers "is it usable?" (ids present, amounts non-negative, known
// currency, plausible timestamps) and fails with a *[ValidationError]. Both
// carry a short machine reason, meant for dead-letter headers and metrics.
//
// What this package must not do: talk to Kafka, read files, log, or do any
// I/O other than the schema registry calls of [NewSerde] (registration) and
// of the first decode of an unknown writer schema id. It is on the hot path of
// ingestion and benchmarked: decoding a known id never touches the network.
package schemas
