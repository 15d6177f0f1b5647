// Package chdbtest gives tests a real chDB store. chDB allows one session
// per process, so a test binary opens it once (Main, from TestMain) and each
// test works in a fresh, migrated database of its own (NewStore). Tests that
// use it must not call t.Parallel: the current database is process-wide.
package chdbtest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/relance-io/relance/sinks"
	"github.com/relance-io/relance/sinks/chdb"
)

var (
	shared *chdb.Store
	seq    atomic.Int64
)

const home = "relance_test"

// Main opens the shared chDB session in a temporary directory, runs the
// tests and exits with their status. Call it from TestMain.
func Main(m *testing.M) {
	dir, err := os.MkdirTemp("", "relance-chdb-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	shared, err = chdb.Open(dir, chdb.Database(home))
	if err != nil {
		fmt.Fprintln(os.Stderr, "open chDB:", err)
		os.Exit(1)
	}
	code := m.Run()
	shared.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}

// NewStore switches the shared session to a fresh database named after tb,
// applies the migrations, and drops the database when tb ends.
func NewStore(tb testing.TB) *chdb.Store {
	tb.Helper()
	if shared == nil {
		tb.Fatal("chdbtest: call chdbtest.Main from TestMain first")
	}
	ctx := context.Background()
	name := fmt.Sprintf("t%d_%s", seq.Add(1), strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, tb.Name()))
	if len(name) > 60 {
		name = name[:60]
	}
	if err := shared.UseDatabase(ctx, name); err != nil {
		tb.Fatal(err)
	}
	if _, err := sinks.Migrate(ctx, shared); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		// Not DROP … SYNC: it hangs chDB.
		if err := shared.UseDatabase(ctx, home); err != nil {
			tb.Errorf("back to %s: %v", home, err)
		}
		if err := shared.Exec(ctx, "DROP DATABASE IF EXISTS `"+name+"`"); err != nil {
			tb.Errorf("drop %s: %v", name, err)
		}
	})
	return shared
}
