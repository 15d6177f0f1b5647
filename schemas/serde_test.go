package schemas

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"
	"github.com/twmb/franz-go/pkg/sr"
)

func TestSerde_ReminderRoundTrip(t *testing.T) {
	// Rule: a Reminder survives encode→decode unchanged, maps and unicode
	// included; times come back in UTC at millisecond precision.
	s, _, _ := newSerde(t)
	in := sampleReminder()
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	in.SentAt = time.Date(2024, 3, 14, 10, 26, 53, 589_999_999, paris) // sub-ms digits, non-UTC
	in.InvoiceDueDate = time.Date(2024, 2, 29, 0, 0, 0, 0, paris)      // a Paris midnight is still Feb 29
	b, err := s.EncodeReminder(&in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.DecodeReminder(b)
	if err != nil {
		t.Fatal(err)
	}
	want := in
	want.SentAt = time.Date(2024, 3, 14, 9, 26, 53, 589_000_000, time.UTC)
	want.InvoiceDueDate = time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
	}
	if got.SentAt.Location() != time.UTC {
		t.Errorf("SentAt location = %v, want UTC", got.SentAt.Location())
	}
}

func TestSerde_ReminderEmptyAttributesDecodeAsNil(t *testing.T) {
	// Rule: empty or nil attributes encode as {} and decode as a nil map
	// (readable, no allocation); holdout round-trips.
	s, _, _ := newSerde(t)
	in := sampleReminder()
	in.Attributes = map[string]string{}
	in.Holdout = true
	b, err := s.EncodeReminder(&in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.DecodeReminder(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Attributes != nil || !got.Holdout {
		t.Fatalf("attributes %#v holdout %v, want nil and true", got.Attributes, got.Holdout)
	}
}

func TestSerde_PaymentRoundTrip(t *testing.T) {
	// Rule: a Payment with several allocations (including a zero one) keeps
	// them all, in order.
	s, _, _ := newSerde(t)
	in := samplePayment()
	b, err := s.EncodePayment(&in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.DecodePayment(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, in) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, in)
	}
}

func TestSerde_InvoiceRoundTrip(t *testing.T) {
	// Rule: an Invoice survives encode→decode unchanged, pre-1970 dates too
	// (goavro's own date encoding is off by one day there).
	s, _, _ := newSerde(t)
	for _, due := range []time.Time{
		time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC),
		time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC),
		time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		in := sampleInvoice()
		in.DueDate = due
		in.IssuedAt = time.Date(1969, 12, 31, 23, 59, 59, 999_500_000, time.UTC) // negative millis
		b, err := s.EncodeInvoice(&in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.DecodeInvoice(b)
		if err != nil {
			t.Fatal(err)
		}
		want := in
		want.IssuedAt = in.IssuedAt.Truncate(time.Millisecond)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
		}
	}
}

func TestSerde_WireFormat(t *testing.T) {
	// Rule: values are magic byte 0, the registry's 4-byte big-endian id of
	// "<topic>-value", then plain Avro binary of the embedded schema. Checked
	// by parsing the header by hand and decoding the body with a bare goavro
	// codec, so a bug shared by encoder and decoder cannot hide.
	s, _, cl := newSerde(t)
	ctx := context.Background()
	r, p, i := sampleReminder(), samplePayment(), sampleInvoice()
	cases := []struct {
		topic  string
		schema string
		encode func() ([]byte, error)
		field  string
		want   any
	}{
		{TopicReminders, ReminderSchema, func() ([]byte, error) { return s.EncodeReminder(&r) }, "reminder_id", r.ReminderID},
		{TopicPayments, PaymentSchema, func() ([]byte, error) { return s.EncodePayment(&p) }, "payment_id", p.PaymentID},
		{TopicInvoices, InvoiceSchema, func() ([]byte, error) { return s.EncodeInvoice(&i) }, "status", i.Status},
	}
	for _, c := range cases {
		b, err := c.encode()
		if err != nil {
			t.Fatal(err)
		}
		latest, err := cl.SchemaByVersion(ctx, c.topic+"-value", -1)
		if err != nil {
			t.Fatalf("%s: subject not registered: %v", c.topic, err)
		}
		if b[0] != 0 {
			t.Errorf("%s: magic byte %d, want 0", c.topic, b[0])
		}
		if id := binary.BigEndian.Uint32(b[1:5]); int(id) != latest.ID {
			t.Errorf("%s: header id %d, registry id of %s-value %d", c.topic, id, c.topic, latest.ID)
		}
		codec, err := goavro.NewCodec(c.schema)
		if err != nil {
			t.Fatal(err)
		}
		native, rest, err := codec.NativeFromBinary(b[5:])
		if err != nil || len(rest) != 0 {
			t.Fatalf("%s: body is not plain Avro of the schema: %v, %d bytes left", c.topic, err, len(rest))
		}
		if got := native.(map[string]any)[c.field]; got != c.want {
			t.Errorf("%s: %s = %v, want %v", c.topic, c.field, got, c.want)
		}
	}
}

func TestNewSerde_IsIdempotent(t *testing.T) {
	// Rule: a second NewSerde (a restart, another instance) gets the same ids
	// and does not create new subject versions.
	s1, _, cl := newSerde(t)
	s2, err := NewSerde(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	r1, p1, i1 := s1.SchemaIDs()
	r2, p2, i2 := s2.SchemaIDs()
	if r1 != r2 || p1 != p2 || i1 != i2 {
		t.Fatalf("ids changed: %d/%d/%d then %d/%d/%d", r1, p1, i1, r2, p2, i2)
	}
	versions, err := cl.SubjectVersions(context.Background(), "reminders-value")
	if err != nil || len(versions) != 1 {
		t.Fatalf("reminders-value versions %v (%v), want exactly one", versions, err)
	}
}

func TestDecode_EvolvedWriterSchemas(t *testing.T) {
	// Rule: under BACKWARD compatibility the reader decodes every registered
	// version: an old writer lacking `attributes` yields the reader default
	// (empty), a newer writer with an extra defaulted field has it dropped.
	reg, cl := newRegistry(t)
	_ = reg
	v1 := evolve(t, ReminderSchema, []string{"attributes"})
	v1ID := register(t, cl, "reminders-value", v1) // producers were on v1 first
	s, err := NewSerde(context.Background(), cl)   // current schema adds attributes with a default
	if err != nil {
		t.Fatal(err)
	}
	v3 := evolve(t, ReminderSchema, nil, map[string]any{
		"name": "priority", "type": "string", "default": "normal", "doc": "added in v3",
	})
	v3ID := register(t, cl, "reminders-value", v3)
	if v1ID == v3ID {
		t.Fatal("v1 and v3 got the same id")
	}

	base := sampleReminder()
	native, err := base.native()
	if err != nil {
		t.Fatal(err)
	}

	delete(native, "attributes")
	got, err := s.DecodeReminder(encodeWith(t, v1ID, v1, native))
	if err != nil {
		t.Fatalf("v1: %v", err)
	}
	want := base
	want.Attributes = nil
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("v1:\n got %+v\nwant %+v", got, want)
	}

	native["attributes"] = map[string]any{"country": "FR"}
	native["priority"] = "high"
	got, err = s.DecodeReminder(encodeWith(t, v3ID, v3, native))
	if err != nil {
		t.Fatalf("v3: %v", err)
	}
	want.Attributes = map[string]string{"country": "FR"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("v3:\n got %+v\nwant %+v", got, want)
	}
}

func TestDecode_WriterPromotionsAndUnions(t *testing.T) {
	// Rule: Avro promotions are read (int→long, bytes→string, plain long
	// millis→timestamp); a union writer field is unwrapped, and a null in it
	// fails only that record, as invalid_field.
	_, cl := newRegistry(t)
	s, err := NewSerde(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	const w = `{"type":"record","name":"Payment","namespace":"io.relance","fields":[
		{"name":"event_id","type":"bytes"},
		{"name":"payment_id","type":["null","string"]},
		{"name":"customer_id","type":"string"},
		{"name":"paid_at","type":"long"},
		{"name":"method","type":"string"},
		{"name":"currency","type":"string"},
		{"name":"allocations","type":{"type":"array","items":{"type":"record","name":"Allocation","fields":[
			{"name":"invoice_id","type":"string"},{"name":"amount_minor","type":"int"}]}}}]}`
	id := register(t, cl, "legacy-payments-value", w)
	native := map[string]any{
		"event_id": []byte("e1"), "payment_id": goavro.Union("string", "p1"), "customer_id": "c1",
		"paid_at": int64(1_700_000_000_123), "method": "card", "currency": "EUR",
		"allocations": []any{map[string]any{"invoice_id": "i1", "amount_minor": int32(42)}},
	}
	got, err := s.DecodePayment(encodeWith(t, id, w, native))
	if err != nil {
		t.Fatal(err)
	}
	want := Payment{EventID: "e1", PaymentID: "p1", CustomerID: "c1", PaidAt: time.UnixMilli(1_700_000_000_123).UTC(),
		Method: "card", Currency: "EUR", Allocations: []Allocation{{InvoiceID: "i1", AmountMinor: 42}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("\n got %+v\nwant %+v", got, want)
	}

	native["payment_id"] = nil
	_, err = s.DecodePayment(encodeWith(t, id, w, native))
	assertDecodeError(t, err, TopicPayments, ReasonInvalidField, ErrInvalidField)
}

func TestDecode_WrongSchema(t *testing.T) {
	// Rule: a value whose id resolves to another record type, or to a record
	// missing a field the reader has no default for, fails with ErrWrongSchema
	// and reason wrong_schema — never a half-filled struct.
	s, _, cl := newSerde(t)
	p := samplePayment()
	b, err := s.EncodePayment(&p)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.DecodeReminder(b)
	assertDecodeError(t, err, TopicReminders, ReasonWrongSchema, ErrWrongSchema)

	noCurrency := evolve(t, ReminderSchema, []string{"currency"})
	id := register(t, cl, "other-reminders-value", noCurrency)
	native, _ := (&Reminder{}).native()
	delete(native, "currency")
	_, err = s.DecodeReminder(encodeWith(t, id, noCurrency, native))
	assertDecodeError(t, err, TopicReminders, ReasonWrongSchema, ErrWrongSchema)
	if !strings.Contains(err.Error(), `"currency"`) {
		t.Errorf("error should name the missing field: %v", err)
	}

	// A Protobuf schema id: the error says it is not Avro (it used to say
	// "a non-record schema").
	pb, err := cl.CreateSchema(context.Background(), "proto-value", sr.Schema{Type: sr.TypeProtobuf,
		Schema: `syntax = "proto3"; message Reminder { string event_id = 1; }`})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.DecodeReminder(frame(pb.ID, []byte{0}))
	assertDecodeError(t, err, TopicReminders, ReasonWrongSchema, ErrWrongSchema)
	if !strings.Contains(err.Error(), "not Avro") {
		t.Errorf("a Protobuf schema id: %v, want it named as not Avro", err)
	}

	retyped := strings.Replace(ReminderSchema, `{"name": "level", "type": "int"`, `{"name": "level", "type": "string"`, 1)
	id = register(t, cl, "retyped-reminders-value", retyped)
	native["currency"] = "EUR"
	native["level"] = "two"
	_, err = s.DecodeReminder(encodeWith(t, id, retyped, native))
	assertDecodeError(t, err, TopicReminders, ReasonWrongSchema, ErrWrongSchema)
}

func TestDecode_UnknownSchemaID(t *testing.T) {
	// Rule: an id the registry does not know fails with ErrUnknownSchemaID
	// naming the id, and is asked to the registry once per UnknownIDRetry,
	// not once per record.
	s, reg, _ := newSerde(t)
	lookups := countLookups(reg)
	b := frame(4242, []byte{0, 0, 0})
	for range 5 {
		_, err := s.DecodeReminder(b)
		assertDecodeError(t, err, TopicReminders, ReasonUnknownSchemaID, ErrUnknownSchemaID)
		if !strings.Contains(err.Error(), "4242") {
			t.Fatalf("error should name the id: %v", err)
		}
	}
	if n := lookups.Load(); n != 1 {
		t.Fatalf("%d registry lookups for one unknown id, want 1", n)
	}
}

func TestDecode_RegistryDownIsRetryableNotUnknown(t *testing.T) {
	// Rule: a registry failure is not a verdict on the record: reason
	// registry_unavailable, Retryable, not cached (the next decode asks again).
	s, reg, cl := newSerde(t, FetchTimeout(2*time.Second))
	id := register(t, cl, "reminders-value", evolve(t, ReminderSchema, nil, map[string]any{"name": "x", "type": "int", "default": 0}))
	reg.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasPrefix(r.URL.Path, "/schemas/ids/") {
			http.Error(w, `{"error_code":50001,"message":"store unavailable"}`, http.StatusInternalServerError)
			return true
		}
		return false
	})
	_, err := s.DecodeReminder(frame(id, nil))
	de := assertDecodeError(t, err, TopicReminders, ReasonRegistryUnavailable, ErrRegistryUnavailable)
	if !de.Retryable() {
		t.Fatal("registry failure must be retryable")
	}
	reg.ClearInterceptors()
	r := sampleReminder()
	native, _ := r.native()
	native["x"] = int32(1)
	sch, _ := cl.SchemaByID(context.Background(), id)
	if _, err := s.DecodeReminder(encodeWith(t, id, sch.Schema, native)); err != nil {
		t.Fatalf("after the registry recovered: %v", err)
	}
}

func TestDecode_UnknownIDFetchedOnceUnderConcurrency(t *testing.T) {
	// Rule: many goroutines meeting a new writer id at once cause one
	// registry lookup, and all decode correctly.
	s, reg, cl := newSerde(t)
	v2 := evolve(t, ReminderSchema, nil, map[string]any{"name": "priority", "type": "string", "default": "normal"})
	id := register(t, cl, "reminders-value", v2)
	r := sampleReminder()
	native, _ := r.native()
	b := encodeWith(t, id, v2, native)
	lookups := countLookups(reg)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 64 {
		wg.Go(func() {
			if _, err := s.DecodeReminder(b); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := lookups.Load(); n != 1 {
		t.Fatalf("%d registry lookups, want 1", n)
	}
}

func TestDecode_BadMagic(t *testing.T) {
	// Rule: anything shorter than 5 bytes or not starting with 0 is
	// ErrBadMagic, without asking the registry.
	s, reg, _ := newSerde(t)
	lookups := countLookups(reg)
	for _, b := range [][]byte{nil, {}, {0}, {0, 0, 0, 1}, {1, 0, 0, 0, 1, 2}, []byte(`{"event_id":"x"}`)} {
		_, err := s.DecodePayment(b)
		assertDecodeError(t, err, TopicPayments, ReasonBadMagic, ErrBadMagic)
	}
	if n := lookups.Load(); n != 0 {
		t.Fatalf("%d registry lookups for bad magic", n)
	}
	// A tombstone (no value) says so, rather than blame the serializer.
	if _, err := s.DecodeReminder(nil); err == nil || !strings.Contains(err.Error(), "tombstone") {
		t.Errorf("tombstone: %v, want an error saying the value is empty (a tombstone)", err)
	}
}

func TestDecode_TruncatedIsAvroDecode(t *testing.T) {
	// Rule: every strict prefix of a valid value (past the header) and any
	// value with trailing bytes fails with ErrMalformed / avro_decode.
	s, _, _ := newSerde(t)
	p := samplePayment()
	b, err := s.EncodePayment(&p)
	if err != nil {
		t.Fatal(err)
	}
	for n := 5; n < len(b); n++ {
		_, err := s.DecodePayment(b[:n])
		assertDecodeError(t, err, TopicPayments, ReasonAvroDecode, ErrMalformed)
	}
	_, err = s.DecodePayment(append(b, 0))
	assertDecodeError(t, err, TopicPayments, ReasonAvroDecode, ErrMalformed)
}

func TestDecode_HugeBlockCountIsRejectedWithoutAllocating(t *testing.T) {
	// Rule: a body claiming a gigantic array or map is rejected before goavro
	// sizes a slice from it (which would allocate gigabytes and kill the
	// process): the pipeline never crashes on data.
	s, _, _ := newSerde(t)
	rid, pid, _ := s.SchemaIDs()
	huge := zigzag(1 << 30)
	// Payment: six empty/zero scalars, then allocations with 2^30 items.
	_, err := s.DecodePayment(frame(pid, append([]byte{0, 0, 0, 0, 0, 0}, huge...)))
	assertDecodeError(t, err, TopicPayments, ReasonAvroDecode, ErrMalformed)
	// Reminder: 14 scalars, then attributes with 2^30 entries.
	_, err = s.DecodeReminder(frame(rid, append(make([]byte, 14), huge...)))
	assertDecodeError(t, err, TopicReminders, ReasonAvroDecode, ErrMalformed)
	// Negative count form (count, then byte size).
	_, err = s.DecodeReminder(frame(rid, append(append(make([]byte, 14), zigzag(-(1<<30))...), 2)))
	assertDecodeError(t, err, TopicReminders, ReasonAvroDecode, ErrMalformed)
}

func TestDecode_GarbageNeverPanics(t *testing.T) {
	// Rule: random bodies behind a known id, and random mutations of valid
	// values, return a *DecodeError or a value — never a panic.
	s, _, _ := newSerde(t)
	rid, pid, iid := s.SchemaIDs()
	rng := rand.New(rand.NewPCG(1, 2))
	r, p := sampleReminder(), samplePayment()
	validR, _ := s.EncodeReminder(&r)
	validP, _ := s.EncodePayment(&p)
	for i := range 20000 {
		var b []byte
		switch i % 3 {
		case 0:
			body := make([]byte, rng.IntN(64))
			for j := range body {
				body[j] = byte(rng.Uint32())
			}
			b = frame([]int{rid, pid, iid}[rng.IntN(3)], body)
		case 1:
			b = append([]byte(nil), validR...)
			b[5+rng.IntN(len(b)-5)] = byte(rng.Uint32())
		case 2:
			b = append([]byte(nil), validP...)
			b[5+rng.IntN(len(b)-5)] = byte(rng.Uint32())
		}
		for _, decode := range []func([]byte) error{
			func(b []byte) error { _, err := s.DecodeReminder(b); return err },
			func(b []byte) error { _, err := s.DecodePayment(b); return err },
			func(b []byte) error { _, err := s.DecodeInvoice(b); return err },
		} {
			if err := decode(b); err != nil {
				var de *DecodeError
				if !errors.As(err, &de) {
					t.Fatalf("%x: error %T is not a *DecodeError: %v", b, err, err)
				}
			}
		}
	}
}

func TestDecodeError_CarriesPosition(t *testing.T) {
	// Rule: the consumer fills Partition and Offset; Error() shows where the
	// bad record is and errors.Is still sees the sentinel.
	s, _, _ := newSerde(t)
	_, err := s.DecodeReminder([]byte{9})
	var de *DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("%T", err)
	}
	de.Partition, de.Offset = 3, 1234
	if msg := err.Error(); !strings.Contains(msg, "reminders[3]@1234") || !strings.Contains(msg, "bad_magic") {
		t.Fatalf("message %q", msg)
	}
	if !errors.Is(err, ErrBadMagic) {
		t.Fatal("errors.Is(err, ErrBadMagic) = false")
	}
}

func TestNewSerde_RejectedSchemaNamesSubject(t *testing.T) {
	// Rule: when the registry refuses our schema (here: 409 incompatible, as
	// Confluent answers under BACKWARD), NewSerde fails and the error names
	// the subject, so the operator knows which contract to fix.
	reg, cl := newRegistry(t)
	reg.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && r.URL.Path == "/subjects/payments-value/versions" {
			w.WriteHeader(http.StatusConflict)
			w.Write([]byte(`{"error_code":409,"message":"Schema being registered is incompatible with an earlier schema"}`))
			return true
		}
		return false
	})
	_, err := NewSerde(context.Background(), cl)
	if err == nil {
		t.Fatal("NewSerde succeeded although the registry refused payments-value")
	}
	if !strings.Contains(err.Error(), `"payments-value"`) || !strings.Contains(err.Error(), "incompatible") {
		t.Fatalf("error should name the subject and the registry's reason: %v", err)
	}
}

// assertDecodeError checks the error is a *DecodeError with the topic and
// reason, wrapping sentinel.
func assertDecodeError(t *testing.T, err error, topic, reason string, sentinel error) *DecodeError {
	t.Helper()
	var de *DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("got %T %v, want *DecodeError", err, err)
	}
	if de.Topic != topic || de.Reason != reason {
		t.Fatalf("got topic %q reason %q (%v), want %q %q", de.Topic, de.Reason, err, topic, reason)
	}
	if !errors.Is(err, sentinel) {
		t.Fatalf("errors.Is(%v, %v) = false", err, sentinel)
	}
	return de
}

func zigzag(v int64) []byte {
	u := uint64((v << 1) ^ (v >> 63))
	var b []byte
	for u >= 0x80 {
		b = append(b, byte(u)|0x80)
		u >>= 7
	}
	return append(b, byte(u))
}

// Rule: credentials that may read the registry but not register schemas
// (what managed registries often hand consumers) are enough once relance's
// schemas are registered: NewSerde looks them up and gets the same ids.
// With nothing registered, the refusal is an error saying the credentials
// may not register.
func TestNewSerde_ReadOnlyCredentialsOnceRegistered(t *testing.T) {
	refuseWrites := func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/versions") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"error_code":40301,"message":"User is denied operation Write on Subject"}`))
			return true
		}
		return false
	}
	first, reg, cl := newSerde(t)
	reg.Intercept(refuseWrites)
	s, err := NewSerde(context.Background(), cl)
	if err != nil {
		t.Fatalf("read-only credentials, schemas registered: %v", err)
	}
	ids := func(s *Serde) [3]int { r, p, i := s.SchemaIDs(); return [3]int{r, p, i} }
	if ids(s) != ids(first) {
		t.Errorf("ids %v, registered as %v", ids(s), ids(first))
	}
	reg2, cl2 := newRegistry(t)
	reg2.Intercept(refuseWrites)
	if _, err := NewSerde(context.Background(), cl2); err == nil || !strings.Contains(err.Error(), "that the credentials may register schemas") {
		t.Errorf("read-only credentials, nothing registered: %v", err)
	}
}

// Rule: a ReadOnly Serde (what `relance run` uses) never registers: the
// producers registered the Reminder schema without its doc strings, and a
// consumer that registered its own copy on a lookup miss added version 2
// to their subject, which producers serializing with the latest version
// would then use. It still decodes their records, finds what is
// registered as it is, and refuses to encode with a schema it did not find.
func TestNewSerde_ReadOnlyNeverRegisters(t *testing.T) {
	ctx := context.Background()
	_, cl := newRegistry(t)
	var v any
	if err := json.Unmarshal([]byte(ReminderSchema), &v); err != nil {
		t.Fatal(err)
	}
	var strip func(any)
	strip = func(x any) {
		switch x := x.(type) {
		case map[string]any:
			delete(x, "doc")
			for _, y := range x {
				strip(y)
			}
		case []any:
			for _, y := range x {
				strip(y)
			}
		}
	}
	strip(v)
	docless, _ := json.Marshal(v)
	upstream, err := cl.RegisterSchema(ctx, Subject(TopicReminders), sr.Schema{Schema: string(docless), Type: sr.TypeAvro}, -1, -1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.RegisterSchema(ctx, Subject(TopicInvoices), sr.Schema{Schema: InvoiceSchema, Type: sr.TypeAvro}, -1, -1); err != nil {
		t.Fatal(err)
	}

	s, err := NewSerde(ctx, cl, ReadOnly())
	if err != nil {
		t.Fatalf("read-only: %v", err)
	}
	for _, topic := range []string{TopicReminders, TopicPayments, TopicInvoices} {
		versions, err := cl.SubjectVersions(ctx, Subject(topic))
		want := map[string]int{TopicReminders: 1, TopicPayments: 0, TopicInvoices: 1}[topic]
		if len(versions) != want {
			t.Errorf("subject %s has versions %v (%v) after a read-only Serde, want %d", Subject(topic), versions, err, want)
		}
	}
	if r, p, i := s.SchemaIDs(); r != 0 || p != 0 || i == 0 {
		t.Errorf("ids %d %d %d: want none for the reminder (another text) and the payment (absent), the invoice's found", r, p, i)
	}

	// A record the producers wrote with their version decodes.
	codec, err := goavro.NewCodec(string(docless))
	if err != nil {
		t.Fatal(err)
	}
	want := sampleReminder()
	n, err := want.native()
	if err != nil {
		t.Fatal(err)
	}
	body, err := codec.BinaryFromNative(nil, n)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.DecodeReminder(frame(upstream, body))
	if err != nil || got.ReminderID != want.ReminderID || got.AmountDueMinor != want.AmountDueMinor {
		t.Errorf("decoding the producers' record: %+v, %v", got, err)
	}
	if _, err := s.EncodeReminder(&want); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("encoding with a schema not found: %v, want an error saying the Serde is read-only", err)
	}
}
