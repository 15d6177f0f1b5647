package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// RateDrop holds the knobs of the collection-rate-drop alert rules; they
// become the parameters of sql/queries/rate_drop.sql in every rule. The
// committed rules use these defaults; an operator generates rules with
// other knobs by flags (see registerKnobs), without editing code.
var RateDrop = struct {
	// Horizon of the rate compared (a horizon relance computes).
	Horizon string
	// RecentDays is the length of the recent window of reminders, and
	// BaselineDays that of the trailing baseline before it.
	RecentDays, BaselineDays int
	// MinInvoices is the minimum number of invoices reminded in each window
	// for a segment to be judged at all.
	MinInvoices int
	// MaxDrop is the relative drop that fires: recent rate below
	// baseline rate × (1 − MaxDrop).
	MaxDrop float64
	// Dimensions get one rule each.
	Dimensions []string
	// Every is how often Grafana evaluates the rules.
	Every string
}{
	Horizon: "7d", RecentDays: 28, BaselineDays: 84, MinInvoices: 100, MaxDrop: 0.2,
	Dimensions: []string{"channel", "level", "dpd_bucket", "plan", "sender"},
	Every:      "1h",
}

// registerKnobs binds the RateDrop knobs to flags of fs, for operators who
// want other thresholds than the committed rules':
//
//	go run ./deploy/grafana/gen -dir /srv/grafana -max-drop 0.15 -min-invoices 50
func registerKnobs(fs *flag.FlagSet) {
	fs.StringVar(&RateDrop.Horizon, "rate-drop-horizon", RateDrop.Horizon, "horizon of the rate compared by the alert rules (one that relance run computes)")
	fs.IntVar(&RateDrop.RecentDays, "recent-days", RateDrop.RecentDays, "days of reminders in the recent window")
	fs.IntVar(&RateDrop.BaselineDays, "baseline-days", RateDrop.BaselineDays, "days of reminders in the trailing baseline window before it")
	fs.IntVar(&RateDrop.MinInvoices, "min-invoices", RateDrop.MinInvoices, "invoices reminded in each window below which a segment is not judged")
	fs.Float64Var(&RateDrop.MaxDrop, "max-drop", RateDrop.MaxDrop, "relative drop of the rate that fires (0.2: recent below 80 % of the baseline)")
	fs.Func("dimensions", "comma-separated segment dimensions with one rule each (default "+strings.Join(RateDrop.Dimensions, ",")+")", func(s string) error {
		RateDrop.Dimensions = nil
		for _, d := range strings.Split(s, ",") {
			if d = strings.TrimSpace(d); d != "" {
				RateDrop.Dimensions = append(RateDrop.Dimensions, d)
			}
		}
		return nil
	})
	fs.StringVar(&RateDrop.Every, "every", RateDrop.Every, "how often Grafana evaluates the rules (a Grafana duration: 1h, 30m)")
}

// checkKnobs says which knob is out of range, and what a valid value
// looks like.
func checkKnobs() error {
	var errs []error
	if RateDrop.RecentDays < 1 || RateDrop.BaselineDays < 1 {
		errs = append(errs, fmt.Errorf("-recent-days %d, -baseline-days %d: both must be at least 1 (e.g. 28 and 84)", RateDrop.RecentDays, RateDrop.BaselineDays))
	}
	if RateDrop.MinInvoices < 1 {
		errs = append(errs, fmt.Errorf("-min-invoices %d: must be at least 1 (e.g. 30): a segment with no invoice has no rate", RateDrop.MinInvoices))
	}
	if !(RateDrop.MaxDrop > 0 && RateDrop.MaxDrop < 1) {
		errs = append(errs, fmt.Errorf("-max-drop %v: a fraction in (0, 1), e.g. 0.2", RateDrop.MaxDrop))
	}
	if len(RateDrop.Dimensions) == 0 {
		errs = append(errs, errors.New("-dimensions: at least one, e.g. channel,plan"))
	}
	if _, err := time.ParseDuration(RateDrop.Every); err != nil {
		errs = append(errs, fmt.Errorf("-every %q: %v (e.g. 1h)", RateDrop.Every, err))
	}
	if RateDrop.Horizon == "" {
		errs = append(errs, errors.New("-rate-drop-horizon: empty (e.g. 7d)"))
	}
	return errors.Join(errs...)
}

// rateDropParams are the rate_drop parameters of the alert rules for one
// segment dimension; as_of is the end of the rule's time range.
func rateDropParams(dimension string) map[string]string {
	return map[string]string{
		"horizon":       "'" + RateDrop.Horizon + "'",
		"dimension":     "'" + dimension + "'",
		"as_of":         "$__toTime",
		"recent_days":   strconv.Itoa(RateDrop.RecentDays),
		"baseline_days": strconv.Itoa(RateDrop.BaselineDays),
		"min_invoices":  strconv.Itoa(RateDrop.MinInvoices),
		"max_drop":      strconv.FormatFloat(RateDrop.MaxDrop, 'f', -1, 64),
	}
}

// RateDropAlertSQL is the SQL of the alert rule for dimension: one row per
// segment value and currency, labelled by them, whose value (firing) is 1
// when the rule fires for that segment.
func RateDropAlertSQL(dimension string) (string, error) {
	q, err := bindNamed("rate_drop", rateDropParams(dimension))
	if err != nil {
		return "", err
	}
	return "SELECT segment, currency, firing\nFROM (\n" + indent(q) + "\n)", nil
}

// Grafana file-provisioning format of alert rules (apiVersion 1).
type alertFile struct {
	APIVersion int          `yaml:"apiVersion"`
	Groups     []alertGroup `yaml:"groups"`
}

type alertGroup struct {
	OrgID    int         `yaml:"orgId"`
	Name     string      `yaml:"name"`
	Folder   string      `yaml:"folder"`
	Interval string      `yaml:"interval"`
	Rules    []alertRule `yaml:"rules"`
}

type alertRule struct {
	UID          string            `yaml:"uid"`
	Title        string            `yaml:"title"`
	Condition    string            `yaml:"condition"`
	Data         []alertQuery      `yaml:"data"`
	NoDataState  string            `yaml:"noDataState"`
	ExecErrState string            `yaml:"execErrState"`
	For          string            `yaml:"for"`
	Annotations  map[string]string `yaml:"annotations"`
	Labels       map[string]string `yaml:"labels"`
	IsPaused     bool              `yaml:"isPaused"`
}

type alertQuery struct {
	RefID             string         `yaml:"refId"`
	RelativeTimeRange map[string]int `yaml:"relativeTimeRange"`
	DatasourceUID     string         `yaml:"datasourceUid"`
	Model             map[string]any `yaml:"model"`
}

const alertHeader = `# Grafana alert rules: collection-rate drops per segment (SPEC §6).
#
# GENERATED by deploy/grafana/gen (go generate ./deploy/grafana) from
# sql/queries/rate_drop.sql: do not edit, change gen/alerts.go (RateDrop)
# and regenerate. Provisioned from /etc/grafana/provisioning/alerting.
#
# One rule per segment dimension. Query A returns one row per segment value
# and currency, labelled by them, with value firing = 1 when the post-reminder
# collection rate of the last %d days of reminders (whose %s horizon has
# elapsed) is more than %g%% below that of the %d days before, both windows
# having at least %d invoices reminded; C fires on A > 0.
`

// AlertRules renders the provisioned Grafana alert rules.
func AlertRules() ([]byte, error) {
	g := alertGroup{OrgID: 1, Name: "relance collection rate", Folder: "relance", Interval: RateDrop.Every}
	for _, dim := range RateDrop.Dimensions {
		q, err := RateDropAlertSQL(dim)
		if err != nil {
			return nil, err
		}
		g.Rules = append(g.Rules, alertRule{
			UID:       "relance-rate-drop-" + dim,
			Title:     "Collection rate drop by " + dim,
			Condition: "C",
			Data: []alertQuery{
				{RefID: "A", RelativeTimeRange: map[string]int{"from": 86400, "to": 0}, DatasourceUID: clickhouseUID,
					Model: map[string]any{
						"refId": "A", "datasource": map[string]string{"type": clickhouseType, "uid": clickhouseUID},
						"editorType": "sql", "queryType": "table", "format": formatTable, "rawSql": q,
					}},
				{RefID: "C", RelativeTimeRange: map[string]int{"from": 0, "to": 0}, DatasourceUID: "__expr__",
					Model: map[string]any{
						"refId": "C", "type": "threshold", "expression": "A",
						"datasource": map[string]string{"type": "__expr__", "uid": "__expr__"},
						"conditions": []map[string]any{{"evaluator": map[string]any{"type": "gt", "params": []float64{0}}}},
					}},
			},
			NoDataState:  "OK",
			ExecErrState: "Error",
			For:          "0s",
			Annotations: map[string]string{
				"summary": fmt.Sprintf("Post-reminder collection rate dropped for %s {{ $labels.segment }} ({{ $labels.currency }})", dim),
				"description": fmt.Sprintf("The %s post-reminder collection rate of %s {{ $labels.segment }} ({{ $labels.currency }}) over the last %d days of reminders is more than %g%% below its rate over the %d days before (each window has at least %d invoices reminded). "+
					"See the 'Collection-rate drop check' panel of the reminder-impact dashboard (Segment by = %s) for both rates and sample sizes, then the channel, sender and plan panels for the cause.",
					RateDrop.Horizon, dim, RateDrop.RecentDays, 100*RateDrop.MaxDrop, RateDrop.BaselineDays, RateDrop.MinInvoices, dim),
				"dashboardUid": "relance-reminder-impact",
			},
			Labels: map[string]string{"severity": "warning", "team": "credit-management", "dimension": dim},
		})
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, alertHeader, RateDrop.RecentDays, RateDrop.Horizon, 100*RateDrop.MaxDrop, RateDrop.BaselineDays, RateDrop.MinInvoices)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(alertFile{APIVersion: 1, Groups: []alertGroup{g}}); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
