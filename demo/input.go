package demo

import (
	"context"

	"github.com/relance-io/relance/generate"
	"github.com/relance-io/relance/ingest"
	"github.com/relance-io/relance/progress"
)

// phase starts a progress bar on o.Progress (nil, and silent, when unset).
func phase(o Options, label string, total int64, unit string) *progress.Bar {
	if o.Progress == nil {
		return nil
	}
	return progress.New(o.Progress, label, total, progress.Unit(unit))
}

// produce is Stack.Produce with a progress bar counting acknowledged
// records.
func (s *Stack) produce(ctx context.Context, ds *generate.Dataset, o Options) (Ends, error) {
	bar := phase(o, "produce", int64(len(ds.Invoices)+len(ds.Reminders)+len(ds.Payments)), "records")
	defer bar.Done()
	return s.ProduceWith(ctx, ds, bar)
}

// catchUp follows the consumer's records read against the end offsets.
func catchUp(o Options, c *ingest.Consumer, ends Ends) *progress.Bar {
	if o.Progress == nil {
		return nil
	}
	var want int64
	for _, ps := range ends {
		for _, end := range ps {
			want += end
		}
	}
	return progress.New(o.Progress, "pipeline", want, progress.Unit("records"), progress.Poll(func() int64 {
		var n uint64
		for _, v := range c.Stats().Records {
			n += v
		}
		return int64(n)
	}))
}
