package demo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/relance-io/relance/generate"
	"github.com/relance-io/relance/ingest"
	"github.com/relance-io/relance/produce"
	"github.com/relance-io/relance/progress"
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
type Ends = produce.Ends

// Produce encodes the data set and produces it over the Kafka protocol as
// live producers would (package produce). It returns the end offsets the
// pipeline must reach.
func (s *Stack) Produce(ctx context.Context, ds *generate.Dataset) (Ends, error) {
	return s.ProduceWith(ctx, ds, nil)
}

// ProduceWith is Produce with bar counting the acknowledged records (nil:
// no progress).
func (s *Stack) ProduceWith(ctx context.Context, ds *generate.Dataset, bar *progress.Bar) (Ends, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.Brokers()...), kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(50_000))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	recs, err := produce.Records(s.Serde, ds.Invoices, ds.Reminders, ds.Payments)
	if err != nil {
		return nil, err
	}
	return produce.Send(ctx, cl, recs, bar)
}
