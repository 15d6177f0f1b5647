package stream

import (
	"container/heap"
	"time"

	"github.com/relance-io/relance/schemas"
)

// Outcome is what became of one reminder within one horizon: how much of its
// invoice was paid in [sent_at, sent_at + H] and how much of that the
// attribution model credited to it. Holdout reminders get outcomes too
// (never any credit): they are the control group of the uplift.
//
// An Outcome is provisional until the watermark passes sent_at + H, then
// final. A late event within retention can still rewrite a final outcome;
// the rewrite carries a higher Version.
type Outcome struct {
	Reminder *schemas.Reminder
	Horizon  Horizon
	// CollectedMinor sums the allocations on the invoice paid within the
	// horizon after the reminder (whoever is credited with them).
	CollectedMinor int64
	// Allocations counts them.
	Allocations int
	// CreditedMinor is the part credited to this reminder under the model.
	CreditedMinor int64
	Model         Model
	Final         bool
	Version       uint64
}

type outcomeVals struct {
	collected, credited int64
	allocations         int
	final               bool
}

// finalEntry schedules the moment an outcome becomes final.
type finalEntry struct {
	atMs int64
	rem  *reminderState
	hi   int
}

type finalHeap []finalEntry

func (h finalHeap) Len() int           { return len(h) }
func (h finalHeap) Less(i, j int) bool { return h[i].atMs < h[j].atMs }
func (h finalHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *finalHeap) Push(x any)        { *h = append(*h, x.(finalEntry)) }
func (h *finalHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// trackOutcomes starts the outcome bookkeeping of a new reminder.
func (j *Joiner) trackOutcomes(rs *reminderState) {
	rs.final = make([]bool, len(j.cfg.horizons))
	rs.lastOut = make([]outcomeVals, len(j.cfg.horizons))
	for hi, h := range j.cfg.horizons {
		at := rs.sentMs + time.Duration(h).Milliseconds()
		if at <= j.wm {
			rs.final[hi] = true
		} else {
			heap.Push(&j.finals, finalEntry{atMs: at, rem: rs, hi: hi})
		}
	}
	if !j.quiet {
		j.touch(rs)
	}
}

// touch marks rs for an outcome update at the next Drain.
func (j *Joiner) touch(rs *reminderState) {
	if !rs.dirty {
		rs.dirty = true
		j.dirty = append(j.dirty, rs)
	}
}

// touchAround marks the reminders whose outcomes an allocation paid at paid
// on inv may change: those sent within the largest horizon before it.
func (j *Joiner) touchAround(inv *invoiceState, paid int64) {
	for _, r := range inv.reminders {
		if r.sentMs <= paid && paid-r.sentMs <= j.hmaxMs {
			j.touch(r)
		}
	}
}

// finalize marks outcomes whose horizon the watermark has passed.
func (j *Joiner) finalize(w int64) {
	for len(j.finals) > 0 && j.finals[0].atMs <= w {
		e := heap.Pop(&j.finals).(finalEntry)
		e.rem.final[e.hi] = true
		j.touch(e.rem)
	}
}

// outcomes computes the outcomes of the touched reminders and returns the
// ones that changed since they were last returned.
func (j *Joiner) outcomes() []Outcome {
	var out []Outcome
	var v uint64
	for _, rs := range j.dirty {
		rs.dirty = false
		for hi, h := range j.cfg.horizons {
			hMs := time.Duration(h).Milliseconds()
			vals := outcomeVals{final: rs.final[hi]}
			for _, a := range rs.inv.allocs {
				paid := a.pay.paidMs
				if !a.done || paid < rs.sentMs || paid-rs.sentMs > hMs {
					continue
				}
				vals.collected += a.amount
				vals.allocations++
				for _, e := range a.last[hi] {
					if e.rem == rs {
						vals.credited += e.credited
					}
				}
			}
			if rs.emitted && vals == rs.lastOut[hi] {
				continue
			}
			if v == 0 {
				v = j.cfg.version()
			}
			rs.lastOut[hi] = vals
			out = append(out, Outcome{Reminder: &rs.r, Horizon: h, CollectedMinor: vals.collected, Allocations: vals.allocations,
				CreditedMinor: vals.credited, Model: j.cfg.model, Final: vals.final, Version: v})
		}
		rs.emitted = true
	}
	j.dirty = j.dirty[:0]
	return out
}
