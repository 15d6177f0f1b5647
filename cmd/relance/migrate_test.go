package main

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/relance-io/relance/sinks"
	"github.com/relance-io/relance/sinks/chdb"
	"github.com/relance-io/relance/sinks/chdb/chdbtest"
	relsql "github.com/relance-io/relance/sql"
)

// noClose keeps `relance migrate` from closing the test binary's one chDB
// session.
type noClose struct{ sinks.Store }

func (noClose) Close() error { return nil }

// freshStore returns the shared chDB store switched to an empty database
// (chdbtest.NewStore's is migrated already), and makes `relance migrate`
// use it whatever its flags say.
func freshStore(t *testing.T) *chdb.Store {
	t.Helper()
	ctx := context.Background()
	s := chdbtest.NewStore(t)
	home, fresh := s.Database(), "fresh_"+s.Database()
	if err := s.UseDatabase(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.UseDatabase(ctx, home); err != nil {
			t.Error(err)
		}
		if err := s.Exec(ctx, "DROP DATABASE IF EXISTS `"+fresh+"`"); err != nil {
			t.Error(err)
		}
	})
	prev := openMigrateStore
	openMigrateStore = func(context.Context, *storeFlags) (sinks.Store, error) { return noClose{s}, nil }
	t.Cleanup(func() { openMigrateStore = prev })
	return s
}

func relance(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := dispatch(context.Background(), args, &out)
	return out.String(), err
}

// `relance migrate` on a fresh database applies every migration, a second
// `relance migrate up` is a no-op, and `relance migrate status` lists each
// migration as pending before and applied after.
func TestMigrate_UpTwiceThenStatus(t *testing.T) {
	freshStore(t)
	ms, err := relsql.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	out, err := relance(t, "migrate", "status", "--chdb-dir", "unused")
	if err != nil {
		t.Fatalf("status on a fresh database: %v\n%s", err, out)
	}
	for _, m := range ms {
		if !regexp.MustCompile(`(?m)^` + fmt.Sprintf("%04d", m.Version) + `\s+` + m.Name + `\s+pending$`).MatchString(out) {
			t.Errorf("status before up does not show %s pending:\n%s", m.Name, out)
		}
	}
	var versions []string
	for _, m := range ms {
		versions = append(versions, fmt.Sprint(m.Version))
	}
	out, err = relance(t, "migrate", "--chdb-dir", "unused")
	if want := "applied migrations [" + strings.Join(versions, " ") + "]\n"; err != nil || out != want {
		t.Fatalf("first migrate: %q, %v; want %q", out, err, want)
	}
	out, err = relance(t, "migrate", "up", "--chdb-dir", "unused")
	if want := "schema is up to date; nothing applied\n"; err != nil || out != want {
		t.Fatalf("second migrate up: %q, %v; want %q", out, err, want)
	}
	out, err = relance(t, "migrate", "status", "--chdb-dir", "unused")
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	for _, m := range ms {
		if !regexp.MustCompile(`(?m)^` + fmt.Sprintf("%04d", m.Version) + `\s+` + m.Name + `\s+applied at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC$`).MatchString(out) {
			t.Errorf("status after up does not show %s applied:\n%s", m.Name, out)
		}
	}
	if !strings.HasSuffix(out, "schema is up to date\n") {
		t.Errorf("status after up does not end with \"schema is up to date\":\n%s", out)
	}
	t.Logf("relance migrate status:\n%s", out)
}

// A migration file edited after it was applied (its recorded checksum
// differs) is flagged by status, which fails, and refused by up.
func TestMigrate_StatusFlagsChecksumMismatch(t *testing.T) {
	s := freshStore(t)
	if _, err := relance(t, "migrate", "--chdb-dir", "unused"); err != nil {
		t.Fatal(err)
	}
	// A later applied_at wins under FINAL: the ledger now says 0001 was
	// applied with another file.
	if err := s.Exec(context.Background(), "INSERT INTO schema_migrations (version, name, applied_at, checksum) VALUES (1, '0001_raw_events', now64(3) + 1, 'feedface')"); err != nil {
		t.Fatal(err)
	}
	out, err := relance(t, "migrate", "status", "--chdb-dir", "unused")
	if err == nil || !strings.Contains(err.Error(), "0001_raw_events changed") {
		t.Errorf("status error = %v, want one naming 0001_raw_events", err)
	}
	if !regexp.MustCompile(`(?m)^0001\s+0001_raw_events\s+applied at .* CHANGED since: checksum mismatch$`).MatchString(out) {
		t.Errorf("status does not flag 0001_raw_events:\n%s", out)
	}
	if _, err := relance(t, "migrate", "up", "--chdb-dir", "unused"); err == nil || !strings.Contains(err.Error(), "0001_raw_events.sql changed after it was applied") {
		t.Errorf("up error = %v, want the checksum mismatch", err)
	}
}

// `relance migrate --cluster NAME --print` prints the cluster DDL without
// opening a store, and every statement of it parses in ClickHouse (chDB's
// formatQuery: chDB has no ZooKeeper to create Replicated tables) and
// keeps its ON CLUSTER clause.
func TestMigrate_ClusterPrint(t *testing.T) {
	s := chdbtest.NewStore(t)
	prev := openMigrateStore
	openMigrateStore = func(context.Context, *storeFlags) (sinks.Store, error) {
		t.Fatal("--print opened a store")
		return nil, nil
	}
	t.Cleanup(func() { openMigrateStore = prev })

	out, err := relance(t, "migrate", "--cluster", "relance_cluster", "--database", "relance", "--print")
	if err != nil {
		t.Fatal(err)
	}
	ms, err := sinks.Migrations(sinks.OnCluster("relance_cluster", "relance"))
	if err != nil {
		t.Fatal(err)
	}
	if out != relsql.Format(ms) {
		t.Fatal("--print output is not sql.Format(sql.ForCluster(…))")
	}
	stmts := relsql.SplitStatements(out)
	if len(stmts) < 10 {
		t.Fatalf("%d statements printed", len(stmts))
	}
	ctx := context.Background()
	for _, stmt := range stmts {
		rows, err := s.Query(ctx, "SELECT formatQuery("+sqlString(stmt)+")")
		if err != nil {
			t.Errorf("does not parse: %v\n%s", err, stmt)
			continue
		}
		if f := rows.Data[0][0]; !strings.Contains(f, "ON CLUSTER relance_cluster") {
			t.Errorf("parsed without ON CLUSTER: %s", f)
		}
	}
	distributed := strings.Count(out, "ENGINE = Distributed(relance_cluster, relance, ")
	if distributed != len(relsql.ShardingKeys) {
		t.Errorf("%d Distributed tables, want %d", distributed, len(relsql.ShardingKeys))
	}
}

// Unknown subcommands and misplaced arguments are errors saying what is
// expected.
func TestMigrate_BadArguments(t *testing.T) {
	f := func(want string, args ...string) {
		t.Helper()
		_, err := relance(t, append([]string{"migrate"}, args...)...)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("relance migrate %q: error %v, want one mentioning %q", args, err, want)
		}
	}
	f("unknown subcommand \"down\"", "down")
	f("subcommand, up or status, comes first", "--print", "status")
	f("--print goes with up", "status", "--print")
}

func sqlString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
