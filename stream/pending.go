package stream

// Pending returns how many allocations wait for the watermark to pass their
// paid_at before their facts are written: output held back by the slower
// input (or by an input not yet declared idle).
func (j *Joiner) Pending() int { return len(j.pending) }

// Held returns how many new events wait for the replay after a restart to
// end (see Resume) before they are applied: the caller keeps what it needs
// to report them later (e.g. a record to dead-letter as a Duplicate).
func (j *Joiner) Held() int { return len(j.held) }
