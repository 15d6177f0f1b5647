package stream

import "hash/maphash"

// invoiceTable maps invoice ids to their state. It is an open-addressing
// table with linear probing that keeps 32 bits of each entry's hash next to
// it: a probe compares hashes and reads the id only on a match, from the
// invoice that the caller reads next anyway. Compared with a map keyed by
// the id string, a lookup touches one slot instead of a control word, a
// slot and the key's bytes. A slot names its invoice by index in the
// invoice slab: 8 bytes, with no pointer for the GC to scan. Deletion
// shifts entries back (no tombstones), so a long-running Joiner's probes
// stay short.
type invoiceTable struct {
	seed  maphash.Seed
	invs  *invSlab
	slots []invSlot // len is a power of two, or 0
	n     int
}

type invSlot struct {
	hash uint32 // the low bits of the id's hash
	ref  uint32 // index in invs + 1; 0: empty
}

func newInvoiceTable(invs *invSlab) invoiceTable {
	return invoiceTable{seed: maphash.MakeSeed(), invs: invs}
}

func (t *invoiceTable) len() int { return t.n }

// get returns the state of invoice id, nil if none.
func (t *invoiceTable) get(id string) *invoiceState {
	if t.n == 0 {
		return nil
	}
	h := uint32(maphash.String(t.seed, id))
	mask := len(t.slots) - 1
	for i := int(h) & mask; ; i = (i + 1) & mask {
		s := t.slots[i]
		if s.ref == 0 {
			return nil
		}
		if s.hash == h {
			if inv := t.invs.at(s.ref - 1); inv.id() == id {
				return inv
			}
		}
	}
}

// add inserts inv, whose id is not in the table.
func (t *invoiceTable) add(inv *invoiceState) {
	if (t.n+1)*4 > len(t.slots)*3 {
		t.grow()
	}
	t.insert(invSlot{hash: uint32(maphash.String(t.seed, inv.id())), ref: inv.idx + 1})
	t.n++
}

func (t *invoiceTable) insert(e invSlot) {
	mask := len(t.slots) - 1
	i := int(e.hash) & mask
	for t.slots[i].ref != 0 {
		i = (i + 1) & mask
	}
	t.slots[i] = e
}

func (t *invoiceTable) grow() {
	old := t.slots
	t.slots = make([]invSlot, max(64, 2*len(old)))
	for _, e := range old {
		if e.ref != 0 {
			t.insert(e)
		}
	}
}

// remove deletes inv, which is in the table.
func (t *invoiceTable) remove(inv *invoiceState) {
	h := uint32(maphash.String(t.seed, inv.id()))
	ref := inv.idx + 1
	mask := len(t.slots) - 1
	i := int(h) & mask
	for t.slots[i].ref != ref {
		i = (i + 1) & mask
	}
	// Shift back the entries after i that would no longer be found past
	// the hole: those whose home slot is not cyclically in (i, k].
	for k := (i + 1) & mask; t.slots[k].ref != 0; k = (k + 1) & mask {
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
		if s.ref != 0 && !yield(t.invs.at(s.ref-1)) {
			return
		}
	}
}
