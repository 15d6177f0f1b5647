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
	"github.com/relance-io/relance/sinks/chdb"
	"github.com/relance-io/relance/sinks/chdb/chdbtest"
	"github.com/relance-io/relance/stream"
)

// queryOnOctober runs the October worked example through the pipeline into
// a fresh test database and points `relance query` at it.
func queryOnOctober(t *testing.T) {
	t.Helper()
	s := octoberStore(t, nil)
	prev := openQueryStore
	openQueryStore = func(context.Context, *storeFlags) (sinks.Store, error) { return keepOpen{s}, nil }
	t.Cleanup(func() { openQueryStore = prev })
}

// octoberStore runs the October worked example through the pipeline, with
// horizons hs (nil: the defaults), into a fresh test database.
func octoberStore(t *testing.T, hs []stream.Horizon) *chdb.Store {
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
	if _, err := demo.RunDataset(context.Background(), s, ds, demo.Options{Dir: t.TempDir(), Partitions: 1, Horizons: hs}); err != nil {
		t.Fatal(err)
	}
	return s
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

// Rule: a named query's horizon means the window, however it is written
// ("96h" is the stored "4d", "36h" the stored "36h0m0s"), and a horizon
// the store holds no outcome for, an unknown time zone, a dimension that
// is neither one of the named ones nor an attribute key of the reminders,
// or dpd edges out of order, is an error that says what is accepted — not
// a table of zeros or one blank segment.
func TestQuery_HorizonIsTheWindowAndMustBeInTheStore(t *testing.T) {
	s := chdbtest.NewStore(t)
	prev := openQueryStore
	openQueryStore = func(context.Context, *storeFlags) (sinks.Store, error) { return keepOpen{s}, nil }
	t.Cleanup(func() { openQueryStore = prev })
	if _, err := sinks.Migrate(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	// An empty store: any horizon, nothing to show.
	if got := query(t, "--format", "csv", "-p", "horizon=7d", "post_reminder_rate"); strings.Count(got, "\n") != 1 {
		t.Fatalf("empty store: %q, want the header only", got)
	}

	// The October example, with other horizons, in a store of its own.
	hs, _ := stream.ParseHorizons("36h,4d")
	s = octoberStore(t, hs)
	rate := func(h string) string {
		return query(t, "--format", "csv", "-p", "horizon="+h, "-p", "dimension=all", "post_reminder_rate")
	}
	// R1 (INV-A) was paid 72 h after it was sent: within 4 days, not 36 h.
	if got, want := rate("96h"), rate("4d"); got != want || !strings.Contains(want, ",5000000,") {
		t.Errorf("horizon=96h:\n%s\nhorizon=4d:\n%s\nwant the same rows, 5 000 000 minor units collected", got, want)
	}
	if got, want := rate("36h"), rate("36h0m0s"); got != want {
		t.Errorf("horizon=36h:\n%s\nhorizon=36h0m0s:\n%s\nwant the same rows", got, want)
	}
	// holdout_uplift reads the raw tables: any horizon is computed.
	if got := query(t, "--format", "csv", "-p", "horizon=10d", "holdout_uplift"); !strings.HasPrefix(got, "month,") {
		t.Errorf("holdout_uplift for 10d:\n%s", got)
	}
	// An attribute key is a dimension.
	if got := query(t, "--format", "csv", "-p", "horizon=4d", "-p", "dimension=country", "post_reminder_rate"); !strings.Contains(got, ",FR,") {
		t.Errorf("dimension=country:\n%s\nwant the FR segment", got)
	}
	for _, c := range []struct{ param, want string }{
		{"horizon=7d", "horizon 7d: the store holds no outcome for it (it holds 36h0m0s, 4d)"},
		{"horizon=soon", `horizon "soon": want a whole number of days`},
		{"tz=Mars/Olympus", `tz "Mars/Olympus": unknown time zone`},
		{"dimension=Channel", `dimension "Channel": neither a dimension (channel, level, final_notice, dpd_bucket, sender, plan, all) nor an attribute key of the reminders (country)`},
		{"dpd_edges=[60,30,0]", `dpd_edges "[60,30,0]": want whole days, strictly ascending`},
		{"dpd_edges=[]", `dpd_edges "[]": want whole days`},
		{"dpd_edges=0,30", `dpd_edges "0,30": want whole days`},
	} {
		var out bytes.Buffer
		err := cmdQuery(context.Background(), []string{"--chdb-dir", "unused", "-p", c.param, "post_reminder_rate"}, &out)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("-p %s: error %v, want it to say %q", c.param, err, c.want)
		}
	}
}
