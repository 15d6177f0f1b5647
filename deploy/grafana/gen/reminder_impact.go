package main

import (
	"github.com/grafana/grafana-foundation-sdk/go/bargauge"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// Performance colours of the collection rate (a ratio, 0..1): red below
// rateWarn, orange up to rateGood, green above. They are the dashboard's
// reading of "good" for a post-reminder collection rate; change them here.
const (
	rateWarn = 0.3
	rateGood = 0.5
)

// Tables read by the named queries that carry the reminder's plan: the plan
// variable filters them (see planFilter).
var (
	planRates    = []string{"reminders", "attribution_facts"}
	planFacts    = []string{"attribution_facts"}
	planReminder = []string{"reminders"}
)

// Money columns are minor units divided by perUnit, the minor units per
// major unit of the selected currency (100 for EUR, 1 for JPY, 1000 for
// KWD: migration 0013).
const (
	perUnit        = "relance_minor_per_unit('${currency}')"
	currencyFilter = "currency = '${currency}'"
	segmentFilter  = "segment IN (${segment:singlequote})"
)

func f64(v float64) *float64 { return &v }

func rateThresholds() *dashboard.ThresholdsConfigBuilder {
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps([]dashboard.Threshold{
		{Value: nil, Color: "red"},
		{Value: f64(rateWarn), Color: "orange"},
		{Value: f64(rateGood), Color: "green"},
	})
}

func byThresholds() *dashboard.FieldColorBuilder {
	return dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdThresholds)
}

func prop(id string, v any) dashboard.DynamicConfigValue {
	return dashboard.DynamicConfigValue{Id: id, Value: v}
}

// rateLine draws the rate series as a line on the right axis, coloured by
// the performance thresholds.
func rateLine() []dashboard.DynamicConfigValue {
	return []dashboard.DynamicConfigValue{
		prop("unit", "percentunit"),
		prop("custom.drawStyle", "line"),
		prop("custom.axisPlacement", "right"),
		prop("custom.lineWidth", 2),
		prop("custom.fillOpacity", 0),
		prop("custom.gradientMode", "scheme"),
		prop("custom.showPoints", "always"),
		prop("color", map[string]any{"mode": "thresholds"}),
		prop("thresholds", map[string]any{"mode": "absolute", "steps": []map[string]any{
			{"value": nil, "color": "red"}, {"value": rateWarn, "color": "orange"}, {"value": rateGood, "color": "green"},
		}}),
		prop("min", 0),
		prop("max", 1),
	}
}

// cellColour colours a table cell's background by the thresholds.
func cellColour() []dashboard.DynamicConfigValue {
	return []dashboard.DynamicConfigValue{
		prop("custom.cellOptions", map[string]any{"type": "color-background", "mode": "basic"}),
		prop("color", map[string]any{"mode": "thresholds"}),
	}
}

// countInTooltip keeps a count series off the chart and out of the legend:
// on a scale of money or days it would flatten the bars, yet the reader
// hovering a point needs the sample size behind it.
func countInTooltip() []dashboard.DynamicConfigValue {
	return []dashboard.DynamicConfigValue{
		prop("unit", "none"),
		prop("decimals", 0),
		prop("custom.hideFrom", map[string]any{"viz": true, "legend": true, "tooltip": false}),
	}
}

func moneyProps() []dashboard.DynamicConfigValue {
	return []dashboard.DynamicConfigValue{prop("unit", "short"), prop("decimals", 2)}
}

// ReminderImpact is the reminder-impact dashboard: what reminders collect,
// per segment and month, and whether they cause it.
func ReminderImpact() *dashboard.DashboardBuilder {
	b := dashboard.NewDashboardBuilder("relance — reminder impact").
		Uid("relance-reminder-impact").
		Description("Post-reminder collection rate, reminder dependency, days to pay and holdout uplift per segment (SPEC §4). Every panel runs a named query of sql/queries/.").
		Tags([]string{"relance", "kpi"}).
		Timezone("browser").
		Time("now-12M/M", "now/M").
		Refresh("1h").
		Tooltip(dashboard.DashboardCursorSyncCrosshair)
	for _, v := range reminderImpactVariables() {
		b.WithVariable(v)
	}

	b.WithRow(dashboard.NewRowBuilder("Overview: all segments (selected currency and plans)"))
	b.WithPanel(stat.NewPanelBuilder().
		Title("Collected after reminder").
		Description("Post-reminder collection rate over the cohort months of the time range: collected after reminder / reminded amount (each invoice counted once per month), with the amounts and counts it is computed from. Plans filter the reminders.").
		Datasource(clickhouseRef()).
		WithTarget(chTable(panelSQL("post_reminder_rate", map[string]string{"dimension": "'all'"}, planRates,
			"sum(collected_minor) / sum(reminded_minor) AS rate,\n       sum(reminded_minor) / "+perUnit+" AS reminded,\n       sum(collected_minor) / "+perUnit+" AS collected,\n       sum(invoices) AS invoices,\n       sum(reminders) AS reminders",
			"WHERE "+currencyFilter))).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Values(true).Calcs([]string{"lastNotNull"}).Fields("/.*/")).
		ColorMode(common.BigValueColorModeValue).
		GraphMode(common.BigValueGraphModeNone).
		Thresholds(rateThresholds()).
		ColorScheme(byThresholds()).
		OverrideByName("rate", []dashboard.DynamicConfigValue{prop("unit", "percentunit"), prop("decimals", 1)}).
		OverrideByRegexp("reminded|collected", append(moneyProps(), prop("color", map[string]any{"mode": "fixed", "fixedColor": "text"}))).
		OverrideByRegexp("invoices|reminders", []dashboard.DynamicConfigValue{prop("unit", "none"), prop("color", map[string]any{"mode": "fixed", "fixedColor": "text"})}).
		Height(5).Span(14))
	b.WithPanel(stat.NewPanelBuilder().
		Title("Reminder dependency (payment months)").
		Description("Share of the money collected in the payment months of the time range that came after a reminder within the horizon, and what was collected without one. Not filtered by plan: a payment without reminder has none.").
		Datasource(clickhouseRef()).
		WithTarget(chTable(panelSQL("reminder_dependency", nil, nil,
			"sum(collected_after_reminder_minor) / sum(collected_total_minor) AS share,\n       sum(collected_total_minor) / "+perUnit+" AS collected_total,\n       sum(collected_without_reminder_minor) / "+perUnit+" AS collected_without_reminder,\n       sum(payments) AS payments",
			"WHERE "+currencyFilter))).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Values(true).Calcs([]string{"lastNotNull"}).Fields("/.*/")).
		ColorMode(common.BigValueColorModeNone).
		GraphMode(common.BigValueGraphModeNone).
		OverrideByName("share", []dashboard.DynamicConfigValue{prop("unit", "percentunit"), prop("decimals", 1)}).
		OverrideByRegexp("collected", moneyProps()).
		Height(5).Span(10))

	b.WithRow(dashboard.NewRowBuilder("By segment: ${dimension}"))
	b.WithPanel(timeseries.NewPanelBuilder().
		Title("Reminded and collected after reminder, per month and segment").
		Description("Bars: amount reminded and amount collected after reminder (credited under the attribution model) per reminder cohort month and segment value. Line: the post-reminder collection rate, coloured red / orange / green by performance. The tooltip adds the counts behind each rate (invoices, reminders, payments). Money collected without reminder has no reminder, hence no cohort month and no segment value (SPEC §4): it is shown per payment month, all segments together, in 'Collected after vs without reminder'.").
		Datasource(clickhouseRef()).
		WithTarget(chSeries(panelSQL("post_reminder_rate", nil, planRates,
			"month AS time, segment, reminded_minor / "+perUnit+" AS reminded, collected_minor / "+perUnit+" AS collected, rate, invoices, reminders, payments",
			"WHERE "+currencyFilter+" AND "+segmentFilter+"\nORDER BY time, segment"))).
		DrawStyle(common.GraphDrawStyleBars).
		FillOpacity(60).
		BarAlignment(common.BarAlignmentCenter).
		Unit("short").
		OverrideByRegexp("^rate", rateLine()).
		OverrideByRegexp("^(invoices|reminders|payments)", countInTooltip()).
		Legend(common.NewVizLegendOptionsBuilder().DisplayMode(common.LegendDisplayModeTable).Placement(common.LegendPlacementRight).ShowLegend(true)).
		Height(10).Span(24))
	b.WithPanel(bargauge.NewPanelBuilder().
		Title("Collection rate by segment (time range)").
		Description("Post-reminder collection rate per segment value over the cohort months of the time range: the best and the worst at a glance.").
		Datasource(clickhouseRef()).
		WithTarget(chTable(panelSQL("post_reminder_rate", nil, planRates,
			"segment, sum(collected_minor) / sum(reminded_minor) AS rate",
			"WHERE "+currencyFilter+" AND "+segmentFilter+"\nGROUP BY segment\nORDER BY rate DESC, segment"))).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Values(true).Calcs([]string{"lastNotNull"}).Fields("/^rate$/")).
		DisplayMode(common.BarGaugeDisplayModeGradient).
		Orientation(common.VizOrientationHorizontal).
		Unit("percentunit").Min(0).Max(1).
		Thresholds(rateThresholds()).
		ColorScheme(byThresholds()).
		Height(9).Span(10))
	b.WithPanel(table.NewPanelBuilder().
		Title("Segments: rate with its counts").
		Description("Per segment value over the time range: rate, amounts and the counts behind them (reminders, invoices, payments), so that a segment too small to trust is seen.").
		Datasource(clickhouseRef()).
		WithTarget(chTable(panelSQL("post_reminder_rate", nil, planRates,
			"segment,\n       sum(collected_minor) / sum(reminded_minor) AS rate,\n       sum(reminded_minor) / "+perUnit+" AS reminded,\n       sum(collected_minor) / "+perUnit+" AS collected,\n       sum(reminders) AS reminders,\n       sum(invoices) AS invoices,\n       sum(payments) AS payments",
			"WHERE "+currencyFilter+" AND "+segmentFilter+"\nGROUP BY segment\nORDER BY rate DESC, segment"))).
		Thresholds(rateThresholds()).
		OverrideByName("rate", append(cellColour(), prop("unit", "percentunit"), prop("decimals", 1))).
		OverrideByRegexp("reminded|collected", moneyProps()).
		Height(9).Span(14))
	b.WithPanel(table.NewPanelBuilder().
		Title("Collection rate, month × segment").
		Description("Post-reminder collection rate per reminder cohort month (rows) and segment value (columns), each cell coloured by performance. The number of invoices behind each cell is in the table beside it.").
		Datasource(clickhouseRef()).
		WithTarget(chTable(panelSQL("post_reminder_rate", nil, planRates,
			"formatDateTime(month, '%Y-%m') AS cohort, segment, rate",
			"WHERE "+currencyFilter+" AND "+segmentFilter+"\nORDER BY cohort, segment"))).
		WithTransformation(dashboard.DataTransformerConfig{Id: "groupingToMatrix", Options: map[string]any{
			"rowField": "cohort", "columnField": "segment", "valueField": "rate", "emptyValue": "null"}}).
		Thresholds(rateThresholds()).
		ColorScheme(byThresholds()).
		Unit("percentunit").Decimals(1).
		CellOptions(common.TableCellOptions{TableColoredBackgroundCellOptions: &common.TableColoredBackgroundCellOptions{Type: "color-background"}}).
		OverrideByName("cohort\\segment", []dashboard.DynamicConfigValue{prop("custom.cellOptions", map[string]any{"type": "auto"})}).
		Height(9).Span(14))
	b.WithPanel(table.NewPanelBuilder().
		Title("Invoices reminded, month × segment").
		Description("The sample behind each cell of the rate table beside it: invoices reminded per reminder cohort month (rows) and segment value (columns), each counted once per cell. A rate over a handful of invoices is noise.").
		Datasource(clickhouseRef()).
		WithTarget(chTable(panelSQL("post_reminder_rate", nil, planRates,
			"formatDateTime(month, '%Y-%m') AS cohort, segment, invoices",
			"WHERE "+currencyFilter+" AND "+segmentFilter+"\nORDER BY cohort, segment"))).
		WithTransformation(dashboard.DataTransformerConfig{Id: "groupingToMatrix", Options: map[string]any{
			"rowField": "cohort", "columnField": "segment", "valueField": "invoices", "emptyValue": "null"}}).
		Unit("none").
		Height(9).Span(10))

	b.WithRow(dashboard.NewRowBuilder("Who and when"))
	b.WithPanel(table.NewPanelBuilder().
		Title("Sender leaderboard").
		Description("Post-reminder collection rate per sender (collector) over the time range, best first, with amounts and counts.").
		Datasource(clickhouseRef()).
		WithTarget(chTable(panelSQL("post_reminder_rate", map[string]string{"dimension": "'sender'"}, planRates,
			"segment AS sender,\n       sum(collected_minor) / sum(reminded_minor) AS rate,\n       sum(collected_minor) / "+perUnit+" AS collected,\n       sum(reminded_minor) / "+perUnit+" AS reminded,\n       sum(invoices) AS invoices,\n       sum(reminders) AS reminders",
			"WHERE "+currencyFilter+"\nGROUP BY sender\nORDER BY rate DESC, sender"))).
		Thresholds(rateThresholds()).
		OverrideByName("rate", []dashboard.DynamicConfigValue{
			prop("custom.cellOptions", map[string]any{"type": "gauge", "mode": "gradient"}),
			prop("color", map[string]any{"mode": "thresholds"}), prop("unit", "percentunit"), prop("min", 0), prop("max", 1)}).
		OverrideByRegexp("reminded|collected", moneyProps()).
		Height(9).Span(12))
	b.WithPanel(timeseries.NewPanelBuilder().
		Title("Preventive vs post-due").
		Description("Post-reminder collection rate per month of reminders sent before the due date (preventive, dpd < 0) and after it (post-due); bars: invoices reminded.").
		Datasource(clickhouseRef()).
		WithTarget(chSeries(panelSQL("post_reminder_rate", map[string]string{"dimension": "'dpd_bucket'", "dpd_edges": "[0]"}, planRates,
			"month AS time, if(segment = 'preventive', 'preventive', 'post-due') AS timing, rate, invoices",
			"WHERE "+currencyFilter+"\nORDER BY time, timing"))).
		DrawStyle(common.GraphDrawStyleBars).
		FillOpacity(30).
		Unit("none").
		OverrideByRegexp("^rate", rateLine()).
		Height(9).Span(12))
	b.WithPanel(timeseries.NewPanelBuilder().
		Title("Days to pay after reminder (p50, p90)").
		Description("Distribution of paid_at − sent_at over the allocations credited to a reminder, per cohort month and segment: median and 90th percentile, in days (at most the horizon). The tooltip adds the number of credited allocations each percentile is taken over.").
		Datasource(clickhouseRef()).
		WithTarget(chSeries(panelSQL("days_to_pay", nil, planFacts,
			"month AS time, segment, p50_days, p90_days, credited_allocations",
			"WHERE "+currencyFilter+" AND "+segmentFilter+"\nORDER BY time, segment"))).
		DrawStyle(common.GraphDrawStyleLine).
		ShowPoints(common.VisibilityModeAlways).
		Unit("d").
		OverrideByRegexp("^p90", []dashboard.DynamicConfigValue{prop("custom.lineStyle", map[string]any{"fill": "dash", "dash": []int{10, 10}})}).
		OverrideByRegexp("^credited_allocations", countInTooltip()).
		Height(9).Span(12))
	b.WithPanel(timeseries.NewPanelBuilder().
		Title("Collected after vs without reminder (payment month)").
		Description("Money collected per payment month with a reminder within the horizon before it, and without; line: the reminder dependency share. All segments together, whatever the segment selection: a payment without reminder has no reminder to take a segment value from (SPEC §4).").
		Datasource(clickhouseRef()).
		WithTarget(chSeries(panelSQL("reminder_dependency", nil, nil,
			"month AS time, collected_after_reminder_minor / "+perUnit+" AS after_reminder, collected_without_reminder_minor / "+perUnit+" AS without_reminder, share",
			"WHERE "+currencyFilter+"\nORDER BY time"))).
		DrawStyle(common.GraphDrawStyleBars).
		FillOpacity(70).
		Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNormal)).
		Unit("short").
		OverrideByName("share", []dashboard.DynamicConfigValue{
			prop("unit", "percentunit"), prop("custom.drawStyle", "line"), prop("custom.axisPlacement", "right"),
			prop("custom.stacking", map[string]any{"mode": "none"}), prop("custom.fillOpacity", 0), prop("min", 0), prop("max", 1)}).
		Height(9).Span(12))

	b.WithRow(dashboard.NewRowBuilder("Do reminders cause it?"))
	b.WithPanel(table.NewPanelBuilder().
		Title("Holdout uplift").
		Description("Per cohort month and segment: share of the amount due paid within the horizon after reminders that were sent, and after reminders deliberately withheld (control group); uplift = the difference. Rows without a control group are left out; the counts show how small the control group is.").
		Datasource(clickhouseRef()).
		WithTarget(chTable(panelSQL("holdout_uplift", nil, planReminder,
			"formatDateTime(month, '%Y-%m') AS cohort, segment, sent_rate, holdout_rate, uplift, sent_reminders, holdout_reminders",
			"WHERE "+currencyFilter+" AND "+segmentFilter+" AND holdout_reminders > 0\nORDER BY cohort, segment"))).
		OverrideByRegexp("_rate$", []dashboard.DynamicConfigValue{prop("unit", "percentunit"), prop("decimals", 1)}).
		OverrideByName("uplift", append(cellColour(), prop("unit", "percentunit"), prop("decimals", 1),
			prop("thresholds", map[string]any{"mode": "absolute", "steps": []map[string]any{{"value": nil, "color": "red"}, {"value": 0, "color": "green"}}}))).
		Height(9).Span(12))
	b.WithPanel(table.NewPanelBuilder().
		Title("Collection-rate drop check").
		Description("The query of the collection-rate drop alert (sql/queries/rate_drop.sql) for the chosen dimension: the rate of the recent window of reminders (whose horizon has elapsed by the end of the time range) against the trailing baseline, with the sample sizes; firing = 1 when the alert fires for the segment.").
		Datasource(clickhouseRef()).
		WithTarget(chTable(panelSQL("rate_drop", map[string]string{"as_of": "$__toTime"}, planRates,
			"segment, baseline_rate, recent_rate, drop, baseline_invoices, recent_invoices, firing",
			"WHERE "+currencyFilter+"\nORDER BY firing DESC, drop DESC, segment"))).
		OverrideByRegexp("_rate$|^drop$", []dashboard.DynamicConfigValue{prop("unit", "percentunit"), prop("decimals", 1)}).
		OverrideByName("firing", append(cellColour(),
			prop("thresholds", map[string]any{"mode": "absolute", "steps": []map[string]any{{"value": nil, "color": "green"}, {"value": 1, "color": "red"}}}))).
		Height(9).Span(12))
	return b
}

func reminderImpactVariables() []cog.Builder[dashboard.VariableModel] {
	str := func(s string) dashboard.StringOrMap { return dashboard.StringOrMap{String: &s} }
	opt := func(s string) dashboard.VariableOption {
		return dashboard.VariableOption{Text: dashboard.StringOrArrayOfString{String: &s}, Value: dashboard.StringOrArrayOfString{String: &s}}
	}
	all := dashboard.VariableOption{
		Text:  dashboard.StringOrArrayOfString{String: ptr("All")},
		Value: dashboard.StringOrArrayOfString{ArrayOfString: []string{"$__all"}},
	}
	segment := "SELECT DISTINCT relance_segment('${dimension}', channel, level, final_notice, plan, sender,\n" +
		"       dateDiff('day', invoice_due_date, toDate(sent_at, '${tz}')), ${dpd_edges}, attributes) AS segment\n" +
		"FROM reminders FINAL\nWHERE holdout = 0 AND $__timeFilter(sent_at)\nORDER BY segment"
	dimension := "SELECT arrayJoin(['channel', 'level', 'final_notice', 'dpd_bucket', 'sender', 'plan']) AS dimension\n" +
		"UNION ALL\nSELECT DISTINCT arrayJoin(mapKeys(attributes)) AS dimension FROM reminders FINAL WHERE $__timeFilter(sent_at)"
	currency := "SELECT DISTINCT currency FROM reminders FINAL WHERE $__timeFilter(sent_at) ORDER BY currency"
	plan := "SELECT DISTINCT plan FROM reminders FINAL WHERE $__timeFilter(sent_at) ORDER BY plan"
	return []cog.Builder[dashboard.VariableModel]{
		dashboard.NewCustomVariableBuilder("horizon").Label("Horizon").
			Description("Observation window after a reminder: a payment later than this is not credited to it.").
			Values(str("7d,15d,30d")).Current(opt("7d")),
		dashboard.NewQueryVariableBuilder("dimension").Label("Segment by").
			Description("Segment dimension: channel, level, final_notice, dpd_bucket, sender, plan, or a custom attribute key of the reminders.").
			Datasource(clickhouseRef()).Query(str(dimension)).Definition(dimension).
			Refresh(dashboard.VariableRefreshOnDashboardLoad).Current(opt("channel")),
		dashboard.NewQueryVariableBuilder("segment").Label("Segments").
			Description("Segment values of the chosen dimension to show.").
			Datasource(clickhouseRef()).Query(str(segment)).Definition(segment).
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged).Multi(true).IncludeAll(true).Current(all),
		dashboard.NewQueryVariableBuilder("currency").Label("Currency").
			Description("Amounts are never summed across currencies: pick one.").
			Datasource(clickhouseRef()).Query(str(currency)).Definition(currency).
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged),
		dashboard.NewQueryVariableBuilder("plan").Label("Plan").
			Description("Dunning plans of the reminders counted.").
			Datasource(clickhouseRef()).Query(str(plan)).Definition(plan).
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged).Multi(true).IncludeAll(true).Current(all),
		dashboard.NewConstantVariableBuilder("tz").Value(str("Europe/Paris")).
			Description("Report time zone: months and dpd dates are taken there (SPEC §4)."),
		dashboard.NewConstantVariableBuilder("dpd_edges").Value(str("[0,30,60,90]")).
			Description("Days-past-due bucket edges of the dpd_bucket dimension."),
	}
}

func ptr[T any](v T) *T { return &v }
