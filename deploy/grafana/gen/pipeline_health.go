package main

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// Metric names relance exposes on :9464/metrics (see ../README.md, which
// lists their types and labels). The Prometheus rules in
// deploy/prometheus/rules use the same names.
const (
	mRecords     = "relance_ingest_records_total"
	mDeadLetters = "relance_ingest_dead_letters_total"
	mLag         = "relance_ingest_consumer_lag_records"
	mWatermark   = "relance_stream_watermark_delay_seconds"
	mInsert      = "relance_sink_write_duration_seconds"
	mSinkRows    = "relance_sink_rows_total"
	mSinkErrors  = "relance_sink_errors_total"
	mPending     = "relance_stream_pending_allocations"
	mSnapSeconds = "relance_stream_snapshot_duration_seconds"
	mSnapErrors  = "relance_stream_snapshot_errors_total"
	mReady       = "relance_ingest_ready"
	mLate        = "relance_stream_late_events_total"
	mKeyMismatch = "relance_ingest_key_mismatches_total"
	mCommitErrs  = "relance_ingest_commit_errors_total"
	mLastCommit  = "relance_ingest_last_commit_timestamp_seconds"
	mLastWrite   = "relance_sink_last_write_timestamp_seconds"
)

// sel is the instance selector of every pipeline-health query.
const sel = `{job="relance", instance=~"$instance"}`

// promExpr is one PromQL expression of a panel and its legend.
type promExpr struct{ expr, legend string }

// PipelineHealthExprs lists every PromQL expression of the pipeline-health
// dashboard, for the tests (promtool parses them).
func PipelineHealthExprs() []string {
	var out []string
	for _, p := range pipelinePanels() {
		for _, e := range p.exprs {
			out = append(out, e.expr)
		}
	}
	return out
}

// promPanel is one pipeline-health time-series panel.
type promPanel struct {
	title, description, unit string
	exprs                    []promExpr
	span                     uint32
	bars                     bool
}

func pipelinePanels() []promPanel {
	return []promPanel{
		{title: "Records consumed per second, by topic", unit: "rps", span: 12,
			description: "Throughput of the consumer: Kafka records read per second (reminders, payments, invoices).",
			exprs:       []promExpr{{`sum by (topic) (rate(` + mRecords + sel + `[$__rate_interval]))`, "{{topic}}"}}},
		{title: "Consumer lag (records), by topic", unit: "short", span: 12,
			description: "Records produced but not yet consumed by the group, summed over partitions. Rising lag: relance cannot keep up (add replicas, up to the partition count).",
			exprs:       []promExpr{{`sum by (topic) (` + mLag + sel + `)`, "{{topic}}"}}},
		{title: "Dead letters, by reason", unit: "short", span: 12, bars: true,
			description: "Records sent to the dead-letter topic (undecodable, invalid) per interval. Anything above zero is data the KPIs do not see.",
			exprs:       []promExpr{{`sum by (reason) (increase(` + mDeadLetters + sel + `[$__rate_interval]))`, "{{reason}}"}}},
		{title: "Watermark delay", unit: "s", span: 12,
			description: "Wall clock minus the event-time watermark, per instance. Constant under steady traffic; a delay growing at one second per second while records flow is a stalled watermark (outcomes stay provisional).",
			exprs:       []promExpr{{`max by (instance) (` + mWatermark + sel + `)`, "{{instance}}"}}},
		{title: "Allocations waiting for the watermark", unit: "short", span: 12,
			description: "Payments read whose facts wait for the watermark to pass their paid_at, per instance. Normally small and moving; a steady climb means one input (reminders or payments) is behind or silent without being idle yet.",
			exprs:       []promExpr{{`sum by (instance) (` + mPending + sel + `)`, "{{instance}}"}}},
		{title: "Join-state snapshots", unit: "s", span: 12,
			description: "p99 time to write a partition's join-state snapshot and to restore one when a partition is assigned (after a restart or a rebalance), and failures per interval (a failed restore falls back to replaying the topics: slower, same results).",
			exprs: []promExpr{
				{`histogram_quantile(0.99, sum by (le, op) (rate(` + mSnapSeconds + `_bucket` + sel + `[$__rate_interval])))`, "p99 {{op}}"},
				{`sum by (op) (increase(` + mSnapErrors + sel + `[$__rate_interval]))`, "failed {{op}}"},
			}},
		{title: "Ready, per instance", unit: "short", span: 8,
			description: "1 while the instance is ready (what /readyz answers), 0 while it cannot reach Kafka, the schema registry or ClickHouse, or a flush step keeps failing. Read at each scrape: a stalled instance shows 0 here even when its other gauges are frozen.",
			exprs:       []promExpr{{`max by (instance) (` + mReady + sel + `)`, "{{instance}}"}}},
		{title: "Events behind the watermark, by kind", unit: "short", span: 8, bars: true,
			description: "Events that arrived after the watermark, per interval: late ones are applied (facts corrected); partially_applied lost some matches and too_late were not applied (beyond retention, in the late_events table): the KPIs undercount those two.",
			exprs:       []promExpr{{`sum by (kind) (increase(` + mLate + sel + `[$__rate_interval]))`, "{{kind}}"}}},
		{title: "Records not keyed by customer_id, by topic", unit: "short", span: 8, bars: true,
			description: "Reminders and payments whose Kafka key is not their customer_id, per interval. They are used, but a payment and its reminders on different partitions cannot be matched: fix the producer.",
			exprs:       []promExpr{{`sum by (topic) (increase(` + mKeyMismatch + sel + `[$__rate_interval]))`, "{{topic}}"}}},
		{title: "Offset commit errors", unit: "short", span: 12, bars: true,
			description: "Failed offset commits per interval (retried at the next flush). Nothing is lost or double counted, but a restart re-reads everything since the last commit.",
			exprs:       []promExpr{{`sum by (instance) (increase(` + mCommitErrs + sel + `[$__rate_interval]))`, "{{instance}}"}}},
		{title: "Time since the last commit and the last write", unit: "s", span: 12,
			description: "Seconds since each instance last committed its offsets and since ClickHouse last acknowledged one of its batches. Both stay under a few flush intervals while records flow; a climbing line is a stalled flush.",
			exprs: []promExpr{
				{`max by (instance) (time() - ` + mLastCommit + sel + `)`, "commit {{instance}}"},
				{`max by (instance) (time() - ` + mLastWrite + sel + `)`, "write {{instance}}"},
			}},
		{title: "Sink insert latency", unit: "s", span: 8,
			description: "Duration of a batch insert into ClickHouse (p50 and p99, all tables).",
			exprs: []promExpr{
				{`histogram_quantile(0.5, sum by (le) (rate(` + mInsert + `_bucket` + sel + `[$__rate_interval])))`, "p50"},
				{`histogram_quantile(0.99, sum by (le) (rate(` + mInsert + `_bucket` + sel + `[$__rate_interval])))`, "p99"},
			}},
		{title: "Rows written per second, by table", unit: "rps", span: 8,
			description: "Rows acknowledged by ClickHouse per second (raw events, attribution facts, reminder outcomes).",
			exprs:       []promExpr{{`sum by (table) (rate(` + mSinkRows + sel + `[$__rate_interval]))`, "{{table}}"}}},
		{title: "Sink errors per second, retryable or not", unit: "short", span: 8, bars: true,
			description: "Failed batch writes, split by whether they were retried (retryable=true) or stopped the flush (retryable=false); a batch spans every table, so there is no per-table split. Persistent errors stop offset commits: the lag then grows.",
			exprs:       []promExpr{{`sum by (retryable) (rate(` + mSinkErrors + sel + `[$__rate_interval]))`, "retryable={{retryable}}"}}},
	}
}

// PipelineHealth is the pipeline-health dashboard, from relance's
// Prometheus metrics.
func PipelineHealth() *dashboard.DashboardBuilder {
	instance := `label_values(up{job="relance"}, instance)`
	b := dashboard.NewDashboardBuilder("relance — pipeline health").
		Uid("relance-pipeline-health").
		Description("Is relance keeping up, losing data or stuck? Throughput, consumer lag, dead letters, watermark delay, sink latency and errors.").
		Tags([]string{"relance", "pipeline"}).
		Timezone("browser").
		Time("now-6h", "now").
		Refresh("30s").
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		WithVariable(dashboard.NewQueryVariableBuilder("instance").Label("Instance").
			Datasource(prometheusRef()).
			Query(dashboard.StringOrMap{String: &instance}).Definition(instance).
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged).Multi(true).IncludeAll(true).AllValue(".*").
			Current(dashboard.VariableOption{Text: dashboard.StringOrArrayOfString{String: ptr("All")}, Value: dashboard.StringOrArrayOfString{ArrayOfString: []string{"$__all"}}}))
	up := `sum(up{job="relance", instance=~"$instance"})`
	b.WithPanel(stat.NewPanelBuilder().
		Title("Instances up").
		Description("relance replicas Prometheus can scrape. One consumer group: at most one replica per partition does work.").
		Datasource(prometheusRef()).
		WithTarget(prometheus.NewDataqueryBuilder().Expr(up).Instant().RefId("A")).
		Thresholds(dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps([]dashboard.Threshold{
			{Value: nil, Color: "red"}, {Value: f64(1), Color: "green"}})).
		ColorScheme(byThresholds()).
		Height(4).Span(24))
	for _, p := range pipelinePanels() {
		var targets []cog.Builder[variants.Dataquery]
		for i, e := range p.exprs {
			targets = append(targets, prometheus.NewDataqueryBuilder().Expr(e.expr).LegendFormat(e.legend).RefId(string(rune('A'+i))))
		}
		ts := timeseries.NewPanelBuilder().
			Title(p.title).Description(p.description).
			Datasource(prometheusRef()).
			Targets(targets).
			Unit(p.unit).
			Legend(common.NewVizLegendOptionsBuilder().DisplayMode(common.LegendDisplayModeList).Placement(common.LegendPlacementBottom).ShowLegend(true)).
			Height(8).Span(p.span)
		if p.bars {
			ts.DrawStyle(common.GraphDrawStyleBars).FillOpacity(80)
		}
		b.WithPanel(ts)
	}
	return b
}
