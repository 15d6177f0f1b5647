package ingest_test

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

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
// per table, facts per horizon, one write latency sample per batch, the
// business amounts per plan and channel, one end-to-end latency sample per
// event written (its age, from its event time, when its batch was
// acknowledged), and a lag of zero once everything is read.
func TestConsumer_MetricsAgreeWithTheStore(t *testing.T) {
	st := newStack(t)
	store := newStore(t, "")
	ds := dataset(t, 5)
	recs := st.records(t, ds)
	recs = append(recs, &kgo.Record{Topic: schemas.TopicPayments, Key: []byte("C1"), Value: []byte("garbage")})
	e := ends{}
	st.produce(t, e, recs...)
	reg := prometheus.NewRegistry()
	before := time.Now()
	stats, err := st.consume(t, store, "metrics", e, ingest.Metrics(reg))
	if err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	// The last commit, write and snapshot happened during the run.
	for _, name := range []string{"relance_ingest_last_commit_timestamp_seconds", "relance_sink_last_write_timestamp_seconds", "relance_stream_last_snapshot_timestamp_seconds"} {
		if ts := sum(t, reg, name, nil); ts < float64(before.Unix()) || ts > float64(after.Unix()+1) {
			t.Errorf("%s = %v, want a time between %d and %d", name, ts, before.Unix(), after.Unix())
		}
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
	// The generated data has fewer plans and channels than the label caps:
	// every one keeps its name.
	reminded := query(t, store, "SELECT plan, channel, currency, sum(amount_due_minor) FROM reminders FINAL WHERE holdout = 0 GROUP BY ALL")
	collected := query(t, store, "SELECT horizon, r.plan, sum(credited_minor) FROM attribution_facts AS f FINAL JOIN reminders AS r FINAL USING (invoice_id, reminder_id) WHERE f.matched GROUP BY ALL")
	if len(reminded) < 2 || len(collected) < 2 {
		t.Fatalf("too few plans to check the plan label: %q, %q", reminded, collected)
	}
	for _, row := range reminded {
		f := strings.Split(row, "\t")
		want, _ := strconv.ParseFloat(f[3], 64)
		if got := sum(t, reg, "relance_business_reminded_minor_total", map[string]string{"plan": f[0], "channel": f[1], "currency": f[2]}); got != want {
			t.Errorf("relance_business_reminded_minor_total{plan=%q,channel=%q,currency=%q} = %v, store holds %v", f[0], f[1], f[2], got, want)
		}
	}
	for _, row := range collected {
		f := strings.Split(row, "\t")
		want, _ := strconv.ParseFloat(f[2], 64)
		if got := sum(t, reg, "relance_business_collected_after_reminder_minor_total", map[string]string{"horizon": f[0], "plan": f[1]}); got != want {
			t.Errorf("relance_business_collected_after_reminder_minor_total{horizon=%q,plan=%q} = %v, store holds %v", f[0], f[1], got, want)
		}
	}

	// End-to-end latency: one sample per event written, each between the
	// event's age when the run started and when it ended.
	var events int
	var lo, hi float64
	add := func(at time.Time) {
		events++
		lo += before.Sub(at).Seconds()
		hi += after.Sub(at).Seconds()
	}
	for i := range ds.Reminders {
		add(ds.Reminders[i].SentAt)
	}
	for i := range ds.Payments {
		add(ds.Payments[i].PaidAt)
	}
	for i := range ds.Invoices {
		add(ds.Invoices[i].IssuedAt)
	}
	n, total := histogram(t, reg, "relance_pipeline_end_to_end_seconds")
	if n != uint64(events) {
		t.Errorf("%d end-to-end latency samples, want one per event written: %d", n, events)
	}
	if total < lo || total > hi {
		t.Errorf("end-to-end latencies sum to %.0fs, want the events' ages during the run: between %.0fs and %.0fs", total, lo, hi)
	}
}

// histogram returns the sample count and sum of the histogram name.
func histogram(t *testing.T, reg *prometheus.Registry, name string) (count uint64, sum float64) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				count += m.GetHistogram().GetSampleCount()
				sum += m.GetHistogram().GetSampleSum()
			}
		}
	}
	return count, sum
}

// Rule: the plan and channel labels of the business series are bounded:
// producers name plans and channels freely, so past the first 16 values
// seen the others are summed under "other", and nothing is lost.
func TestConsumer_BusinessLabelsAreBounded(t *testing.T) {
	st := newStack(t)
	store := newStore(t, "")
	const n = 24
	due := time.Date(2026, 2, 20, 0, 0, 0, 0, time.UTC)
	e := ends{}
	var want float64
	for i := range n {
		id := strconv.Itoa(i)
		b, err := st.serde.EncodeReminder(&schemas.Reminder{EventID: "e-" + id, ReminderID: "R" + id, InvoiceID: "I" + id, CustomerID: "C1",
			SentAt: due.Add(time.Duration(i) * time.Hour), Channel: "channel-" + id, Level: 1, Plan: "plan-" + id, Sender: "Ana",
			AmountDueMinor: int64(100 + i), Currency: "EUR", InvoiceDueDate: due})
		if err != nil {
			t.Fatal(err)
		}
		want += float64(100 + i)
		st.produce(t, e, &kgo.Record{Topic: schemas.TopicReminders, Key: []byte("C1"), Value: b})
	}
	reg := prometheus.NewRegistry()
	if _, err := st.consume(t, store, "labels", e, ingest.Metrics(reg)); err != nil {
		t.Fatal(err)
	}
	values := map[string]map[string]bool{"plan": {}, "channel": {}}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "relance_business_reminded_minor_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if values[l.GetName()] != nil {
					values[l.GetName()][l.GetValue()] = true
				}
			}
		}
	}
	for label, vs := range values {
		if len(vs) != 17 || !vs["other"] {
			t.Errorf("%d values of the %s label for %d distinct ones: want 16 names and \"other\": %v", len(vs), label, n, vs)
		}
	}
	if got := sum(t, reg, "relance_business_reminded_minor_total", nil); got != want {
		t.Errorf("relance_business_reminded_minor_total sums to %v over all series, want %v", got, want)
	}
}

// Rule: the failure counters an alert watches exist at 0 before the first
// failure — every dead-letter reason, sink errors either way, snapshot
// errors per op, retries per operation, late events per kind — so that
// increase() sees the first burst (a series that appears at its first
// value has no increase).
func TestConsumer_FailureCountersStartAtZero(t *testing.T) {
	st := newStack(t)
	reg := prometheus.NewRegistry()
	c, err := ingest.New(st.serde, newStore(t, "zero"), ingest.Brokers(st.brokers...), ingest.Metrics(reg))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetValue())
			}
			if m.GetCounter().GetValue() == 0 {
				have[mf.GetName()+"{"+strings.Join(ls, ",")+"}"] = true
			}
		}
	}
	want := []string{"relance_sink_errors_total{false}", "relance_sink_errors_total{true}",
		"relance_stream_snapshot_errors_total{write}", "relance_stream_snapshot_errors_total{restore}",
		"relance_ingest_retries_total{sink write}", "relance_stream_late_events_total{too_late}",
		"relance_ingest_dead_letters_total{" + ingest.ReasonDuplicateEvent + "}"}
	for _, r := range schemas.DeadLetterReasons {
		want = append(want, "relance_ingest_dead_letters_total{"+r+"}")
	}
	for _, w := range want {
		if !have[w] {
			t.Errorf("no %s series at 0 before any failure", w)
		}
	}
}

// described records the fully-qualified names of the metrics registered
// through it.
type described struct {
	prometheus.Registerer
	names map[string]bool
}

func (d *described) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc, 64)
	go func() { c.Describe(ch); close(ch) }()
	for desc := range ch {
		// Desc.String: Desc{fqName: "relance_…", help: …}
		s := desc.String()
		if i := strings.Index(s, `fqName: "`); i >= 0 {
			s = s[i+len(`fqName: "`):]
			d.names[s[:strings.IndexByte(s, '"')]] = true
		}
	}
	return d.Registerer.Register(c)
}

func (d *described) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := d.Register(c); err != nil {
			panic(err)
		}
	}
}

// Rule: every relance_* metric the dashboards' documentation and the alert
// rules name is one the consumer registers: a renamed metric cannot leave
// a panel or an alert silently empty.
func TestConsumer_MetricsNamedByDashboardsAndAlertsExist(t *testing.T) {
	st := newStack(t)
	reg := &described{Registerer: prometheus.NewRegistry(), names: map[string]bool{}}
	c, err := ingest.New(st.serde, newStore(t, "names"), ingest.Brokers(st.brokers...), ingest.Metrics(reg))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	named := regexp.MustCompile(`relance_[a-z_]+`)
	checked := 0
	for _, f := range []string{"../deploy/grafana/README.md", "../deploy/prometheus/rules/relance.rules.yml"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range named.FindAllString(string(b), -1) {
			if strings.HasPrefix(name, "relance_minor_per_unit") || strings.HasSuffix(name, "_") {
				continue // the SQL function of the dashboards, and name prefixes in prose
			}
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if base := strings.TrimSuffix(name, suffix); reg.names[base] {
					name = base
				}
			}
			checked++
			if !reg.names[name] {
				t.Errorf("%s names %s, which the consumer does not register", f, name)
			}
		}
	}
	if checked < 20 {
		t.Errorf("only %d metric names found in the dashboards' README and the alert rules", checked)
	}
}
