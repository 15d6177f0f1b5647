package clickhouse

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/relance-io/relance/sinks"
	"github.com/relance-io/relance/stream"
)

// benchBatchSizes are the batch sizes the write benchmarks report, in rows
// (attribution facts, the widest table: 30 columns).
var benchBatchSizes = []int{1_000, 10_000, 50_000}

// factsBatch returns n distinct facts of three horizons.
func factsBatch(n int) *sinks.Batch {
	base := edgeBatch().Facts[0]
	day := stream.Horizon(24 * time.Hour)
	facts := make([]stream.Fact, n)
	for i := range facts {
		f := base
		f.PaymentID = fmt.Sprintf("p%07d", i/3)
		f.InvoiceID = fmt.Sprintf("inv-%06d", i/6)
		f.Horizon = []stream.Horizon{7 * day, 15 * day, 30 * day}[i%3]
		facts[i] = f
	}
	return &sinks.Batch{Facts: facts}
}

// benchWrite writes b.N batches of n facts (each a new token and version,
// so nothing is deduplicated) and reports rows/s and the batch size.
func benchWrite(b *testing.B, s sinks.Sink, n int) {
	batch := factsBatch(n)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range batch.Facts {
			batch.Facts[j].Version = uint64(i + 1)
		}
		batch.Token = "bench-" + strconv.Itoa(i)
		if err := s.Write(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(n), "rows/batch")
}

// BenchmarkSinkWrite measures sink throughput into chDB for several batch
// sizes: the chDB sink (one INSERT … SELECT FROM file(RowBinary) per table), and the
// production clickhouse-go sink over HTTP with lz4 through chfront (Native
// blocks, which the front loads with INSERT … SELECT FROM file(): an extra
// file write and read per batch that a server does not have, so its figure
// is a floor for the driver side, not a server's throughput).
//
//	go test ./sinks/clickhouse -run '^$' -bench SinkWrite -benchtime 5x
func BenchmarkSinkWrite(b *testing.B) {
	for _, n := range benchBatchSizes {
		b.Run("chdb/rows="+strconv.Itoa(n), func(b *testing.B) {
			p := newPair(b)
			benchWrite(b, p.emb, n)
		})
	}
	for _, n := range benchBatchSizes {
		b.Run("clickhouse-go-http/rows="+strconv.Itoa(n), func(b *testing.B) {
			p := newPair(b)
			benchWrite(b, p.http, n)
		})
	}
}
