package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"

	"github.com/relance-io/relance/csvimport"
	"github.com/relance-io/relance/demo"
	"github.com/relance-io/relance/generate"
	"github.com/relance-io/relance/sinks"
	"github.com/relance-io/relance/sinks/chdb/chdbtest"
)

// queryOnOctober runs the October worked example through the pipeline into
// a fresh test database and points `relance query` at it.
func queryOnOctober(t *testing.T) {
	t.Helper()
	s := chdbtest.NewStore(t)
	files, err := csvimport.FilesIn(octoberDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := csvimport.Read(files)
	if err != nil {
		t.Fatal(err)
	}
	ds := &generate.Dataset{Reminders: res.Reminders, Payments: res.Payments, Invoices: res.Invoices}
	if _, err := demo.RunDataset(context.Background(), s, ds, demo.Options{Dir: t.TempDir(), Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	prev := openQueryStore
	openQueryStore = func(context.Context, *storeFlags) (sinks.Store, error) { return keepOpen{s}, nil }
	t.Cleanup(func() { openQueryStore = prev })
}

func query(t *testing.T, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	if err := cmdQuery(context.Background(), append([]string{"--chdb-dir", "unused"}, args...), &out); err != nil {
		t.Fatalf("relance query %v: %v\n%s", args, err, out.String())
	}
	return out.String()
}

// Rule: `relance query --format csv` writes RFC 4180 CSV: a header of the
// column names, then one record per row, values exactly as the store
// returns them, quoted when needed, NULL as an empty cell.
func TestQuery_FormatCSV(t *testing.T) {
	queryOnOctober(t)
	recs, err := csv.NewReader(strings.NewReader(query(t, "--format", "csv", "-p", "horizon=7d", "-p", "dimension=all", "post_reminder_rate"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("want a header and one October row, got %q", recs)
	}
	row := map[string]string{}
	for i, c := range recs[0] {
		row[c] = recs[1][i]
	}
	if row["month"] != "2026-10-01" || row["currency"] != "EUR" || row["reminded_minor"] != "8000000" || row["collected_minor"] != "5000000" || row["rate"] != "0.625" {
		t.Fatalf("row %v", row)
	}
	got := query(t, "--format", "csv", `SELECT 'a,"b"' AS s, CAST(NULL AS Nullable(Int64)) AS n, toInt64(9007199254740993) AS big`)
	if want := "s,n,big\n\"a,\"\"b\"\"\",,9007199254740993\n"; got != want {
		t.Fatalf("csv %q, want %q", got, want)
	}
}

// Rule: `relance query --format json` writes an array of objects, keys in
// column order; integers and decimals are JSON numbers with their exact
// digits (no float64 round trip, even beyond 2^53), NULL is null, strings
// and dates are strings.
func TestQuery_FormatJSON(t *testing.T) {
	queryOnOctober(t)
	out := query(t, "--format", "json", "-p", "horizon=7d", "reminder_dependency")
	dec := json.NewDecoder(strings.NewReader(out))
	dec.UseNumber()
	var rows []map[string]any
	if err := dec.Decode(&rows); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(rows) != 1 {
		t.Fatalf("rows %v", rows)
	}
	r := rows[0]
	if r["month"] != "2026-10-01" || r["collected_total_minor"] != json.Number("12000000") ||
		r["collected_after_reminder_minor"] != json.Number("5000000") || r["share"] != json.Number("0.416667") {
		t.Fatalf("row %v", r)
	}
	got := query(t, "--format", "json", `SELECT 'x' AS s, CAST(NULL AS Nullable(Int64)) AS n, toInt64(9007199254740993) AS big, toDecimal64('12.34', 2) AS d, true AS b`)
	if want := "[\n  {\"s\":\"x\",\"n\":null,\"big\":9007199254740993,\"d\":12.34,\"b\":true}\n]\n"; got != want {
		t.Fatalf("json %q, want %q", got, want)
	}
	if got := query(t, "--format", "json", "SELECT 1 AS x WHERE 0"); got != "[]\n" {
		t.Fatalf("empty result %q", got)
	}
}

// Rule: --format table stays the default (aligned columns), and an unknown
// format is an error naming the accepted ones.
func TestQuery_FormatTableIsTheDefault(t *testing.T) {
	queryOnOctober(t)
	if got := query(t, "SELECT 1 AS one, 'x' AS two"); got != "one  two\n1    x\n" {
		t.Fatalf("table %q", got)
	}
	err := cmdQuery(context.Background(), []string{"--chdb-dir", "unused", "--format", "xml", "SELECT 1"}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "table, csv or json") {
		t.Fatalf("err = %v", err)
	}
}
