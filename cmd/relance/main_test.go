package main

import (
	"testing"

	"github.com/relance-io/relance/sinks/chdb/chdbtest"
)

// chDB allows one session per process: the test binary opens it once, and
// each test works in a database of its own (chdbtest.NewStore). Tests must
// not call t.Parallel.
func TestMain(m *testing.M) { chdbtest.Main(m) }
