package chdb

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
)

// chDB allows one session per process: the test binary opens one Store in
// TestMain, and each test gets its own database in it (newStore). Tests must
// not call t.Parallel: the current database is process-wide.
var (
	shared *Store
	dbSeq  atomic.Int64
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "relance-chdb-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	shared, err = Open(dir, Database("relance_test"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "open chDB:", err)
		return 1
	}
	defer shared.Close()
	return m.Run()
}

// newStore returns the shared Store switched to a fresh, empty database for
// tb, dropped when tb ends.
func newStore(tb testing.TB) *Store {
	tb.Helper()
	name := fmt.Sprintf("t%d_%s", dbSeq.Add(1), sanitize(tb.Name()))
	ctx := context.Background()
	if err := shared.UseDatabase(ctx, name); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		// Leave the database before dropping it (dropping the current
		// database, or DROP … SYNC, can hang chDB).
		if err := shared.UseDatabase(ctx, "relance_test"); err != nil {
			tb.Errorf("back to relance_test: %v", err)
		}
		if err := shared.Exec(ctx, "DROP DATABASE IF EXISTS `"+name+"`"); err != nil {
			tb.Errorf("drop %s: %v", name, err)
		}
	})
	return shared
}

func sanitize(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	if b.Len() > 40 {
		return b.String()[:40]
	}
	return b.String()
}
