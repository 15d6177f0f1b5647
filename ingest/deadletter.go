package ingest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
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
	// HeaderDropped is set, to the size of the value and key left out,
	// on a dead letter whose record was too large for the dead-letter
	// topic: the source headers say where to read it.
	HeaderDropped = "relance.dropped"
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

// produceDead produces c.dead, keeping for the next attempt only the dead
// letters that failed. One the dead-letter topic refuses as too large goes
// again at once without its value and key (see HeaderDropped): the input
// topics may take larger records than the dead-letter topic, and the
// headers add to the size, so the same record would otherwise stop the
// pipeline at every restart. The record itself is not lost: it stays at
// its source offset.
func (c *Consumer) produceDead(ctx context.Context) error {
	cl := c.cl.Load()
	res := cl.ProduceSync(ctx, c.dead...)
	var again []*kgo.Record
	for _, r := range res {
		if r.Err != nil && errors.Is(r.Err, kerr.MessageTooLarge) && !dropped(r.Record) {
			again = append(again, withoutBody(r.Record))
		}
	}
	if len(again) > 0 {
		c.cfg.log.Warn("dead letters too large for their topic: sent without their value and key (read them at their source offset)",
			"topic", c.cfg.deadLetters, "count", len(again))
		res = append(res, cl.ProduceSync(ctx, again...)...)
	}
	failed := c.dead[:0]
	var first error
	for _, r := range res {
		if r.Err == nil || errors.Is(r.Err, kerr.MessageTooLarge) && !dropped(r.Record) {
			continue // produced, or produced again above
		}
		failed = append(failed, r.Record)
		if first == nil {
			first = r.Err
		}
	}
	clear(c.dead[len(failed):])
	c.dead = failed
	return first
}

// dropped reports whether r is a dead letter already without its body.
func dropped(r *kgo.Record) bool {
	for _, h := range r.Headers {
		if h.Key == HeaderDropped {
			return true
		}
	}
	return false
}

// withoutBody returns a copy of the dead letter r without its value and
// key, saying how many bytes were left out.
func withoutBody(r *kgo.Record) *kgo.Record {
	headers := append(slices.Clone(r.Headers), kgo.RecordHeader{Key: HeaderDropped,
		Value: []byte(fmt.Sprintf("value of %d bytes and key of %d bytes: too large for the dead-letter topic", len(r.Value), len(r.Key)))})
	return &kgo.Record{Topic: r.Topic, Headers: headers}
}
