package demo

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

// chDB allows one session per process: TestMain opens it once and each test
// works in a fresh database of its own (newStore). Tests do not run in
// parallel: the current database is process-wide.
var (
	shared *chdb.Store
	dbSeq  atomic.Int64
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "relance-demo-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	shared, err = chdb.Open(dir, chdb.Database("relance_test"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "open chDB:", err)
		os.Exit(1)
	}
	code := m.Run()
	shared.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}

// newStore gives tb a fresh, migrated database in the shared chDB session.
func newStore(tb testing.TB) sinks.Store {
	tb.Helper()
	ctx := context.Background()
	name := fmt.Sprintf("t%d_%s", dbSeq.Add(1), strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, tb.Name()))
	if err := shared.UseDatabase(ctx, name); err != nil {
		tb.Fatal(err)
	}
	if _, err := sinks.Migrate(ctx, shared); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = shared.Exec(ctx, "DROP DATABASE IF EXISTS `"+name+"`")
		_ = shared.UseDatabase(ctx, "relance_test")
	})
	return shared
}
