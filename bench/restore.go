package bench

import (
	"fmt"
	"runtime"
	"time"

	"github.com/relance-io/relance/stream"
)

// Restore is the state-recovery measurement: a Joiner holding about Open
// reminders of the steady synthetic stream (payments and outcome state
// included) is snapshotted, and a new Joiner restored from the snapshot.
type Restore struct {
	Open       int // target open reminders
	Reminders  int // reminders held in the snapshot
	Bytes      int // snapshot size
	Snapshot   time.Duration
	RestoreDur time.Duration // median over runs
}

// RestoreRate measures snapshot and restore of a Joiner warmed on
// NewSynthetic(open); the restore is repeated runs times into a fresh
// Joiner each (median reported) and checked to hold what was saved.
func RestoreRate(open, runs int) (Restore, error) {
	src := NewSynthetic(open)
	j, err := stream.NewJoiner()
	if err != nil {
		return Restore{}, err
	}
	var off int64
	src.Warm(j, &off)
	_, held, allocs := j.StateSize()
	wm := j.Watermark()
	runtime.GC()
	t0 := time.Now()
	snap, err := j.AppendSnapshot(nil, off, off)
	if err != nil {
		return Restore{}, err
	}
	r := Restore{Open: open, Reminders: held, Bytes: len(snap), Snapshot: time.Since(t0)}
	j = nil
	var ds []time.Duration
	for range runs {
		runtime.GC()
		j2, err := stream.NewJoiner()
		if err != nil {
			return Restore{}, err
		}
		t0 := time.Now()
		at := stream.ResumeRange{From: off, End: off}
		if err := j2.Restore(snap, wm, at, at); err != nil {
			return Restore{}, err
		}
		ds = append(ds, time.Since(t0))
		if _, h, a := j2.StateSize(); h != held || a != allocs {
			return Restore{}, fmt.Errorf("bench: restored %d reminders and %d allocations, the snapshot was of %d and %d", h, a, held, allocs)
		}
	}
	r.RestoreDur = medianDuration(ds)
	return r, nil
}

func medianDuration(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	for i := 1; i < len(s); i++ {
		for k := i; k > 0 && s[k] < s[k-1]; k-- {
			s[k], s[k-1] = s[k-1], s[k]
		}
	}
	return s[len(s)/2]
}
