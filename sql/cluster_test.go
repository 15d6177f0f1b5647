package sql

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/cluster.sql from the current migrations")

func clusterDDL(t *testing.T) []Migration {
	t.Helper()
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := ForCluster(ms, "relance_cluster", "relance")
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// The cluster DDL is the reviewed file testdata/cluster.sql: a change to a
// migration or to ForCluster shows up as a diff of that file. Regenerate it
// with `go test ./sql -run TestForCluster_Golden -update` and review it.
func TestForCluster_Golden(t *testing.T) {
	got := Format(clusterDDL(t))
	path := filepath.Join("testdata", "cluster.sql")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", path)
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (create it with -update)", err)
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) || i < len(wl); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s is stale (first difference at line %d):\n got %q\nwant %q\nrun `go test ./sql -run TestForCluster_Golden -update` and review the diff", path, i+1, g, w)
			}
		}
	}
	if back := SplitStatements(got); len(back) == 0 {
		t.Fatal("the formatted DDL splits into no statements")
	}
}

// Every statement runs ON CLUSTER; every sharded table T is a replicated
// T_local with the same engine variant and arguments, plus a Distributed T
// over it sharded by its key; schema_migrations is replicated unsharded;
// functions are created on the cluster.
func TestForCluster_Shape(t *testing.T) {
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	cl := clusterDDL(t)
	engine := regexp.MustCompile(`ENGINE = (\w*MergeTree)(\(([^()]*)\))?`)
	for i, m := range ms {
		c := cl[i]
		if c.Version != m.Version || c.Name != m.Name || c.Checksum != m.Checksum {
			t.Errorf("%s: version, name or checksum changed: %+v", m.Name, c)
		}
		var rewritten []string
		for _, s := range c.Statements {
			if !strings.Contains(s, " ON CLUSTER relance_cluster") {
				t.Errorf("%s: statement without ON CLUSTER: %.80q", m.Name, firstCode(s))
			}
			// The Distributed tables' own statements: their creation, and
			// the comments set on them as on their local tables.
			if strings.Contains(s, "ENGINE = Distributed(") || (strings.Contains(s, "COMMENT COLUMN") && !strings.Contains(s, "_local ON CLUSTER")) {
				continue
			}
			// The database on every node, before the bootstrap.
			if s == "CREATE DATABASE IF NOT EXISTS relance ON CLUSTER relance_cluster" {
				if m.Version != 0 || len(rewritten) > 0 {
					t.Errorf("%s: CREATE DATABASE not first in the bootstrap", m.Name)
				}
				continue
			}
			rewritten = append(rewritten, s)
		}
		if len(rewritten) != len(m.Statements) {
			t.Fatalf("%s: %d statements besides Distributed ones, want %d", m.Name, len(rewritten), len(m.Statements))
		}
		for j, orig := range m.Statements {
			om := engine.FindStringSubmatch(orig)
			if om == nil {
				continue
			}
			cm := engine.FindStringSubmatch(rewritten[j])
			if cm == nil || cm[1] != "Replicated"+om[1] || !strings.HasSuffix(cm[3], om[3]) {
				t.Errorf("%s: engine %q became %q, want Replicated%s with the same arguments", m.Name, om[0], cm, om[1])
			}
			table := createTableRe.FindStringSubmatch(orig)[1]
			if table == ledgerTable {
				if !strings.Contains(rewritten[j], "'/clickhouse/tables/all/{database}/schema_migrations', '{shard}-{replica}'") {
					t.Errorf("schema_migrations is not replicated on every node: %s", rewritten[j])
				}
				continue
			}
			if !strings.Contains(rewritten[j], "CREATE TABLE IF NOT EXISTS "+table+"_local ON CLUSTER") ||
				!strings.Contains(rewritten[j], "'/clickhouse/tables/{shard}/{database}/"+table+"', '{replica}'") {
				t.Errorf("%s: %s is not a replicated %s_local", m.Name, table, table)
			}
			dist := "ENGINE = Distributed(relance_cluster, relance, " + table + "_local, " + ShardingKeys[table] + ")"
			found := false
			for _, s := range c.Statements {
				found = found || strings.Contains(s, "CREATE TABLE IF NOT EXISTS "+table+" ON CLUSTER relance_cluster AS "+table+"_local\n"+dist)
			}
			if !found {
				t.Errorf("%s: no Distributed %s (%s)", m.Name, table, dist)
			}
		}
	}
}

// Statements that cannot be rewritten, and bad names, are errors naming
// the problem.
func TestForCluster_Rejects(t *testing.T) {
	f := func(want string, ms []Migration, cluster string) {
		t.Helper()
		_, err := ForCluster(ms, cluster, "relance")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ForCluster error = %v, want one mentioning %q", err, want)
		}
	}
	one := func(stmt string) []Migration {
		return []Migration{{Version: 7, Name: "0007_x", Statements: []string{stmt}}}
	}
	f("cluster", nil, "no-dash")
	f("0007_x statement 1: only CREATE TABLE", one("-- add a column\nALTER TABLE reminders ADD COLUMN x Int8"), "c")
	f("no sharding key", one("CREATE TABLE IF NOT EXISTS newt\n(\n    a Int8 COMMENT 'x (y)'\n)\nENGINE = MergeTree\nORDER BY a"), "c")
	f("not a sharded table", one("ALTER TABLE schema_migrations ADD INDEX IF NOT EXISTS i version TYPE minmax GRANULARITY 1"), "c")
	f("ENGINE", one("CREATE TABLE IF NOT EXISTS reminders\n(\n    a Int8\n)\nENGINE = Memory"), "c")
}

// A data-skipping index is added to, built in and dropped from the local
// tables that hold the data, on the whole cluster; the comments before the
// statement are kept.
func TestForCluster_IndexAltersGoToTheLocalTables(t *testing.T) {
	ms := []Migration{{Version: 12, Name: "0012_x", Statements: []string{
		"-- why\nALTER TABLE attribution_facts ADD INDEX IF NOT EXISTS i sent_at TYPE minmax GRANULARITY 1",
		"ALTER TABLE attribution_facts MATERIALIZE INDEX i",
		"ALTER TABLE reminders DROP INDEX IF EXISTS j",
	}}}
	cl, err := ForCluster(ms, "c1", "relance")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"-- why\nALTER TABLE attribution_facts_local ON CLUSTER c1 ADD INDEX IF NOT EXISTS i sent_at TYPE minmax GRANULARITY 1",
		"ALTER TABLE attribution_facts_local ON CLUSTER c1 MATERIALIZE INDEX i",
		"ALTER TABLE reminders_local ON CLUSTER c1 DROP INDEX IF EXISTS j",
	}
	if got := cl[0].Statements; !reflect.DeepEqual(got, want) {
		t.Errorf("statements\n got %q\nwant %q", got, want)
	}
}
