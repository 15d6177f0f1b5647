package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/relance-io/relance/report"
	"github.com/relance-io/relance/sinks"
	"github.com/relance-io/relance/stream"
)

// cmdReport writes the offline HTML report (package report) built from the
// named KPI queries of the store.
func cmdReport(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	var sf storeFlags
	sf.register(fs)
	out := fs.String("out", "report.html", "the HTML file to write (self-contained: open it offline in any browser)")
	lang := fs.String("lang", "fr", "language of the labels, months and amounts: fr or en")
	horizons := fs.String("horizon", "7d,15d,30d", "observation windows to show, as written by relance run (comma-separated, e.g. 7d,30d)")
	tz := fs.String("tz", "Europe/Paris", "time zone of the report months (IANA name)")
	edges := fs.String("dpd-edges", "0,30,60,90", "days-past-due bucket edges, ascending: below the first is \"preventive\", then one bucket per interval, the last open-ended")
	title := fs.String("title", "", "page title (default: \"Impact des relances sur les encaissements\" or its English version)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: relance report [flags]\n\nWrites a self-contained HTML report (no network needed) from the named KPI queries.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return fmt.Errorf("report: unexpected argument %q", fs.Arg(0))
	}
	hs, err := stream.ParseHorizons(*horizons)
	if err != nil {
		return fmt.Errorf("--horizon: %w", err)
	}
	dpd, err := parseDPDEdges(*edges)
	if err != nil {
		return err
	}
	store, err := openReportStore(ctx, &sf)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := requireSchema(ctx, store); err != nil {
		return err
	}
	if pq, ok := store.(sinks.ParamQuerier); ok {
		for _, h := range hs {
			held, err := sinks.StoredHorizons(ctx, pq, h)
			if err != nil {
				return err
			}
			if held != nil {
				return fmt.Errorf("--horizon %s: the store holds no outcome for %s; it holds %s (e.g. --horizon %s)", *horizons, h, strings.Join(held, ", "), strings.Join(held, ","))
			}
		}
	}
	html, err := report.Build(ctx, store, report.Options{Lang: *lang, Horizons: hs, TimeZone: *tz, DPDEdges: dpd, Title: *title})
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, html, 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %s (%d KB)\n", *out, (len(html)+1023)/1024)
	return nil
}

// openReportStore opens the store of `relance report` (a variable so that
// tests use the test binary's one chDB session).
var openReportStore = func(ctx context.Context, sf *storeFlags) (sinks.Store, error) { return sf.openExisting(ctx) }

// parseDPDEdges reads --dpd-edges ("0,30,60,90"): whole days, strictly
// ascending, as the named queries' dpd_edges parameter wants them.
func parseDPDEdges(s string) ([]int, error) {
	var edges []int
	for _, f := range strings.Split(s, ",") {
		d, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("--dpd-edges %q: %q is not a whole number of days (e.g. 0,30,60,90)", s, f)
		}
		if len(edges) > 0 && d <= edges[len(edges)-1] {
			return nil, fmt.Errorf("--dpd-edges %q: edges must be strictly ascending (e.g. 0,30,60,90)", s)
		}
		edges = append(edges, d)
	}
	return edges, nil
}
