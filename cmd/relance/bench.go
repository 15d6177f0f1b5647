package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/relance-io/relance/bench"
	"github.com/relance-io/relance/sinks/chdb"
)

// cmdBench runs the benchmark suite in this process and prints a table of
// medians and ratios (see docs/BENCHMARKS.md).
func cmdBench(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	quick := fs.Bool("quick", false, "smaller inputs and 3 runs: a few seconds")
	events := fs.Int("events", 0, "reminders + payments in the generated data set (decode, end to end, ASOF JOIN); default 100000 (30000 with --quick)")
	joinEvents := fs.Int("join-events", 0, "events per measured joiner run; default 300000 (100000 with --quick)")
	runs := fs.Int("runs", 0, "runs per measurement, the median is reported; default 3")
	states := fs.String("states", "", "open-state sizes of the growth measurement, comma-separated; default 10000,100000 (1000000 adds about 40 s of warm-up; 10000000 needs about 10 GB and several minutes)")
	stateRem := fs.Int("state-reminders", 0, "open reminders held by the bytes-per-reminder measurement; default 300000 (100000 with --quick)")
	restoreRem := fs.Int("restore-reminders", 0, "open reminders snapshotted and restored by the recovery measurement; default 1000000 (100000 with --quick)")
	noStore := fs.Bool("no-chdb", false, "skip end to end and ASOF JOIN (no chDB session)")
	verbose := fs.Bool("v", false, "print progress to stderr")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	o := bench.Options{}
	if *quick {
		o = bench.Quick()
	}
	if *events > 0 {
		o.Events = *events
	}
	if *joinEvents > 0 {
		o.JoinEvents = *joinEvents
	}
	if *runs > 0 {
		o.Runs = *runs
	}
	if *stateRem > 0 {
		o.StateReminders = *stateRem
	}
	if *restoreRem > 0 {
		o.RestoreReminders = *restoreRem
	}
	if *states != "" {
		o.States = nil
		for _, s := range strings.Split(*states, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n <= 0 {
				return fmt.Errorf("--states %q: want positive counts, e.g. 10000,100000,1000000", *states)
			}
			o.States = append(o.States, n)
		}
	}
	if *verbose {
		o.Log = os.Stderr
	}
	if !*noStore {
		dir, err := os.MkdirTemp("", "relance-bench-chdb-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		store, err := chdb.Open(filepath.Join(dir, "chdb"), chdb.Database("relance_bench"))
		if err != nil {
			return err
		}
		defer store.Close()
		o.Store = store
	}
	rep, err := bench.Run(ctx, o)
	if err != nil {
		return err
	}
	rep.Print(stdout)
	return nil
}
