package sql

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

// Queries holds the queries/ folder: KPI and report queries, one per
// queries/<name>.sql file (see queries/README.md). Use Query to read one.
//
//go:embed queries
var Queries embed.FS

// Query returns the text of queries/<name>.sql, e.g. Query("collection_rate").
// An unknown name is an error listing the available ones.
func Query(name string) (string, error) {
	b, err := Queries.ReadFile("queries/" + name + ".sql")
	if err == nil {
		return string(b), nil
	}
	names, lerr := QueryNames()
	if lerr != nil {
		return "", lerr
	}
	return "", fmt.Errorf("sql: no query %q (queries/%s.sql): available: %s", name, name, strings.Join(names, ", "))
}

// QueryNames lists the embedded queries (file names without ".sql"), sorted.
func QueryNames() ([]string, error) {
	entries, err := fs.ReadDir(Queries, "queries")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".sql"); ok && !e.IsDir() {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names, nil
}
