package stream

import (
	"hash/maphash"
	"time"

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
	hash                            uint64
	refs                            int
	next                            *profile // same hash
}

// profiles interns profiles by content.
type profiles struct {
	seed  maphash.Seed
	table map[uint64]*profile
}

func newProfiles() profiles {
	return profiles{seed: maphash.MakeSeed(), table: make(map[uint64]*profile)}
}

// hashOf hashes the profile fields of r without allocating; the attribute
// entries are combined commutatively (map order is random).
func (ps *profiles) hashOf(r *schemas.Reminder, cust string) uint64 {
	var h maphash.Hash
	h.SetSeed(ps.seed)
	for _, s := range [...]string{r.Channel, r.Plan, r.Sender, r.Currency, cust} {
		h.WriteString(s)
		h.WriteByte(0)
	}
	sum := h.Sum64()
	var attrs uint64
	for k, v := range r.Attributes {
		attrs += maphash.String(ps.seed, k) ^ (maphash.String(ps.seed, v) * 0x9e3779b97f4a7c15)
	}
	return sum ^ (attrs * 0xff51afd7ed558ccd) ^ uint64(len(r.Attributes))
}

func sameAttrs(a, b map[string]string) bool {
	if len(a) != len(b) || (a == nil) != (b == nil) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// intern returns the shared profile of r (cust is "" when r's customer is
// its invoice's) with one more reference.
func (ps *profiles) intern(r *schemas.Reminder, cust string) *profile {
	h := ps.hashOf(r, cust)
	head := ps.table[h]
	for p := head; p != nil; p = p.next {
		if p.channel == r.Channel && p.plan == r.Plan && p.sender == r.Sender && p.currency == r.Currency &&
			p.customerID == cust && sameAttrs(p.attrs, r.Attributes) {
			p.refs++
			return p
		}
	}
	p := &profile{channel: r.Channel, plan: r.Plan, sender: r.Sender, currency: r.Currency, customerID: cust,
		attrs: r.Attributes, hash: h, refs: 1, next: head}
	ps.table[h] = p
	return p
}

// release drops one reference to p.
func (ps *profiles) release(p *profile) {
	p.refs--
	if p.refs > 0 {
		return
	}
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
	cust := ""
	if r.CustomerID != inv.customerID {
		cust = r.CustomerID
	}
	rs := &reminderState{
		eventID: r.EventID, reminderID: r.ReminderID, prof: j.profiles.intern(r, cust), inv: inv,
		sentMs: ms, amountDue: r.AmountDueMinor, level: r.Level,
	}
	if r.Holdout {
		rs.flags |= flagHoldout
	}
	if r.FinalNotice {
		rs.flags |= flagFinalNotice
	}
	if r.InvoiceDueDate.IsZero() {
		rs.flags |= flagDueZero
	} else {
		rs.dueMs = r.InvoiceDueDate.UnixMilli()
	}
	return rs
}

// reminderSlab is how many schemas.Reminder values are allocated at once
// for Facts and Outcomes.
const reminderSlab = 256

// reminder rebuilds the schemas.Reminder of rs for a Fact or an Outcome.
// Values are carved from slabs and never written again once handed out;
// the last one is reused while the same reminder is asked for again (the
// facts of one allocation across horizons).
func (j *Joiner) reminder(rs *reminderState) *schemas.Reminder {
	if j.lastRem == rs {
		return j.lastMat
	}
	if len(j.slab) == cap(j.slab) {
		j.slab = make([]schemas.Reminder, 0, reminderSlab)
	}
	p := rs.prof
	cust := p.customerID
	if cust == "" {
		cust = rs.inv.customerID
	}
	r := schemas.Reminder{
		EventID: rs.eventID, ReminderID: rs.reminderID, InvoiceID: rs.inv.id, CustomerID: cust,
		SentAt: time.UnixMilli(rs.sentMs).UTC(), Channel: p.channel, Level: rs.level,
		FinalNotice: rs.flags&flagFinalNotice != 0, Plan: p.plan, Sender: p.sender,
		AmountDueMinor: rs.amountDue, Currency: p.currency, Holdout: rs.holdout(), Attributes: p.attrs,
	}
	if rs.flags&flagDueZero == 0 {
		r.InvoiceDueDate = time.UnixMilli(rs.dueMs).UTC()
	}
	j.slab = append(j.slab, r)
	out := &j.slab[len(j.slab)-1]
	j.lastRem, j.lastMat = rs, out
	return out
}
