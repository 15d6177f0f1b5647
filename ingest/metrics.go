package ingest

import (
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/relance-io/relance/schemas"
	"github.com/relance-io/relance/sinks"
	"github.com/relance-io/relance/stream"
)

// metrics are the consumer's Prometheus series, all named
// relance_<component>_<what>_<unit> and updated once per poll or per batch,
// never per record. Label values are bounded: topics, partitions, reasons,
// horizons, tables, and at most maxLabelValues channel values and as many
// plan values (the rest is "other").
type metrics struct {
	records         *prometheus.CounterVec
	deadLetters     *prometheus.CounterVec
	keyMismatches   *prometheus.CounterVec
	lag             *prometheus.GaugeVec
	commitSeconds   prometheus.Histogram
	commitErrors    prometheus.Counter
	retries         *prometheus.CounterVec
	sinkRows        *prometheus.CounterVec
	sinkBatchRows   prometheus.Histogram
	sinkBatchBytes  prometheus.Histogram
	sinkSeconds     prometheus.Histogram
	sinkErrors      *prometheus.CounterVec
	endToEnd        prometheus.Histogram
	facts           *prometheus.CounterVec
	lateEvents      *prometheus.CounterVec
	duplicates      prometheus.Counter
	watermarkDelay  *prometheus.GaugeVec
	stateEntries    *prometheus.GaugeVec
	stateBytes      prometheus.Gauge
	pending         prometheus.Gauge
	credited        *prometheus.CounterVec
	reminded        *prometheus.CounterVec
	snapshotBytes   prometheus.Histogram
	snapshotSeconds *prometheus.HistogramVec
	snapshotErrors  *prometheus.CounterVec
	// The times of the last successes, for "nothing since" alerts: a
	// counter that stops moving says nothing when traffic is low.
	lastCommit   prometheus.Gauge
	lastWrite    prometheus.Gauge
	lastSnapshot prometheus.Gauge
	channels     map[string]bool
	plans        map[string]bool
}

// maxLabelValues bounds the channel and the plan labels of the business
// series: channels and dunning plans are open sets named by producers.
const maxLabelValues = 16

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relance_ingest_records_total",
			Help: "Records consumed, per topic and partition."}, []string{"topic", "partition"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relance_ingest_dead_letters_total",
			Help: "Records sent to the dead-letter topic, per reason (decode failures, invalid events, duplicate events)."}, []string{"reason"}),
		keyMismatches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relance_ingest_key_mismatches_total",
			Help: "Reminders and payments whose record key is not their customer_id: co-partitioning, which the join relies on, is not guaranteed for them."}, []string{"topic"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "relance_ingest_consumer_lag_records",
			Help: "Records between the partition's high watermark and the next offset to read."}, []string{"topic", "partition"}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "relance_ingest_commit_duration_seconds",
			Help: "Latency of offset commits.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
		commitErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "relance_ingest_commit_errors_total",
			Help: "Offset commits that failed (retried at the next flush)."}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relance_ingest_retries_total",
			Help: "Retried operations: sink writes, dead-letter produces, registry lookups."}, []string{"what"}),
		sinkRows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relance_sink_rows_total",
			Help: "Rows acknowledged by the store, per table."}, []string{"table"}),
		sinkBatchRows: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "relance_sink_batch_rows",
			Help: "Rows per written batch.", Buckets: prometheus.ExponentialBuckets(10, 4, 9)}),
		sinkBatchBytes: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "relance_sink_batch_bytes",
			Help: "Approximate bytes per written batch (sum of event sizes read).", Buckets: prometheus.ExponentialBuckets(1024, 4, 10)}),
		sinkSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "relance_sink_write_duration_seconds",
			Help: "Latency of a successful batch write, retries included.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}),
		sinkErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relance_sink_errors_total",
			Help: "Failed write attempts, by whether they were retried."}, []string{"retryable"}),
		endToEnd: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "relance_pipeline_end_to_end_seconds",
			Help: "Per event read (reminder, payment, invoice): wall time from its event time (sent_at, paid_at, issued_at) to the " +
				"acknowledgement of the batch holding its raw row. Late and historical events land in the top buckets.",
			// 50ms to about 29h: live data in the low buckets, late data visible.
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 22)}),
		facts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relance_stream_facts_total",
			Help: "Attribution facts written, per horizon and whether the allocation matched a reminder (corrections included)."}, []string{"horizon", "matched"}),
		lateEvents: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relance_stream_late_events_total",
			Help: "Events behind the watermark: late (applied), partially_applied and too_late (recorded in late_events)."}, []string{"kind"}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{Name: "relance_stream_duplicates_total",
			Help: "Events whose reminder_id or payment_id was already in state: absorbed, and dead-lettered as duplicate_event (events re-read by a replay are not counted again)."}),
		watermarkDelay: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "relance_stream_watermark_delay_seconds",
			Help: "Wall clock minus the partition's watermark (event time)."}, []string{"partition"}),
		stateEntries: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "relance_stream_state_entries",
			Help: "Join state held, per kind (invoices, reminders, allocations)."}, []string{"kind"}),
		stateBytes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "relance_stream_state_bytes",
			Help: "Estimated bytes of join state (entries × their average size)."}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{Name: "relance_stream_pending_allocations",
			Help: "Allocations waiting for the watermark to pass their paid_at before their facts are written."}),
		credited: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relance_business_collected_after_reminder_minor_total",
			Help: "Amounts credited to reminders, in minor units, per horizon, channel, plan and currency (corrections add; for alerting trends, not accounting)."},
			[]string{"horizon", "channel", "plan", "currency"}),
		reminded: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relance_business_reminded_minor_total",
			Help: "Amounts due of reminders sent (holdouts excluded), in minor units, per channel, plan and currency."}, []string{"channel", "plan", "currency"}),
		snapshotBytes: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "relance_stream_snapshot_bytes",
			Help: "Size of the join-state snapshots written.", Buckets: prometheus.ExponentialBuckets(1024, 4, 12)}),
		snapshotSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "relance_stream_snapshot_duration_seconds",
			Help:    "Time to write a join-state snapshot (op=write) or to read and restore one on assignment (op=restore).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)}, []string{"op"}),
		snapshotErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relance_stream_snapshot_errors_total",
			Help: "Snapshots that could not be written (the commit keeps the previous one) or restored (the state is replayed instead), per op."}, []string{"op"}),
		lastCommit: prometheus.NewGauge(prometheus.GaugeOpts{Name: "relance_ingest_last_commit_timestamp_seconds",
			Help: "Unix time of the last successful offset commit (0 before the first)."}),
		lastWrite: prometheus.NewGauge(prometheus.GaugeOpts{Name: "relance_sink_last_write_timestamp_seconds",
			Help: "Unix time of the last batch acknowledged by the store (0 before the first)."}),
		lastSnapshot: prometheus.NewGauge(prometheus.GaugeOpts{Name: "relance_stream_last_snapshot_timestamp_seconds",
			Help: "Unix time of the last join-state snapshot written (0 before the first)."}),
		channels: map[string]bool{},
		plans:    map[string]bool{},
	}
	// The series of the known label values exist from the start, at 0: an
	// alert on increase() or rate() cannot see a series appear at its
	// first value (the first burst of dead letters would go unnoticed).
	for _, r := range append(slices.Clone(schemas.DeadLetterReasons), ReasonDuplicateEvent, "invalid") {
		m.deadLetters.WithLabelValues(r)
	}
	for _, v := range []string{"true", "false"} {
		m.sinkErrors.WithLabelValues(v)
	}
	for _, op := range []string{"write", "restore"} {
		m.snapshotErrors.WithLabelValues(op)
	}
	for _, what := range []string{"registry", "sink write", "dead letters", "snapshot"} {
		m.retries.WithLabelValues(what)
	}
	for _, k := range []string{"late", "too_late", "partially_applied"} {
		m.lateEvents.WithLabelValues(k)
	}
	for _, t := range []string{schemas.TopicReminders, schemas.TopicPayments} {
		m.keyMismatches.WithLabelValues(t)
	}
	reg.MustRegister(m.records, m.deadLetters, m.keyMismatches, m.lag, m.commitSeconds, m.commitErrors, m.retries, m.sinkRows,
		m.sinkBatchRows, m.sinkBatchBytes, m.sinkSeconds, m.sinkErrors, m.endToEnd, m.facts, m.lateEvents, m.duplicates,
		m.watermarkDelay, m.stateEntries, m.stateBytes, m.pending, m.credited, m.reminded, m.snapshotBytes, m.snapshotSeconds, m.snapshotErrors,
		m.lastCommit, m.lastWrite, m.lastSnapshot)
	return m
}

// bounded returns v as a label value: the first maxLabelValues values seen
// (recorded in seen) keep their name, later ones are "other", so that a
// producer inventing values cannot grow the series without end.
func bounded(seen map[string]bool, v string) string {
	if seen[v] {
		return v
	}
	if len(seen) < maxLabelValues {
		seen[v] = true
		return v
	}
	return "other"
}

func (m *metrics) channel(c string) string { return bounded(m.channels, c) }
func (m *metrics) plan(p string) string    { return bounded(m.plans, p) }

// batchWritten records an acknowledged batch.
func (m *metrics) batchWritten(b *sinks.Batch, bytes int, took time.Duration) {
	m.sinkSeconds.Observe(took.Seconds())
	m.lastWrite.SetToCurrentTime()
	m.sinkBatchRows.Observe(float64(b.Len()))
	m.sinkBatchBytes.Observe(float64(bytes))
	// One sample per event, its age at acknowledgement: an Observe is a
	// few atomic adds, small next to decoding the event.
	now := time.Now()
	for i := range b.Reminders {
		m.endToEnd.Observe(now.Sub(b.Reminders[i].SentAt).Seconds())
	}
	for i := range b.Payments {
		m.endToEnd.Observe(now.Sub(b.Payments[i].PaidAt).Seconds())
	}
	for i := range b.Invoices {
		m.endToEnd.Observe(now.Sub(b.Invoices[i].IssuedAt).Seconds())
	}
	allocs := 0
	for i := range b.Payments {
		allocs += len(b.Payments[i].Allocations)
	}
	for table, n := range map[string]int{sinks.TableReminders: len(b.Reminders), sinks.TableAllocations: allocs,
		sinks.TableInvoices: len(b.Invoices), sinks.TableFacts: len(b.Facts), sinks.TableOutcomes: len(b.Outcomes),
		sinks.TableLateEvents: len(b.Late)} {
		if n > 0 {
			m.sinkRows.WithLabelValues(table).Add(float64(n))
		}
	}
	for i := range b.Facts {
		f := &b.Facts[i]
		if f.Deleted {
			continue
		}
		m.facts.WithLabelValues(f.Horizon.String(), strconv.FormatBool(f.Matched)).Inc()
		if f.Matched {
			m.credited.WithLabelValues(f.Horizon.String(), m.channel(f.Reminder.Channel), m.plan(f.Reminder.Plan), f.Currency).Add(float64(f.CreditedMinor))
		}
	}
	for i := range b.Reminders {
		r := &b.Reminders[i]
		if !r.Holdout {
			m.reminded.WithLabelValues(m.channel(r.Channel), m.plan(r.Plan), r.Currency).Add(float64(r.AmountDueMinor))
		}
	}
}

// own starts the per-partition series of a partition just assigned: its
// lag is 0 until a fetch says otherwise (a partition with nothing new gets
// no fetch response, and its series would be missing).
func (m *metrics) own(topic string, p int32) {
	m.lag.WithLabelValues(topic, strconv.Itoa(int(p))).Set(0)
}

// forget removes the per-partition series of a partition this instance no
// longer owns.
func (m *metrics) forget(topic string, p int32) {
	m.lag.DeleteLabelValues(topic, strconv.Itoa(int(p)))
	if topic == schemas.TopicReminders {
		m.watermarkDelay.DeleteLabelValues(strconv.Itoa(int(p)))
	}
}

// joinerStats publishes the join counters and state of the owned
// partitions; prev holds what was published before, to add only deltas.
func (m *metrics) joinerStats(now time.Time, joiners map[int32]*stream.Joiner, prev, cur *stream.Stats) {
	*cur = stream.Stats{}
	var inv, rem, alloc, pending int
	for p, j := range joiners {
		*cur = cur.Add(j.Stats())
		pending += j.Pending()
		i, r, a := j.StateSize()
		inv, rem, alloc = inv+i, rem+r, alloc+a
		if wm := j.Watermark(); !wm.IsZero() {
			m.watermarkDelay.WithLabelValues(strconv.Itoa(int(p))).Set(now.Sub(wm).Seconds())
		}
	}
	delta := func(c prometheus.Counter, now, before uint64) {
		if now > before {
			c.Add(float64(now - before))
		}
	}
	delta(m.lateEvents.WithLabelValues("late"), cur.Late, prev.Late)
	delta(m.lateEvents.WithLabelValues("too_late"), cur.TooLate, prev.TooLate)
	delta(m.lateEvents.WithLabelValues("partially_applied"), cur.PartlyLate, prev.PartlyLate)
	delta(m.duplicates, cur.Duplicates, prev.Duplicates)
	*prev = *cur
	m.stateEntries.WithLabelValues("invoices").Set(float64(inv))
	m.stateEntries.WithLabelValues("reminders").Set(float64(rem))
	m.stateEntries.WithLabelValues("allocations").Set(float64(alloc))
	m.pending.Set(float64(pending))
	// A rough size: a held reminder or allocation with its strings and map
	// is a few hundred bytes (docs/BENCHMARKS.md measures it).
	m.stateBytes.Set(float64(rem*400 + alloc*200 + inv*150))
}
