package bench

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/relance-io/relance/sinks/chdb"
)

// Options are the knobs of Run; zero values take the documented defaults.
type Options struct {
	// Events is the size of the generated data set used for decode, end to
	// end and ASOF JOIN (reminders + payments), default 100 000.
	Events int
	// JoinEvents is the number of events per measured Joiner run, default
	// 300 000.
	JoinEvents int
	// Runs per measurement (the median is reported), default 3.
	Runs int
	// States are the open-state sizes (reminders) of the growth
	// measurement, default 10 000 and 100 000 (1 000 000 and more warm up
	// for tens of seconds each: ask for them).
	States []int
	// StateReminders is how many open reminders the bytes-per-reminder
	// measurement holds, default 300 000.
	StateReminders int
	// RestoreReminders is the open state (reminders) snapshotted and
	// restored by the recovery measurement, default 1 000 000.
	RestoreReminders int
	// Store is the chDB session for end to end and ASOF JOIN; nil skips
	// both.
	Store *chdb.Store
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// Quick returns options that finish in a few seconds (smaller inputs,
// three runs).
func Quick() Options {
	return Options{Events: 30_000, JoinEvents: 100_000, Runs: 3, States: []int{10_000, 100_000}, StateReminders: 100_000, RestoreReminders: 100_000}
}

func (o *Options) defaults() {
	if o.Events <= 0 {
		o.Events = 100_000
	}
	if o.JoinEvents <= 0 {
		o.JoinEvents = 300_000
	}
	if o.Runs <= 0 {
		o.Runs = 3
	}
	if len(o.States) == 0 {
		o.States = []int{10_000, 100_000}
	}
	if o.StateReminders <= 0 {
		o.StateReminders = 300_000
	}
	if o.RestoreReminders <= 0 {
		o.RestoreReminders = 1_000_000
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
}

// Report is everything one Run measured.
type Report struct {
	Options       Options
	CPU           string
	Cores         int
	Decode        Rate // goavro decode alone, generated data set
	Join          Rate // Joiner alone, synthetic stream, 100 000 open reminders
	JoinGenerated Rate // Joiner alone, generated data set (same events as decode)
	EndToEnd      *Rate
	Sink          *Rate // chDB sink alone, the rows end to end writes
	BytesPerRem   float64
	Steady        []Steady
	Asof          *Asof
	Restore       Restore
	Took          time.Duration
}

// Run measures everything, one measurement after the other in this
// process.
func Run(ctx context.Context, o Options) (*Report, error) {
	o.defaults()
	t0 := time.Now()
	rep := &Report{Options: o, CPU: cpuModel(), Cores: runtime.NumCPU()}
	logf := func(f string, a ...any) { fmt.Fprintf(o.Log, f+"\n", a...) }

	logf("generating a data set of about %d events", o.Events)
	ds, err := Dataset(o.Events)
	if err != nil {
		return nil, err
	}
	evs := Ordered(ds)
	serde, closeSR, err := NewSerde(ctx)
	if err != nil {
		return nil, err
	}
	defer closeSR()
	vals, err := Encode(serde, evs)
	if err != nil {
		return nil, err
	}
	logf("decode only: %d events × %d runs", len(evs), o.Runs)
	if rep.Decode, err = DecodeRate(serde, evs, vals, o.Runs); err != nil {
		return nil, err
	}
	logf("joiner only (generated data): %d events × %d runs", len(evs), o.Runs)
	if rep.JoinGenerated, err = JoinRate(evs, o.Runs); err != nil {
		return nil, err
	}
	logf("joiner only (steady state, 100 000 open reminders): %d events × %d runs", o.JoinEvents, o.Runs)
	st, err := SteadyRate(100_000, o.JoinEvents, o.Runs)
	if err != nil {
		return nil, err
	}
	rep.Join = st.Rate
	logf("state bytes: %d open reminders", o.StateReminders)
	if rep.BytesPerRem, err = StateBytes(o.StateReminders); err != nil {
		return nil, err
	}
	for _, n := range o.States {
		logf("joiner with %d open reminders", n)
		st, err := SteadyRate(n, o.JoinEvents, o.Runs)
		if err != nil {
			return nil, err
		}
		rep.Steady = append(rep.Steady, st)
		runtime.GC()
	}
	logf("snapshot and restore of %d open reminders", o.RestoreReminders)
	if rep.Restore, err = RestoreRate(o.RestoreReminders, o.Runs); err != nil {
		return nil, err
	}
	runtime.GC()
	if o.Store != nil {
		logf("end to end: kfake → decode → join → chDB, %d records", len(ds.Reminders)+len(ds.Payments)+len(ds.Invoices))
		e2e, _, err := EndToEnd(ctx, o.Store, ds, "relance_bench_e2e")
		if err != nil {
			return nil, fmt.Errorf("end to end: %w", err)
		}
		rep.EndToEnd = &e2e
		logf("chDB sink only: the same rows, %d runs", o.Runs)
		sink, err := SinkRate(ctx, o.Store, ds, "relance_bench_sink", o.Runs)
		if err != nil {
			return nil, err
		}
		rep.Sink = &sink
		logf("ASOF JOIN in chDB vs Joiner, %d events", len(evs))
		a, err := AsofSideBySide(ctx, o.Store, ds, evs, "relance_bench_asof", o.Runs)
		if err != nil {
			return nil, fmt.Errorf("asof join: %w", err)
		}
		rep.Asof = &a
	}
	rep.Took = time.Since(t0)
	return rep, nil
}

// Print writes the report as a table: medians, then ratios.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "machine: %s, %d cores, GOMAXPROCS %d, %s\n", r.CPU, r.Cores, runtime.GOMAXPROCS(0), runtime.Version())
	fmt.Fprintf(w, "medians of %d runs; per core = events per CPU-second of the whole process\n\n", r.Options.Runs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "measurement\tevents/run\tevents/s\tper core\tallocs/event\t")
	row := func(name string, x Rate) {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%.3f\t\n", name, x.Events, si(x.Median()), si(x.PerCore()), x.AllocsPerEvent)
	}
	row("decode only (goavro)", r.Decode)
	row("joiner only (synthetic, 100k open)", r.Join)
	row("joiner only (generated book)", r.JoinGenerated)
	if r.EndToEnd != nil {
		row("end to end (kfake→decode→join→chDB)", *r.EndToEnd)
	}
	if r.Sink != nil {
		row("chDB sink only (same rows)", *r.Sink)
	}
	for _, s := range r.Steady {
		row(fmt.Sprintf("joiner, %s open reminders", si(float64(s.Open))), s.Rate)
	}
	if r.Asof != nil {
		row("joiner, ASOF data set", r.Asof.Joiner)
		row("chDB ASOF JOIN, same events", r.Asof.SQL)
	}
	tw.Flush()

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "figure\tvalue\ttarget\t")
	fmt.Fprintf(tw, "joiner only, events/s per core\t%s\t≥ 3M\t\n", si(r.Join.PerCore()))
	if r.EndToEnd != nil {
		fmt.Fprintf(tw, "end to end / decode only (per core)\t%.0f %%\t≥ 60 %%\t\n", 100*r.EndToEnd.PerCore()/r.Decode.PerCore())
		fmt.Fprintf(tw, "  chDB's threads, share of end to end CPU\t%.0f %%\t\t\n", 100*float64(r.EndToEnd.EngineCPUPerEvent)/float64(max(1, r.EndToEnd.CPUPerEvent)))
		fmt.Fprintf(tw, "  end to end without chDB's threads / decode\t%.0f %%\t\t\n", 100*r.EndToEnd.PerCoreWithoutEngine()/r.Decode.PerCore())
	}
	if r.Sink != nil {
		// Decoding and writing the same rows, nothing else: the most end
		// to end could reach with this engine in the process.
		ceiling := 1 / (1/r.Decode.PerCore() + 1/r.Sink.PerCore())
		fmt.Fprintf(tw, "  ceiling: decode + chDB sink alone / decode\t%.0f %%\t\t\n", 100*ceiling/r.Decode.PerCore())
	}
	fmt.Fprintf(tw, "join state, bytes per open reminder\t%.0f\t≤ 120\t\n", r.BytesPerRem)
	if len(r.Steady) > 1 {
		base := r.Steady[0]
		for _, s := range r.Steady[1:] {
			fmt.Fprintf(tw, "throughput %s open / %s open\t%.0f %%\t≥ 70 %% at 10M\t\n", si(float64(s.Open)), si(float64(base.Open)), 100*s.Rate.Median()/base.Rate.Median())
		}
		for _, s := range r.Steady {
			fmt.Fprintf(tw, "live heap / reminder held, %s open\t%.0f\t\t\n", si(float64(s.Open)), float64(s.HeapBytes)/float64(max(1, s.Reminders)))
		}
	}
	fmt.Fprintf(tw, "joiner allocs per event (synthetic)\t%.3f\t0\t\n", r.Join.AllocsPerEvent)
	rs := r.Restore
	fmt.Fprintf(tw, "restore %s open reminders from a snapshot\t%.2f s\t< 10 s\t\n", si(float64(rs.Reminders)), rs.RestoreDur.Seconds())
	fmt.Fprintf(tw, "  snapshot: bytes per reminder, time to take\t%.0f B, %.2f s\t\t\n", float64(rs.Bytes)/float64(max(1, rs.Reminders)), rs.Snapshot.Seconds())
	if r.Asof != nil {
		fmt.Fprintf(tw, "joiner / ASOF JOIN, events/s\t%.1f×\t\t\n", r.Asof.Joiner.Median()/r.Asof.SQL.Median())
		fmt.Fprintf(tw, "joiner / ASOF JOIN, per core\t%.1f×\t\t\n", r.Asof.Joiner.PerCore()/r.Asof.SQL.PerCore())
	}
	tw.Flush()
	fmt.Fprintf(w, "\ntook %s\n", r.Took.Round(100*time.Millisecond))
}

// si renders n with a k/M suffix and three significant digits.
func si(n float64) string {
	switch {
	case n >= 1e6:
		return strconv.FormatFloat(n/1e6, 'f', 2, 64) + "M"
	case n >= 1e3:
		return strconv.FormatFloat(n/1e3, 'f', 1, 64) + "k"
	}
	return strconv.FormatFloat(n, 'f', 0, 64)
}
