package ingest_test

import (
	"fmt"
	"sort"
	"testing"

	"github.com/relance-io/relance/schemas"
)

// Rule: every raw row (reminders, payment_allocations, invoices) says which
// Kafka record it was read from: source_partition and source_offset are
// that record's, so a data engineer can go from a row back to the record
// (and from a dead letter's headers to the rows of its neighbours).
func TestConsumer_RawRowsLocateTheirRecord(t *testing.T) {
	st := newStack(t)
	store := newStore(t, "lineage")
	recs := st.records(t, dataset(t, 21))
	e := ends{}
	st.produce(t, e, recs...)
	if _, err := st.consume(t, store, "lineage", e); err != nil {
		t.Fatal(err)
	}
	// What the broker acknowledged, by event: topic, partition, offset (an
	// allocation row per allocation of a payment).
	var want []string
	for _, r := range recs {
		switch r.Topic {
		case schemas.TopicReminders:
			v, err := st.serde.DecodeReminder(r.Value)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, fmt.Sprintf("reminders %s %d %d", v.EventID, r.Partition, r.Offset))
		case schemas.TopicPayments:
			v, err := st.serde.DecodePayment(r.Value)
			if err != nil {
				t.Fatal(err)
			}
			for i := range v.Allocations {
				want = append(want, fmt.Sprintf("payments %s#%d %d %d", v.EventID, i, r.Partition, r.Offset))
			}
		case schemas.TopicInvoices:
			v, err := st.serde.DecodeInvoice(r.Value)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, fmt.Sprintf("invoices %s %d %d", v.EventID, r.Partition, r.Offset))
		}
	}
	got := query(t, store, `
		SELECT concat('reminders ', event_id, ' ', toString(source_partition), ' ', toString(source_offset)) FROM reminders FINAL
		UNION ALL SELECT concat('payments ', event_id, '#', toString(allocation_index), ' ', toString(source_partition), ' ', toString(source_offset)) FROM payment_allocations FINAL
		UNION ALL SELECT concat('invoices ', event_id, ' ', toString(source_partition), ' ', toString(source_offset)) FROM invoices FINAL`)
	sort.Strings(want)
	sort.Strings(got)
	if len(got) != len(want) {
		t.Fatalf("%d raw rows, %d expected", len(got), len(want))
	}
	parts := map[string]bool{}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("row %q, want %q", got[i], want[i])
		}
		var topic, id string
		var p, o int64
		fmt.Sscan(want[i], &topic, &id, &p, &o)
		parts[fmt.Sprint(topic, p)] = true
	}
	if len(parts) != 6 {
		t.Errorf("records on %d topic partitions, want all 6 used: %v", len(parts), parts)
	}
}
