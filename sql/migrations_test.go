package sql

import (
	"reflect"
	"strings"
	"testing"
)

// Statements end at a line ending in ';'; comment-only pieces are dropped,
// and a last statement without ';' is kept.
func TestSplitStatements(t *testing.T) {
	f := func(in string, want ...string) {
		t.Helper()
		if got := SplitStatements(in); !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Errorf("SplitStatements(%q)\n got %q\nwant %q", in, got, want)
		}
	}
	f("")
	f("-- only a comment\n\n")
	f("SELECT 1;", "SELECT 1")
	f("SELECT 1;  \nSELECT 2;\r\n", "SELECT 1", "SELECT 2")
	f("-- head\nCREATE TABLE t\n(\n  a Int8 -- x\n);\n-- tail\n", "-- head\nCREATE TABLE t\n(\n  a Int8 -- x\n)")
	f("SELECT 'a;b' AS x;\nSELECT 3", "SELECT 'a;b' AS x", "SELECT 3")
}

// The embedded migrations are numbered from 0 (the bootstrap) without
// duplicates, each holds statements, and every statement is re-runnable.
func TestMigrations(t *testing.T) {
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) < 3 || ms[0].Version != 0 || ms[0].Name != "0000_schema_migrations" {
		t.Fatalf("migrations = %v, want the bootstrap 0000_schema_migrations first", ms)
	}
	for i, m := range ms {
		if i > 0 && m.Version <= ms[i-1].Version {
			t.Errorf("%s: version %d not after %d", m.Name, m.Version, ms[i-1].Version)
		}
		if len(m.Checksum) != 64 {
			t.Errorf("%s: checksum %q", m.Name, m.Checksum)
		}
		for _, s := range m.Statements {
			if strings.Contains(s, ";") {
				t.Errorf("%s: statement holds a ';' (the splitter cannot handle it): %.80q", m.Name, s)
			}
			// Comments may quote the clauses: look at the code only.
			var code []string
			for _, l := range strings.Split(s, "\n") {
				if !strings.HasPrefix(strings.TrimSpace(l), "--") {
					code = append(code, l)
				}
			}
			c := strings.Join(code, "\n")
			if strings.Contains(c, "CREATE TABLE") && !strings.Contains(c, "CREATE TABLE IF NOT EXISTS") {
				t.Errorf("%s: CREATE TABLE without IF NOT EXISTS: %.80q", m.Name, firstCode(s))
			}
			if strings.Contains(c, "ADD INDEX") && !strings.Contains(c, "ADD INDEX IF NOT EXISTS") {
				t.Errorf("%s: ADD INDEX without IF NOT EXISTS: %.80q", m.Name, firstCode(s))
			}
		}
	}
}

// An unknown query name is an error that lists the available queries.
func TestQuery_Unknown(t *testing.T) {
	_, err := Query("no_such_query")
	if err == nil || !strings.Contains(err.Error(), "available:") {
		t.Fatalf("Query(no_such_query) error = %v, want one listing the available queries", err)
	}
	names, err := QueryNames()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if _, err := Query(n); err != nil {
			t.Errorf("Query(%q): %v", n, err)
		}
	}
}
