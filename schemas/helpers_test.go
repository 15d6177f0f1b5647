package schemas

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

// newRegistry starts an in-memory schema registry (srfake, BACKWARD global
// compatibility like a default Confluent install) and a client for it.
func newRegistry(t testing.TB) (*srfake.Registry, *sr.Client) {
	t.Helper()
	reg := srfake.New(srfake.WithGlobalCompat(sr.CompatBackward))
	t.Cleanup(reg.Close)
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	return reg, cl
}

// newSerde is newRegistry plus a Serde registered in it.
func newSerde(t testing.TB, opts ...Opt) (*Serde, *srfake.Registry, *sr.Client) {
	t.Helper()
	reg, cl := newRegistry(t)
	s, err := NewSerde(context.Background(), cl, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s, reg, cl
}

// countLookups counts GET /schemas/ids/{id} requests reaching the registry.
func countLookups(reg *srfake.Registry) *atomic.Int64 {
	var n atomic.Int64
	reg.Intercept(func(_ http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/schemas/ids/") {
			n.Add(1)
		}
		return false
	})
	return &n
}

// frame builds a Confluent wire-format value by hand, independently of the
// code under test.
func frame(id int, body []byte) []byte {
	b := make([]byte, 5, 5+len(body))
	binary.BigEndian.PutUint32(b[1:], uint32(id))
	return append(b, body...)
}

// evolve returns schema with the named fields removed and extra fields
// appended: how tests write older and newer versions of a record.
func evolve(t testing.TB, schema string, remove []string, add ...map[string]any) string {
	t.Helper()
	var rec map[string]any
	if err := json.Unmarshal([]byte(schema), &rec); err != nil {
		t.Fatal(err)
	}
	var kept []any
	for _, f := range rec["fields"].([]any) {
		name := f.(map[string]any)["name"].(string)
		drop := false
		for _, r := range remove {
			drop = drop || r == name
		}
		if !drop {
			kept = append(kept, f)
		}
	}
	for _, a := range add {
		kept = append(kept, a)
	}
	rec["fields"] = kept
	out, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// register registers a schema under subject and returns its id.
func register(t testing.TB, cl *sr.Client, subject, schema string) int {
	t.Helper()
	id, err := cl.RegisterSchema(context.Background(), subject, sr.Schema{Schema: schema, Type: sr.TypeAvro}, -1, -1)
	if err != nil {
		t.Fatalf("registering under %s: %v", subject, err)
	}
	return id
}

// encodeWith encodes a native record with an arbitrary writer schema, framed
// with id: how a producer on another schema version writes.
func encodeWith(t testing.TB, id int, schema string, native map[string]any) []byte {
	t.Helper()
	codec, err := goavro.NewCodec(schema)
	if err != nil {
		t.Fatal(err)
	}
	body, err := codec.BinaryFromNative(nil, native)
	if err != nil {
		t.Fatal(err)
	}
	return frame(id, body)
}

func sampleReminder() Reminder {
	return Reminder{
		EventID:        "evt-r-1",
		ReminderID:     "rem-1",
		InvoiceID:      "inv-42",
		CustomerID:     "cust-7",
		SentAt:         time.Date(2024, 3, 14, 9, 26, 53, 589_000_000, time.UTC),
		Channel:        "email",
		Level:          2,
		FinalNotice:    true,
		Plan:           "Grands Comptes",
		Sender:         "Agnès Dupré",
		AmountDueMinor: 123_456_78,
		Currency:       "EUR",
		InvoiceDueDate: time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC),
		Holdout:        false,
		Attributes:     map[string]string{"customer_segment": "PME", "country": "FR", "région": "Île-de-France ✓"},
	}
}

func samplePayment() Payment {
	return Payment{
		EventID:    "evt-p-1",
		PaymentID:  "pay-1",
		CustomerID: "cust-7",
		PaidAt:     time.Date(2024, 3, 20, 15, 0, 0, 1_000_000, time.UTC),
		Method:     "transfer",
		Currency:   "EUR",
		Allocations: []Allocation{
			{InvoiceID: "inv-42", AmountMinor: 100_000_00},
			{InvoiceID: "inv-43", AmountMinor: 23_456_78},
			{InvoiceID: "inv-44", AmountMinor: 0},
		},
	}
}

func sampleInvoice() Invoice {
	return Invoice{
		EventID:     "evt-i-1",
		InvoiceID:   "inv-42",
		CustomerID:  "cust-7",
		IssuedAt:    time.Date(2024, 1, 30, 10, 0, 0, 0, time.UTC),
		DueDate:     time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC),
		AmountMinor: 123_456_78,
		Currency:    "EUR",
		Status:      "issued",
		Attributes:  map[string]string{"business_unit": "日本支社"},
	}
}
