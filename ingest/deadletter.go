package ingest

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/relance-io/relance/schemas"
	"github.com/relance-io/relance/stream"
)

// DefaultDeadLetterTopic receives every record the pipeline cannot use.
const DefaultDeadLetterTopic = "relance.dead-letters"

// Dead-letter headers: the record's value and key are copied unchanged, and
// these headers say why and where it came from.
const (
	HeaderReason    = "relance.reason"
	HeaderError     = "relance.error"
	HeaderTopic     = "relance.source.topic"
	HeaderPartition = "relance.source.partition"
	HeaderOffset    = "relance.source.offset"
)

// ReasonDuplicateEvent is the dead-letter reason of an event whose
// reminder_id (on its invoice) or payment_id was already in the join state:
// it changed nothing, and its raw row, with the same key as the first
// copy's, is absorbed by the store. Events re-read after a restart are
// never dead-lettered: the first run did it when they were new.
const ReasonDuplicateEvent = "duplicate_event"

// duplicateError is why a duplicate event is dead-lettered.
type duplicateError struct{ d stream.Duplicate }

func (e *duplicateError) Error() string {
	what := "reminder_id"
	if e.d.Source == stream.Payments {
		what = "payment_id"
	}
	return fmt.Sprintf("duplicate event %q: %s %q is already in the join state; the first copy is kept, this one changed nothing", e.d.EventID, what, e.d.ID)
}

// reasonOf maps a decode or validation error to its short reason label.
func reasonOf(err error) string {
	var de *schemas.DecodeError
	if errors.As(err, &de) && de.Reason != "" {
		return de.Reason
	}
	var ve *schemas.ValidationError
	if errors.As(err, &ve) && ve.Reason != "" {
		return ve.Reason
	}
	var dup *duplicateError
	if errors.As(err, &dup) {
		return ReasonDuplicateEvent
	}
	switch {
	case errors.Is(err, schemas.ErrBadMagic):
		return "bad_magic"
	case errors.Is(err, schemas.ErrUnknownSchemaID):
		return "unknown_schema_id"
	case errors.Is(err, schemas.ErrWrongSchema):
		return "wrong_schema"
	}
	return "invalid"
}

// deadLetter builds the dead-letter record for r rejected with err.
func deadLetter(topic string, r *kgo.Record, reason string, err error) *kgo.Record {
	return &kgo.Record{
		Topic: topic,
		Key:   r.Key,
		Value: r.Value,
		Headers: []kgo.RecordHeader{
			{Key: HeaderReason, Value: []byte(reason)},
			{Key: HeaderError, Value: []byte(err.Error())},
			{Key: HeaderTopic, Value: []byte(r.Topic)},
			{Key: HeaderPartition, Value: []byte(strconv.Itoa(int(r.Partition)))},
			{Key: HeaderOffset, Value: []byte(strconv.FormatInt(r.Offset, 10))},
		},
	}
}
