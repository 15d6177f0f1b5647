package sql

import (
	"fmt"
	"sort"
	"strings"
)

// Param is one parameter of a named query, declared in the file's header as
//
//	-- param: NAME TYPE = DEFAULT -- what it means
//
// and referenced in the body as {NAME:TYPE} (ClickHouse query parameters).
type Param struct {
	Name    string
	Type    string
	Default string
	Doc     string
}

// Named is a KPI query of sql/queries/ with its declared parameters.
type Named struct {
	Name   string
	Text   string
	Params []Param
}

// Load reads the named query and its parameter declarations.
func Load(name string) (*Named, error) {
	text, err := Query(name)
	if err != nil {
		return nil, err
	}
	n := &Named{Name: name, Text: text}
	for i, line := range strings.Split(text, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "-- param:")
		if !ok {
			continue
		}
		decl, doc, _ := strings.Cut(rest, "--")
		lhs, def, ok := strings.Cut(decl, "=")
		fields := strings.Fields(lhs)
		if !ok || len(fields) != 2 {
			return nil, fmt.Errorf("queries/%s.sql:%d: want \"-- param: NAME TYPE = DEFAULT -- doc\", got %q", name, i+1, line)
		}
		n.Params = append(n.Params, Param{Name: fields[0], Type: fields[1], Default: strings.TrimSpace(def), Doc: strings.TrimSpace(doc)})
	}
	return n, nil
}

// Bind returns the value of every declared parameter: vals where given, the
// default otherwise. A value for an undeclared parameter is an error naming
// the ones the query takes.
func (n *Named) Bind(vals map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(n.Params))
	for _, p := range n.Params {
		out[p.Name] = p.Default
	}
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, ok := out[k]; !ok {
			names := make([]string, len(n.Params))
			for i, p := range n.Params {
				names[i] = p.Name
			}
			return nil, fmt.Errorf("query %s has no parameter %q (it takes: %s)", n.Name, k, strings.Join(names, ", "))
		}
		out[k] = vals[k]
	}
	return out, nil
}
