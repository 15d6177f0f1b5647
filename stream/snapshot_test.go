package stream

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// Rule: restoring a snapshot and re-reading only what came after it is the
// same as re-reading from the oldest event held: after a crash the facts
// equal the oracle (long retention) and a run without crash (short
// retention), whether the snapshot is from the last commit or older ones.
func TestJoiner_ResumeFromSnapshotIsExact(t *testing.T) {
	for seed := uint64(1); seed <= 60; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		w := randomWorld(seed, 5+int(seed%5), 40, 40)
		order := inOrder(w)
		if seed%2 == 0 {
			// Out of order within a day: corrections, late events.
			for i := 1; i < len(order); i++ {
				if order[i].at.Sub(order[i-1].at) < day && rng.IntN(2) == 0 {
					order[i], order[i-1] = order[i-1], order[i]
				}
			}
		}
		every := 1 + int(seed%3)
		for _, m := range []Model{LastTouch, Linear, TimeDecay} {
			got := finalRows(t, crashRun(t, w, order, rng, every, Attribution(m), Retention(365*day)))
			if d := diff(oracle(w, DefaultHorizons, m, 7*day), got); d != "" {
				t.Fatalf("seed %d %s, snapshot every %d commits: the facts differ from the oracle:\n%s", seed, m, every, d)
			}
		}
		short := []Opt{AllowedLateness(day), Retention(2 * day)}
		want := finalRows(t, func() []Fact { f, _ := run(t, w, inOrder(w), short...); return f }())
		got := finalRows(t, crashRun(t, w, inOrder(w), rng, every, short...))
		if d := diff(want, got); d != "" {
			t.Fatalf("seed %d, short retention, snapshot every %d commits: the facts differ from a run without crash:\n%s", seed, every, d)
		}
	}
}

// Rule: a snapshot is a pure function of the state: the same events give
// the same bytes, and restoring a snapshot then taking one again gives it
// back unchanged (nothing is lost or added on the way).
func TestSnapshot_RoundTripIsIdentical(t *testing.T) {
	for seed := uint64(1); seed <= 40; seed++ {
		// Long retention, and short enough that invoices leave state while
		// payments that also settle others are still held.
		retention := Retention(30 * day)
		if seed%2 == 0 {
			retention = Retention(2 * day)
		}
		w := randomWorld(seed, 8, 60, 60)
		order := inOrder(w)
		cut := len(order) * 2 / 3
		feed := func(j *Joiner) (next [2]int64) {
			for _, a := range order[:cut] {
				if a.src == Reminders {
					j.AddReminder(w.reminders[a.i], next[Reminders])
				} else {
					j.AddPayment(w.payments[a.i], next[Payments])
				}
				next[a.src]++
			}
			return next
		}
		j1, _ := NewJoiner(retention)
		next := feed(j1)
		j1.Drain()
		a, err := j1.AppendSnapshot(nil, next[Reminders], next[Payments])
		if err != nil {
			t.Fatal(err)
		}
		j2, _ := NewJoiner(retention)
		feed(j2)
		if b, _ := j2.AppendSnapshot(nil, next[Reminders], next[Payments]); !bytes.Equal(a, b) {
			t.Fatalf("seed %d: two joiners fed the same events give different snapshots", seed)
		}

		j3, _ := NewJoiner(retention)
		if err := j3.Restore(a, j1.Watermark(), ResumeRange{From: next[Reminders], End: next[Reminders]}, ResumeRange{From: next[Payments], End: next[Payments]}); err != nil {
			t.Fatal(err)
		}
		if f, _ := j3.Drain(); len(f) != 0 {
			t.Fatalf("seed %d: restoring wrote %d facts again", seed, len(f))
		}
		b, err := j3.AppendSnapshot(nil, next[Reminders], next[Payments])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Fatalf("seed %d: snapshot → restore → snapshot changed the bytes (%d → %d)", seed, len(a), len(b))
		}
		i1, r1, a1 := j1.StateSize()
		i3, r3, a3 := j3.StateSize()
		if i1 != i3 || r1 != r3 || a1 != a3 {
			t.Fatalf("seed %d: state size %d/%d/%d before, %d/%d/%d restored", seed, i1, r1, a1, i3, r3, a3)
		}
		for _, src := range []Source{Reminders, Payments} {
			lw1, ok1 := j1.LowWater(src)
			lw3, ok3 := j3.LowWater(src)
			if lw1 != lw3 || ok1 != ok3 {
				t.Fatalf("seed %d: low water of %s %d (%v) before, %d (%v) restored", seed, src, lw1, ok1, lw3, ok3)
			}
		}
	}
}

// Rule: a snapshot that is damaged, of another format version, or taken at
// other offsets than those reading resumes from is refused with an error
// that says so, and the Joiner is left new (the caller replays instead).
func TestSnapshot_BadSnapshotsAreRefused(t *testing.T) {
	w := randomWorld(3, 6, 40, 40)
	j, _ := NewJoiner()
	var next [2]int64
	for _, a := range inOrder(w) {
		if a.src == Reminders {
			j.AddReminder(w.reminders[a.i], next[Reminders])
		} else {
			j.AddPayment(w.payments[a.i], next[Payments])
		}
		next[a.src]++
	}
	good, err := j.AppendSnapshot(nil, next[Reminders], next[Payments])
	if err != nil {
		t.Fatal(err)
	}
	at := func(r, p int64) (ResumeRange, ResumeRange) {
		return ResumeRange{From: r, End: r}, ResumeRange{From: p, End: p}
	}
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0x40
	version := bytes.Clone(good)
	version[4] = 9
	cases := []struct {
		name string
		snap []byte
		r, p int64
		want string
	}{
		{"damaged", flipped, next[0], next[1], "damaged"},
		{"truncated", good[:len(good)-10], next[0], next[1], "damaged"},
		{"not a snapshot", []byte("hello, world"), next[0], next[1], "not a relance"},
		{"empty", nil, next[0], next[1], "not a relance"},
		{"other version", version, next[0], next[1], "format version 9"},
		{"other offsets", good, next[0] + 1, next[1], "does not belong to this commit"},
	}
	for _, c := range cases {
		j2, _ := NewJoiner()
		r, p := at(c.r, c.p)
		err := j2.Restore(c.snap, time.Time{}, r, p)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%s: got %v, want an error saying %q", c.name, err, c.want)
		}
		if inv, _, _ := j2.StateSize(); inv != 0 || !j2.Watermark().IsZero() {
			t.Fatalf("%s: a refused snapshot changed the joiner", c.name)
		}
	}
	if _, err := ReadSnapshotInfo(good); err != nil {
		t.Fatal(err)
	}
}

// Rule: no snapshot while a replay is in progress (the state is not yet
// that of the offsets read).
func TestSnapshot_NotWhileReplaying(t *testing.T) {
	j, _ := NewJoiner()
	j.Resume(t0, ResumeRange{From: 0, End: 10}, ResumeRange{From: 0, End: 0})
	if _, err := j.AppendSnapshot(nil, 0, 0); !errors.Is(err, ErrSnapshotReplaying) {
		t.Fatalf("got %v, want ErrSnapshotReplaying", err)
	}
}
