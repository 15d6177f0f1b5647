package demo

import (
	"context"

	"github.com/relance-io/relance/ingest"
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
