package main

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"

	relsql "github.com/relance-io/relance/sql"
)

// Data source identities, as provisioned in
// provisioning/datasources/datasources.yaml.
const (
	clickhouseType = "grafana-clickhouse-datasource"
	clickhouseUID  = "relance-clickhouse"
	prometheusType = "prometheus"
	prometheusUID  = "relance-prometheus"
)

func clickhouseRef() common.DataSourceRef {
	t, u := clickhouseType, clickhouseUID
	return common.DataSourceRef{Type: &t, Uid: &u}
}

func prometheusRef() common.DataSourceRef {
	t, u := prometheusType, prometheusUID
	return common.DataSourceRef{Type: &t, Uid: &u}
}

// Query formats of the ClickHouse plugin (v4): 0 time series, 1 table.
const (
	formatTimeSeries = 0
	formatTable      = 1
)

// CHQuery is a target of the official ClickHouse data source plugin
// (grafana-clickhouse-datasource, v4) in SQL-editor mode. The Foundation SDK
// does not ship this plugin's query type, so it is declared here as its
// documentation on custom query types shows.
type CHQuery struct {
	RefId      string               `json:"refId"`
	Hide       *bool                `json:"hide,omitempty"`
	Datasource common.DataSourceRef `json:"datasource"`
	EditorType string               `json:"editorType"`
	QueryType  string               `json:"queryType"`
	Format     int                  `json:"format"`
	RawSql     string               `json:"rawSql"`
}

func (q CHQuery) ImplementsDataqueryVariant() {}
func (q CHQuery) DataqueryType() string       { return clickhouseType }
func (q CHQuery) Validate() error {
	if q.RawSql == "" {
		return fmt.Errorf("clickhouse query %s: empty rawSql", q.RefId)
	}
	return nil
}
func (q CHQuery) Equals(other variants.Dataquery) bool { return reflect.DeepEqual(q, other) }

var _ cog.Builder[variants.Dataquery] = chBuilder{}

type chBuilder struct{ q CHQuery }

func (b chBuilder) Build() (variants.Dataquery, error) { return b.q, b.q.Validate() }

// chTable is a table-format ClickHouse target running sql.
func chTable(sql string) chBuilder {
	return chBuilder{CHQuery{RefId: "A", Datasource: clickhouseRef(), EditorType: "sql", QueryType: "table", Format: formatTable, RawSql: sql}}
}

// chSeries is a time-series-format target: the plugin turns the long result
// (time, label columns, values) into one series per label value.
func chSeries(sql string) chBuilder {
	return chBuilder{CHQuery{RefId: "A", Datasource: clickhouseRef(), EditorType: "sql", QueryType: "timeseries", Format: formatTimeSeries, RawSql: sql}}
}

// Grafana expressions for the named-query parameters: every panel maps a
// parameter onto a dashboard variable, a Grafana ClickHouse macro, or a
// literal. A parameter left out takes its declared default as a typed
// literal.
var dashboardParams = map[string]string{
	"horizon":   "'${horizon}'",
	"dimension": "'${dimension}'",
	"tz":        "'${tz}'",
	"dpd_edges": "${dpd_edges}",
	"from":      "toDate($__fromTime, '${tz}')",
	"to":        "toDate($__toTime, '${tz}')",
}

var paramRef = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*):([^{}]+)\}`)

// bindNamed returns the text of the named query of sql/queries/ with its
// header comment replaced by a one-line source note, and every {name:Type}
// replaced by exprs[name], or by the declared default as a typed literal.
// An expression for an undeclared parameter is an error.
func bindNamed(name string, exprs map[string]string) (string, error) {
	n, err := relsql.Load(name)
	if err != nil {
		return "", err
	}
	declared := map[string]relsql.Param{}
	for _, p := range n.Params {
		declared[p.Name] = p
	}
	for k := range exprs {
		if _, ok := declared[k]; !ok {
			return "", fmt.Errorf("query %s has no parameter %q", name, k)
		}
	}
	lines := strings.Split(strings.TrimSpace(n.Text), "\n")
	for len(lines) > 0 && strings.HasPrefix(strings.TrimSpace(lines[0]), "--") {
		lines = lines[1:]
	}
	body := strings.Join(lines, "\n")
	var bad error
	body = paramRef.ReplaceAllStringFunc(body, func(m string) string {
		sub := paramRef.FindStringSubmatch(m)
		p, ok := declared[sub[1]]
		if !ok {
			bad = fmt.Errorf("query %s uses undeclared parameter %s", name, m)
			return m
		}
		if e, ok := exprs[p.Name]; ok {
			return e
		}
		return fmt.Sprintf("CAST('%s' AS %s)", strings.ReplaceAll(p.Default, "'", `\'`), p.Type)
	})
	if bad != nil {
		return "", bad
	}
	return fmt.Sprintf("-- sql/queries/%s.sql (bound by deploy/grafana/gen)\n%s", name, body), nil
}

// planFilter keeps, in every "FROM <table> FINAL" of q, the rows of the
// dunning plans selected in the dashboard's plan variable. It is an error
// when q reads none of the tables, so that a change of the query is caught.
func planFilter(q string, tables ...string) (string, error) {
	n := 0
	for _, t := range tables {
		re := regexp.MustCompile(`\bFROM ` + t + ` FINAL\b`)
		n += len(re.FindAllStringIndex(q, -1))
		q = re.ReplaceAllString(q, "FROM (SELECT * FROM "+t+" FINAL WHERE plan IN (${plan:singlequote}))")
	}
	if n == 0 {
		return "", fmt.Errorf("plan filter: the query reads none of %v", tables)
	}
	return q, nil
}

// panelSQL binds the named query with the dashboard parameters it declares
// (over replaces or adds some, and must name declared ones), applies the
// plan filter to planTables, and wraps the result:
//
//	SELECT <sel> FROM (<query>) <rest>
//
// It panics on an error: its inputs are the embedded queries and this
// package's constants, and the tests build every panel.
func panelSQL(name string, over map[string]string, planTables []string, sel, rest string) string {
	n, err := relsql.Load(name)
	if err != nil {
		panic(err)
	}
	exprs := map[string]string{}
	for _, p := range n.Params {
		if e, ok := dashboardParams[p.Name]; ok {
			exprs[p.Name] = e
		}
	}
	for k, v := range over {
		exprs[k] = v
	}
	q, err := bindNamed(name, exprs)
	if err != nil {
		panic(err)
	}
	if len(planTables) > 0 {
		if q, err = planFilter(q, planTables...); err != nil {
			panic(fmt.Errorf("%s: %w", name, err))
		}
	}
	return fmt.Sprintf("SELECT %s\nFROM (\n%s\n)\n%s", sel, indent(q), rest)
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}
