package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/relance-io/relance/generate"
	"github.com/relance-io/relance/sinks"
	"github.com/relance-io/relance/sinks/chdb"
	"github.com/relance-io/relance/stream"
)

// SinkBatchRows is how many rows the sink-only measurement puts in a
// batch: package ingest's default flush size (ingest.FlushRows).
const SinkBatchRows = 50_000

// Batches returns the batches the pipeline writes for ds, as package
// ingest hands them to its sink: raw events and the facts and outcomes a
// default Joiner derives from them, drained once per batch (changes to one
// outcome within a batch are one row), a batch cut every SinkBatchRows raw
// rows (reminders, allocations and invoices, spread evenly). It also
// returns the number of records they stand for.
func Batches(ds *generate.Dataset) ([]*sinks.Batch, int, error) {
	evs := Ordered(ds)
	j, err := stream.NewJoiner()
	if err != nil {
		return nil, 0, err
	}
	var out []*sinks.Batch
	b := &sinks.Batch{}
	invPerEvent := float64(len(ds.Invoices)) / float64(max(1, len(evs)))
	rows := 0.0
	cut := func() {
		b.Facts, b.Late = j.Drain()
		b.Outcomes = j.DrainOutcomes()
		b.Token = "bench-sink-" + strconv.Itoa(len(out))
		out = append(out, b)
		b, rows = &sinks.Batch{}, 0
	}
	for i := range evs {
		e := &evs[i]
		e.Feed(j, int64(i))
		rows += invPerEvent
		if e.Src == stream.Reminders {
			b.Reminders = append(b.Reminders, e.Reminder)
			rows++
		} else {
			b.Payments = append(b.Payments, e.Payment)
			rows += float64(len(e.Payment.Allocations))
		}
		if rows >= SinkBatchRows {
			cut()
		}
	}
	j.Flush()
	cut()
	for k, b := range out {
		b.Invoices = ds.Invoices[k*len(ds.Invoices)/len(out) : (k+1)*len(ds.Invoices)/len(out)]
	}
	return out, len(evs) + len(ds.Invoices), nil
}

// SinkRate measures the chDB sink alone: the batches of Batches(ds)
// written runs times, each time into a fresh database (not timed). Its
// per-core figure bounds the end-to-end one: end to end does this work
// and decoding, and more.
func SinkRate(ctx context.Context, store *chdb.Store, ds *generate.Dataset, db string, runs int) (Rate, error) {
	batches, n, err := Batches(ds)
	if err != nil {
		return Rate{}, err
	}
	var ss []sample
	for range runs {
		if err := freshDB(ctx, store, db); err != nil {
			return Rate{}, err
		}
		smp, err := measure(func() error {
			for _, b := range batches {
				if err := store.Write(ctx, b); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return Rate{}, fmt.Errorf("sink only: %w", err)
		}
		ss = append(ss, smp)
	}
	return rateOf(n, ss), nil
}

// threadCPU returns the CPU time (user + system) of this process's
// threads that the database engine named (chDB names its threads, such
// as QueryPipelineEx or BgSchPool; the Go runtime's threads keep the
// process's name), by thread id. A thread that ends between two calls
// takes its time with it: the figure is a lower bound of the engine's
// share. Nil when /proc cannot be read.
func threadCPU() map[string]time.Duration {
	self, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		return nil
	}
	tasks, err := filepath.Glob("/proc/self/task/*")
	if err != nil {
		return nil
	}
	out := map[string]time.Duration{}
	for _, t := range tasks {
		comm, err := os.ReadFile(filepath.Join(t, "comm"))
		if err != nil || string(comm) == string(self) {
			continue
		}
		stat, err := os.ReadFile(filepath.Join(t, "stat"))
		if err != nil {
			continue
		}
		// The fields after the command's closing parenthesis: state is the
		// 3rd field of the line, utime and stime the 14th and 15th.
		i := strings.LastIndexByte(string(stat), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 13 {
			continue
		}
		ut, err1 := strconv.ParseInt(f[11], 10, 64)
		st, err2 := strconv.ParseInt(f[12], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		out[filepath.Base(t)] = time.Duration(ut+st) * time.Second / clockTicks
	}
	return out
}

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on Linux for
// every architecture Go supports.
const clockTicks = 100

// engineCPU is the engine threads' CPU between two threadCPU readings.
func engineCPU(before, after map[string]time.Duration) time.Duration {
	var d time.Duration
	for tid, t := range after {
		d += t - before[tid]
	}
	return d
}
