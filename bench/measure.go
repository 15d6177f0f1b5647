package bench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/relance-io/relance/demo"
	"github.com/relance-io/relance/generate"
	"github.com/relance-io/relance/ingest"
	"github.com/relance-io/relance/schemas"
	"github.com/relance-io/relance/sinks"
	"github.com/relance-io/relance/sinks/chdb"
	"github.com/relance-io/relance/stream"
)

// Rate is a throughput measured over several runs.
type Rate struct {
	Events int       // events per run
	Runs   []float64 // events per second of each run
	// CPUPerEvent is the process CPU time (user + system, every thread)
	// per event of the median run; zero when not measured.
	CPUPerEvent time.Duration
	// AllocsPerEvent are heap allocations per event (median run).
	AllocsPerEvent float64
	// EngineCPUPerEvent is the part of CPUPerEvent spent in the threads of
	// the embedded database engine (chDB's own threads; see threadCPU):
	// work a ClickHouse server does on its own machine in production.
	EngineCPUPerEvent time.Duration
}

// Median is the median of Runs in events per second.
func (r Rate) Median() float64 {
	if len(r.Runs) == 0 {
		return 0
	}
	s := slices.Clone(r.Runs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// PerCore is events per second of CPU time (all threads of the process),
// or the median rate when CPU time was not measured.
func (r Rate) PerCore() float64 {
	if r.CPUPerEvent <= 0 {
		return r.Median()
	}
	return float64(time.Second) / float64(r.CPUPerEvent)
}

// PerCoreWithoutEngine is PerCore leaving out the embedded database
// engine's threads: the pipeline's own CPU (with the embedded broker's,
// and whatever part of the engine's work runs on the calling thread, so
// an upper bound of it).
func (r Rate) PerCoreWithoutEngine() float64 {
	own := r.CPUPerEvent - r.EngineCPUPerEvent
	if r.CPUPerEvent <= 0 || own <= 0 {
		return r.PerCore()
	}
	return float64(time.Second) / float64(own)
}

type sample struct {
	wall, cpu, engine time.Duration
	mallocs           uint64
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func mallocs() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.Mallocs
}

// measure runs fn once and returns its wall time, process CPU time (and
// the part of it in the database engine's threads) and heap allocations.
func measure(fn func() error) (sample, error) {
	e0 := threadCPU()
	m0, c0, t0 := mallocs(), cpuTime(), time.Now()
	err := fn()
	wall := time.Since(t0)
	s := sample{wall: wall, cpu: cpuTime() - c0, mallocs: mallocs() - m0}
	s.engine = engineCPU(e0, threadCPU())
	return s, err
}

// rateOf turns samples of runs over n events into a Rate.
func rateOf(n int, ss []sample) Rate {
	r := Rate{Events: n}
	for _, s := range ss {
		r.Runs = append(r.Runs, float64(n)/s.wall.Seconds())
	}
	idx := make([]int, len(ss))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return int(ss[a].wall - ss[b].wall) })
	med := ss[idx[len(idx)/2]]
	r.CPUPerEvent = med.cpu / time.Duration(max(n, 1))
	r.EngineCPUPerEvent = med.engine / time.Duration(max(n, 1))
	r.AllocsPerEvent = float64(med.mallocs) / float64(max(n, 1))
	return r
}

// NewSerde returns a Serde backed by an in-process schema registry, and a
// function releasing it.
func NewSerde(ctx context.Context) (*schemas.Serde, func(), error) {
	reg := srfake.New()
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		reg.Close()
		return nil, nil, err
	}
	s, err := schemas.NewSerde(ctx, cl)
	if err != nil {
		reg.Close()
		return nil, nil, err
	}
	return s, reg.Close, nil
}

// Encode returns the Confluent wire-format values of evs.
func Encode(s *schemas.Serde, evs []Event) ([][]byte, error) {
	out := make([][]byte, len(evs))
	for i := range evs {
		var err error
		if evs[i].Src == stream.Reminders {
			out[i], err = s.EncodeReminder(&evs[i].Reminder)
		} else {
			out[i], err = s.EncodePayment(&evs[i].Payment)
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// DecodeRate measures schemas.Serde decoding alone (goavro and the mapping
// onto the structs) over the encoded values of evs: the ceiling of the
// pipeline.
func DecodeRate(s *schemas.Serde, evs []Event, vals [][]byte, runs int) (Rate, error) {
	var ss []sample
	for range runs {
		smp, err := measure(func() error {
			for i, v := range vals {
				if evs[i].Src == stream.Reminders {
					if _, err := s.DecodeReminder(v); err != nil {
						return err
					}
				} else if _, err := s.DecodePayment(v); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return Rate{}, err
		}
		ss = append(ss, smp)
	}
	return rateOf(len(vals), ss), nil
}

// DrainEvery is how many events the benchmarks feed a Joiner between two
// Drain calls (the pipeline drains once per poll).
const DrainEvery = 1024

// JoinOnce feeds evs, in order, to a fresh default Joiner, drains every
// DrainEvery events (recycling the output, see stream.Joiner.Recycle),
// flushes at the end, and returns the facts count.
func JoinOnce(evs []Event, opts ...stream.Opt) (facts int, err error) {
	j, err := stream.NewJoiner(opts...)
	if err != nil {
		return 0, err
	}
	for i := range evs {
		evs[i].Feed(j, int64(i))
		if i%DrainEvery == DrainEvery-1 {
			f, _ := j.Drain()
			facts += len(f)
			j.DrainOutcomes()
			j.Recycle()
		}
	}
	j.Flush()
	f, _ := j.Drain()
	j.DrainOutcomes()
	return facts + len(f), nil
}

// JoinRate measures the Joiner alone over pre-decoded evs (a fresh Joiner
// per run, Drain included).
func JoinRate(evs []Event, runs int) (Rate, error) {
	var ss []sample
	for range runs {
		runtime.GC()
		smp, err := measure(func() error { _, err := JoinOnce(evs); return err })
		if err != nil {
			return Rate{}, err
		}
		ss = append(ss, smp)
	}
	return rateOf(len(evs), ss), nil
}

// Steady is the Joiner's throughput with a given open state.
type Steady struct {
	Open      int    // target open reminders
	Reminders int    // reminders actually held when measured
	HeapBytes uint64 // live heap after GC, with the Joiner warmed up
	Rate      Rate
}

// SteadyRate warms a Joiner on NewSynthetic(open) until it holds its
// steady state, then measures runs consecutive chunks of n events (the
// stream goes on: state stays the same size, invoices come and go),
// touching TouchWindow events ahead and recycling the output as ingest
// does.
func SteadyRate(open, n, runs int) (Steady, error) {
	src := NewSynthetic(open)
	j, err := stream.NewJoiner()
	if err != nil {
		return Steady{}, err
	}
	var off int64
	src.Warm(j, &off)
	st := Steady{Open: open}
	var ss []sample
	for range runs {
		evs := src.Take(n)
		runtime.GC()
		smp, _ := measure(func() error {
			var ids []string
			for i := range evs {
				if i%TouchWindow == 0 {
					ids = Touch(j, evs[i:min(i+TouchWindow, len(evs))], ids)
				}
				evs[i].Feed(j, off)
				off++
				if off%DrainEvery == 0 {
					j.Drain()
					j.DrainOutcomes()
					j.Recycle()
				}
			}
			return nil
		})
		ss = append(ss, smp)
	}
	_, st.Reminders, _ = j.StateSize()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	st.HeapBytes = m.HeapAlloc
	runtime.KeepAlive(j)
	st.Rate = rateOf(n, ss)
	return st, nil
}

// StateBytes returns the live heap held by a Joiner per open reminder: n
// reminders (3 per invoice, no payment, nothing expiring) fed as the
// decoder delivers them (every string and attribute map freshly
// allocated), measured as the HeapAlloc difference after GC.
func StateBytes(n int) (float64, error) {
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	j, err := stream.NewJoiner()
	if err != nil {
		return 0, err
	}
	src := NewSynthetic(n)
	fed := 0
	for off := int64(0); fed < n; off++ {
		e := src.Next()
		if e.Src != stream.Reminders {
			continue
		}
		r := fresh(e.Reminder)
		r.SentAt = Epoch.Add(time.Duration(fed) * time.Millisecond) // nothing expires, no watermark
		j.AddReminder(r, off)
		fed++
		if fed%DrainEvery == 0 {
			j.DrainOutcomes()
		}
	}
	j.Drain()
	j.DrainOutcomes()
	after := heap()
	if _, held, _ := j.StateSize(); held != n {
		return 0, fmt.Errorf("bench: %d reminders held, want %d", held, n)
	}
	runtime.KeepAlive(j)
	return (float64(after) - float64(before)) / float64(n), nil
}

// EndToEnd produces ds to an embedded Kafka broker (kfake, one partition
// per topic, not timed), then times the real pipeline (ingest.Consumer:
// fetch → decode → validate → join → chDB sink → commit) until it has read
// everything, in a fresh database of store.
func EndToEnd(ctx context.Context, store *chdb.Store, ds *generate.Dataset, db string) (Rate, sinks.Store, error) {
	if err := freshDB(ctx, store, db); err != nil {
		return Rate{}, nil, err
	}
	dir, err := os.MkdirTemp("", "relance-bench-")
	if err != nil {
		return Rate{}, nil, err
	}
	defer os.RemoveAll(dir)
	st, err := demo.StartStack(ctx, dir, 1, store)
	if err != nil {
		return Rate{}, nil, err
	}
	defer st.Close()
	ends, err := st.Produce(ctx, ds)
	if err != nil {
		return Rate{}, nil, err
	}
	c, err := ingest.New(st.Serde, store, ingest.Brokers(st.Brokers()...))
	if err != nil {
		return Rate{}, nil, err
	}
	defer c.Close()
	smp, err := measure(func() error { return c.RunUntil(ctx, ends) })
	if err != nil {
		return Rate{}, nil, err
	}
	var n uint64
	for _, v := range c.Stats().Records {
		n += v
	}
	return rateOf(int(n), []sample{smp}), store, nil
}

// AsofQuery is last_touch attribution of every allocation for the 7, 15
// and 30 day horizons by ClickHouse's ASOF JOIN over the raw tables: each
// allocation joined to the latest non-holdout reminder on its invoice sent
// at or before the payment, credited for a horizon when the lag is within
// it. It returns one row summarizing every (allocation, horizon) result so
// that all of them are computed and none is shipped back.
const AsofQuery = `
WITH asof AS (
	SELECT a.payment_id AS payment_id, a.allocation_index AS allocation_index, a.amount_minor AS amount_minor,
	       r.reminder_id AS reminder_id,
	       if(r.reminder_id = '', -1, dateDiff('millisecond', r.sent_at, a.paid_at)) AS lag_ms
	FROM (SELECT * FROM payment_allocations FINAL) AS a
	ASOF LEFT JOIN (SELECT invoice_id, currency, sent_at, reminder_id FROM reminders FINAL WHERE holdout = 0) AS r
	ON a.invoice_id = r.invoice_id AND a.currency = r.currency AND a.paid_at >= r.sent_at
),
facts AS (
	SELECT payment_id, allocation_index, h.1 AS horizon,
	       if(lag_ms >= 0 AND lag_ms <= h.2, reminder_id, '') AS reminder_id,
	       if(lag_ms >= 0 AND lag_ms <= h.2, amount_minor, 0) AS credited_minor
	FROM asof ARRAY JOIN [('7d', 7*86400000), ('15d', 15*86400000), ('30d', 30*86400000)] AS h
)
SELECT count() AS facts, countIf(reminder_id != '') AS matched, sum(credited_minor) AS credited,
       sum(cityHash64(payment_id, allocation_index, horizon, reminder_id)) AS digest
FROM facts`

// Asof is the side-by-side comparison over the same events.
type Asof struct {
	Events int
	Joiner Rate // stream.Joiner, one goroutine, same events
	SQL    Rate // ASOF JOIN in chDB (its own threads), raw tables loaded beforehand
	Facts  int64
}

// AsofSideBySide loads ds's reminders and payments into a fresh database
// (not timed), then times the ASOF JOIN query runs times, and the Joiner
// over the same events runs times.
func AsofSideBySide(ctx context.Context, store *chdb.Store, ds *generate.Dataset, evs []Event, db string, runs int) (Asof, error) {
	if err := freshDB(ctx, store, db); err != nil {
		return Asof{}, err
	}
	if err := store.Write(ctx, &sinks.Batch{Token: "bench-raw", Reminders: ds.Reminders, Payments: ds.Payments}); err != nil {
		return Asof{}, err
	}
	a := Asof{Events: len(evs)}
	var ss []sample
	for range runs {
		var rows *sinks.Rows
		smp, err := measure(func() error {
			var err error
			rows, err = store.Query(ctx, AsofQuery)
			return err
		})
		if err != nil {
			return Asof{}, err
		}
		fmt.Sscan(rows.Data[0][rows.Col("facts")], &a.Facts)
		ss = append(ss, smp)
	}
	a.SQL = rateOf(len(evs), ss)
	var err error
	a.Joiner, err = JoinRate(evs, runs)
	return a, err
}

func freshDB(ctx context.Context, store *chdb.Store, db string) error {
	if err := store.Exec(ctx, "DROP DATABASE IF EXISTS `"+db+"`"); err != nil {
		return err
	}
	if err := store.UseDatabase(ctx, db); err != nil {
		return err
	}
	_, err := sinks.Migrate(ctx, store)
	return err
}
