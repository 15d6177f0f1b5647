package demo

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/relance-io/relance/generate"
	"github.com/relance-io/relance/ingest"
	"github.com/relance-io/relance/schemas"
	"github.com/relance-io/relance/sinks"
	"github.com/relance-io/relance/stream"
)

// Options are the demo's knobs; zero values take the documented defaults.
type Options struct {
	// Params drive the generator (seed, customers, months, …).
	Params generate.Params
	// Dir is the data dir: Kafka log segments under Dir/kafka.
	Dir string
	// Partitions per topic, default 4.
	Partitions int32
	// Horizons, default 7d, 15d, 30d.
	Horizons []stream.Horizon
	// TimeZone of the report months, default Europe/Paris.
	TimeZone string
	// Out receives the progress lines and the KPI tables.
	Out io.Writer
	// Progress, when set, receives progress bars (rate, ETA) for the
	// generation, produce and catch-up phases: redrawn in place on a
	// terminal, a plain line every few seconds otherwise. Default none.
	Progress io.Writer
}

// Summary is what a run did, for the caller and the tests.
type Summary struct {
	Dataset  *generate.Dataset
	Ends     Ends
	Ingest   ingest.Stats
	Generate time.Duration
	Produce  time.Duration
	Consume  time.Duration
}

// Run generates the data set, produces it to the embedded broker, runs the
// real pipeline until it has read everything, and prints the KPI tables.
func Run(ctx context.Context, store sinks.Store, o Options) (*Summary, error) {
	o = o.withDefaults()
	t := time.Now()
	bar := phase(o, "generate", int64(o.Params.Customers), "customers")
	ds, err := generate.GenerateWithProgress(o.Params, func(done int) { bar.Set(int64(done)) })
	bar.Done()
	if err != nil {
		return nil, err
	}
	took := time.Since(t)
	fmt.Fprintf(o.Out, "generated %d invoices, %d reminders, %d payments in %s\n",
		len(ds.Invoices), len(ds.Reminders), len(ds.Payments), took.Round(time.Millisecond))
	sum, err := RunDataset(ctx, store, ds, o)
	if sum != nil {
		sum.Generate = took
	}
	return sum, err
}

func (o Options) withDefaults() Options {
	if o.Partitions == 0 {
		o.Partitions = 4
	}
	if len(o.Horizons) == 0 {
		o.Horizons = stream.DefaultHorizons
	}
	if o.TimeZone == "" {
		o.TimeZone = "Europe/Paris"
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	return o
}

// RunDataset is Run on a data set given by the caller (e.g. CSV exports
// read by csvimport) instead of generated: it produces ds to the embedded
// broker, runs the real pipeline until it has read everything, and prints
// the KPI tables. o.Params is not used.
func RunDataset(ctx context.Context, store sinks.Store, ds *generate.Dataset, o Options) (*Summary, error) {
	o = o.withDefaults()
	sum := &Summary{Dataset: ds}
	st, err := StartStack(ctx, o.Dir, o.Partitions, store)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	t := time.Now()
	ends, err := st.produce(ctx, ds, o)
	if err != nil {
		return nil, err
	}
	sum.Ends, sum.Produce = ends, time.Since(t)
	fmt.Fprintf(o.Out, "produced %d records to the embedded Kafka broker (%d partitions) in %s\n",
		len(ds.Invoices)+len(ds.Reminders)+len(ds.Payments), o.Partitions, sum.Produce.Round(time.Millisecond))

	t = time.Now()
	c, err := ingest.New(st.Serde, store, ingest.Brokers(st.Brokers()...), ingest.JoinerOpts(stream.Horizons(o.Horizons...)))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	bar := catchUp(o, c, ends)
	err = c.RunUntil(ctx, ends)
	bar.Done()
	if err != nil {
		return nil, err
	}
	sum.Ingest, sum.Consume = c.Stats(), time.Since(t)
	fmt.Fprintf(o.Out, "pipeline: %d records read, %d facts written in %d batches, %d dead letters, in %s\n\n",
		total(sum.Ingest.Records), sum.Ingest.Joiner.Facts, sum.Ingest.Batches, total(sum.Ingest.DeadLetters), sum.Consume.Round(time.Millisecond))
	return sum, PrintKPIs(ctx, o.Out, store, o.Horizons, o.TimeZone)
}

// PrintKPIs prints, per horizon, the monthly reminder dependency share and
// the monthly post-reminder collection rate per channel, from the named
// queries.
func PrintKPIs(ctx context.Context, w io.Writer, store sinks.Store, hs []stream.Horizon, tz string) error {
	for _, h := range hs {
		dep, err := sinks.QueryNamed(ctx, store, "reminder_dependency", map[string]string{"horizon": h.String(), "tz": tz})
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "== Horizon %s — reminder dependency share, by payment month (%s)\n", h, tz)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "month\tcollected total\tafter reminder\twithout reminder\tshare\tpayments\t")
		first, last := monthSpan(dep)
		for _, r := range dep.Data {
			get := func(c string) string { return r[dep.Col(c)] }
			m, cur := get("month")[:7], get("currency")
			switch {
			case first[cur] == last[cur]:
				// One month: nothing to tell it from.
			case m == last[cur]:
				m += " (incomplete)"
			case m == first[cur]:
				// Payments of invoices reminded before the data starts
				// count "without reminder".
				m += " (data starts)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", m,
				money(get("collected_total_minor"), get("currency")), money(get("collected_after_reminder_minor"), get("currency")),
				money(get("collected_without_reminder_minor"), get("currency")), percent(get("collected_after_reminder_minor"), get("collected_total_minor")), get("payments"))
		}
		tw.Flush()

		rate, err := sinks.QueryNamed(ctx, store, "post_reminder_rate", map[string]string{"horizon": h.String(), "tz": tz, "dimension": "channel"})
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "\n== Horizon %s — post-reminder collection rate, by reminder month and channel\n", h)
		printRateMatrix(w, rate)
		fmt.Fprintln(w)
	}
	return nil
}

// printRateMatrix shows months as rows and segment values as columns, one
// table per currency (rates of two currencies are never mixed).
func printRateMatrix(w io.Writer, rows *sinks.Rows) {
	var currencies []string
	byCurrency := map[string][][]string{}
	for _, r := range rows.Data {
		c := r[rows.Col("currency")]
		if byCurrency[c] == nil {
			currencies = append(currencies, c)
		}
		byCurrency[c] = append(byCurrency[c], r)
	}
	for i, c := range currencies {
		if len(currencies) > 1 {
			if i > 0 {
				fmt.Fprintln(w)
			}
			fmt.Fprintln(w, c)
		}
		printCurrencyMatrix(w, rows, byCurrency[c])
	}
	fmt.Fprintln(w, "(rate = collected after reminder / reminded amount; invoices reminded in parentheses)")
}

// printCurrencyMatrix is printRateMatrix for the rows of one currency.
func printCurrencyMatrix(w io.Writer, rows *sinks.Rows, data [][]string) {
	var months, segs []string
	cell := map[[2]string]string{}
	seenM, seenS := map[string]bool{}, map[string]bool{}
	for _, r := range data {
		m, s := r[rows.Col("month")][:7], r[rows.Col("segment")]
		if !seenM[m] {
			seenM[m] = true
			months = append(months, m)
		}
		if !seenS[s] {
			seenS[s] = true
			segs = append(segs, s)
		}
		cell[[2]string{m, s}] = percent(r[rows.Col("collected_minor")], r[rows.Col("reminded_minor")]) + " (" + r[rows.Col("invoices")] + ")"
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "month\t%s\t\n", strings.Join(segs, "\t"))
	last := slices.Max(months)
	for _, m := range months {
		if m == last && len(months) > 1 {
			// Its reminders have not all had their horizon yet.
			fmt.Fprint(tw, m+" (incomplete)")
		} else {
			fmt.Fprint(tw, m)
		}
		for _, s := range segs {
			v := cell[[2]string{m, s}]
			if v == "" {
				v = "—"
			}
			fmt.Fprint(tw, "\t", v)
		}
		fmt.Fprintln(tw, "\t")
	}
	tw.Flush()
}

// monthSpan returns the first and last month ("2006-01") of rows, per
// currency.
func monthSpan(rows *sinks.Rows) (first, last map[string]string) {
	first, last = map[string]string{}, map[string]string{}
	for _, r := range rows.Data {
		m, c := r[rows.Col("month")][:7], r[rows.Col("currency")]
		if f, ok := first[c]; !ok || m < f {
			first[c] = m
		}
		if m > last[c] {
			last[c] = m
		}
	}
	return first, last
}

// money renders minor units exactly, e.g. "123456" EUR → "1 234.56 EUR".
func money(minor, currency string) string {
	n, err := strconv.ParseInt(minor, 10, 64)
	if err != nil {
		return minor
	}
	sign := ""
	if n < 0 {
		sign, n = "-", -n
	}
	scale := int64(1)
	d := schemas.MinorDigits(currency)
	for range d {
		scale *= 10
	}
	units := strconv.FormatInt(n/scale, 10)
	var b strings.Builder
	for i, ch := range units {
		if i > 0 && (len(units)-i)%3 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(ch)
	}
	if d == 0 {
		return fmt.Sprintf("%s%s %s", sign, b.String(), currency)
	}
	return fmt.Sprintf("%s%s.%0*d %s", sign, b.String(), d, n%scale, currency)
}

// percent renders num / den (amounts in minor units) as a percentage with
// two decimals, rounded once from the amounts: the queries' ratio columns
// are already rounded to six decimals, and rounding them again moved
// 50.004999 % to 50.01 %. "—" when den is zero.
func percent(num, den string) string {
	n, err1 := strconv.ParseInt(num, 10, 64)
	d, err2 := strconv.ParseInt(den, 10, 64)
	if err1 != nil || err2 != nil || d == 0 {
		return "—"
	}
	return strconv.FormatFloat(100*float64(n)/float64(d), 'f', 2, 64) + " %"
}

func total(m map[string]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}
