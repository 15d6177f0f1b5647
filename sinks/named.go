package sinks

import (
	"context"
	"fmt"
	"strings"

	relsql "github.com/relance-io/relance/sql"
)

// ParamQuerier is a Store that binds ClickHouse query parameters
// ({name:Type} in the SQL) to values given as their text form.
type ParamQuerier interface {
	QueryParams(ctx context.Context, q string, params map[string]string) (*Rows, error)
}

// QueryNamed runs the named KPI query of sql/queries/ with vals over its
// declared defaults. The named queries are the single source of KPI SQL:
// the demo, the report, the dashboards and the tests all go through here.
func QueryNamed(ctx context.Context, s Store, name string, vals map[string]string) (*Rows, error) {
	n, err := relsql.Load(name)
	if err != nil {
		return nil, err
	}
	params, err := n.Bind(vals)
	if err != nil {
		return nil, err
	}
	pq, ok := s.(ParamQuerier)
	if !ok {
		return nil, fmt.Errorf("query %s: store %T cannot bind query parameters", name, s)
	}
	// A query over the raw tables alone (holdout_uplift) computes any
	// horizon; one over the join's results needs one the pipeline wrote.
	stored := strings.Contains(n.Text, "attribution_facts") || strings.Contains(n.Text, "reminder_outcomes")
	if err := checkParams(ctx, pq, params, stored); err != nil {
		return nil, fmt.Errorf("query %s: %w", name, err)
	}
	rows, err := pq.QueryParams(ctx, n.Text, params)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", name, err)
	}
	return rows, nil
}
