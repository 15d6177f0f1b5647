package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/relance-io/relance/demo"
	"github.com/relance-io/relance/ingest"
	"github.com/relance-io/relance/sinks"
	"github.com/relance-io/relance/sinks/chdb/chdbtest"
)

const octoberDir = "../../csvimport/testdata/october"

// importStack is an embedded broker and registry (demo.StartStack) over a
// fresh test database, for `relance import` to write to.
func importStack(t *testing.T) (*demo.Stack, sinks.Store) {
	t.Helper()
	store := chdbtest.NewStore(t)
	st, err := demo.StartStack(context.Background(), t.TempDir(), 2, store)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st, store
}

func runImport(t *testing.T, st *demo.Stack, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	args = append([]string{"--brokers", strings.Join(st.Brokers(), ","), "--registry", st.Registry.URL()}, args...)
	if err := cmdImport(context.Background(), args, &out); err != nil {
		t.Fatalf("relance import %v: %v\n%s", args, err, out.String())
	}
	return out.String()
}

// endOffsets asks the broker for the end offset of every partition of the
// three topics.
func endOffsets(t *testing.T, st *demo.Stack) demo.Ends {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(st.Brokers()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrListOffsetsRequest()
	for _, topic := range ingest.Topics {
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = topic
		for p := range st.Partitions {
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition, rp.Timestamp = p, -1
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	ends := demo.Ends{}
	for _, rt := range resp.Topics {
		ends[rt.Topic] = map[int32]int64{}
		for _, rp := range rt.Partitions {
			ends[rt.Topic][rp.Partition] = rp.Offset
		}
	}
	return ends
}

// runPipeline consumes the topics to their current ends in group
// "relance" (resuming at its commit) and writes to the store.
func runPipeline(t *testing.T, st *demo.Stack, store sinks.Store) ingest.Stats {
	t.Helper()
	c, err := ingest.New(st.Serde, store, ingest.Brokers(st.Brokers()...), ingest.Group("relance"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.RunUntil(context.Background(), endOffsets(t, st)); err != nil {
		t.Fatal(err)
	}
	return c.Stats()
}

// kpiSnapshot is every count and KPI the store shows, as text.
func kpiSnapshot(t *testing.T, store sinks.Store) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	for _, q := range []string{
		"SELECT count() FROM reminders FINAL", "SELECT count() FROM payment_allocations FINAL",
		"SELECT count() FROM invoices FINAL", "SELECT count() FROM attribution_facts FINAL",
		"SELECT count() FROM reminder_outcomes FINAL",
		"SELECT sum(amount_due_minor) FROM reminders FINAL", "SELECT sum(amount_minor) FROM payment_allocations FINAL",
	} {
		rows, err := store.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(q + " = " + rows.Data[0][0] + "\n")
	}
	for _, h := range []string{"7d", "15d", "30d"} {
		for _, q := range []struct {
			name   string
			params map[string]string
		}{
			{"post_reminder_rate", map[string]string{"horizon": h, "dimension": "all"}},
			{"post_reminder_rate", map[string]string{"horizon": h, "dimension": "channel"}},
			{"reminder_dependency", map[string]string{"horizon": h}},
		} {
			rows, err := sinks.QueryNamed(ctx, store, q.name, q.params)
			if err != nil {
				t.Fatal(err)
			}
			b.WriteString(q.name + " " + h + " " + q.params["dimension"] + ":\n")
			for _, r := range rows.Data {
				b.WriteString("  " + strings.Join(r, " ") + "\n")
			}
		}
	}
	return b.String()
}

// Rule: `relance import` of the default layout produces one record per
// event to the topics, and the pipeline turns them into SPEC §4's October
// worked example: 80 000 EUR reminded, 50 000 EUR collected after a
// reminder (62.5 %), 120 000 EUR collected in total (41.67 %).
func TestImport_DefaultLayoutThroughThePipeline(t *testing.T) {
	st, store := importStack(t)
	rejects := filepath.Join(t.TempDir(), "rejects.csv")
	out := runImport(t, st, "--dir", octoberDir, "--rejects", rejects)
	for _, want := range []string{
		"reminders.csv: 2 rows read, 2 imported, 0 rejected",
		"payments.csv: 3 rows read, 3 imported as 2 payments, 0 rejected",
		"invoices.csv: 4 rows read, 4 imported, 0 rejected",
		"produced 8 records (2 reminders, 2 payments, 4 invoices)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if b, err := os.ReadFile(rejects); err != nil || string(b) != "file,line,reason,detail,row\n" {
		t.Errorf("rejects file %q, %v: want the header only", b, err)
	}
	stats := runPipeline(t, st, store)
	if stats.Records["reminders"] != 2 || stats.Records["payments"] != 2 || stats.Records["invoices"] != 4 {
		t.Fatalf("pipeline read %v", stats.Records)
	}
	rate, err := sinks.QueryNamed(context.Background(), store, "post_reminder_rate", map[string]string{"horizon": "7d", "dimension": "all"})
	if err != nil {
		t.Fatal(err)
	}
	if rate.Len() != 1 || rate.Data[0][rate.Col("reminded_minor")] != "8000000" || rate.Data[0][rate.Col("collected_minor")] != "5000000" ||
		rate.Data[0][rate.Col("rate")] != "0.625" {
		t.Fatalf("post_reminder_rate %v %v", rate.Columns, rate.Data)
	}
	dep, err := sinks.QueryNamed(context.Background(), store, "reminder_dependency", map[string]string{"horizon": "7d"})
	if err != nil {
		t.Fatal(err)
	}
	if dep.Len() != 1 || dep.Data[0][dep.Col("collected_total_minor")] != "12000000" || dep.Data[0][dep.Col("collected_after_reminder_minor")] != "5000000" ||
		dep.Data[0][dep.Col("share")] != "0.416667" {
		t.Fatalf("reminder_dependency %v %v", dep.Columns, dep.Data)
	}
}

// Rule: re-importing the same files adds nothing: the events carry the same
// ids and keys, so importing twice then running the pipeline gives the
// same raw rows, facts and KPIs as importing once; and importing a third
// time after the pipeline has run, then running it again, changes nothing
// either.
func TestImport_ReimportAddsNothing(t *testing.T) {
	once, onceStore := importStack(t)
	runImport(t, once, "--dir", octoberDir, "--rejects", filepath.Join(t.TempDir(), "r.csv"))
	runPipeline(t, once, onceStore)
	want := kpiSnapshot(t, onceStore)

	twice, twiceStore := importStack(t)
	for range 2 {
		runImport(t, twice, "--dir", octoberDir, "--rejects", filepath.Join(t.TempDir(), "r.csv"))
	}
	stats := runPipeline(t, twice, twiceStore)
	if stats.Records["reminders"] != 4 || stats.Joiner.Duplicates == 0 {
		t.Fatalf("the pipeline did not see the second copy: records %v, duplicates %d", stats.Records, stats.Joiner.Duplicates)
	}
	if got := kpiSnapshot(t, twiceStore); got != want {
		t.Fatalf("imported twice:\n%s\nimported once:\n%s", got, want)
	}
	if !strings.Contains(want, "reminder_dependency 7d :\n  2026-10-01 EUR 12000000 5000000 7000000") {
		t.Fatalf("unexpected KPIs:\n%s", want)
	}

	runImport(t, twice, "--dir", octoberDir, "--rejects", filepath.Join(t.TempDir(), "r.csv"))
	runPipeline(t, twice, twiceStore)
	if late, err := twiceStore.Query(context.Background(), "SELECT count() FROM late_events FINAL"); err == nil {
		t.Logf("late_events after the third import: %s", late.Data[0][0])
	}
	if got := kpiSnapshot(t, twiceStore); got != want {
		t.Fatalf("imported again after a run:\n%s\nimported once:\n%s", got, want)
	}
}

// Rule: `relance import` writes every bad row to the rejects file (line,
// reason, row), counts them by reason in the summary, produces only the
// good rows, and --dry-run produces nothing.
func TestImport_BadRowsGoToTheRejectsFile(t *testing.T) {
	st, _ := importStack(t)
	rejects := filepath.Join(t.TempDir(), "rejects.csv")
	out := runImport(t, st, "--dir", "../../csvimport/testdata/bad", "--rejects", rejects, "--dry-run")
	if !strings.Contains(out, "reminders.csv: 15 rows read, 2 imported, 13 rejected (bad_amount 2,") ||
		!strings.Contains(out, "payments.csv: 12 rows read, 3 imported as 2 payments, 9 rejected (") ||
		!strings.Contains(out, "22 rejected rows written to "+rejects) || !strings.Contains(out, "dry run: 4 events") {
		t.Fatalf("dry-run output:\n%s", out)
	}
	if n := endOffsets(t, st); total(n) != 0 {
		t.Fatalf("--dry-run produced: %v", n)
	}
	f, err := os.Open(rejects)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 23 || recs[4][0] != "reminders.csv" || recs[4][1] != "6" || recs[4][2] != "negative_amount" ||
		recs[4][4] != "R5,INV-2,C2,2026-10-05T09:00:00Z,email,1,-5.00,EUR,2026-09-30,false" {
		t.Fatalf("rejects file: %d records, 4th reject %q", len(recs), recs[min(4, len(recs)-1)])
	}

	runImport(t, st, "--reminders", "../../csvimport/testdata/bad/reminders.csv", "--payments", "../../csvimport/testdata/bad/payments.csv", "--rejects", rejects)
	ends := endOffsets(t, st)
	if got := map[string]int64{"reminders": total(ends["reminders"]), "payments": total(ends["payments"]), "invoices": total(ends["invoices"])}; got["reminders"] != 2 || got["payments"] != 2 || got["invoices"] != 0 {
		t.Fatalf("produced %v, want the 2 good reminders and 2 good payments", got)
	}
}

func total(m any) int64 {
	var n int64
	switch m := m.(type) {
	case demo.Ends:
		for _, ps := range m {
			n += total(ps)
		}
	case map[int32]int64:
		for _, v := range m {
			n += v
		}
	}
	return n
}

// Rule: `relance import --mapping` reads another layout (csvimport's
// testdata/mapped: the October example as a French accounting export, with
// semicolons, decimal commas, French dates and column names) and, through
// the pipeline, gives the same raw counts, sums, facts and KPIs as the
// default-layout import of the same data, itself checked against SPEC §4.
func TestImport_MappedLayoutThroughThePipelineEqualsTheDefault(t *testing.T) {
	def, defStore := importStack(t)
	runImport(t, def, "--dir", octoberDir, "--rejects", filepath.Join(t.TempDir(), "r.csv"))
	runPipeline(t, def, defStore)
	want := kpiSnapshot(t, defStore)
	if !strings.Contains(want, "reminder_dependency 7d :\n  2026-10-01 EUR 12000000 5000000 7000000") {
		t.Fatalf("the default layout does not give SPEC §4's figures:\n%s", want)
	}

	mapped, mappedStore := importStack(t)
	const dir = "../../csvimport/testdata/mapped"
	out := runImport(t, mapped, "--dir", dir, "--mapping", dir+"/mapping.yaml", "--rejects", filepath.Join(t.TempDir(), "r.csv"))
	for _, want := range []string{
		"relances.csv: 2 rows read, 2 imported, 0 rejected",
		"reglements.csv: 3 rows read, 3 imported as 2 payments, 0 rejected",
		"factures.csv: 4 rows read, 4 imported, 0 rejected",
		"produced 8 records (2 reminders, 2 payments, 4 invoices)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	runPipeline(t, mapped, mappedStore)
	if got := kpiSnapshot(t, mappedStore); got != want {
		t.Fatalf("mapped layout:\n%s\ndefault layout:\n%s", got, want)
	}
}
