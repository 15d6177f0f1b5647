package demo

import (
	"context"
	"testing"

	"github.com/relance-io/relance/generate"
	"github.com/relance-io/relance/ingest"
	"github.com/relance-io/relance/sinks"
)

func consume(ctx context.Context, st *Stack, ends Ends) error {
	return consumeGroup(ctx, st, ends, "relance")
}

func consumeGroup(ctx context.Context, st *Stack, ends Ends, group string) error {
	c, err := ingest.New(st.Serde, st.Store, ingest.Brokers(st.Brokers()...), ingest.Group(group))
	if err != nil {
		return err
	}
	defer c.Close()
	return c.RunUntil(ctx, ends)
}

// pipeline starts a stack (kfake with 2 partitions per topic, srfake) over
// store, produces ds and consumes it to the end; the stack stops at the end
// of the test. It returns the stack and the ends it consumed up to.
func pipeline(t *testing.T, ctx context.Context, store sinks.Store, ds *generate.Dataset) (*Stack, Ends) {
	t.Helper()
	st, err := StartStack(ctx, t.TempDir(), 2, store)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	ends, err := st.Produce(ctx, ds)
	if err != nil {
		t.Fatal(err)
	}
	if err := consume(ctx, st, ends); err != nil {
		t.Fatal(err)
	}
	return st, ends
}
