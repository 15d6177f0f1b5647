package ingest_test

import (
	"strconv"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/relance-io/relance/ingest"
	"github.com/relance-io/relance/schemas"
)

// sum adds the values of every series of the metric name whose labels
// include want.
func sum(t *testing.T, reg *prometheus.Registry, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var total float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue series
				}
			}
			switch {
			case m.Counter != nil:
				total += m.GetCounter().GetValue()
			case m.Gauge != nil:
				total += m.GetGauge().GetValue()
			case m.Histogram != nil:
				total += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return total
}

// Rule: the Prometheus series say what happened, in agreement with the
// store: records read per topic, dead letters per reason, rows acknowledged
// per table, facts per horizon, one write latency sample per batch, and a
// lag of zero once everything is read.
func TestConsumer_MetricsAgreeWithTheStore(t *testing.T) {
	st := newStack(t)
	store := newStore(t, "")
	ds := dataset(t, 5)
	recs := st.records(t, ds)
	recs = append(recs, &kgo.Record{Topic: schemas.TopicPayments, Key: []byte("C1"), Value: []byte("garbage")})
	e := ends{}
	st.produce(t, e, recs...)
	reg := prometheus.NewRegistry()
	stats, err := st.consume(t, store, "metrics", e, ingest.Metrics(reg))
	if err != nil {
		t.Fatal(err)
	}
	for _, topic := range ingest.Topics {
		var want int
		for _, ps := range e[topic] {
			want += int(ps)
		}
		if got := sum(t, reg, "relance_ingest_records_total", map[string]string{"topic": topic}); int(got) != want {
			t.Errorf("relance_ingest_records_total{topic=%s} = %v, want %d", topic, got, want)
		}
		if got := sum(t, reg, "relance_ingest_consumer_lag_records", map[string]string{"topic": topic}); got != 0 {
			t.Errorf("lag on %s = %v after reading everything", topic, got)
		}
	}
	if got := sum(t, reg, "relance_ingest_dead_letters_total", nil); got != 1 {
		t.Errorf("dead letters = %v, want 1", got)
	}
	for table, q := range map[string]string{
		"reminders":         "SELECT count() FROM reminders FINAL",
		"attribution_facts": "SELECT count() FROM attribution_facts FINAL",
	} {
		want, _ := strconv.ParseFloat(count(t, store, q), 64)
		if got := sum(t, reg, "relance_sink_rows_total", map[string]string{"table": table}); got != want {
			t.Errorf("relance_sink_rows_total{table=%s} = %v, store holds %v", table, got, want)
		}
	}
	for _, h := range []string{"7d", "15d", "30d"} {
		want, _ := strconv.ParseFloat(count(t, store, "SELECT count() FROM attribution_facts FINAL WHERE horizon = '"+h+"'"), 64)
		if got := sum(t, reg, "relance_stream_facts_total", map[string]string{"horizon": h}); got != want {
			t.Errorf("relance_stream_facts_total{horizon=%s} = %v, store holds %v", h, got, want)
		}
	}
	if got := sum(t, reg, "relance_sink_write_duration_seconds", nil); got != float64(stats.Batches) {
		t.Errorf("%v write latency samples, want one per batch (%d)", got, stats.Batches)
	}
	if got := sum(t, reg, "relance_business_reminded_minor_total", nil); got <= 0 {
		t.Errorf("relance_business_reminded_minor_total = %v", got)
	}
}
