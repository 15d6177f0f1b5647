package chdb

import (
	"context"
	"fmt"
	"sort"

	"github.com/relance-io/relance/sinks"
)

// QueryParams runs q with ClickHouse query parameters ({name:Type} in q)
// bound to params, given in their text form (e.g. "7d", "[0,30,60,90]").
// chDB binds them as session settings (SET param_name), so the settings and
// the query run under one lock: no other statement sees them half-set.
func (s *Store) QueryParams(ctx context.Context, q string, params map[string]string) (*sinks.Rows, error) {
	names := make([]string, 0, len(params))
	for k := range params {
		if !isIdent(k) {
			return nil, fmt.Errorf("chdb: query parameter %q: want letters, digits and '_'", k)
		}
		names = append(names, k)
	}
	sort.Strings(names)
	var out []byte
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range names {
		if err := s.run(ctx, "bind "+k, "SET param_"+k+" = "+quote(params[k]), nil); err != nil {
			return nil, err
		}
	}
	if err := s.runFormat(ctx, "query", q, "JSONCompact", func(b []byte) { out = append(out, b...) }); err != nil {
		return nil, err
	}
	return decodeJSONCompact(out)
}
