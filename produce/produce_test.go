package produce_test

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/relance-io/relance/produce"
	"github.com/relance-io/relance/progress"
)

// logged reads every record of topics back and returns, per topic and
// partition, the offset after the last one, and how many there are.
func logged(t *testing.T, kc *kfake.Cluster, want int, topics ...string) (produce.Ends, int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(kc.ListenAddrs()...), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, n := produce.Ends{}, 0
	for n < want && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			n++
			if ends[r.Topic] == nil {
				ends[r.Topic] = map[int32]int64{}
			}
			ends[r.Topic][r.Partition] = max(ends[r.Topic][r.Partition], r.Offset+1)
		})
	}
	return ends, n
}

func broker(t *testing.T, topics ...string) (*kfake.Cluster, *kgo.Client) {
	t.Helper()
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(kc.ListenAddrs()...), kgo.UnknownTopicRetries(1), kgo.MetadataMinAge(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kc, cl
}

// Rule: Send returns, per topic and partition, the offset after the last
// record acknowledged — what the broker reports as the end of the log —
// and the progress bar counts every acknowledged record.
func TestSend_EndsAreTheBrokersEndOffsetsAndTheBarCountsEveryRecord(t *testing.T) {
	topics := []string{"a", "b"}
	kc, cl := broker(t, topics...)
	var recs []*kgo.Record
	for i := range 500 {
		recs = append(recs, &kgo.Record{Topic: topics[i%2], Key: fmt.Appendf(nil, "k%d", i%37), Value: []byte("v")})
	}
	var out bytes.Buffer
	bar := progress.New(&out, "produce", int64(len(recs)), progress.Unit("records"), progress.Terminal(false), progress.Interval(time.Hour))
	ctx := context.Background()
	ends, err := produce.Send(ctx, cl, recs, bar)
	bar.Done()
	if err != nil {
		t.Fatal(err)
	}
	if got := bar.Line(); !strings.HasPrefix(got, "produce: 500/500 records (100.0%)") {
		t.Errorf("progress after Send = %q, want 500/500 records", got)
	}
	got, n := logged(t, kc, len(recs), topics...)
	if n != len(recs) {
		t.Fatalf("the broker holds %d records, want %d", n, len(recs))
	}
	if !reflect.DeepEqual(ends, got) {
		t.Errorf("Send's ends %v, the log's %v", ends, got)
	}
	if len(got["a"]) != 3 || len(got["b"]) != 3 {
		t.Errorf("records spread over %v: want every partition used", got)
	}
}

// Rule: a record the broker refuses makes Send fail, naming the topic,
// after the others were acknowledged — never a silent partial success.
func TestSend_ARefusedRecordIsAnErrorNamingItsTopic(t *testing.T) {
	kc, cl := broker(t, "known")
	recs := []*kgo.Record{
		{Topic: "known", Value: []byte("1")},
		{Topic: "missing", Value: []byte("2")},
		{Topic: "known", Value: []byte("3")},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends, err := produce.Send(ctx, cl, recs, nil)
	if err == nil || !strings.Contains(err.Error(), "produce: to missing") {
		t.Fatalf("Send = %v, %v; want an error naming topic missing", ends, err)
	}
	if _, n := logged(t, kc, 2, "known"); n != 2 {
		t.Errorf("topic known holds %d records, want the 2 sent to it", n)
	}
}
