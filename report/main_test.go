package report_test

import (
	"testing"

	"github.com/relance-io/relance/sinks/chdb/chdbtest"
)

func TestMain(m *testing.M) { chdbtest.Main(m) }
