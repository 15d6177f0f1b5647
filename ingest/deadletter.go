package ingest

import (
	"errors"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/relance-io/relance/schemas"
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
