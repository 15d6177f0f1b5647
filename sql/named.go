package sql

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
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
	// Min and Max bound a number when the doc says "(range MIN..MAX)".
	Min, Max float64
	Ranged   bool
}

// rangeRe finds "(range MIN..MAX)" in a parameter's doc.
var rangeRe = regexp.MustCompile(`\(range (-?[0-9.]+)\.\.(-?[0-9.]+)\)`)

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
		p := Param{Name: fields[0], Type: fields[1], Default: strings.TrimSpace(def), Doc: strings.TrimSpace(doc)}
		if m := rangeRe.FindStringSubmatch(p.Doc); m != nil {
			lo, err1 := strconv.ParseFloat(m[1], 64)
			hi, err2 := strconv.ParseFloat(m[2], 64)
			if err1 != nil || err2 != nil || lo > hi {
				return nil, fmt.Errorf("queries/%s.sql:%d: bad range %q", name, i+1, m[0])
			}
			p.Min, p.Max, p.Ranged = lo, hi, true
		}
		n.Params = append(n.Params, p)
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
		v, err := n.param(k).check(vals[k])
		if err != nil {
			return nil, fmt.Errorf("query %s: parameter %s: %w", n.Name, k, err)
		}
		out[k] = v
	}
	if from, to := n.param("from"), n.param("to"); from.Type == "Date" && to.Type == "Date" &&
		len(out["from"]) >= 7 && len(out["to"]) >= 7 && out["from"][:7] > out["to"][:7] { // "YYYY-MM" of each
		return nil, fmt.Errorf("query %s: from %s is after to %s: want from's month at or before to", n.Name, out["from"], out["to"])
	}
	return out, nil
}

func (n *Named) param(name string) Param {
	for _, p := range n.Params {
		if p.Name == name {
			return p
		}
	}
	return Param{}
}

// check returns v as ClickHouse reads a parameter of p's type, or an error
// saying what is wanted: a value ClickHouse would refuse with a parse error,
// or read as another one (a Date of "2026-02-30" rolls over to March, one
// of "2026-13-01" to 1970), is refused here. A Date may be given as a month
// ("2026-10": its first day); a DateTime as a date or RFC 3339.
func (p Param) check(v string) (string, error) {
	v = strings.TrimSpace(v)
	switch p.Type {
	case "Date":
		if t, err := time.Parse("2006-01", v); err == nil {
			return t.Format(time.DateOnly), nil
		}
		t, err := time.Parse(time.DateOnly, v)
		if err != nil || t.Year() < 1970 {
			return "", fmt.Errorf("%q is not a date: want YYYY-MM-DD or a month YYYY-MM, from 1970 (e.g. 2026-10)", v)
		}
		return v, nil
	case "DateTime('UTC')":
		for _, layout := range []string{time.DateTime, time.DateOnly, time.RFC3339} {
			if t, err := time.Parse(layout, v); err == nil && t.Year() >= 1970 && t.Year() < 2106 {
				return t.UTC().Format(time.DateTime), nil
			}
		}
		return "", fmt.Errorf("%q is not a time: want YYYY-MM-DD HH:MM:SS in UTC, YYYY-MM-DD or RFC 3339 (e.g. 2026-10-31 00:00:00)", v)
	case "UInt32":
		u, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return "", fmt.Errorf("%q is not a whole number from 0 to %d", v, uint32(math.MaxUint32))
		}
		return v, p.inRange(v, float64(u))
	case "Float64":
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return "", fmt.Errorf("%q is not a number (e.g. 0.2)", v)
		}
		return v, p.inRange(v, f)
	}
	return v, nil
}

// inRange checks x (given as v) against p's declared range.
func (p Param) inRange(v string, x float64) error {
	if p.Ranged && (x < p.Min || x > p.Max) {
		return fmt.Errorf("%q is out of range: want %g to %g (%s)", v, p.Min, p.Max, p.Doc)
	}
	return nil
}
