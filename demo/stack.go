package demo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/relance-io/relance/generate"
	"github.com/relance-io/relance/ingest"
	"github.com/relance-io/relance/schemas"
	"github.com/relance-io/relance/sinks"
)

// Stack is the embedded infrastructure: broker, registry and store.
type Stack struct {
	Kafka    *kfake.Cluster
	Registry *srfake.Registry
	Serde    *schemas.Serde
	Store    sinks.Store
	// Partitions is the partition count of every topic (co-partitioned).
	Partitions int32
}

// StartStack starts kfake persisted under dir/kafka (wiped first: a demo
// starts from nothing) with the topics created, and srfake with the schemas
// registered. store must already be migrated.
func StartStack(ctx context.Context, dir string, partitions int32, store sinks.Store) (*Stack, error) {
	kdir := filepath.Join(dir, "kafka")
	if err := os.RemoveAll(kdir); err != nil {
		return nil, fmt.Errorf("demo: clearing %s: %w", kdir, err)
	}
	topics := append(append([]string{}, ingest.Topics...), ingest.DefaultDeadLetterTopic)
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DataDir(kdir), kfake.SeedTopics(partitions, topics...))
	if err != nil {
		return nil, fmt.Errorf("demo: starting the embedded Kafka broker: %w", err)
	}
	reg := srfake.New()
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		kc.Close()
		reg.Close()
		return nil, err
	}
	serde, err := schemas.NewSerde(ctx, cl)
	if err != nil {
		kc.Close()
		reg.Close()
		return nil, fmt.Errorf("demo: registering schemas: %w", err)
	}
	return &Stack{Kafka: kc, Registry: reg, Serde: serde, Store: store, Partitions: partitions}, nil
}

// Brokers are the embedded broker's addresses.
func (s *Stack) Brokers() []string { return s.Kafka.ListenAddrs() }

// Close stops the broker and the registry (not the store).
func (s *Stack) Close() {
	s.Kafka.Close()
	s.Registry.Close()
}

// Ends are, per topic and partition, the offset after the last record.
type Ends map[string]map[int32]int64

// Produce encodes the data set in the Confluent wire format and produces it
// over the Kafka protocol, keyed by customer id, interleaving the three
// topics in event-time order as a live system would. It returns the end
// offsets the pipeline must reach.
func (s *Stack) Produce(ctx context.Context, ds *generate.Dataset) (Ends, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.Brokers()...), kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(50_000))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	recs, err := Records(s.Serde, ds)
	if err != nil {
		return nil, err
	}
	return ProduceRecords(ctx, cl, recs)
}

// ProduceRecords produces recs in order and waits for every ack.
func ProduceRecords(ctx context.Context, cl *kgo.Client, recs []*kgo.Record) (Ends, error) {
	ends := Ends{}
	errc := make(chan error, 1)
	done := make(chan struct{})
	type ack struct {
		topic string
		p     int32
		off   int64
	}
	acks := make(chan ack, 1024)
	go func() {
		for a := range acks {
			if ends[a.topic] == nil {
				ends[a.topic] = map[int32]int64{}
			}
			if a.off+1 > ends[a.topic][a.p] {
				ends[a.topic][a.p] = a.off + 1
			}
		}
		close(done)
	}()
	for _, r := range recs {
		cl.Produce(ctx, r, func(r *kgo.Record, err error) {
			if err != nil {
				select {
				case errc <- fmt.Errorf("demo: producing to %s: %w", r.Topic, err):
				default:
				}
				return
			}
			acks <- ack{r.Topic, r.Partition, r.Offset}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return nil, err
	}
	close(acks)
	<-done
	select {
	case err := <-errc:
		return nil, err
	default:
	}
	return ends, nil
}

type timed struct {
	at  time.Time
	rec *kgo.Record
}

// Records encodes a data set in the Confluent wire format as records keyed
// by customer id, the three topics interleaved in event-time order as live
// producers would send them.
func Records(serde *schemas.Serde, ds *generate.Dataset) ([]*kgo.Record, error) {
	var all []timed
	for i := range ds.Invoices {
		v := &ds.Invoices[i]
		b, err := serde.EncodeInvoice(v)
		if err != nil {
			return nil, err
		}
		all = append(all, timed{v.IssuedAt, &kgo.Record{Topic: schemas.TopicInvoices, Key: []byte(v.CustomerID), Value: b}})
	}
	for i := range ds.Reminders {
		v := &ds.Reminders[i]
		b, err := serde.EncodeReminder(v)
		if err != nil {
			return nil, err
		}
		all = append(all, timed{v.SentAt, &kgo.Record{Topic: schemas.TopicReminders, Key: []byte(v.CustomerID), Value: b}})
	}
	for i := range ds.Payments {
		v := &ds.Payments[i]
		b, err := serde.EncodePayment(v)
		if err != nil {
			return nil, err
		}
		all = append(all, timed{v.PaidAt, &kgo.Record{Topic: schemas.TopicPayments, Key: []byte(v.CustomerID), Value: b}})
	}
	// Stable: equal times keep each topic's own order, deterministically.
	sort.SliceStable(all, func(i, j int) bool { return all[i].at.Before(all[j].at) })
	out := make([]*kgo.Record, len(all))
	for i := range all {
		out[i] = all[i].rec
	}
	return out, nil
}
