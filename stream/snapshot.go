package stream

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/relance-io/relance/schemas"
)

// A snapshot is the join state of one partition written as the events that
// rebuild it: every reminder and payment still held, with the offsets they
// were read at, the watermark, and the offsets reading had reached when it
// was taken. Restoring replays those events quietly (as a replay from
// Kafka would, see Resume) instead of re-reading the topics from the oldest
// event held.
//
// Events rather than the in-memory structures, so that the format does not
// change when the join state's layout does, and a snapshot stays valid for
// a Joiner with other horizons or another attribution model (the events are
// the same; the state built from them follows the configuration).
//
// Layout (version 1), integers as varints:
//
//	"RLNS" 1 | watermark | offsets read (reminders, payments)
//	profiles: n × (channel plan sender currency customer #attrs (key value)…)
//	invoices: n × (id customer minReminderOffset #reminders
//	               (eventID reminderID profile sent due amountDue level flags)…)
//	payments: n × (offset eventID paymentID customer paid method currency
//	               #allocations (invoice amount held)…)
//	CRC-32C of everything before, 4 bytes little endian
const snapshotMagic = "RLNS\x01"

// ErrSnapshotReplaying is returned by Snapshot while the Joiner is still
// replaying after a restart: its state is not yet the state at the offsets
// read. Take the snapshot at a later flush.
var ErrSnapshotReplaying = errors.New("stream: no snapshot while a replay is in progress; try again after it")

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Replaying reports whether the Joiner is still re-reading events processed
// before a restart (see Resume).
func (j *Joiner) Replaying() bool {
	return j.replaying[Reminders] || j.replaying[Payments] || len(j.held) > 0
}

// AppendSnapshot appends to dst a snapshot of the join state, taken when
// reading has reached offset remindersNext of the reminders partition and
// paymentsNext of the payments partition (every event below them has been
// fed). Call it after Drain, when what the state produced is written.
func (j *Joiner) AppendSnapshot(dst []byte, remindersNext, paymentsNext int64) ([]byte, error) {
	if j.Replaying() {
		return dst, ErrSnapshotReplaying
	}
	start := len(dst)
	b := append(dst, snapshotMagic...)
	b = binary.AppendVarint(b, j.wm)
	b = binary.AppendVarint(b, remindersNext)
	b = binary.AppendVarint(b, paymentsNext)

	// Invoices in id order and payments in offset order: the same state
	// gives the same bytes.
	invs := make([]*invoiceState, 0, j.invoices.len())
	for inv := range j.invoices.all {
		invs = append(invs, inv)
	}
	slices.SortFunc(invs, func(a, b *invoiceState) int { return strings.Compare(a.id(), b.id()) })
	profIdx := map[*profile]int{}
	var profs []*profile
	var pays []*paymentState
	held := map[*paymentState][]bool{} // allocations held, by index
	for _, inv := range invs {
		for _, r := range j.reminders(inv) {
			p := j.profiles.list[r.prof]
			if _, ok := profIdx[p]; !ok {
				profIdx[p] = len(profs)
				profs = append(profs, p)
			}
		}
		for _, a := range inv.allocs {
			h := held[a.pay]
			if h == nil {
				h = make([]bool, len(a.pay.p.Allocations))
				held[a.pay] = h
				pays = append(pays, a.pay)
			}
			h[a.index] = true
		}
	}
	slices.SortFunc(pays, func(a, b *paymentState) int {
		if a.offset != b.offset {
			if a.offset < b.offset {
				return -1
			}
			return 1
		}
		switch {
		case a.p.PaymentID < b.p.PaymentID:
			return -1
		case a.p.PaymentID > b.p.PaymentID:
			return 1
		}
		return 0
	})

	b = binary.AppendUvarint(b, uint64(len(profs)))
	var keys []string
	for _, p := range profs {
		b = appendString(b, p.channel)
		b = appendString(b, p.plan)
		b = appendString(b, p.sender)
		b = appendString(b, p.currency)
		b = appendString(b, p.customerID)
		keys = keys[:0]
		for k := range p.attrs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b = binary.AppendUvarint(b, uint64(len(keys)))
		for _, k := range keys {
			b = appendString(b, k)
			b = appendString(b, p.attrs[k])
		}
	}

	b = binary.AppendUvarint(b, uint64(len(invs)))
	for _, inv := range invs {
		b = appendString(b, inv.id())
		b = appendString(b, inv.customerID())
		b = binary.AppendVarint(b, inv.minRemOff)
		b = binary.AppendUvarint(b, uint64(len(j.reminders(inv))))
		for _, r := range j.reminders(inv) {
			rec := r.record(inv)
			b = appendString(b, rec.eventID)
			b = appendString(b, rec.reminderID)
			b = binary.AppendUvarint(b, uint64(profIdx[j.profiles.list[r.prof]]))
			b = binary.AppendVarint(b, r.sentMs)
			b = binary.AppendVarint(b, rec.dueMs)
			b = binary.AppendVarint(b, rec.amountDue)
			b = binary.AppendVarint(b, int64(rec.level))
			b = append(b, r.flags&(flagHoldout|flagFinalNotice|flagDueZero))
		}
	}

	b = binary.AppendUvarint(b, uint64(len(pays)))
	for _, ps := range pays {
		p := &ps.p
		b = binary.AppendVarint(b, ps.offset)
		b = appendString(b, p.EventID)
		b = appendString(b, p.PaymentID)
		b = appendString(b, p.CustomerID)
		b = binary.AppendVarint(b, ps.paidMs)
		b = appendString(b, p.Method)
		b = appendString(b, p.Currency)
		b = binary.AppendUvarint(b, uint64(len(p.Allocations)))
		for i, al := range p.Allocations {
			b = appendString(b, al.InvoiceID)
			b = binary.AppendVarint(b, al.AmountMinor)
			// Only the allocations held are restored: one that was not
			// applied (too late) or whose invoice left state must not come
			// back.
			if held[ps][i] {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
		}
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[start:], crcTable)), nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// SnapshotInfo is what a snapshot says about itself.
type SnapshotInfo struct {
	Watermark time.Time // zero if there was none yet
	// RemindersNext and PaymentsNext are the offsets reading had reached:
	// reading resumes there after a restore.
	RemindersNext, PaymentsNext int64
	Invoices, Reminders         int
	Payments                    int
}

// snapshot is a decoded snapshot: the events to replay.
type snapshot struct {
	info      SnapshotInfo
	wm        int64
	reminders []schemas.Reminder
	remOffs   []int64
	payments  []schemas.Payment
	payOffs   []int64
	paySkip   [][]bool // per payment, the allocations not held
}

// ReadSnapshotInfo checks a snapshot (format and checksum) and returns what
// it holds, without restoring it.
func ReadSnapshotInfo(snap []byte) (SnapshotInfo, error) {
	s, err := decodeSnapshot(snap)
	return s.info, err
}

// Restore rebuilds the join state from snap, then resumes as Resume does:
// watermark is the committed one (at least the snapshot's), and per source
// From must be the offset the snapshot was taken at (reading resumes there)
// and End the offset the previous owner had read up to. Events in
// [From, End) are then replayed without producing facts again. Call it on a
// new Joiner, before the first event. A snapshot that is damaged or does
// not match From is refused with an error and the Joiner left untouched:
// the caller falls back to a replay from the committed low-water offsets.
func (j *Joiner) Restore(snap []byte, watermark time.Time, reminders, payments ResumeRange) error {
	if j.invoices.len() > 0 || j.seen[Reminders] || j.seen[Payments] {
		return errors.New("stream: Restore needs a new Joiner (this one has seen events)")
	}
	s, err := decodeSnapshot(snap)
	if err != nil {
		return err
	}
	if s.info.RemindersNext != reminders.From || s.info.PaymentsNext != payments.From {
		return fmt.Errorf("stream: the snapshot was taken at offsets %d/%d (reminders/payments), reading resumes at %d/%d: it does not belong to this commit",
			s.info.RemindersNext, s.info.PaymentsNext, reminders.From, payments.From)
	}
	if watermark.IsZero() && s.wm != math.MinInt64 {
		watermark = time.UnixMilli(s.wm).UTC()
	} else if !watermark.IsZero() && s.wm != math.MinInt64 && s.wm > watermark.UnixMilli() {
		watermark = time.UnixMilli(s.wm).UTC()
	}
	j.Resume(watermark, reminders, payments)
	// Every event of the snapshot was processed and its facts written:
	// replayed below the end offsets, they rebuild state quietly.
	j.replayEnd[Reminders] = max(j.replayEnd[Reminders], reminders.From)
	j.replayEnd[Payments] = max(j.replayEnd[Payments], payments.From)
	for i := range s.reminders {
		j.addReminder(s.reminders[i], s.remOffs[i])
	}
	for i := range s.payments {
		p := &s.payments[i]
		j.stats.Payments++
		j.stats.Replayed++
		j.quiet = true
		j.applyPayment(*p, s.payOffs[i], toMs(p.PaidAt), s.paySkip[i])
		j.quiet = false
	}
	// Invoices whose retention ended between the snapshot's watermark and
	// the committed one leave again.
	j.replayPending = true
	j.release()
	return nil
}

var errSnapshotShort = errors.New("stream: the snapshot is truncated")

// snapReader reads varints and strings, remembering the first error.
type snapReader struct {
	b   []byte
	err error
}

func (r *snapReader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.b = nil
}

func (r *snapReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail(errSnapshotShort)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *snapReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(errSnapshotShort)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a length and refuses one that the remaining bytes cannot
// hold (at least min bytes per item), so that a corrupt count cannot ask
// for a huge allocation.
func (r *snapReader) count(min int) int {
	n := r.uvarint()
	if n > uint64(len(r.b)/min) {
		r.fail(errSnapshotShort)
		return 0
	}
	return int(n)
}

func (r *snapReader) str() string {
	n := r.count(1)
	if r.err != nil {
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *snapReader) byte() byte {
	if len(r.b) == 0 {
		r.fail(errSnapshotShort)
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func decodeSnapshot(snap []byte) (snapshot, error) {
	var s snapshot
	if len(snap) < len(snapshotMagic)+4 || string(snap[:4]) != snapshotMagic[:4] {
		return s, errors.New("stream: not a relance join-state snapshot")
	}
	if snap[4] != snapshotMagic[4] {
		return s, fmt.Errorf("stream: snapshot format version %d, this build reads version %d: restore from a replay instead", snap[4], snapshotMagic[4])
	}
	body := snap[:len(snap)-4]
	if want, got := binary.LittleEndian.Uint32(snap[len(snap)-4:]), crc32.Checksum(body, crcTable); want != got {
		return s, fmt.Errorf("stream: the snapshot is damaged (checksum %08x, expected %08x)", got, want)
	}
	r := &snapReader{b: body[len(snapshotMagic):]}
	s.wm = r.varint()
	s.info.RemindersNext = r.varint()
	s.info.PaymentsNext = r.varint()
	if s.wm != math.MinInt64 {
		s.info.Watermark = time.UnixMilli(s.wm).UTC()
	}

	// Profiles decode to templates whose strings and attribute map every
	// reminder of the profile shares.
	profs := make([]schemas.Reminder, r.count(6))
	for i := range profs {
		p := &profs[i]
		p.Channel, p.Plan, p.Sender, p.Currency, p.CustomerID = r.str(), r.str(), r.str(), r.str(), r.str()
		if n := r.count(2); n > 0 {
			p.Attributes = make(map[string]string, n)
			for range n {
				k := r.str()
				p.Attributes[k] = r.str()
			}
		}
	}

	s.info.Invoices = r.count(4)
	for range s.info.Invoices {
		id, cust := r.str(), r.str()
		off := r.varint()
		n := r.count(8)
		for range n {
			rem := schemas.Reminder{EventID: r.str(), ReminderID: r.str(), InvoiceID: id}
			pi := r.uvarint()
			if pi >= uint64(len(profs)) {
				r.fail(errors.New("stream: the snapshot names a profile it does not hold"))
				break
			}
			p := &profs[pi]
			rem.Channel, rem.Plan, rem.Sender, rem.Currency, rem.Attributes = p.Channel, p.Plan, p.Sender, p.Currency, p.Attributes
			rem.CustomerID = cust
			if p.CustomerID != "" {
				rem.CustomerID = p.CustomerID
			}
			rem.SentAt = time.UnixMilli(r.varint()).UTC()
			due := r.varint()
			rem.AmountDueMinor = r.varint()
			rem.Level = int32(r.varint())
			flags := r.byte()
			rem.Holdout = flags&flagHoldout != 0
			rem.FinalNotice = flags&flagFinalNotice != 0
			if flags&flagDueZero == 0 {
				rem.InvoiceDueDate = time.UnixMilli(due).UTC()
			}
			s.reminders = append(s.reminders, rem)
			s.remOffs = append(s.remOffs, off)
		}
	}
	s.info.Reminders = len(s.reminders)

	s.info.Payments = r.count(8)
	s.payments = make([]schemas.Payment, 0, s.info.Payments)
	s.payOffs = make([]int64, 0, s.info.Payments)
	for range s.info.Payments {
		off := r.varint()
		p := schemas.Payment{EventID: r.str(), PaymentID: r.str(), CustomerID: r.str()}
		p.PaidAt = time.UnixMilli(r.varint()).UTC()
		p.Method, p.Currency = r.str(), r.str()
		p.Allocations = make([]schemas.Allocation, r.count(3))
		skip := make([]bool, len(p.Allocations))
		for i := range p.Allocations {
			p.Allocations[i] = schemas.Allocation{InvoiceID: r.str(), AmountMinor: r.varint()}
			skip[i] = r.byte() == 0
		}
		s.payments = append(s.payments, p)
		s.paySkip = append(s.paySkip, skip)
		s.payOffs = append(s.payOffs, off)
	}
	if r.err != nil {
		return snapshot{}, r.err
	}
	if len(r.b) != 0 {
		return snapshot{}, fmt.Errorf("stream: %d unexpected bytes at the end of the snapshot", len(r.b))
	}
	return s, nil
}
