package stream

import "hash/maphash"

// invoiceTable maps invoice ids to their state. It is an open-addressing
// table with linear probing that keeps each entry's 64-bit hash next to it:
// a probe compares hashes and reads the id only on a match, from the
// invoice that the caller reads next anyway. Compared with a map keyed by
// the id string, a lookup touches one slot instead of a control word, a
// slot and the key's bytes, and the GC sees one pointer per entry instead
// of two. Deletion shifts entries back (no tombstones), so a long-running
// Joiner's probes stay short.
type invoiceTable struct {
	seed  maphash.Seed
	slots []invSlot // len is a power of two, or 0
	n     int
}

type invSlot struct {
	hash uint64
	inv  *invoiceState // nil: empty
}

func newInvoiceTable() invoiceTable { return invoiceTable{seed: maphash.MakeSeed()} }

func (t *invoiceTable) len() int { return t.n }

// get returns the state of invoice id, nil if none.
func (t *invoiceTable) get(id string) *invoiceState {
	if t.n == 0 {
		return nil
	}
	h := maphash.String(t.seed, id)
	mask := len(t.slots) - 1
	for i := int(h) & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.inv == nil {
			return nil
		}
		if s.hash == h && s.inv.id == id {
			return s.inv
		}
	}
}

// add inserts inv, whose id is not in the table.
func (t *invoiceTable) add(inv *invoiceState) {
	if (t.n+1)*4 > len(t.slots)*3 {
		t.grow()
	}
	t.insert(invSlot{hash: maphash.String(t.seed, inv.id), inv: inv})
	t.n++
}

func (t *invoiceTable) insert(e invSlot) {
	mask := len(t.slots) - 1
	i := int(e.hash) & mask
	for t.slots[i].inv != nil {
		i = (i + 1) & mask
	}
	t.slots[i] = e
}

func (t *invoiceTable) grow() {
	old := t.slots
	t.slots = make([]invSlot, max(64, 2*len(old)))
	for _, e := range old {
		if e.inv != nil {
			t.insert(e)
		}
	}
}

// remove deletes inv, which is in the table.
func (t *invoiceTable) remove(inv *invoiceState) {
	h := maphash.String(t.seed, inv.id)
	mask := len(t.slots) - 1
	i := int(h) & mask
	for t.slots[i].inv != inv {
		i = (i + 1) & mask
	}
	// Shift back the entries after i that would no longer be found past
	// the hole: those whose home slot is not cyclically in (i, k].
	for k := (i + 1) & mask; t.slots[k].inv != nil; k = (k + 1) & mask {
		home := int(t.slots[k].hash) & mask
		if i <= k {
			if i < home && home <= k {
				continue
			}
		} else if i < home || home <= k {
			continue
		}
		t.slots[i] = t.slots[k]
		i = k
	}
	t.slots[i] = invSlot{}
	t.n--
}

// all yields every invoice; the table must not change meanwhile.
func (t *invoiceTable) all(yield func(*invoiceState) bool) {
	for _, s := range t.slots {
		if s.inv != nil && !yield(s.inv) {
			return
		}
	}
}
