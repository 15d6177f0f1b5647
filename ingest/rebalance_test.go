package ingest_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/relance-io/relance/ingest"
	"github.com/relance-io/relance/schemas"
)

// partitionSeries returns, sorted, the partition labels of the series of
// name in reg for topic.
func partitionSeries(t *testing.T, reg *prometheus.Registry, name, topic string) []string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["topic"] == topic {
				out = append(out, labels["partition"])
			}
		}
	}
	slices.Sort(out)
	return out
}

// Rule: when a second instance joins, the partitions split and both are
// ready (a rebalance that assigns an instance nothing new must not give it
// resume state for partitions it does not own); each reports the lag of
// the partitions it owns, and only those: a series on assignment (0 until
// a fetch says otherwise, so that an idle partition is not missing), gone
// when the partition moves — a stale one would be summed with the new
// owner's by the lag alert.
func TestConsumer_RebalanceSplitsReadinessAndLagSeries(t *testing.T) {
	st := newStack(t)
	e := ends{}
	st.produce(t, e, st.records(t, dataset(t, 31))...)
	store := newStore(t, "owners")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := func() (*ingest.Consumer, *prometheus.Registry, chan error) {
		reg := prometheus.NewRegistry()
		c, err := ingest.New(st.serde, store, ingest.Brokers(st.brokers...), ingest.Group("owners"), ingest.Metrics(reg),
			ingest.FlushInterval(50*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		return c, reg, done
	}
	lag := "relance_ingest_consumer_lag_records"
	c1, reg1, done1 := start()
	waitRunning(t, ctx, done1, "the first instance owning both partitions", func() bool {
		return c1.Ready() && slices.Equal(partitionSeries(t, reg1, lag, schemas.TopicReminders), []string{"0", "1"})
	}, func() string { return fmt.Sprint(partitionSeries(t, reg1, lag, schemas.TopicReminders)) })

	c2, reg2, done2 := start()
	waitRunning(t, ctx, done2, "the partitions split between the two", func() bool {
		a, b := partitionSeries(t, reg1, lag, schemas.TopicReminders), partitionSeries(t, reg2, lag, schemas.TopicReminders)
		return c1.Ready() && c2.Ready() && len(a) == 1 && len(b) == 1 && a[0] != b[0]
	}, func() string {
		_, why1 := c1.Status()
		_, why2 := c2.Status()
		return fmt.Sprint("lag series: first ", partitionSeries(t, reg1, lag, schemas.TopicReminders), ", second ", partitionSeries(t, reg2, lag, schemas.TopicReminders),
			"; first: ", why1, "; second: ", why2)
	})
	cancel()
	for _, d := range []chan error{done1, done2} {
		if err := <-d; err != nil {
			t.Fatal(err)
		}
	}
}
