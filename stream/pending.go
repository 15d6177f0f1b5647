package stream

// Pending returns how many allocations wait for the watermark to pass their
// paid_at before their facts are written: output held back by the slower
// input (or by an input not yet declared idle).
func (j *Joiner) Pending() int { return len(j.pending) }
