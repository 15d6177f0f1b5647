package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/relance-io/relance/sinks"
)

// grafana is the test's stand-in for Grafana and the ClickHouse plugin:
// it expands the plugin's macros for a time range and the dashboard
// variables, as Grafana does before the plugin sends the SQL.
type grafana struct {
	from, to time.Time
	vars     map[string][]string
}

var (
	reTimeFilter = regexp.MustCompile(`\$__timeFilter\(([^)]+)\)`)
	reVar        = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+))?\}|\$([A-Za-z_][A-Za-z0-9_]*)`)
)

// expand replaces $__timeFilter(col), $__fromTime, $__toTime (as the
// plugin does: col >= toDateTime(from) AND col <= toDateTime(to), Unix
// seconds) and ${name}, ${name:singlequote}, $name. Anything else starting
// with $ is an error: Grafana would send it unexpanded.
func (g *grafana) expand(sql string) (string, error) {
	f, t := g.from.Unix(), g.to.Unix()
	sql = reTimeFilter.ReplaceAllStringFunc(sql, func(m string) string {
		col := strings.TrimSpace(reTimeFilter.FindStringSubmatch(m)[1])
		return fmt.Sprintf("%s >= toDateTime(%d) AND %s <= toDateTime(%d)", col, f, col, t)
	})
	sql = strings.ReplaceAll(sql, "$__fromTime", fmt.Sprintf("toDateTime(%d)", f))
	sql = strings.ReplaceAll(sql, "$__toTime", fmt.Sprintf("toDateTime(%d)", t))
	var bad error
	sql = reVar.ReplaceAllStringFunc(sql, func(m string) string {
		sub := reVar.FindStringSubmatch(m)
		name, format := sub[1], sub[2]
		if name == "" {
			name = sub[3]
		}
		vals, ok := g.vars[name]
		if !ok {
			bad = fmt.Errorf("unknown variable or macro %s", m)
			return m
		}
		switch format {
		case "singlequote":
			q := make([]string, len(vals))
			for i, v := range vals {
				q[i] = "'" + strings.ReplaceAll(v, "'", `\'`) + "'"
			}
			return strings.Join(q, ",")
		case "":
			if len(vals) != 1 {
				bad = fmt.Errorf("%s is multi-valued (%v): use ${%s:singlequote}", m, vals, name)
			}
			return strings.Join(vals, ",")
		}
		bad = fmt.Errorf("%s: format %q not supported by the test", m, format)
		return m
	})
	return sql, bad
}

// dashboardJSON is the part of a committed dashboard the tests read.
type dashboardJSON struct {
	Panels []struct {
		Type    string `json:"type"`
		Title   string `json:"title"`
		Targets []struct {
			RefID      string `json:"refId"`
			RawSQL     string `json:"rawSql"`
			Expr       string `json:"expr"`
			Datasource struct {
				Type string `json:"type"`
				UID  string `json:"uid"`
			} `json:"datasource"`
		} `json:"targets"`
	} `json:"panels"`
	Templating struct {
		List []struct {
			Type    string `json:"type"`
			Name    string `json:"name"`
			Query   any    `json:"query"`
			Current struct {
				Value any `json:"value"`
			} `json:"current"`
			Multi bool `json:"multi"`
		} `json:"list"`
	} `json:"templating"`
}

func readDashboard(t *testing.T, name string) *dashboardJSON {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "dashboards", name))
	if err != nil {
		t.Fatal(err)
	}
	var d dashboardJSON
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return &d
}

// resolveVariables gives every variable of d its default value as Grafana
// would on load: constants and custom variables their value, query
// variables run on store (expanded with the variables before them), then
// the saved current value, All = every option, no current = the first
// option.
func (g *grafana) resolveVariables(t *testing.T, ctx context.Context, store sinks.Store, d *dashboardJSON) {
	t.Helper()
	g.vars = map[string][]string{}
	list := d.Templating.List
	for _, v := range list { // constants first: query variables use them
		if v.Type == "constant" {
			g.vars[v.Name] = []string{v.Query.(string)}
		}
	}
	for _, v := range list {
		var current []string
		switch c := v.Current.Value.(type) {
		case string:
			current = []string{c}
		case []any:
			for _, x := range c {
				current = append(current, x.(string))
			}
		}
		switch v.Type {
		case "constant":
		case "custom":
			g.vars[v.Name] = current
		case "query":
			opts := g.options(t, ctx, store, d, v.Name)
			switch {
			case len(current) == 1 && current[0] == "$__all":
				g.vars[v.Name] = opts
			case len(current) > 0:
				for _, c := range current {
					if !contains(opts, c) {
						t.Fatalf("variable %s: default %q is not among the options %v", v.Name, c, opts)
					}
				}
				g.vars[v.Name] = current
			default:
				g.vars[v.Name] = opts[:1]
			}
		default:
			t.Fatalf("variable %s: type %s not handled by the test", v.Name, v.Type)
		}
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// options runs the query of d's variable name, expanded with g's time
// range and variables, and returns its options in order; none is an error.
func (g *grafana) options(t *testing.T, ctx context.Context, store sinks.Store, d *dashboardJSON, name string) []string {
	t.Helper()
	for _, v := range d.Templating.List {
		if v.Name != name || v.Type != "query" {
			continue
		}
		q, err := g.expand(v.Query.(string))
		if err != nil {
			t.Fatalf("variable %s: %v", name, err)
		}
		rows, err := store.Query(ctx, q)
		if err != nil {
			t.Fatalf("variable %s: %v\n%s", name, err, q)
		}
		var opts []string
		for _, r := range rows.Data {
			opts = append(opts, r[0])
		}
		if len(opts) == 0 {
			t.Fatalf("variable %s has no options", name)
		}
		return opts
	}
	t.Fatalf("no query variable %s", name)
	return nil
}
