package schemas

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/linkedin/goavro/v2"
)

// The reader schemas, embedded so that the binary carries the contract it was
// built against. NewSerde registers them; generators and tests may read them.
// Treat them as constants.
var (
	//go:embed reminder.avsc
	ReminderSchema string
	//go:embed payment.avsc
	PaymentSchema string
	//go:embed invoice.avsc
	InvoiceSchema string
)

// Subject returns the schema registry subject of a topic's values
// (TopicNameStrategy): "<topic>-value".
func Subject(topic string) string { return topic + "-value" }

// kind is how a reader field is represented in Go; it decides which writer
// types can be read into it (Avro promotion rules, restricted to what the Go
// field can hold).
type kind uint8

const (
	kString      kind = iota + 1 // string; writer string or bytes
	kInt                         // int32; writer int
	kLong                        // int64; writer int or long
	kBool                        // bool; writer boolean
	kTimestamp                   // time.Time; writer long (timestamp-millis/micros or plain millis) or int
	kDate                        // time.Time at midnight UTC; writer int (date or plain days)
	kStringMap                   // map[string]string; writer map of string/bytes
	kAllocations                 // []Allocation; writer array of record Allocation
)

// field is one field of a reader record. hasDefault is read from the .avsc,
// not declared here, so the Go side cannot silently disagree with the file.
type field struct {
	name       string
	kind       kind
	hasDefault bool
}

// recordType ties a reader schema to its topic, its compiled codec and the
// Go-side description of its fields.
type recordType struct {
	name   string // unqualified Avro record name, e.g. "Reminder"
	topic  string
	schema string
	codec  *goavro.Codec
	fields []field
}

var allocationFields = []field{
	{name: "invoice_id", kind: kString},
	{name: "amount_minor", kind: kLong},
}

var (
	reminderType = mustRecordType("Reminder", TopicReminders, ReminderSchema, []field{
		{name: "event_id", kind: kString},
		{name: "reminder_id", kind: kString},
		{name: "invoice_id", kind: kString},
		{name: "customer_id", kind: kString},
		{name: "sent_at", kind: kTimestamp},
		{name: "channel", kind: kString},
		{name: "level", kind: kInt},
		{name: "final_notice", kind: kBool},
		{name: "plan", kind: kString},
		{name: "sender", kind: kString},
		{name: "amount_due_minor", kind: kLong},
		{name: "currency", kind: kString},
		{name: "invoice_due_date", kind: kDate},
		{name: "holdout", kind: kBool},
		{name: "attributes", kind: kStringMap},
	})
	paymentType = mustRecordType("Payment", TopicPayments, PaymentSchema, []field{
		{name: "event_id", kind: kString},
		{name: "payment_id", kind: kString},
		{name: "customer_id", kind: kString},
		{name: "paid_at", kind: kTimestamp},
		{name: "method", kind: kString},
		{name: "currency", kind: kString},
		{name: "allocations", kind: kAllocations},
	})
	invoiceType = mustRecordType("Invoice", TopicInvoices, InvoiceSchema, []field{
		{name: "event_id", kind: kString},
		{name: "invoice_id", kind: kString},
		{name: "customer_id", kind: kString},
		{name: "issued_at", kind: kTimestamp},
		{name: "due_date", kind: kDate},
		{name: "amount_minor", kind: kLong},
		{name: "currency", kind: kString},
		{name: "status", kind: kString},
		{name: "attributes", kind: kStringMap},
	})
	recordTypes = []*recordType{reminderType, paymentType, invoiceType}
)

// mustRecordType compiles an embedded schema and checks it against the Go
// field list. It panics because a failure is a build defect of this package
// (the .avsc and the Go mirror disagree), caught by any test run.
func mustRecordType(name, topic, schema string, fields []field) *recordType {
	codec, err := goavro.NewCodec(schema)
	if err != nil {
		panic(fmt.Sprintf("schemas: embedded %s schema does not compile: %v", name, err))
	}
	var parsed map[string]any
	if err := json.Unmarshal([]byte(schema), &parsed); err != nil {
		panic(fmt.Sprintf("schemas: embedded %s schema is not JSON: %v", name, err))
	}
	rt := &recordType{name: name, topic: topic, schema: schema, codec: codec, fields: fields}
	// The reader schema must be readable by itself under the same rules as any
	// writer; this also verifies that field names and kinds match the .avsc.
	if _, err := rt.check(parsed, map[string]bool{}); err != nil {
		panic(fmt.Sprintf("schemas: embedded %s schema disagrees with the Go mirror: %v", name, err))
	}
	if n := len(parsed["fields"].([]any)); n != len(fields) {
		panic(fmt.Sprintf("schemas: embedded %s schema has %d fields, the Go mirror %d", name, n, len(fields)))
	}
	for i, f := range rt.fields {
		rt.fields[i].hasDefault = hasDefault(parsed, f.name)
	}
	return rt
}

func hasDefault(record map[string]any, name string) bool {
	fields, _ := record["fields"].([]any)
	for _, f := range fields {
		fm, _ := f.(map[string]any)
		if fm["name"] == name {
			_, ok := fm["default"]
			return ok
		}
	}
	return false
}

// shortName strips the namespace from an Avro full name.
func shortName(s string) string {
	if i := strings.LastIndexByte(s, '.'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// writerFields indexes a writer record's fields by name.
func writerFields(record map[string]any) (map[string]any, error) {
	list, ok := record["fields"].([]any)
	if !ok {
		return nil, fmt.Errorf("record %v has no fields array", record["name"])
	}
	byName := make(map[string]any, len(list))
	for _, f := range list {
		fm, ok := f.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("record %v: field is not an object", record["name"])
		}
		name, _ := fm["name"].(string)
		byName[name] = fm["type"]
	}
	return byName, nil
}

// check verifies that a writer record (parsed JSON) can be read into rt by
// field name, following Avro schema resolution: a reader field absent from the
// writer needs a reader default; a present one needs a promotable type. Fields
// only the writer has are ignored. unions collects the (dotted) names of
// fields whose writer type is a union, which decoding must unwrap. It returns
// the names of reader fields the writer lacks.
func (rt *recordType) check(writer map[string]any, unions map[string]bool) (missing []string, err error) {
	wf, err := writerFields(writer)
	if err != nil {
		return nil, err
	}
	for _, f := range rt.fields {
		t, ok := wf[f.name]
		if !ok {
			missing = append(missing, f.name)
			continue
		}
		if err := checkType(f.kind, t, f.name, unions); err != nil {
			return nil, err
		}
	}
	return missing, nil
}

// checkType reports whether a writer type t can be read as kind k. Unions are
// accepted when every non-null branch is readable; a null then fails the
// single record at decode time (invalid_field), not the whole schema.
func checkType(k kind, t any, path string, unions map[string]bool) error {
	if branches, ok := t.([]any); ok {
		if unions == nil {
			return fmt.Errorf("field %s: nested union not supported", path)
		}
		readable := 0
		for _, b := range branches {
			if b == "null" {
				continue
			}
			if err := checkType(k, b, path, nil); err != nil {
				return err
			}
			readable++
		}
		if readable == 0 {
			return fmt.Errorf("field %s: union has no non-null branch", path)
		}
		unions[path] = true
		return nil
	}
	prim, logical, node := typeName(t)
	bad := func() error {
		if logical != "" {
			return fmt.Errorf("field %s: writer type %s (%s) cannot be read as %s", path, prim, logical, k)
		}
		return fmt.Errorf("field %s: writer type %s cannot be read as %s", path, prim, k)
	}
	switch k {
	case kString:
		if (prim == "string" || prim == "bytes") && logical == "" {
			return nil
		}
	case kInt:
		if prim == "int" && logical == "" {
			return nil
		}
	case kLong:
		if (prim == "int" || prim == "long") && logical == "" {
			return nil
		}
	case kBool:
		if prim == "boolean" {
			return nil
		}
	case kTimestamp:
		if (prim == "long" && (logical == "" || logical == "timestamp-millis" || logical == "timestamp-micros")) ||
			(prim == "int" && logical == "") {
			return nil
		}
	case kDate:
		if prim == "int" && (logical == "" || logical == "date") {
			return nil
		}
	case kStringMap:
		if prim == "map" {
			return checkType(kString, node["values"], path+".values", nil)
		}
	case kAllocations:
		if prim != "array" {
			return bad()
		}
		_, _, item := typeName(node["items"])
		if item == nil || item["type"] != "record" {
			return fmt.Errorf("field %s: items must be a record Allocation defined inline", path)
		}
		if name, _ := item["name"].(string); shortName(name) != "Allocation" {
			return fmt.Errorf("field %s: items are record %q, want Allocation", path, name)
		}
		wf, err := writerFields(item)
		if err != nil {
			return err
		}
		for _, f := range allocationFields {
			t, ok := wf[f.name]
			if !ok {
				return fmt.Errorf("field %s.%s: missing in writer and the reader has no default", path, f.name)
			}
			if err := checkType(f.kind, t, path+"."+f.name, unions); err != nil {
				return err
			}
		}
		return nil
	}
	return bad()
}

// typeName returns the primitive or complex type name of an Avro type, its
// logicalType, and the type's JSON object when it is one.
func typeName(t any) (prim, logical string, node map[string]any) {
	switch v := t.(type) {
	case string:
		return v, "", nil
	case map[string]any:
		prim, _ = v["type"].(string)
		logical, _ = v["logicalType"].(string)
		return prim, logical, v
	}
	return "", "", nil
}

func (k kind) String() string {
	switch k {
	case kString:
		return "string"
	case kInt:
		return "int"
	case kLong:
		return "long"
	case kBool:
		return "boolean"
	case kTimestamp:
		return "timestamp-millis"
	case kDate:
		return "date"
	case kStringMap:
		return "map<string>"
	case kAllocations:
		return "array<Allocation>"
	}
	return "unknown"
}
