package schemas

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/linkedin/goavro/v2"
	"github.com/twmb/franz-go/pkg/sr"
)

// Opt configures a Serde.
type Opt func(*cfg)

type cfg struct {
	fetchTimeout   time.Duration
	unknownIDRetry time.Duration
	now            func() time.Time
	readOnly       bool
}

func defaultCfg() cfg {
	return cfg{
		fetchTimeout:   10 * time.Second,
		unknownIDRetry: time.Minute,
		now:            time.Now,
	}
}

// FetchTimeout bounds the registry lookup of an unknown writer schema id made
// inside a Decode call (which has no context of its own), overriding the
// default of 10s.
func FetchTimeout(d time.Duration) Opt { return func(c *cfg) { c.fetchTimeout = d } }

// UnknownIDRetry sets how long an id the registry answered "not found" for is
// remembered as unknown before it is asked again, overriding the default of
// 1m. Remembering protects the registry from a topic full of bad ids;
// forgetting lets an id registered late (or on a lagging registry replica)
// become readable.
func UnknownIDRetry(d time.Duration) Opt { return func(c *cfg) { c.unknownIDRetry = d } }

// ReadOnly makes NewSerde only look its schemas up, never register them,
// overriding the default of registering those missing. A consumer decodes
// whatever writer schemas the producers registered and needs none of its
// own: registering relance's copy (the producers' text may differ, in a
// doc string say) would add a version to the producers' subjects, which
// producers serializing with the latest version would then use. Encode*
// of a schema not found fail.
func ReadOnly() Opt { return func(c *cfg) { c.readOnly = true } }

// Serde is the registry-backed serializer/deserializer of the three topics.
// It is safe for concurrent use.
//
// Encode* always write with the ids of the embedded schemas, registered by
// NewSerde. Decode* read any writer schema id: an id seen for the first time
// is fetched from the registry (once, even under concurrent decodes), compiled
// and cached forever, since registry ids are immutable; later decodes of that
// id do no I/O.
type Serde struct {
	client *sr.Client
	cfg    cfg

	reminderID, paymentID, invoiceID int

	writers sync.Map // int → *writerSchema; read-mostly, lock-free on the hot path

	mu       sync.Mutex
	inflight map[int]*fetch    // ids being fetched, so concurrent decodes wait for one lookup
	unknown  map[int]time.Time // ids the registry did not know, until when to believe it
}

// writerSchema is a compiled writer schema, resolved against our reader
// record of the same name.
type writerSchema struct {
	id     int
	name   string        // unqualified record name
	rt     *recordType   // reader record with that name; nil if none
	err    error         // why rt cannot read it (wraps ErrWrongSchema); permanent
	codec  *goavro.Codec // nil when err != nil
	scan   *scanNode
	unions map[string]bool
}

// maxUnknownIDs bounds the memory of ids the registry did not know.
const maxUnknownIDs = 10000

type fetch struct {
	done chan struct{}
	w    *writerSchema
	err  error
}

// NewSerde finds or registers the embedded schemas under "<topic>-value"
// and returns a Serde that encodes with their ids. A schema already
// registered under its subject is only looked up (credentials that may
// read the registry but not write to it, as many managed registries hand
// consumers, are enough once the schemas are registered); registration is
// idempotent too. It fails if the registry rejects a schema (e.g. as
// incompatible with the subject's latest version under its compatibility
// level, or because the credentials may not register it) or cannot be
// reached.
func NewSerde(ctx context.Context, client *sr.Client, opts ...Opt) (*Serde, error) {
	if client == nil {
		return nil, errors.New("schemas: NewSerde needs a schema registry client: pass sr.NewClient(sr.URLs(...))")
	}
	s := &Serde{
		client:   client,
		cfg:      defaultCfg(),
		inflight: map[int]*fetch{},
		unknown:  map[int]time.Time{},
	}
	for _, o := range opts {
		o(&s.cfg)
	}
	for _, reg := range []struct {
		rt *recordType
		id *int
	}{{reminderType, &s.reminderID}, {paymentType, &s.paymentID}, {invoiceType, &s.invoiceID}} {
		subject := Subject(reg.rt.topic)
		schema := sr.Schema{Schema: reg.rt.schema, Type: sr.TypeAvro}
		var id int
		ss, err := client.LookupSchema(sr.WithParams(ctx, sr.Normalize), subject, schema)
		switch {
		case err == nil:
			id = ss.ID
		case s.cfg.readOnly && notFound(err):
			continue // nothing of ours to encode with; decoding needs none
		case s.cfg.readOnly:
			return nil, fmt.Errorf("schemas: looking up the %s schema under subject %q: %w (check the registry URL and credentials)", reg.rt.name, subject, err)
		}
		if id == 0 {
			if id, err = client.RegisterSchema(ctx, subject, schema, -1, -1); err != nil {
				return nil, fmt.Errorf("schemas: registering %s schema under subject %q: %w (check the subject's compatibility level, that the credentials may register schemas — or register them once with credentials that may — and the registry URL)", reg.rt.name, subject, err)
			}
		}
		*reg.id = id
		// Our own schemas need no lookup to be decoded.
		w, err := compileWriter(id, reg.rt.schema)
		if err != nil {
			return nil, err
		}
		s.writers.Store(id, w)
	}
	return s, nil
}

// SchemaIDs returns the registry ids the Serde encodes with.
func (s *Serde) SchemaIDs() (reminder, payment, invoice int) {
	return s.reminderID, s.paymentID, s.invoiceID
}

var header sr.ConfluentHeader

func (s *Serde) encode(rt *recordType, id int, native map[string]any, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	if id == 0 {
		return nil, fmt.Errorf("schemas: cannot encode %s: its schema is not registered under %q and this Serde is read-only (ReadOnly); register it, or encode with a Serde that may", rt.name, Subject(rt.topic))
	}
	buf, _ := header.AppendEncode(make([]byte, 0, 256), id, nil) // never fails
	buf, err = rt.codec.BinaryFromNative(buf, native)
	if err != nil {
		return nil, fmt.Errorf("schemas: encoding %s: %w", rt.name, err)
	}
	return buf, nil
}

// EncodeReminder returns r in Confluent wire format. Times are written in
// UTC, truncated to the millisecond; InvoiceDueDate as its calendar date.
// It does not validate r: call r.Validate first if the producer should refuse
// bad events.
func (s *Serde) EncodeReminder(r *Reminder) ([]byte, error) {
	n, err := r.native()
	return s.encode(reminderType, s.reminderID, n, err)
}

// EncodePayment returns p in Confluent wire format (see EncodeReminder).
func (s *Serde) EncodePayment(p *Payment) ([]byte, error) {
	n, err := p.native()
	return s.encode(paymentType, s.paymentID, n, err)
}

// EncodeInvoice returns i in Confluent wire format (see EncodeReminder).
func (s *Serde) EncodeInvoice(i *Invoice) ([]byte, error) {
	n, err := i.native()
	return s.encode(invoiceType, s.invoiceID, n, err)
}

// DecodeReminder decodes a reminders value written with any registered
// version of the Reminder schema. Fields the writer lacks take the reader
// default; fields only the writer has are dropped. Errors are *DecodeError;
// see the Err* variables for when each occurs. It never panics on input.
func (s *Serde) DecodeReminder(b []byte) (Reminder, error) {
	r, err := s.decode(reminderType, b)
	if err != nil {
		return Reminder{}, err
	}
	rem, ferr := reminderFromNative(&r)
	if ferr != nil {
		return Reminder{}, decodeErr(reminderType.topic, ReasonInvalidField, ferr)
	}
	return rem, nil
}

// DecodePayment decodes a payments value (see DecodeReminder).
func (s *Serde) DecodePayment(b []byte) (Payment, error) {
	r, err := s.decode(paymentType, b)
	if err != nil {
		return Payment{}, err
	}
	p, ferr := paymentFromNative(&r)
	if ferr != nil {
		return Payment{}, decodeErr(paymentType.topic, ReasonInvalidField, ferr)
	}
	return p, nil
}

// DecodeInvoice decodes an invoices value (see DecodeReminder).
func (s *Serde) DecodeInvoice(b []byte) (Invoice, error) {
	r, err := s.decode(invoiceType, b)
	if err != nil {
		return Invoice{}, err
	}
	i, ferr := invoiceFromNative(&r)
	if ferr != nil {
		return Invoice{}, decodeErr(invoiceType.topic, ReasonInvalidField, ferr)
	}
	return i, nil
}

// decode strips the header, resolves the writer schema and decodes the body
// into goavro's native form, ready for mapping onto rt's Go struct.
func (s *Serde) decode(rt *recordType, b []byte) (fieldReader, *DecodeError) {
	id, body, err := header.DecodeID(b)
	if err != nil {
		if len(b) == 0 {
			// A tombstone, which a compacting or deleting producer sends:
			// say so rather than blame the serializer.
			return fieldReader{}, decodeErr(rt.topic, ReasonBadMagic,
				fmt.Errorf("%w (the value is empty: a tombstone, or a producer that sent no value; relance's topics carry events, not deletions)", ErrBadMagic))
		}
		return fieldReader{}, decodeErr(rt.topic, ReasonBadMagic, ErrBadMagic)
	}
	w, err := s.writer(id)
	if err != nil {
		reason := ReasonUnknownSchemaID
		if errors.Is(err, ErrRegistryUnavailable) {
			reason = ReasonRegistryUnavailable
		}
		return fieldReader{}, decodeErr(rt.topic, reason, err)
	}
	if w.rt == nil && w.err != nil {
		// Not an Avro record at all (a Protobuf or JSON schema): its own
		// error says what it is.
		return fieldReader{}, decodeErr(rt.topic, ReasonWrongSchema, w.err)
	}
	if w.rt != rt {
		name := w.name
		if name == "" {
			name = "a non-record"
		}
		return fieldReader{}, decodeErr(rt.topic, ReasonWrongSchema,
			fmt.Errorf("%w: schema id %d is %s schema, topic %q carries %s; check the producer's topic",
				ErrWrongSchema, id, name, rt.topic, rt.name))
	}
	if w.err != nil {
		return fieldReader{}, decodeErr(rt.topic, ReasonWrongSchema, w.err)
	}
	rest, err := w.scan.skip(body, 0)
	if err == nil && len(rest) != 0 {
		err = fmt.Errorf("%d trailing bytes after the record", len(rest))
	}
	if err != nil {
		return fieldReader{}, decodeErr(rt.topic, ReasonAvroDecode, fmt.Errorf("%w (schema id %d): %v", ErrMalformed, id, err))
	}
	native, _, err := w.codec.NativeFromBinary(body)
	if err != nil {
		return fieldReader{}, decodeErr(rt.topic, ReasonAvroDecode, fmt.Errorf("%w (schema id %d): %v", ErrMalformed, id, err))
	}
	m, ok := native.(map[string]any)
	if !ok {
		return fieldReader{}, decodeErr(rt.topic, ReasonAvroDecode, fmt.Errorf("%w (schema id %d): decoded %T, want a record", ErrMalformed, id, native))
	}
	return fieldReader{m: m, unions: w.unions}, nil
}

// writer returns the compiled writer schema of id, fetching it on first use.
func (s *Serde) writer(id int) (*writerSchema, error) {
	if w, ok := s.writers.Load(id); ok {
		return w.(*writerSchema), nil
	}
	return s.fetch(id)
}

// fetch looks id up in the registry, with at most one lookup in flight per id.
func (s *Serde) fetch(id int) (*writerSchema, error) {
	s.mu.Lock()
	if w, ok := s.writers.Load(id); ok { // fetched while we waited for the lock
		s.mu.Unlock()
		return w.(*writerSchema), nil
	}
	if until, ok := s.unknown[id]; ok {
		if s.cfg.now().Before(until) {
			s.mu.Unlock()
			return nil, unknownID(id)
		}
		delete(s.unknown, id)
	}
	if f, ok := s.inflight[id]; ok {
		s.mu.Unlock()
		<-f.done
		return f.w, f.err
	}
	f := &fetch{done: make(chan struct{})}
	s.inflight[id] = f
	s.mu.Unlock()

	f.w, f.err = s.lookup(id)

	s.mu.Lock()
	delete(s.inflight, id)
	switch {
	case f.err == nil:
		s.writers.Store(id, f.w)
	case errors.Is(f.err, ErrUnknownSchemaID):
		if len(s.unknown) >= maxUnknownIDs {
			// A topic of random garbage ids must not grow memory without
			// bound; forgetting only costs a few extra lookups.
			clear(s.unknown)
		}
		s.unknown[id] = s.cfg.now().Add(s.cfg.unknownIDRetry)
	}
	s.mu.Unlock()
	close(f.done)
	return f.w, f.err
}

func unknownID(id int) error {
	return fmt.Errorf("%w: id %d (was the producer pointed at another registry, or the schema hard-deleted?)", ErrUnknownSchemaID, id)
}

func (s *Serde) lookup(id int) (*writerSchema, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.fetchTimeout)
	defer cancel()
	sch, err := s.client.SchemaByID(ctx, id)
	if err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) && (re.ErrorCode == sr.ErrSchemaNotFound.Code || re.StatusCode == http.StatusNotFound) {
			return nil, unknownID(id)
		}
		return nil, fmt.Errorf("%w: fetching schema id %d: %v", ErrRegistryUnavailable, id, err)
	}
	if sch.Type != sr.TypeAvro {
		// Cached like any schema: the id will never become Avro.
		return &writerSchema{id: id, err: fmt.Errorf("%w: schema id %d is %s, not Avro", ErrWrongSchema, id, sch.Type)}, nil
	}
	return compileWriter(id, sch.Schema)
}

// compileWriter parses a writer schema and resolves it against the reader
// record of the same name. Only registry or programming failures return an
// error; a schema we cannot read is cached with its reason in w.err, so that
// each record using it fails fast with ErrWrongSchema.
func compileWriter(id int, text string) (*writerSchema, error) {
	w := &writerSchema{id: id, unions: map[string]bool{}}
	wrong := func(format string, args ...any) (*writerSchema, error) {
		w.err = fmt.Errorf("%w: schema id %d: %s", ErrWrongSchema, id, fmt.Sprintf(format, args...))
		return w, nil
	}
	var parsed any
	if err := json.Unmarshal([]byte(text), &parsed); err != nil {
		return wrong("not JSON: %v", err)
	}
	rec, _ := parsed.(map[string]any)
	if rec == nil || rec["type"] != "record" {
		return wrong("not a record schema")
	}
	name, _ := rec["name"].(string)
	w.name = shortName(name)
	for _, rt := range recordTypes {
		if rt.name == w.name {
			w.rt = rt
		}
	}
	if w.rt == nil {
		return w, nil // decode reports which record it is
	}
	missing, err := w.rt.check(rec, w.unions)
	if err != nil {
		return wrong("%v", err)
	}
	for _, f := range missing {
		for _, rf := range w.rt.fields {
			if rf.name == f && !rf.hasDefault {
				return wrong("lacks field %q, which the reader has no default for (add it, or give it a default in %s.avsc)", f, lower(w.rt.name))
			}
		}
	}
	if w.scan, err = buildScan(rec); err != nil {
		return wrong("%v", err)
	}
	if w.codec, err = goavro.NewCodec(text); err != nil {
		return wrong("goavro cannot compile it: %v", err)
	}
	return w, nil
}

func lower(s string) string {
	b := []byte(s)
	if len(b) > 0 && 'A' <= b[0] && b[0] <= 'Z' {
		b[0] += 'a' - 'A'
	}
	return string(b)
}

// notFound reports whether err is the registry's answer that a subject or
// schema does not exist.
func notFound(err error) bool {
	var re *sr.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusNotFound
}
