package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/tabwriter"

	"github.com/relance-io/relance/sinks"
	relsql "github.com/relance-io/relance/sql"
)

func cmdQuery(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("query", flag.ContinueOnError)
	var sf storeFlags
	sf.register(fs)
	var params paramFlags
	fs.Var(&params, "p", "query parameter name=value (repeatable), e.g. -p horizon=15d -p dimension=plan")
	format := fs.String("format", "table", "output: table (aligned columns), csv (RFC 4180 with a header; NULL as an empty cell) or json (an array of objects in column order; numbers exact as JSON numbers, NULL as null)")
	fs.Usage = func() {
		names, _ := relsql.QueryNames()
		fmt.Fprintf(fs.Output(), "usage: relance query [flags] NAME|SQL\n\nnamed queries: %s\n\nflags:\n", strings.Join(names, ", "))
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("query: want one named query or one SQL statement")
	}
	write, ok := queryFormats[*format]
	if !ok {
		return fmt.Errorf("--format %q: want table, csv or json", *format)
	}
	store, err := openQueryStore(ctx, &sf)
	if err != nil {
		return err
	}
	defer store.Close()
	var rows *sinks.Rows
	q := fs.Arg(0)
	if strings.ContainsAny(q, " \n") {
		rows, err = store.Query(ctx, q)
	} else if err = requireSchema(ctx, store); err == nil {
		rows, err = sinks.QueryNamed(ctx, store, q, params)
	}
	if err != nil {
		return err
	}
	return write(stdout, rows)
}

// openQueryStore opens the store of `relance query` (a variable so that
// tests use the test binary's one chDB session).
var openQueryStore = func(ctx context.Context, sf *storeFlags) (sinks.Store, error) { return sf.openExisting(ctx) }

var queryFormats = map[string]func(io.Writer, *sinks.Rows) error{
	"table": writeTable,
	"csv":   writeCSV,
	"json":  writeJSON,
}

func writeTable(w io.Writer, rows *sinks.Rows) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(rows.Columns, "\t"))
	for _, r := range rows.Data {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

func writeCSV(w io.Writer, rows *sinks.Rows) error {
	cw := csv.NewWriter(w)
	cw.Write(rows.Columns)
	for _, r := range rows.Data {
		rec := make([]string, len(r))
		for i, v := range r {
			if v != "NULL" || !nullable(rows, i) {
				rec[i] = v
			}
		}
		cw.Write(rec)
	}
	cw.Flush()
	return cw.Error()
}

// writeJSON writes an array of objects, one a line, keys in column order.
// Numbers stay exact: an Int64 or Decimal is written with its digits as a
// JSON number (no float64 round trip); nan and inf, which JSON has no
// number for, are strings.
func writeJSON(w io.Writer, rows *sinks.Rows) error {
	var b strings.Builder
	b.WriteString("[")
	for n, r := range rows.Data {
		if n > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n  {")
		for i, v := range r {
			if i > 0 {
				b.WriteString(",")
			}
			k, _ := json.Marshal(rows.Columns[i])
			b.Write(k)
			b.WriteString(":")
			b.WriteString(jsonValue(rows, i, v))
		}
		b.WriteString("}")
	}
	if len(rows.Data) > 0 {
		b.WriteString("\n")
	}
	b.WriteString("]\n")
	_, err := io.WriteString(w, b.String())
	return err
}

var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

func jsonValue(rows *sinks.Rows, col int, v string) string {
	typ := ""
	if col < len(rows.Types) {
		typ = baseType(rows.Types[col])
	}
	if v == "NULL" && nullable(rows, col) {
		return "null"
	}
	switch {
	case strings.HasPrefix(typ, "Int"), strings.HasPrefix(typ, "UInt"), strings.HasPrefix(typ, "Float"), strings.HasPrefix(typ, "Decimal"):
		if jsonNumber.MatchString(v) {
			return v
		}
	case typ == "Bool":
		if v == "true" || v == "false" {
			return v
		}
	case strings.HasPrefix(typ, "Array"), strings.HasPrefix(typ, "Map"), strings.HasPrefix(typ, "Tuple"):
		if json.Valid([]byte(v)) {
			return v
		}
	}
	s, _ := json.Marshal(v)
	return string(s)
}

// baseType strips Nullable(…) and LowCardinality(…).
func baseType(t string) string {
	for {
		switch {
		case strings.HasPrefix(t, "Nullable(") && strings.HasSuffix(t, ")"):
			t = t[len("Nullable(") : len(t)-1]
		case strings.HasPrefix(t, "LowCardinality(") && strings.HasSuffix(t, ")"):
			t = t[len("LowCardinality(") : len(t)-1]
		default:
			return t
		}
	}
}

func nullable(rows *sinks.Rows, col int) bool {
	return col >= len(rows.Types) || strings.Contains(rows.Types[col], "Nullable(")
}

type paramFlags map[string]string

func (p *paramFlags) String() string { return fmt.Sprint(map[string]string(*p)) }
func (p *paramFlags) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return fmt.Errorf("want name=value, got %q", s)
	}
	if *p == nil {
		*p = paramFlags{}
	}
	(*p)[k] = v
	return nil
}
