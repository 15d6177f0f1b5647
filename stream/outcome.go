package stream

import (
	"math"

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
	allocations         int32
	final               bool
}

// trackOutcomes starts the outcome bookkeeping of a new reminder: the
// horizons already passed by the watermark are final; the next one to turn
// final is scheduled on the invoice's entry in the finals heap.
func (j *Joiner) trackOutcomes(rs *reminderState) {
	for int(rs.nfinal) < len(j.hMs) && rs.sentMs+j.hMs[rs.nfinal] <= j.wm {
		rs.nfinal++
	}
	if int(rs.nfinal) < len(j.hMs) {
		j.scheduleFinal(rs.inv, rs.sentMs+j.hMs[rs.nfinal])
	}
	if !j.quiet {
		j.touch(rs)
	}
}

// scheduleFinal makes sure inv is in the finals heap no later than atMs.
func (j *Joiner) scheduleFinal(inv *invoiceState, atMs int64) {
	if atMs < inv.finalAtMs {
		inv.finalAtMs = atMs
		j.finals.push(timedEntry{atMs: atMs, inv: inv})
	}
}

// touch marks rs for an outcome update at the next Drain.
func (j *Joiner) touch(rs *reminderState) {
	if rs.flags&flagDirty == 0 {
		rs.flags |= flagDirty
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

// finalize marks outcomes whose horizon the watermark has passed. Entries
// are per invoice and checked lazily (an invoice dropped, or re-scheduled
// earlier, leaves a stale entry behind).
func (j *Joiner) finalize(w int64) {
	for len(j.finals) > 0 && j.finals[0].atMs <= w {
		e := j.finals.pop()
		inv := e.inv
		if e.atMs != inv.finalAtMs || inv.dropped {
			continue
		}
		next := int64(math.MaxInt64)
		for _, r := range inv.reminders {
			moved := false
			for int(r.nfinal) < len(j.hMs) && r.sentMs+j.hMs[r.nfinal] <= w {
				r.nfinal++
				moved = true
			}
			if moved {
				j.touch(r)
			}
			if int(r.nfinal) < len(j.hMs) {
				next = min(next, r.sentMs+j.hMs[r.nfinal])
			}
		}
		inv.finalAtMs = math.MaxInt64
		if next != math.MaxInt64 {
			j.scheduleFinal(inv, next)
		}
	}
}

// outcomes computes the outcomes of the touched reminders and returns the
// ones that changed since they were last returned.
func (j *Joiner) outcomes() []Outcome {
	if len(j.dirty) == 0 {
		return nil
	}
	nh := len(j.cfg.horizons)
	out := make([]Outcome, 0, len(j.dirty)*nh)
	var v uint64
	var cur [8]outcomeVals
	vals := cur[:0]
	if nh > len(cur) {
		vals = make([]outcomeVals, 0, nh)
	}
	for _, rs := range j.dirty {
		rs.flags &^= flagDirty
		vals = vals[:0]
		nonzero := false
		for hi, hMs := range j.hMs {
			x := outcomeVals{final: hi < int(rs.nfinal)}
			for _, a := range rs.inv.allocs {
				paid := a.pay.paidMs
				if !a.done || paid < rs.sentMs || paid-rs.sentMs > hMs {
					continue
				}
				x.collected += a.amount
				x.allocations++
				for _, e := range a.lastAt(hi) {
					if e.rem == rs {
						x.credited += e.credited
					}
				}
			}
			if x.collected != 0 || x.credited != 0 || x.allocations != 0 {
				nonzero = true
			}
			vals = append(vals, x)
		}
		emitted := rs.flags&flagEmitted != 0
		for hi, x := range vals {
			prev := outcomeVals{final: hi < int(rs.outFinal)}
			if rs.lastOut != nil {
				prev = (*rs.lastOut)[hi]
			}
			if emitted && x == prev {
				continue
			}
			if v == 0 {
				v = j.cfg.version()
			}
			out = append(out, Outcome{Reminder: j.reminder(rs), Horizon: j.cfg.horizons[hi], CollectedMinor: x.collected,
				Allocations: int(x.allocations), CreditedMinor: x.credited, Model: j.cfg.model, Final: x.final, Version: v})
		}
		switch {
		case rs.lastOut != nil:
			copy(*rs.lastOut, vals)
		case nonzero:
			last := append([]outcomeVals(nil), vals...)
			rs.lastOut = &last
		default:
			rs.outFinal = rs.nfinal
		}
		rs.flags |= flagEmitted
	}
	j.dirty = j.dirty[:0]
	return out
}
