package sql

import (
	"fmt"
	"regexp"
	"strings"
)

// ShardingKeys are the sharding keys of the Distributed tables that
// ForCluster creates, by table. Every table is sharded by a column of its
// ReplacingMergeTree key, or one fixed for every version of a row, so that
// all versions of a row land on one shard and FINAL (which collapses
// within a shard) stays right:
//   - payment_allocations by payment_id, its key: a payment re-sent with an
//     allocation moved to another invoice replaces the raw row on one
//     server, and must on a cluster too (by invoice_id the two versions
//     would sit on two shards, both counted);
//   - facts and outcomes by invoice_id, fixed for their rows (the joiner
//     keeps a payment's first version), as are reminders and invoices.
//
// The named queries that join raw tables (holdout_uplift joins reminders
// and payment_allocations by invoice_id) read both through the Distributed
// tables: the join runs on the node that received the query, with the
// rows of every shard.
var ShardingKeys = map[string]string{
	"reminders":           "cityHash64(invoice_id)",
	"payment_allocations": "cityHash64(payment_id)",
	"invoices":            "cityHash64(invoice_id)",
	"attribution_facts":   "cityHash64(invoice_id)",
	"reminder_outcomes":   "cityHash64(invoice_id)",
	"late_events":         "cityHash64(event_id)",
}

// ledgerTable is the migrations ledger: replicated on every node of the
// cluster (one ZooKeeper path for all shards) rather than sharded, so that
// Migrate, connected to any node, reads and writes the whole ledger.
const ledgerTable = "schema_migrations"

var (
	createTableRe = regexp.MustCompile(`(?m)^CREATE TABLE IF NOT EXISTS (\w+)\s*`)
	createFuncRe  = regexp.MustCompile(`(?m)^CREATE OR REPLACE FUNCTION (\w+) AS `)
	alterIndexRe  = regexp.MustCompile(`(?m)^ALTER TABLE (\w+) ((?:ADD|MATERIALIZE|CLEAR|DROP) INDEX )`)
	alterNoteRe   = regexp.MustCompile(`(?m)^ALTER TABLE (\w+) (COMMENT COLUMN )`)
	engineRe      = regexp.MustCompile(`(?m)^ENGINE = (\w*)MergeTree(?:\(([^()]*)\))?`)
	commentRe     = regexp.MustCompile(`(?s)\nCOMMENT ('(?:[^'\\]|\\.)*')\s*$`)
	identRe       = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// ForCluster rewrites migrations for a ClickHouse cluster of that name,
// in the database given (the Distributed tables name it):
//
//   - the first migration starts with CREATE DATABASE IF NOT EXISTS
//     database ON CLUSTER cluster;
//   - every CREATE runs ON CLUSTER cluster;
//   - a table T becomes T_local, its engine the Replicated variant of the
//     same MergeTree with the same arguments,
//     Replicated…MergeTree('/clickhouse/tables/{shard}/{database}/T',
//     '{replica}', args…), and T a Distributed(cluster, database, T_local,
//     ShardingKeys[T]) table with the same columns and comment: the sinks
//     and the named queries keep using T;
//   - schema_migrations stays one table, replicated on every node
//     ('/clickhouse/tables/all/{database}/schema_migrations', replica
//     '{shard}-{replica}'), not sharded;
//   - SQL functions are CREATE OR REPLACE FUNCTION … ON CLUSTER;
//   - ALTER TABLE T ADD|MATERIALIZE|CLEAR|DROP INDEX … (data-skipping
//     indexes) becomes ALTER TABLE T_local ON CLUSTER cluster …: the data,
//     hence the index, lives in the local tables, and a Distributed table
//     has none;
//   - ALTER TABLE T COMMENT COLUMN … runs ON CLUSTER on T_local and on T:
//     both carry the columns' comments.
//
// Versions, names and checksums are kept: the ledger records which file
// was applied, whatever its form. Any other statement (ALTER, DROP …) is an
// error naming the migration: write how it runs on a cluster first.
//
// Inserts into a Distributed table are forwarded to the shards; for the
// insert_deduplication_token of a retried batch to reach them, and for a
// batch to be on the shards when its offsets are committed, the sink's
// inserts are synchronous (insert_distributed_sync = 1, the clickhouse
// sink's every insert). The cluster's shards need internal_replication =
// true: the Replicated local tables replicate on their own.
func ForCluster(ms []Migration, cluster, database string) ([]Migration, error) {
	if !identRe.MatchString(cluster) {
		return nil, fmt.Errorf("sql: cluster %q: want letters, digits and '_' (e.g. \"relance_cluster\")", cluster)
	}
	if !identRe.MatchString(database) {
		return nil, fmt.Errorf("sql: database %q: want letters, digits and '_' (e.g. \"relance\")", database)
	}
	out := make([]Migration, len(ms))
	for i, m := range ms {
		out[i] = Migration{Version: m.Version, Name: m.Name, Checksum: m.Checksum}
		if m.Version == 0 {
			// The database on every node first: the store creates it on
			// the node it connects to only, and every CREATE … ON CLUSTER
			// fails on the nodes without it.
			out[i].Statements = append(out[i].Statements, "CREATE DATABASE IF NOT EXISTS "+database+" ON CLUSTER "+cluster)
		}
		for j, stmt := range m.Statements {
			rw, err := clusterStatement(stmt, cluster, database)
			if err != nil {
				return nil, fmt.Errorf("sql: migration %s statement %d: %w", m.Name, j+1, err)
			}
			out[i].Statements = append(out[i].Statements, rw...)
		}
	}
	return out, nil
}

func clusterStatement(stmt, cluster, database string) ([]string, error) {
	if loc := createFuncRe.FindStringSubmatchIndex(stmt); loc != nil {
		name := stmt[loc[2]:loc[3]]
		return []string{stmt[:loc[0]] + "CREATE OR REPLACE FUNCTION " + name + " ON CLUSTER " + cluster + " AS " + stmt[loc[1]:]}, nil
	}
	if loc := alterIndexRe.FindStringSubmatchIndex(stmt); loc != nil {
		table := stmt[loc[2]:loc[3]]
		if _, ok := ShardingKeys[table]; !ok {
			return nil, fmt.Errorf("ALTER TABLE %s: not a sharded table of sql.ShardingKeys, so it has no %s_local", table, table)
		}
		return []string{stmt[:loc[0]] + "ALTER TABLE " + table + "_local ON CLUSTER " + cluster + " " + stmt[loc[4]:]}, nil
	}
	if loc := alterNoteRe.FindStringSubmatchIndex(stmt); loc != nil {
		table := stmt[loc[2]:loc[3]]
		if _, ok := ShardingKeys[table]; !ok {
			return nil, fmt.Errorf("ALTER TABLE %s: not a sharded table of sql.ShardingKeys, so it has no %s_local", table, table)
		}
		head, tail := stmt[:loc[0]], stmt[loc[4]:]
		return []string{
			head + "ALTER TABLE " + table + "_local ON CLUSTER " + cluster + " " + tail,
			head + "ALTER TABLE " + table + " ON CLUSTER " + cluster + " " + tail,
		}, nil
	}
	loc := createTableRe.FindStringSubmatchIndex(stmt)
	if loc == nil {
		return nil, fmt.Errorf("only CREATE TABLE IF NOT EXISTS, CREATE OR REPLACE FUNCTION, ALTER TABLE … ADD|MATERIALIZE|CLEAR|DROP INDEX and ALTER TABLE … COMMENT COLUMN can be rewritten for a cluster, got %.60q", firstCode(stmt))
	}
	table := stmt[loc[2]:loc[3]]
	head, rest := stmt[:loc[0]], stmt[loc[1]:]
	if !strings.HasPrefix(rest, "(") {
		return nil, fmt.Errorf("table %s: want its column list after the name", table)
	}
	end, err := closingParen(rest)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", table, err)
	}
	columns, tail := rest[:end+1], rest[end+1:]
	em := engineRe.FindStringSubmatchIndex(tail)
	if em == nil {
		return nil, fmt.Errorf("table %s: want an ENGINE = …MergeTree line", table)
	}
	variant := tail[em[2]:em[3]]
	var args string
	if em[4] >= 0 {
		args = strings.TrimSpace(tail[em[4]:em[5]])
	}
	if args != "" {
		args = ", " + args
	}
	path, replica, local := "'/clickhouse/tables/{shard}/{database}/"+table+"'", "'{replica}'", table+"_local"
	if table == ledgerTable {
		path, replica, local = "'/clickhouse/tables/all/{database}/"+table+"'", "'{shard}-{replica}'", table
	}
	engine := "ENGINE = Replicated" + variant + "MergeTree(" + path + ", " + replica + args + ")"
	localStmt := head + "CREATE TABLE IF NOT EXISTS " + local + " ON CLUSTER " + cluster + "\n" +
		columns + tail[:em[0]] + engine + tail[em[1]:]
	if table == ledgerTable {
		return []string{localStmt}, nil
	}
	key, ok := ShardingKeys[table]
	if !ok {
		return nil, fmt.Errorf("table %s has no sharding key: add it to sql.ShardingKeys", table)
	}
	comment := "''"
	if c := commentRe.FindStringSubmatch(tail); c != nil {
		comment = c[1]
	}
	dist := "CREATE TABLE IF NOT EXISTS " + table + " ON CLUSTER " + cluster + " AS " + local + "\n" +
		"ENGINE = Distributed(" + cluster + ", " + database + ", " + local + ", " + key + ")\n" +
		"COMMENT " + comment
	return []string{localStmt, dist}, nil
}

// closingParen returns the index of the ')' closing the '(' at s[0],
// skipping string literals and -- comments.
func closingParen(s string) (int, error) {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\'':
			for i++; i < len(s) && s[i] != '\''; i++ {
				if s[i] == '\\' {
					i++
				}
			}
		case '-':
			if i+1 < len(s) && s[i+1] == '-' {
				for i < len(s) && s[i] != '\n' {
					i++
				}
			}
		case '(':
			depth++
		case ')':
			if depth--; depth == 0 {
				return i, nil
			}
		}
	}
	return 0, fmt.Errorf("unbalanced parentheses in the column list")
}

// firstCode returns the first line of stmt that is not a comment.
func firstCode(stmt string) string {
	for _, line := range strings.Split(stmt, "\n") {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "--") {
			return l
		}
	}
	return ""
}

// Format renders migrations as one SQL script, each statement ending with
// ";" at a line end (so SplitStatements reads it back), each migration
// headed by a "-- migration NNNN_name (sha256 …)" comment: what `relance
// migrate --cluster NAME --print` prints.
func Format(ms []Migration) string {
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "-- migration %s (sha256 %.12s)\n\n", m.Name, m.Checksum)
		for _, s := range m.Statements {
			b.WriteString(s)
			b.WriteString(";\n\n")
		}
	}
	return b.String()
}
