package stream

import (
	"math/rand/v2"
	"testing"
	"time"
)

// crashRun processes order with a crash: a first joiner reads events and
// "commits" every few events (watermark, per source the low-water offset to
// resume from and the offset read up to), then dies at a random point; a
// second joiner resumes from the last commit and re-reads each source from
// its low-water offset, replayed events of the two sources interleaved at
// random (as a consumer's fetches deliver them), new events in their
// original arrival order but allowed to overtake the replay. It returns all
// facts written: those flushed before the crash (all of them, as if the
// sink had acknowledged them and only the commit was lost) and the second
// joiner's.
//
// With snapEvery > 0, every snapEvery-th commit also snapshots the first
// joiner; the second restores the latest snapshot and re-reads each source
// from the snapshot's offsets instead of the low-water ones.
func crashRun(t *testing.T, w world, order []arrival, rng *rand.Rand, snapEvery int, opts ...Opt) []Fact {
	t.Helper()
	var n uint64
	clock := VersionClock(func() uint64 { n++; return n })
	j1, err := NewJoiner(append([]Opt{clock}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	// Each source is a log: the events in the order they were appended.
	var logs [2][]arrival
	for _, a := range order {
		logs[a.src] = append(logs[a.src], a)
	}
	feed := func(j *Joiner, a arrival, off int64) {
		if a.src == Reminders {
			j.AddReminder(w.reminders[a.i], off)
		} else {
			j.AddPayment(w.payments[a.i], off)
		}
	}
	type commit struct {
		wm        time.Time
		from, end [2]int64
	}
	var last commit // nothing committed: resume from 0, nothing to replay
	var snap []byte
	var snapAt [2]int64
	commits := 0
	var facts []Fact
	var next [2]int64
	crashAt := rng.IntN(len(order) + 1)
	for k, a := range order[:crashAt] {
		feed(j1, a, next[a.src])
		next[a.src]++
		if k%5 == 4 {
			f, _ := j1.Drain()
			facts = append(facts, f...)
			c := commit{wm: j1.Watermark(), end: next}
			for _, src := range []Source{Reminders, Payments} {
				c.from[src] = next[src]
				if lw, ok := j1.LowWater(src); ok {
					c.from[src] = lw
				}
			}
			last = c
			if commits++; snapEvery > 0 && commits%snapEvery == 0 {
				if b, err := j1.AppendSnapshot(nil, next[Reminders], next[Payments]); err == nil {
					snap, snapAt = b, next
				} else if err != ErrSnapshotReplaying {
					t.Fatal(err)
				}
			}
		}
	}
	f, _ := j1.Drain()
	facts = append(facts, f...)

	j2, _ := NewJoiner(append([]Opt{clock}, opts...)...)
	if snap != nil {
		last.from = snapAt
		if err := j2.Restore(snap, last.wm, ResumeRange{From: snapAt[Reminders], End: last.end[Reminders]}, ResumeRange{From: snapAt[Payments], End: last.end[Payments]}); err != nil {
			t.Fatal(err)
		}
	} else {
		j2.Resume(last.wm, ResumeRange{From: last.from[Reminders], End: last.end[Reminders]}, ResumeRange{From: last.from[Payments], End: last.end[Payments]})
	}
	type item struct {
		a   arrival
		off int64
	}
	var replay [2][]item
	for src := range logs {
		for off := last.from[src]; off < last.end[src]; off++ {
			replay[src] = append(replay[src], item{logs[src][off], off})
		}
	}
	var fresh []item
	for _, a := range order {
		// New events: those past the committed end, in arrival order.
		if idx := indexIn(logs[a.src], a); idx >= int(last.end[a.src]) {
			fresh = append(fresh, item{a, int64(idx)})
		}
	}
	// Interleave: replayed events of each source in offset order, new
	// events in arrival order, each step picking a random non-empty queue.
	for len(replay[0])+len(replay[1])+len(fresh) > 0 {
		q := rng.IntN(3)
		switch {
		case q < 2 && len(replay[q]) > 0:
			feed(j2, replay[q][0].a, replay[q][0].off)
			replay[q] = replay[q][1:]
		case q == 2 && len(fresh) > 0:
			// A new event of a source overtakes only that source's replay
			// if the replay of its own source is done (a partition is read
			// in offset order).
			src := fresh[0].a.src
			if len(replay[src]) > 0 {
				continue
			}
			feed(j2, fresh[0].a, fresh[0].off)
			fresh = fresh[1:]
		}
	}
	j2.Flush()
	f, late := j2.Drain()
	if len(late) > 0 {
		t.Fatalf("late events after resume: %+v", late[0])
	}
	return append(facts, f...)
}

func indexIn(log []arrival, a arrival) int {
	for i, x := range log {
		if x == a {
			return i
		}
	}
	return -1
}

// Rule: a crash and a resume from the last commit change nothing: the facts
// the store keeps equal the brute-force oracle (long retention), and equal
// a run without crash when retention is short and arrivals stay within the
// allowed lateness. Replayed events rebuild state without writing facts
// again; new events wait until the replay of both sources is over.
func TestJoiner_ResumeAfterCrashIsExact(t *testing.T) {
	for seed := uint64(1); seed <= 60; seed++ {
		rng := rand.New(rand.NewPCG(seed, 42))
		w := randomWorld(seed, 5+int(seed%5), 40, 40)
		order := inOrder(w)
		for _, m := range []Model{LastTouch, Linear} {
			got := finalRows(t, crashRun(t, w, order, rng, 0, Attribution(m), Retention(365*day)))
			if d := diff(oracle(w, DefaultHorizons, m, 7*day), got); d != "" {
				t.Fatalf("seed %d %s, long retention: after a crash the facts differ from the oracle:\n%s", seed, m, d)
			}
		}
		short := []Opt{AllowedLateness(day), Retention(2 * day)}
		want := finalRows(t, func() []Fact { f, _ := run(t, w, order, short...); return f }())
		got := finalRows(t, crashRun(t, w, order, rng, 0, short...))
		if d := diff(want, got); d != "" {
			t.Fatalf("seed %d, short retention: after a crash the facts differ from a run without crash:\n%s", seed, d)
		}
	}
}
