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

// openMigrateStore opens the store of `relance migrate` (a variable so that
// tests hand it the test binary's one chDB session).
var openMigrateStore = func(ctx context.Context, sf *storeFlags) (sinks.Store, error) { return sf.open(ctx) }

const migrateUsage = `usage: relance migrate [up|status] [flags]

  up      apply the migrations not yet applied (the default); a no-op on an
          up-to-date schema
  status  list every migration: applied at …, pending, or changed since it
          was applied (checksum mismatch: an error)

--cluster NAME rewrites the DDL for a ClickHouse cluster (ON CLUSTER,
Replicated*MergeTree tables T_local under Distributed tables T, see
sql.ForCluster); --print prints the DDL instead of applying it, without a
store:

  relance migrate --cluster relance_cluster --database relance --print

flags:
`

func cmdMigrate(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	var sf storeFlags
	sf.register(fs)
	cluster := fs.String("cluster", "", "ClickHouse cluster name: apply (or --print) the ON CLUSTER DDL with Replicated and Distributed tables (e.g. relance_cluster)")
	rawTTL := fs.String("raw-ttl", "", "optional: drop raw events (reminders, payment allocations, invoices) older than this, from their event time (e.g. 730d); 0 removes the TTL; unset leaves it as it is")
	printDDL := fs.Bool("print", false, "print the DDL that up would run (with --cluster: the cluster DDL) and exit, without a store")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), migrateUsage)
		fs.PrintDefaults()
	}
	sub := "up"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("migrate: unexpected argument %q (the subcommand, up or status, comes first)", fs.Arg(0))
	}
	if sub != "up" && sub != "status" {
		fs.Usage()
		return fmt.Errorf("migrate: unknown subcommand %q: want up or status", sub)
	}
	var opts []sinks.MigrateOpt
	if *cluster != "" {
		opts = append(opts, sinks.OnCluster(*cluster, sf.database))
	}
	// --raw-ttl is checked before anything is applied.
	var ttl []string
	if *rawTTL != "" {
		if *cluster != "" {
			return fmt.Errorf("migrate: --raw-ttl with --cluster is not supported yet: run ALTER TABLE <table>_local ON CLUSTER … MODIFY TTL by hand")
		}
		if sub != "up" {
			return fmt.Errorf("migrate: --raw-ttl goes with up, not %s", sub)
		}
		d, err := parseDuration(*rawTTL)
		if err == nil {
			ttl, err = sinks.RawTTLStatements(d)
		}
		if err != nil {
			return fmt.Errorf("--raw-ttl: %w", err)
		}
	}
	if *printDDL {
		if sub != "up" {
			return fmt.Errorf("migrate: --print goes with up, not %s", sub)
		}
		ms, err := sinks.Migrations(opts...)
		if err != nil {
			return err
		}
		out := relsql.Format(ms)
		if ttl != nil {
			out += "-- --raw-ttl " + *rawTTL + "\n\n" + strings.Join(ttl, ";\n\n") + ";\n"
		}
		_, err = io.WriteString(stdout, out)
		return err
	}
	store, err := openMigrateStore(ctx, &sf)
	if err != nil {
		return err
	}
	defer store.Close()
	if sub == "status" {
		return migrateStatus(ctx, store, stdout)
	}
	applied, err := sinks.Migrate(ctx, store, opts...)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintln(stdout, "schema is up to date; nothing applied")
	} else {
		fmt.Fprintf(stdout, "applied migrations %v\n", applied)
	}
	if *rawTTL != "" {
		d, _ := parseDuration(*rawTTL) // checked above
		if err := sinks.SetRawTTL(ctx, store, d); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "raw event TTL set to %s\n", *rawTTL)
	}
	return nil
}

// migrateStatus prints one line per migration and fails when one changed
// after it was applied.
func migrateStatus(ctx context.Context, store sinks.Store, stdout io.Writer) error {
	sts, err := sinks.MigrationStatuses(ctx, store)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tMIGRATION\tSTATUS")
	var changed, pending []string
	for _, st := range sts {
		var state string
		switch {
		case st.Unknown:
			state = "applied at " + st.AppliedAt + " UTC, unknown to this binary (applied by a newer relance?)"
		case st.Changed:
			state = "applied at " + st.AppliedAt + " UTC, CHANGED since: checksum mismatch"
			changed = append(changed, st.Name)
		case st.Applied:
			state = "applied at " + st.AppliedAt + " UTC"
		default:
			state = "pending"
			pending = append(pending, st.Name)
		}
		fmt.Fprintf(tw, "%04d\t%s\t%s\n", st.Version, st.Name, state)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(changed) > 0 {
		return fmt.Errorf("migrate status: %s changed after being applied: revert the edit and add a new migration", strings.Join(changed, ", "))
	}
	if len(pending) > 0 {
		fmt.Fprintf(stdout, "%d pending: run relance migrate up\n", len(pending))
	} else {
		fmt.Fprintln(stdout, "schema is up to date")
	}
	return nil
}
