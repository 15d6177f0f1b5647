package stream

import (
	"hash/maphash"
	"time"
	"unsafe"

	"github.com/relance-io/relance/schemas"
)

// profile is the interned part of reminders: fields that repeat across
// many reminders (channel, plan, sender, currency, attributes) are held
// once and shared. customerID is set only when a reminder's customer
// differs from its invoice's (normally ""). Profiles are reference counted
// by the reminders held and leave the table with their last reminder.
//
// The attribute map of the first reminder with a profile is shared by all
// of them and by the schemas.Reminder values handed out in Facts and
// Outcomes: readers must not modify it.
type profile struct {
	channel, plan, sender, currency string
	customerID                      string
	attrs                           map[string]string
	// pairs are the attributes as key, value, key, value… in no order:
	// checking a map against them costs a lookup per entry, where
	// iterating the map (to hash or compare it) costs more (see intern).
	pairs []string
	// base is the hash of every field but the channel (see baseHash);
	// hash adds the channel.
	base, hash uint64
	refs       int
	next       *profile // same hash
	idx        uint32   // in profiles.list
}

// sameAs reports whether r, whose customer is cust when it differs from
// its invoice's, has every field of p but the channel. It iterates no map.
func (p *profile) sameAs(r *schemas.Reminder, cust string) bool {
	if p.plan != r.Plan || p.sender != r.Sender || p.currency != r.Currency || p.customerID != cust ||
		len(p.pairs) != 2*len(r.Attributes) || (p.attrs == nil) != (r.Attributes == nil) {
		return false
	}
	for i := 0; i < len(p.pairs); i += 2 {
		if v, ok := r.Attributes[p.pairs[i]]; !ok || v != p.pairs[i+1] {
			return false
		}
	}
	return true
}

// profiles interns profiles by content.
type profiles struct {
	seed  maphash.Seed
	table map[uint64]*profile
	// The attribute map hashed last and its hash: the reminders of one
	// invoice, or of one decoded batch, often share one map, and hashing
	// a map means iterating it. Holding the map keeps its address from
	// being reused by another map. Maps handed to the Joiner must not be
	// modified (see profile).
	lastAttrs     map[string]string
	lastAttrsHash uint64
	// list holds the profiles by index (reminders name theirs by index);
	// free are the indexes of released ones.
	list []*profile
	free []uint32
}

// sameMap reports whether a and b are the same map (not merely equal).
func sameMap(a, b map[string]string) bool {
	return *(*unsafe.Pointer)(unsafe.Pointer(&a)) == *(*unsafe.Pointer)(unsafe.Pointer(&b))
}

func newProfiles() profiles {
	return profiles{seed: maphash.MakeSeed(), table: make(map[uint64]*profile)}
}

// baseHash hashes the profile fields of r but the channel without
// allocating; the attribute entries are combined commutatively (map order
// is random).
func (ps *profiles) baseHash(r *schemas.Reminder, cust string) uint64 {
	// One maphash.String per field, mixed in order: cheaper than a
	// streaming maphash.Hash, which copies into its buffer.
	sum := uint64(0x243f6a8885a308d3)
	for _, s := range [...]string{r.Plan, r.Sender, r.Currency, cust} {
		sum = (sum ^ maphash.String(ps.seed, s)) * 0x9e3779b97f4a7c15
		sum ^= sum >> 29
	}
	if r.Attributes == nil || !sameMap(r.Attributes, ps.lastAttrs) {
		var attrs uint64
		for k, v := range r.Attributes {
			attrs += maphash.String(ps.seed, k) ^ (maphash.String(ps.seed, v) * 0x9e3779b97f4a7c15)
		}
		ps.lastAttrs, ps.lastAttrsHash = r.Attributes, attrs
	}
	return sum ^ (ps.lastAttrsHash * 0xff51afd7ed558ccd) ^ uint64(len(r.Attributes))
}

// withChannel adds the channel to a base hash.
func (ps *profiles) withChannel(base uint64, channel string) uint64 {
	sum := (base ^ maphash.String(ps.seed, channel)) * 0x9e3779b97f4a7c15
	return sum ^ sum>>29
}

func sameAttrs(a, b map[string]string) bool {
	if len(a) != len(b) || (a == nil) != (b == nil) {
		return false
	}
	if sameMap(a, b) {
		return true
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// intern returns the shared profile of r (cust is "" when r's customer is
// its invoice's) with one more reference. hint, when not nil, is the
// profile of another reminder of the same invoice: reminders of an invoice
// usually differ by their channel alone (plan, sender and attributes are
// the customer's), and checking r against hint costs a map lookup per
// attribute where hashing r's attributes means iterating the map, the
// most expensive step here. A profile made from a hint shares its
// attribute map.
func (ps *profiles) intern(r *schemas.Reminder, cust string, hint *profile) *profile {
	var base uint64
	attrs, pairs := r.Attributes, []string(nil)
	if hint != nil && hint.sameAs(r, cust) {
		base, attrs, pairs = hint.base, hint.attrs, hint.pairs
	} else {
		base = ps.baseHash(r, cust)
	}
	h := ps.withChannel(base, r.Channel)
	head := ps.table[h]
	for p := head; p != nil; p = p.next {
		if p.channel == r.Channel && p.plan == r.Plan && p.sender == r.Sender && p.currency == r.Currency &&
			p.customerID == cust && sameAttrs(p.attrs, attrs) {
			p.refs++
			return p
		}
	}
	if pairs == nil && len(attrs) > 0 {
		pairs = make([]string, 0, 2*len(attrs))
		for k, v := range attrs {
			pairs = append(pairs, k, v)
		}
	}
	p := &profile{channel: r.Channel, plan: r.Plan, sender: r.Sender, currency: r.Currency, customerID: cust,
		attrs: attrs, pairs: pairs, base: base, hash: h, refs: 1, next: head}
	ps.table[h] = p
	if k := len(ps.free); k > 0 {
		p.idx = ps.free[k-1]
		ps.free = ps.free[:k-1]
		ps.list[p.idx] = p
	} else {
		p.idx = uint32(len(ps.list))
		ps.list = append(ps.list, p)
	}
	return p
}

// release drops one reference to p.
func (ps *profiles) release(p *profile) {
	p.refs--
	if p.refs > 0 {
		return
	}
	ps.list[p.idx] = nil
	ps.free = append(ps.free, p.idx)
	var prev *profile
	for q := ps.table[p.hash]; q != nil; prev, q = q, q.next {
		if q != p {
			continue
		}
		switch {
		case prev != nil:
			prev.next = q.next
		case q.next != nil:
			ps.table[p.hash] = q.next
		default:
			delete(ps.table, p.hash)
		}
		return
	}
}

// newReminderState builds the compact form of r for invoice inv.
func (j *Joiner) newReminderState(r *schemas.Reminder, ms int64, inv *invoiceState) *reminderState {
	dueMs := int64(0)
	if !r.InvoiceDueDate.IsZero() {
		dueMs = r.InvoiceDueDate.UnixMilli()
	}
	invCust, invDue, invAmount := r.CustomerID, dueMs, r.AmountDueMinor
	if inv.hasFirst {
		invCust, invDue, invAmount = inv.first()
	} else {
		inv.rec, inv.hasFirst = j.ids.invoiceFirst(inv.rec, r.CustomerID, dueMs, r.AmountDueMinor), true
	}
	cust := ""
	if r.CustomerID != invCust {
		cust = r.CustomerID
	}
	ownDue, ownAmount := dueMs != invDue, r.AmountDueMinor != invAmount
	var hint *profile
	if rems := j.reminders(inv); len(rems) > 0 {
		hint = j.profiles.list[rems[len(rems)-1].prof]
	}
	rs := j.rems.get()
	*rs = reminderState{
		rec:  j.ids.reminder(r.EventID, r.ReminderID, r.Level, ownDue, dueMs, ownAmount, r.AmountDueMinor),
		prof: j.profiles.intern(r, cust, hint).idx, inv: inv.idx, sentMs: ms,
	}
	if r.Holdout {
		rs.flags |= flagHoldout
	}
	if r.FinalNotice {
		rs.flags |= flagFinalNotice
	}
	if r.InvoiceDueDate.IsZero() {
		rs.flags |= flagDueZero
	}
	if ownDue {
		rs.flags |= flagOwnDue
	}
	if ownAmount {
		rs.flags |= flagOwnAmount
	}
	return rs
}

// reminderSlab is how many schemas.Reminder values are allocated at once
// for Facts and Outcomes.
const reminderSlab = 256

// reminder rebuilds the schemas.Reminder of rs for a Fact or an Outcome.
// Values are carved from slabs and never written again once handed out
// (until the owner gives them back, see Recycle);
// the last one is reused while the same reminder is asked for again (the
// facts of one allocation across horizons).
func (j *Joiner) reminder(rs *reminderState) *schemas.Reminder {
	if j.lastRem == rs {
		return j.lastMat
	}
	if len(j.slab) == cap(j.slab) {
		j.newSlab()
	}
	p := j.profiles.list[rs.prof]
	inv := j.invs.at(rs.inv)
	invCust, invDue, invAmount := inv.first()
	cust := p.customerID
	if cust == "" {
		cust = invCust
	}
	// Filled in place, field by field: building a value and appending it
	// copies it again, with a bulk write barrier while the GC runs.
	j.slab = j.slab[:len(j.slab)+1]
	r := &j.slab[len(j.slab)-1]
	rec := rs.recordWith(invDue, invAmount)
	r.EventID, r.ReminderID, r.InvoiceID, r.CustomerID = rec.eventID, rec.reminderID, inv.id(), cust
	r.SentAt = time.UnixMilli(rs.sentMs).UTC()
	r.Channel, r.Level, r.FinalNotice = p.channel, rec.level, rs.flags&flagFinalNotice != 0
	r.Plan, r.Sender, r.AmountDueMinor, r.Currency = p.plan, p.sender, rec.amountDue, p.currency
	r.Holdout, r.Attributes = rs.holdout(), p.attrs
	if rs.flags&flagDueZero == 0 {
		r.InvoiceDueDate = time.UnixMilli(rec.dueMs).UTC()
	}
	j.lastRem, j.lastMat = rs, r
	return r
}

// newSlab starts a slab of Reminders: one given back by Recycle (cleared)
// when there is one, else a new one.
func (j *Joiner) newSlab() {
	if j.recycling {
		if j.slab != nil {
			j.slabRec.give(j.slab)
		}
		if s := j.slabRec.take(); s != nil {
			j.slab = s
			return
		}
	}
	j.slab = make([]schemas.Reminder, 0, reminderSlab)
}
