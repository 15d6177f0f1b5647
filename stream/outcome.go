package stream

import (
	"unsafe"

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
	// horizon after the reminder (whoever is credited with them), in the
	// reminder's currency: allocations in another are left out.
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
// final is scheduled.
func (j *Joiner) trackOutcomes(rs *reminderState) {
	for int(rs.nfinal) < len(j.hMs) && rs.sentMs+j.hMs[rs.nfinal] <= j.wm {
		rs.nfinal++
	}
	if int(rs.nfinal) < len(j.hMs) {
		j.scheduleFinal(rs)
	}
	rs.flags |= flagRecount
	if !j.quiet {
		j.touch(rs)
	}
}

// finalQueue holds, in order of the time they turn final, reminders whose
// next outcome to turn final is that of one horizon. Reminders arrive
// mostly in sent_at order, so appending keeps the order and popping the
// head is O(1); the reminders are visited in about the order they were
// carved from their slab, which the cache likes. One that would break the
// order goes to the late heap instead.
type finalQueue struct {
	q    []*reminderState
	head int
}

// scheduleFinal queues rs until its outcome of horizon nfinal turns final.
// A reminder is in one queue (or the late heap) at a time, and leaves it
// before its invoice can be dropped (that needs the watermark past sent_at
// + the largest horizon + retention, and finalize runs first).
func (j *Joiner) scheduleFinal(rs *reminderState) {
	k := rs.nfinal
	at := rs.sentMs + j.hMs[k]
	fq := &j.finals[k]
	if n := len(fq.q); n > fq.head {
		if last := fq.q[n-1]; last.sentMs+j.hMs[k] > at {
			j.finalsLate.push(at, rs) // turns final at at for horizon rs.nfinal
			return
		}
	}
	if fq.head > 0 && fq.head >= len(fq.q)/2 && len(fq.q) == cap(fq.q) {
		n := copy(fq.q, fq.q[fq.head:])
		clear(fq.q[n:])
		fq.q = fq.q[:n]
		fq.head = 0
	}
	fq.q = append(fq.q, rs)
}

// touch marks rs for an outcome update at the next Drain.
func (j *Joiner) touch(rs *reminderState) {
	rs.flags |= flagRecount
	j.touchFinal(rs)
}

// touchFinal marks rs for an outcome update at the next Drain because an
// outcome of it turned final, its values unchanged.
func (j *Joiner) touchFinal(rs *reminderState) {
	if rs.flags&flagDirty == 0 {
		rs.flags |= flagDirty
		j.dirty = append(j.dirty, rs)
	}
}

// touchAround marks the reminders whose outcomes an allocation paid at paid
// on inv may change: those sent within the largest horizon before it.
func (j *Joiner) touchAround(inv *invoiceState, paid int64) {
	for _, r := range j.reminders(inv) {
		if r.sentMs <= paid && paid-r.sentMs <= j.hmaxMs {
			j.touch(r)
		}
	}
}

// markAround is touchAround during a replay, which returns no outcome:
// the values of those reminders are only marked to be recomputed when
// they are next touched.
func (j *Joiner) markAround(inv *invoiceState, paid int64) {
	for _, r := range j.reminders(inv) {
		if r.sentMs <= paid && paid-r.sentMs <= j.hmaxMs {
			r.flags |= flagRecount
		}
	}
}

// finalize marks outcomes whose horizon the watermark has passed, in
// time order across the queues of every horizon and the late heap.
func (j *Joiner) finalize(w int64) {
	for {
		var rs *reminderState
		at, from := w, -1
		for k := range j.finals {
			fq := &j.finals[k]
			if fq.head < len(fq.q) {
				if t := fq.q[fq.head].sentMs + j.hMs[k]; t <= at {
					at, from, rs = t, k, fq.q[fq.head]
				}
			}
		}
		if len(j.finalsLate) > 0 && j.finalsLate[0].atMs <= at {
			rs, from = j.finalsLate.pop().v, len(j.finals)
		} else if from >= 0 {
			fq := &j.finals[from]
			fq.q[fq.head] = nil
			fq.head++
		} else {
			return
		}
		rs.nfinal++
		j.touchFinal(rs)
		if int(rs.nfinal) < len(j.hMs) {
			j.scheduleFinal(rs)
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
	out := j.outBuf
	var v uint64
	var cur [8]outcomeVals
	vals := cur[:0]
	if nh > len(cur) {
		vals = make([]outcomeVals, 0, nh)
	}
	j.warm()
	for _, rs := range j.dirty {
		var nonzero bool
		if rs.flags&(flagRecount|flagEmitted) == flagEmitted {
			// Only turned final: the values are those last computed.
			vals = vals[:0]
			for hi := range j.hMs {
				x := outcomeVals{}
				if rs.lastOut != 0 {
					x = j.outVals.block(rs.lastOut)[hi]
				}
				x.final = hi < int(rs.nfinal)
				vals = append(vals, x)
			}
			nonzero = rs.lastOut != 0
		} else {
			vals, nonzero = j.recount(rs, vals[:0])
		}
		emitted := rs.flags&flagEmitted != 0
		for hi, x := range vals {
			prev := outcomeVals{final: hi < int(rs.outFinal)}
			if rs.lastOut != 0 {
				prev = j.outVals.block(rs.lastOut)[hi]
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
		case rs.lastOut != 0:
			copy(j.outVals.block(rs.lastOut), vals)
		case nonzero:
			rs.lastOut = j.outVals.get()
			copy(j.outVals.block(rs.lastOut), vals)
		default:
			rs.outFinal = rs.nfinal
		}
		rs.flags = rs.flags&^(flagDirty|flagRecount) | flagEmitted
	}
	clear(j.dirty)
	j.dirty = j.dirty[:0]
	for _, inv := range j.doomed {
		j.free(inv)
	}
	clear(j.doomed)
	j.doomed = j.doomed[:0]
	j.outBuf = out
	if j.recycling {
		return j.outRec.handOut(&j.outBuf)
	}
	return handOut(&j.outBuf)
}

// warm reads, ahead of outcomes, the memory that computing the outcomes of
// the dirty reminders will read: most of it is cold (reminders turned
// final weeks after they were sent), and loads that do not depend on one
// another overlap, where the same loads in the body of outcomes' loop
// wait for one another.
func (j *Joiner) warm() {
	var sum uint64
	for _, rs := range j.dirty {
		sum += uint64(rs.flags)
	}
	for _, rs := range j.dirty {
		sum += uint64(j.invs.at(rs.inv).nrem) + uint64(*(*byte)(rs.rec))
		if rs.lastOut != 0 {
			sum += uint64(j.outVals.vals[int(rs.lastOut-1)*j.outVals.n].allocations)
		}
	}
	// The records of the invoices: the first reminder's fields, read to
	// rebuild a reminder, follow the id (whose length is one byte but for
	// ids of 128 bytes and more) and may be on the next cache line.
	for _, rs := range j.dirty {
		inv := j.invs.at(rs.inv)
		n := *(*byte)(inv.rec)
		sum += uint64(n)
		if n < 0x80 && inv.hasFirst {
			sum += uint64(*(*byte)(unsafe.Add(inv.rec, 1+int(n))))
		}
	}
	j.warmSum = sum
}

// recount appends to vals the outcome values of rs per horizon, computed
// from its invoice's allocations, and whether any is non-zero.
func (j *Joiner) recount(rs *reminderState, vals []outcomeVals) ([]outcomeVals, bool) {
	nonzero := false
	cur := j.profiles.list[rs.prof].currency
	for hi, hMs := range j.hMs {
		x := outcomeVals{final: hi < int(rs.nfinal)}
		for _, a := range j.invs.at(rs.inv).allocs {
			paid := a.pay.paidMs
			if !a.done || paid < rs.sentMs || paid-rs.sentMs > hMs || a.pay.p.Currency != cur {
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
	return vals, nonzero
}
