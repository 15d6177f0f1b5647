package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/relance-io/relance/sinks"
	relsql "github.com/relance-io/relance/sql"
)

func cmdQuery(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("query", flag.ContinueOnError)
	var sf storeFlags
	sf.register(fs)
	var params paramFlags
	fs.Var(&params, "p", "query parameter name=value (repeatable), e.g. -p horizon=15d -p dimension=plan")
	fs.Usage = func() {
		names, _ := relsql.QueryNames()
		fmt.Fprintf(fs.Output(), "usage: relance query [flags] NAME|SQL\n\nnamed queries: %s\n\nflags:\n", strings.Join(names, ", "))
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("query: want one named query or one SQL statement")
	}
	store, err := sf.open(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	var rows *sinks.Rows
	q := fs.Arg(0)
	if strings.ContainsAny(q, " \n") {
		rows, err = store.Query(ctx, q)
	} else {
		rows, err = sinks.QueryNamed(ctx, store, q, params)
	}
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(rows.Columns, "\t"))
	for _, r := range rows.Data {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

type paramFlags map[string]string

func (p *paramFlags) String() string { return fmt.Sprint(map[string]string(*p)) }
func (p *paramFlags) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return fmt.Errorf("want name=value, got %q", s)
	}
	if *p == nil {
		*p = paramFlags{}
	}
	(*p)[k] = v
	return nil
}
