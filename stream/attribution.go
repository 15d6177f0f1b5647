package stream

import (
	"math"
	"sort"
)

// candidate is a reminder eligible for an allocation: sent at or before the
// payment and within the horizon.
type candidate struct {
	rem   *reminderState
	lagMs int64
}

// latestFirst orders candidates by the last_touch preference: later sent_at,
// then higher level, then greater reminder_id. Index 0 is "the latest".
func latestFirst(c []candidate) {
	sort.Slice(c, func(i, j int) bool { return c[i].rem.after(c[j].rem) })
}

// credit is the share of an allocation given to one candidate.
type credit struct {
	rem    *reminderState
	amount int64
}

// attribute splits amount over candidates (ordered latestFirst, non-empty)
// under model m. Credits always sum exactly to amount.
func attribute(m Model, amount int64, cands []candidate, halfLifeMs float64, out []credit) []credit {
	out = out[:0]
	switch m {
	case LastTouch:
		return append(out, credit{cands[0].rem, amount})
	case FirstTouch:
		return append(out, credit{cands[len(cands)-1].rem, amount})
	case Linear:
		n := int64(len(cands))
		each := amount / n
		for _, c := range cands {
			out = append(out, credit{c.rem, each})
		}
		out[0].amount += amount - each*n
		return out
	case TimeDecay:
		// Weights relative to the smallest lag (the same ratios as SPEC's
		// 2^(-lag/half_life)): candidates sent at the same instant as the
		// latest weigh exactly 1, so n tied candidates get exactly
		// amount/n each. With absolute weights their float sum fell just
		// short of n times one weight and the floor lost a minor unit per
		// tied candidate to the latest.
		minLag := cands[0].lagMs
		for _, c := range cands[1:] {
			minLag = min(minLag, c.lagMs)
		}
		var total float64
		for _, c := range cands {
			total += math.Pow(2, -float64(c.lagMs-minLag)/halfLifeMs)
		}
		var given int64
		for _, c := range cands {
			w := math.Pow(2, -float64(c.lagMs-minLag)/halfLifeMs)
			share := int64(math.Floor(float64(amount) * w / total))
			given += share
			out = append(out, credit{c.rem, share})
		}
		out[0].amount += amount - given
		return out
	}
	panic("stream: unknown model " + m.String())
}
