package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/relance-io/relance/generate"
	"github.com/relance-io/relance/schemas"
)

// Rule: `relance produce` writes the generated book to a real Kafka and
// registry — every invoice, reminder and payment once, on its topic, keyed
// by customer id, in the Confluent wire format the pipeline decodes.
func TestProduce_WritesTheBookToKafka(t *testing.T) {
	st := newLiveStack(t, 2, 1, 1) // the broker and registry only
	var out bytes.Buffer
	args := []string{"--brokers", st.kc.ListenAddrs()[0], "--registry", st.reg.URL(), "--customers", "25", "--months", "3", "--seed", "4"}
	if err := cmdProduce(context.Background(), args, &out); err != nil {
		t.Fatal(err)
	}
	p := generate.DefaultParams()
	p.Customers, p.Months, p.Seed = 25, 3, 4
	now := time.Now().UTC()
	p.Start = time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -3, 0)
	ds, err := generate.Generate(p)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{schemas.TopicInvoices: len(ds.Invoices), schemas.TopicReminders: len(ds.Reminders), schemas.TopicPayments: len(ds.Payments)}
	cl, err := kgo.NewClient(kgo.SeedBrokers(st.kc.ListenAddrs()...), kgo.ConsumeTopics(schemas.TopicInvoices, schemas.TopicReminders, schemas.TopicPayments),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	got := map[string]int{}
	total := want[schemas.TopicInvoices] + want[schemas.TopicReminders] + want[schemas.TopicPayments]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for n := 0; n < total && ctx.Err() == nil; {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			n++
			got[r.Topic]++
			var cust string
			switch r.Topic {
			case schemas.TopicReminders:
				v, err := st.serde.DecodeReminder(r.Value)
				if err != nil {
					t.Fatalf("%s@%d: %v", r.Topic, r.Offset, err)
				}
				cust = v.CustomerID
			case schemas.TopicPayments:
				v, err := st.serde.DecodePayment(r.Value)
				if err != nil {
					t.Fatalf("%s@%d: %v", r.Topic, r.Offset, err)
				}
				cust = v.CustomerID
			case schemas.TopicInvoices:
				v, err := st.serde.DecodeInvoice(r.Value)
				if err != nil {
					t.Fatalf("%s@%d: %v", r.Topic, r.Offset, err)
				}
				cust = v.CustomerID
			}
			if string(r.Key) != cust {
				t.Fatalf("%s@%d keyed %q, customer %q", r.Topic, r.Offset, r.Key, cust)
			}
		})
	}
	for topic, n := range want {
		if got[topic] != n {
			t.Errorf("%s: %d records, want %d", topic, got[topic], n)
		}
	}
	if !strings.Contains(out.String(), "produced") {
		t.Errorf("output: %q", out.String())
	}
}

// Rule: produce and import with brokers nobody answers on end with an error
// naming kafka.brokers and what to check, instead of a progress bar that
// never moves.
func TestProduce_UnreachableBrokersAreAnError(t *testing.T) {
	st := newLiveStack(t, 2, 1, 1) // for its registry
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, cmd := range []struct {
		name string
		run  func(context.Context, []string, io.Writer) error
		args []string
	}{
		{"produce", cmdProduce, []string{"--customers", "5", "--months", "1"}},
		{"import", cmdImport, []string{"--dir", "../../csvimport/testdata/october"}},
	} {
		var out bytes.Buffer
		err := cmd.run(ctx, append([]string{"--brokers", "127.0.0.1:1", "--registry", st.reg.URL()}, cmd.args...), &out)
		if ctx.Err() != nil {
			t.Fatalf("%s kept waiting for the brokers (%s):\n%s", cmd.name, ctx.Err(), out.String())
		}
		if err == nil || !strings.Contains(err.Error(), "kafka.brokers: 127.0.0.1:1 unreachable or refusing the connection") {
			t.Errorf("%s: error %v, want one naming kafka.brokers 127.0.0.1:1 as unreachable", cmd.name, err)
		}
	}
}
