package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout io.Writer) error
}

var commands = []command{
	{"demo", "generate a year of data and run the whole pipeline embedded (kfake, srfake, chDB)", cmdDemo},
	{"run", "consume reminders, payments and invoices from Kafka and write to ClickHouse", cmdRun},
	{"migrate", "apply the ClickHouse schema migrations (idempotent)", cmdMigrate},
	{"query", "run a named KPI query (sql/queries) or raw SQL against the store", cmdQuery},
	{"config", "check or print the configuration of `relance run` (secrets redacted)", cmdConfig},
	{"report", "write the offline HTML report of the KPIs (--lang fr|en)", cmdReport},
	{"produce", "generate a realistic book and produce it to a real Kafka and schema registry", cmdProduce},
	{"import", "import historical CSV exports (reminders, payments, invoices) into the Kafka topics", cmdImport},
	{"bench", "measure decode, join, end-to-end and ClickHouse ASOF JOIN throughput (--quick)", cmdBench},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := dispatch(ctx, os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return // -h: the usage was asked for
		}
		fmt.Fprintln(os.Stderr, "relance:", err)
		os.Exit(1)
	}
}

func dispatch(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		usage(os.Stderr)
		return errors.New("no command given")
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return nil
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout)
		}
	}
	usage(os.Stderr)
	return fmt.Errorf("unknown command %q", args[0])
}

// parseFlags parses args into fs and refuses words left over: the flag
// package stops at the first word that is not a flag, so every flag after
// it would be silently ignored.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q: this command takes flags only (a flag after it would be ignored; see relance %s -h)", fs.Name(), fs.Arg(0), fs.Name())
	}
	return nil
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: relance <command> [flags]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nrelance <command> -h shows the command's flags.")
}
