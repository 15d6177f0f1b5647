package sql

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migration is one versioned file of migrations/, split into statements.
type Migration struct {
	// Version is the NNNN prefix of the file name. Version 0 is the bootstrap
	// that creates schema_migrations: it is re-run on every Migrate.
	Version int
	// Name is the file name without ".sql", e.g. "0001_raw_events".
	Name string
	// Statements are the file's statements in order, without their
	// terminating semicolon (see SplitStatements).
	Statements []string
	// Checksum is the hex SHA-256 of the file, recorded in schema_migrations
	// so that an edit to an applied migration is detected.
	Checksum string
}

// Migrations returns the embedded migrations sorted by version. It fails
// when a file name does not start with a number followed by '_', when two
// files share a version, or when a file holds no statement.
func Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		name := strings.TrimSuffix(e.Name(), ".sql")
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.ParseUint(num, 10, 31)
		if !ok || err != nil {
			return nil, fmt.Errorf("sql: migration %s: the name must be NNNN_what.sql (e.g. 0004_outcomes.sql)", e.Name())
		}
		text, err := migrationFiles.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		stmts := SplitStatements(string(text))
		if len(stmts) == 0 {
			return nil, fmt.Errorf("sql: migration %s has no statement", e.Name())
		}
		sum := sha256.Sum256(text)
		out = append(out, Migration{Version: int(v), Name: name, Statements: stmts, Checksum: hex.EncodeToString(sum[:])})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("sql: migrations %s and %s share version %d: renumber the newer one", out[i-1].Name, out[i].Name, out[i].Version)
		}
	}
	return out, nil
}

// SplitStatements splits SQL text into statements. The rule is deliberately
// simple, and the files are written to fit it: a statement ends at a line
// whose last non-blank character is ';'. There must be no other semicolon
// at a line end (not in a comment, not in a string). The terminating ';' is
// removed; a trailing statement without one is kept. Pieces made only of
// blank lines and "--" comment lines are dropped. Comments inside a
// statement are kept (ClickHouse accepts them).
func SplitStatements(text string) []string {
	var (
		out []string
		cur []string
	)
	flush := func() {
		stmt := strings.TrimSpace(strings.Join(cur, "\n"))
		cur = cur[:0]
		if !onlyComments(stmt) {
			out = append(out, stmt)
		}
	}
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimRight(line, " \t\r")
		if body, ok := strings.CutSuffix(trimmed, ";"); ok {
			cur = append(cur, body)
			flush()
			continue
		}
		cur = append(cur, trimmed)
	}
	flush()
	return out
}

func onlyComments(stmt string) bool {
	for _, line := range strings.Split(stmt, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "--") {
			return false
		}
	}
	return true
}
