package stream

import (
	"encoding/binary"
	"unsafe"
)

// slabChunk is how many items a slab allocates at once.
const slabChunk = 1024

// slab hands out items carved from chunks and takes back those of dropped
// invoices, so that steady state (invoices in, expired invoices out)
// allocates nothing per event and the GC sees a few large objects instead
// of one per reminder. Chunks are never given back: their size follows the
// largest state held.
type slab[T any] struct {
	chunk []T
	free  []*T
}

// get returns a zeroed item.
func (s *slab[T]) get() *T {
	if n := len(s.free); n > 0 {
		p := s.free[n-1]
		s.free[n-1] = nil
		s.free = s.free[:n-1]
		return p
	}
	if len(s.chunk) == cap(s.chunk) {
		s.chunk = make([]T, 0, slabChunk)
	}
	s.chunk = s.chunk[:len(s.chunk)+1]
	return &s.chunk[len(s.chunk)-1]
}

// put zeroes p (so that it holds nothing alive) and takes it back.
func (s *slab[T]) put(p *T) {
	var zero T
	*p = zero
	s.free = append(s.free, p)
}

// valsPool holds the per-horizon outcome values last returned for
// reminders, in blocks of one entry per horizon in one pointer-free slice
// that the GC does not scan. Block b (from 1) is vals[(b-1)*n : b*n].
type valsPool struct {
	n    int
	vals []outcomeVals
	free []uint32
}

func (p *valsPool) get() uint32 {
	if k := len(p.free); k > 0 {
		b := p.free[k-1]
		p.free = p.free[:k-1]
		return b
	}
	for range p.n {
		p.vals = append(p.vals, outcomeVals{})
	}
	return uint32(len(p.vals) / p.n)
}

func (p *valsPool) block(b uint32) []outcomeVals {
	i := int(b-1) * p.n
	return p.vals[i : i+p.n : i+p.n]
}

func (p *valsPool) put(b uint32) {
	clear(p.block(b))
	p.free = append(p.free, b)
}

// arenaChunk is the size of the chunks ids are copied into.
const arenaChunk = 16 << 10

// arena holds the ids kept in state (invoice, customer, event and reminder
// ids) packed in shared chunks instead of one small allocation each: no
// rounding to a size class, and the GC meets pointers into a few large
// objects instead of one tiny object per id. Bytes are written once and
// never reused, so strings pointing into a chunk (also those handed out in
// Facts and Outcomes) stay valid; a chunk is freed by the GC when nothing
// points into it any more (ids are copied in about the order their state
// leaves, so chunks empty out whole).
type arena struct{ buf []byte }

// join returns a+b copied into the arena.
func (ar *arena) join(a, b string) string {
	n := len(a) + len(b)
	if n == 0 {
		return ""
	}
	if cap(ar.buf)-len(ar.buf) < n {
		ar.buf = make([]byte, 0, max(arenaChunk, n))
	}
	start := len(ar.buf)
	ar.buf = append(ar.buf, a...)
	ar.buf = append(ar.buf, b...)
	return unsafe.String(&ar.buf[start], n)
}

// reminder copies the record of a reminder into the arena and returns
// where it starts: the lengths of its event id and reminder id and its
// level as varints, then its due date and amount due as varints when
// ownDue and ownAmount (else its invoice's are its own), then both ids.
// Lengths and level are usually one byte each, where fields of
// reminderState would cost 16 bytes.
func (ar *arena) reminder(eventID, reminderID string, level int32, ownDue bool, dueMs int64, ownAmount bool, amountDue int64) unsafe.Pointer {
	var hdr [5 * binary.MaxVarintLen64]byte
	h := binary.AppendUvarint(hdr[:0], uint64(len(eventID)))
	h = binary.AppendUvarint(h, uint64(len(reminderID)))
	h = binary.AppendVarint(h, int64(level))
	if ownDue {
		h = binary.AppendVarint(h, dueMs)
	}
	if ownAmount {
		h = binary.AppendVarint(h, amountDue)
	}
	return ar.record(h, eventID, nil, reminderID)
}

// invoiceID copies an invoice id into the arena, after its length as a
// varint, and returns where it starts.
func (ar *arena) invoiceID(id string) unsafe.Pointer {
	var hdr [binary.MaxVarintLen64]byte
	return ar.record(binary.AppendUvarint(hdr[:0], uint64(len(id))), "", nil, id)
}

// invoiceFirst adds to rec, an invoice's record written by invoiceID,
// what the invoice keeps of its first reminder: due date and amount due
// as varints, then the length of the customer id as a varint and the id.
// It returns the record: rec, grown in place when it is the last one
// written (the usual case: the first reminder made the invoice), else a
// copy of its id followed by those fields (the old bytes stay as they
// are: ids handed out may point to them).
func (ar *arena) invoiceFirst(rec unsafe.Pointer, customerID string, dueMs, amountDue int64) unsafe.Pointer {
	var hdr [3 * binary.MaxVarintLen64]byte
	h := binary.AppendVarint(hdr[:0], dueMs)
	h = binary.AppendVarint(h, amountDue)
	h = binary.AppendUvarint(h, uint64(len(customerID)))
	n, p := uvarintAt(rec)
	// Compared as addresses only: the end of the id may be the end of
	// its chunk.
	idEnd := uintptr(p) + uintptr(n)
	if k := len(ar.buf); k > 0 && uintptr(unsafe.Pointer(&ar.buf[k-1]))+1 == idEnd && cap(ar.buf)-k >= len(h)+len(customerID)+1 {
		ar.buf = append(ar.buf, h...)
		ar.buf = append(ar.buf, customerID...)
		if len(customerID) == 0 {
			ar.buf = append(ar.buf, 0) // see record
		}
		return rec
	}
	var idHdr [binary.MaxVarintLen64]byte
	return ar.record(binary.AppendUvarint(idHdr[:0], n), unsafe.String((*byte)(p), int(n)), h, customerID)
}

// record copies h1, a, h2 and b into the arena, contiguous, and returns
// where they start. When b is empty a byte of padding follows, so that the
// address just past the last varint read, where an empty string starts,
// is still inside the chunk: a pointer past the end of an allocation is
// invalid.
func (ar *arena) record(h1 []byte, a string, h2 []byte, b string) unsafe.Pointer {
	n := len(h1) + len(a) + len(h2) + len(b)
	if len(b) == 0 {
		n++
	}
	if cap(ar.buf)-len(ar.buf) < n {
		ar.buf = make([]byte, 0, max(arenaChunk, n))
	}
	start := len(ar.buf)
	ar.buf = append(ar.buf, h1...)
	ar.buf = append(ar.buf, a...)
	ar.buf = append(ar.buf, h2...)
	ar.buf = append(ar.buf, b...)
	if len(b) == 0 {
		ar.buf = append(ar.buf, 0)
	}
	return unsafe.Pointer(&ar.buf[start])
}

// uvarintAt decodes the unsigned varint at p (in the arena) and returns
// it with the address just past it.
func uvarintAt(p unsafe.Pointer) (uint64, unsafe.Pointer) {
	var x uint64
	for s := uint(0); ; s += 7 {
		b := *(*byte)(p)
		p = unsafe.Add(p, 1)
		if b < 0x80 {
			return x | uint64(b)<<s, p
		}
		x |= uint64(b&0x7f) << s
	}
}

// varintAt decodes the signed varint at p, as binary.AppendVarint wrote it.
func varintAt(p unsafe.Pointer) (int64, unsafe.Pointer) {
	ux, p := uvarintAt(p)
	x := int64(ux >> 1)
	if ux&1 != 0 {
		x = ^x
	}
	return x, p
}

// invSlab is a slab of invoices addressed by index, so that reminders can
// name their invoice without a pointer (see reminderState).
type invSlab struct {
	chunks [][]invoiceState
	n      uint32 // items carved so far
	free   []uint32
}

func (s *invSlab) at(i uint32) *invoiceState { return &s.chunks[i/slabChunk][i%slabChunk] }

// get returns a zeroed invoice whose idx is set.
func (s *invSlab) get() *invoiceState {
	if k := len(s.free); k > 0 {
		i := s.free[k-1]
		s.free = s.free[:k-1]
		return s.at(i)
	}
	if s.n%slabChunk == 0 {
		s.chunks = append(s.chunks, make([]invoiceState, slabChunk))
	}
	inv := s.at(s.n)
	inv.idx = s.n
	s.n++
	return inv
}

// put zeroes inv, but for its index, the generation that makes heap
// entries made for this use stale, and the room of its allocations list
// (emptied: most invoices get a payment, and keeping the array makes the
// next use of this item allocate nothing), and takes it back.
func (s *invSlab) put(inv *invoiceState) {
	idx, gen := inv.idx, inv.gen+1
	allocs := inv.allocs[:cap(inv.allocs)]
	clear(allocs)
	*inv = invoiceState{}
	inv.idx, inv.gen, inv.allocs = idx, gen, allocs[:0]
	s.free = append(s.free, idx)
}
