package stream

import "hash/maphash"

// TouchInvoices reads, ahead of the events that will need it, the join
// state of the invoices ids names (the invoices of the next reminders and
// the allocations of the next payments): their slots in the invoice table,
// the invoices, their records and their reminders. With a large state
// most of it is out of the cache; the loads of one pass do not depend on
// one another and overlap, where the same loads made by the events one at
// a time wait for one another. It changes nothing and is only worth it
// when the state is much larger than the cache.
func (j *Joiner) TouchInvoices(ids []string) {
	t := &j.invoices
	if t.n == 0 || len(ids) == 0 {
		return
	}
	mask := len(t.slots) - 1
	hs := j.touchHs[:0]
	var sum uint64
	for _, id := range ids {
		h := uint32(maphash.String(t.seed, id))
		hs = append(hs, h)
		sum += uint64(t.slots[int(h)&mask].ref)
	}
	// The invoices: the first slot whose hash matches (nearly always the
	// home slot or the next one, now in the cache).
	refs := j.touchRefs[:0]
	for _, h := range hs {
		for i := int(h) & mask; ; i = (i + 1) & mask {
			s := t.slots[i]
			if s.ref == 0 {
				break
			}
			if s.hash == h {
				refs = append(refs, s.ref-1)
				sum += uint64(*(*byte)(t.invs.at(s.ref - 1).rec))
				break
			}
		}
	}
	// Their reminders, the records of the reminders (read to find
	// duplicates) and the allocations' payments (read to find duplicates).
	for _, r := range refs {
		inv := t.invs.at(r)
		for _, rs := range j.reminders(inv) {
			sum += uint64(*(*byte)(rs.rec))
		}
		for _, a := range inv.allocs {
			sum += uint64(len(a.pay.p.PaymentID))
		}
	}
	j.touchHs, j.touchRefs = hs, refs
	j.warmSum += sum
}
