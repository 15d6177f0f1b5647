package sinks

import (
	"context"
	"fmt"

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
	rows, err := pq.QueryParams(ctx, n.Text, params)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", name, err)
	}
	return rows, nil
}
