package schemas

import (
	"errors"
	"fmt"
)

// Reasons are the short machine labels carried by DecodeError.Reason and
// ValidationError.Reason. They are stable: dead-letter headers, metrics labels
// and dashboards key on them.
const (
	ReasonBadMagic            = "bad_magic"
	ReasonUnknownSchemaID     = "unknown_schema_id"
	ReasonWrongSchema         = "wrong_schema"
	ReasonAvroDecode          = "avro_decode"
	ReasonInvalidField        = "invalid_field"
	ReasonRegistryUnavailable = "registry_unavailable"

	ReasonMissingEventID     = "missing_event_id"
	ReasonMissingInvoiceID   = "missing_invoice_id"
	ReasonNegativeAmount     = "negative_amount"
	ReasonAmountOverflow     = "amount_overflow"
	ReasonUnknownCurrency    = "unknown_currency"
	ReasonFarFutureTimestamp = "far_future_timestamp"
	ReasonZeroTimestamp      = "zero_timestamp"
	ReasonEmptyAllocations   = "empty_allocations"
	ReasonInvalidUTF8        = "invalid_utf8"
)

// DeadLetterReasons are the reasons a decode or validation failure gives a
// dead letter (registry_unavailable is retried, never dead-lettered).
var DeadLetterReasons = []string{
	ReasonBadMagic, ReasonUnknownSchemaID, ReasonWrongSchema, ReasonAvroDecode, ReasonInvalidField,
	ReasonMissingEventID, ReasonMissingInvoiceID, ReasonNegativeAmount, ReasonAmountOverflow,
	ReasonUnknownCurrency, ReasonFarFutureTimestamp, ReasonZeroTimestamp, ReasonEmptyAllocations,
	ReasonInvalidUTF8,
}

var (
	// ErrBadMagic is returned by the Decode* functions when the value is
	// shorter than the 5-byte Confluent header or does not start with the
	// magic byte 0: the producer did not use the schema registry wire format
	// (plain Avro, JSON, or a different framing). Reason: "bad_magic".
	ErrBadMagic = errors.New("schemas: not in Confluent wire format: want magic byte 0 and a 4-byte schema id; produce with a schema-registry serializer")

	// ErrUnknownSchemaID is returned (wrapped with the id) when the registry
	// answers that the schema id of a value does not exist: the producer used
	// another registry, or the schema was hard-deleted. Such ids are
	// remembered for a while (see UnknownIDRetry) so that a stream of them
	// does not hammer the registry. Reason: "unknown_schema_id".
	ErrUnknownSchemaID = errors.New("schemas: schema id unknown to the registry")

	// ErrWrongSchema is returned when the schema id resolves to a schema the
	// reader cannot read as the expected record: another record type (e.g. a
	// Payment schema on the reminders topic), a non-Avro schema, or a record
	// that lacks a field the reader has no default for or types it
	// incompatibly: BACKWARD compatibility lets a producer remove a field
	// relance requires, FULL_TRANSITIVE does not. Reason: "wrong_schema".
	ErrWrongSchema = errors.New("schemas: schema id does not resolve to the expected record")

	// ErrMalformed is returned when the Avro body does not decode with its
	// writer schema: truncated, garbage, or trailing bytes. Reason:
	// "avro_decode".
	ErrMalformed = errors.New("schemas: Avro body does not decode with its writer schema")

	// ErrInvalidField is returned when a body decodes but a field cannot be
	// represented in the Go struct, e.g. null in a writer union where the
	// reader has no null, or a date out of range. Reason: "invalid_field".
	ErrInvalidField = errors.New("schemas: field value cannot be read into the Go struct")

	// ErrRegistryUnavailable is returned when an unknown schema id could not be
	// fetched because the registry failed (network, timeout, 5xx). Unlike the
	// other decode errors it says nothing about the record: retry later, do
	// not dead-letter. Reason: "registry_unavailable".
	ErrRegistryUnavailable = errors.New("schemas: schema registry unavailable")
)

// DecodeError is returned by every Decode* function. The serde only sees
// bytes, so it fills Topic, Reason and Err; the Kafka consumer, which knows
// where the bytes came from, sets Partition and Offset (errors.As then assign)
// before dead-lettering. errors.Is(err, ErrBadMagic) and friends work through
// Unwrap.
type DecodeError struct {
	Topic     string
	Partition int32
	Offset    int64
	// Reason is a short machine label, one of the Reason* constants.
	Reason string
	Err    error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("schemas: decode %s[%d]@%d: %s: %v", e.Topic, e.Partition, e.Offset, e.Reason, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// Retryable reports whether the failure is about the environment rather than
// the record (today: the registry was unavailable), so the record must be
// retried, not dead-lettered.
func (e *DecodeError) Retryable() bool { return e.Reason == ReasonRegistryUnavailable }

func decodeErr(topic, reason string, err error) *DecodeError {
	return &DecodeError{Topic: topic, Reason: reason, Err: err}
}

// ValidationError is returned by the Validate methods: the event decoded but
// is not usable. Validate reports the first problem only, since one reason is
// what a dead-letter header carries.
type ValidationError struct {
	// Field is the Avro field name, with an index for allocations, e.g.
	// "allocations[1].amount_minor".
	Field string
	// Reason is a short machine label, one of the Reason* constants.
	Reason string
	// Value is the offending value as text, for humans ("" when missing).
	Value string
}

func (e *ValidationError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("schemas: invalid %s: %s", e.Field, e.Reason)
	}
	return fmt.Sprintf("schemas: invalid %s %q: %s", e.Field, e.Value, e.Reason)
}
