package sinks

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	relsql "github.com/relance-io/relance/sql"
)

// MigrateOpt configures Migrate and MigrationStatuses.
type MigrateOpt func(*migrateCfg)

type migrateCfg struct {
	cluster, database string
}

// OnCluster applies the migrations rewritten for the ClickHouse cluster
// named cluster (sql.ForCluster: ON CLUSTER DDL, Replicated*MergeTree
// tables T_local under Distributed tables T in database), overriding the
// default of plain single-node DDL. database must be the store's database.
func OnCluster(cluster, database string) MigrateOpt {
	return func(c *migrateCfg) { c.cluster, c.database = cluster, database }
}

// Migrations returns the migrations Migrate applies with opts: the embedded
// files of package sql, rewritten for a cluster with OnCluster.
func Migrations(opts ...MigrateOpt) ([]relsql.Migration, error) {
	var c migrateCfg
	for _, o := range opts {
		o(&c)
	}
	ms, err := relsql.Migrations()
	if err != nil {
		return nil, err
	}
	if len(ms) == 0 || ms[0].Version != 0 {
		return nil, errors.New("migrate: the bootstrap migration 0000_schema_migrations.sql is missing")
	}
	if c.cluster == "" {
		return ms, nil
	}
	return relsql.ForCluster(ms, c.cluster, c.database)
}

// Migrate applies the embedded migrations (package sql) not yet recorded in
// schema_migrations, in version order; re-running is a no-op. It returns the
// versions applied. The bootstrap migration (version 0, which creates
// schema_migrations) is run on every call, and recorded like the others.
//
// A migration is recorded only after all its statements succeeded; its
// statements are re-runnable, so a Migrate interrupted halfway is completed
// by the next one. An applied migration whose file changed since (checksum
// mismatch) is an error: add a new migration instead of editing a released
// one. Migrate is not safe to run concurrently against one database.
func Migrate(ctx context.Context, s Store, opts ...MigrateOpt) ([]int, error) {
	ms, err := Migrations(opts...)
	if err != nil {
		return nil, err
	}
	for _, stmt := range ms[0].Statements {
		if err := s.Exec(ctx, stmt); err != nil {
			return nil, fmt.Errorf("migrate %s: %w", ms[0].Name, err)
		}
	}
	ledger, err := readLedger(ctx, s)
	if err != nil {
		return nil, err
	}
	var done []int
	for _, m := range ms {
		if rec, ok := ledger[m.Version]; ok {
			if rec.checksum != m.Checksum {
				return done, fmt.Errorf("migrate: %s.sql changed after it was applied (recorded checksum %.12s…, file %.12s…): revert the edit and add a new migration", m.Name, rec.checksum, m.Checksum)
			}
			continue
		}
		for i, stmt := range m.Statements {
			if err := s.Exec(ctx, stmt); err != nil {
				return done, fmt.Errorf("migrate %s statement %d: %w", m.Name, i+1, err)
			}
		}
		rec := fmt.Sprintf("INSERT INTO schema_migrations (version, name, applied_at, checksum) VALUES (%d, %s, %s, %s)",
			m.Version, quote(m.Name), quote(time.Now().UTC().Format(DateTime64Layout)), quote(m.Checksum))
		if err := s.Exec(ctx, rec); err != nil {
			return done, fmt.Errorf("migrate %s: record: %w", m.Name, err)
		}
		done = append(done, m.Version)
	}
	return done, nil
}

// MigrationStatus is the state of one migration in a store.
type MigrationStatus struct {
	Version int
	// Name is the file name without ".sql", or the recorded name of a
	// version this binary does not know.
	Name string
	// Applied is set when schema_migrations records the version, at
	// AppliedAt (UTC, "2006-01-02 15:04:05.000").
	Applied   bool
	AppliedAt string
	// Changed is set when the recorded checksum differs from the file's:
	// the file was edited after it was applied (Migrate fails on it).
	Changed bool
	// Unknown is set for a recorded version with no file in this binary
	// (applied by a newer relance).
	Unknown bool
}

// unknownTable is ClickHouse's UNKNOWN_TABLE error code.
const unknownTable = 60

// MigrationStatuses reports, for every embedded migration and every
// recorded version, whether it is applied, pending, changed since applied
// or unknown to this binary, in version order. It only reads: on a store
// without schema_migrations every migration is pending.
func MigrationStatuses(ctx context.Context, s Store) ([]MigrationStatus, error) {
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	ledger, err := readLedger(ctx, s)
	var se *Error
	if errors.As(err, &se) && se.Code == unknownTable {
		ledger, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]MigrationStatus, 0, len(ms))
	known := make(map[int]bool, len(ms))
	for _, m := range ms {
		known[m.Version] = true
		st := MigrationStatus{Version: m.Version, Name: m.Name}
		if rec, ok := ledger[m.Version]; ok {
			st.Applied, st.AppliedAt, st.Changed = true, rec.appliedAt, rec.checksum != m.Checksum
		}
		out = append(out, st)
	}
	for v, rec := range ledger {
		if !known[v] {
			out = append(out, MigrationStatus{Version: v, Name: rec.name, Applied: true, AppliedAt: rec.appliedAt, Unknown: true})
		}
	}
	sortStatuses(out)
	return out, nil
}

func sortStatuses(st []MigrationStatus) {
	for i := 1; i < len(st); i++ {
		for j := i; j > 0 && st[j].Version < st[j-1].Version; j-- {
			st[j], st[j-1] = st[j-1], st[j]
		}
	}
}

type ledgerRow struct{ name, appliedAt, checksum string }

// readLedger reads schema_migrations (FINAL: one row per version).
func readLedger(ctx context.Context, s Store) (map[int]ledgerRow, error) {
	res, err := s.Query(ctx, "SELECT version, name, applied_at, checksum FROM schema_migrations FINAL ORDER BY version")
	if err != nil {
		return nil, fmt.Errorf("migrate: read schema_migrations: %w", err)
	}
	out := make(map[int]ledgerRow, len(res.Data))
	for _, row := range res.Data {
		v, err := strconv.Atoi(row[0])
		if err != nil {
			return nil, fmt.Errorf("migrate: schema_migrations holds version %q: %w", row[0], err)
		}
		out[v] = ledgerRow{name: row[1], appliedAt: row[2], checksum: row[3]}
	}
	return out, nil
}

// MigratedCluster returns the cluster a store's tables were migrated for
// (relance migrate --cluster), read from the Distributed engine of its
// reminders table, and the store's database; cluster is "" when the table
// is not Distributed or does not exist yet. A relance that migrates at start uses it, so that a new
// migration reaches every node as the first ones did instead of creating
// plain tables on the node it is connected to.
func MigratedCluster(ctx context.Context, s Store) (cluster, database string, err error) {
	rows, err := s.Query(ctx, "SELECT currentDatabase(), (SELECT any(engine_full) FROM system.tables WHERE database = currentDatabase() AND name = 'reminders')")
	if err != nil {
		return "", "", fmt.Errorf("migrate: reading the engine of reminders: %w", err)
	}
	if rows.Len() == 0 {
		return "", "", nil
	}
	return clusterOf(rows.Data[0][1]), rows.Data[0][0], nil
}

// clusterOf returns the cluster of a Distributed engine's text, e.g.
// "Distributed('relance_cluster', 'relance', 'reminders_local',
// cityHash64(invoice_id))", or "" for another engine.
func clusterOf(engine string) string {
	rest, ok := strings.CutPrefix(strings.TrimSpace(engine), "Distributed(")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, ",")
	return strings.Trim(strings.TrimSpace(name), "'`\"")
}
