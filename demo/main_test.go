package demo

import (
	"testing"

	"github.com/relance-io/relance/sinks"
	"github.com/relance-io/relance/sinks/chdb/chdbtest"
)

func TestMain(m *testing.M) { chdbtest.Main(m) }

// newStore gives tb a fresh, migrated database in the shared chDB session.
func newStore(tb testing.TB) sinks.Store { return chdbtest.NewStore(tb) }
