package clickhouse

import (
	"testing"

	"github.com/relance-io/relance/sinks/chdb/chdbtest"
)

// The HTTP tests run the production Store against chDB through a test-only
// HTTP front (package chfront); chDB allows one session per process, so the
// test binary opens it once. Tests must not call t.Parallel.
func TestMain(m *testing.M) { chdbtest.Main(m) }
