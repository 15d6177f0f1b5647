package schemas

import (
	"errors"
	"math"
	"testing"
	"time"
)

var now = time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)

func TestValidate_Reasons(t *testing.T) {
	// Rule: Validate returns nil for a good event, and otherwise a
	// *ValidationError whose Field and Reason name the first problem.
	f := func(name string, validate func() error, field, reason string) {
		t.Helper()
		err := validate()
		if reason == "" {
			if err != nil {
				t.Errorf("%s: unexpected %v", name, err)
			}
			return
		}
		var ve *ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("%s: got %T %v, want *ValidationError", name, err, err)
			return
		}
		if ve.Field != field || ve.Reason != reason {
			t.Errorf("%s: got %s/%s (%v), want %s/%s", name, ve.Field, ve.Reason, err, field, reason)
		}
	}
	rem := func(mut func(*Reminder)) func() error {
		r := sampleReminder()
		mut(&r)
		return func() error { return r.Validate(now) }
	}
	pay := func(mut func(*Payment)) func() error {
		p := samplePayment()
		mut(&p)
		return func() error { return p.Validate(now) }
	}
	inv := func(mut func(*Invoice)) func() error {
		i := sampleInvoice()
		mut(&i)
		return func() error { return i.Validate(now) }
	}

	f("good reminder", rem(func(*Reminder) {}), "", "")
	f("good payment", pay(func(*Payment) {}), "", "")
	f("good invoice", inv(func(*Invoice) {}), "", "")

	f("reminder no event id", rem(func(r *Reminder) { r.EventID = "" }), "event_id", "missing_event_id")
	f("reminder no invoice id", rem(func(r *Reminder) { r.InvoiceID = "" }), "invoice_id", "missing_invoice_id")
	f("reminder zero sent_at", rem(func(r *Reminder) { r.SentAt = time.Time{} }), "sent_at", "zero_timestamp")
	f("reminder epoch sent_at", rem(func(r *Reminder) { r.SentAt = time.UnixMilli(0) }), "sent_at", "zero_timestamp")
	// Placeholder dates read in Paris time: 1970-01-01 00:00 is an hour
	// before the epoch, 0001-01-01 long before.
	paris := time.FixedZone("CET", 3600)
	f("reminder 1970-01-01 in Paris", rem(func(r *Reminder) { r.SentAt = time.Date(1970, 1, 1, 0, 0, 0, 0, paris) }), "sent_at", "zero_timestamp")
	f("payment 0001-01-01 in Paris", pay(func(p *Payment) { p.PaidAt = time.Date(1, 1, 1, 0, 0, 0, 0, paris) }), "paid_at", "zero_timestamp")
	f("reminder 8 days ahead", rem(func(r *Reminder) { r.SentAt = now.Add(8 * 24 * time.Hour) }), "sent_at", "far_future_timestamp")
	f("reminder 6 days ahead", rem(func(r *Reminder) { r.SentAt = now.Add(6 * 24 * time.Hour) }), "", "")
	f("reminder no due date", rem(func(r *Reminder) { r.InvoiceDueDate = time.Time{} }), "invoice_due_date", "zero_timestamp")
	f("reminder negative amount", rem(func(r *Reminder) { r.AmountDueMinor = -1 }), "amount_due_minor", "negative_amount")
	f("reminder bad currency", rem(func(r *Reminder) { r.Currency = "EURO" }), "currency", "unknown_currency")
	f("reminder lower-case currency", rem(func(r *Reminder) { r.Currency = "eur" }), "currency", "unknown_currency")
	f("reminder first problem wins", rem(func(r *Reminder) { r.EventID, r.Currency = "", "XXX" }), "event_id", "missing_event_id")

	f("payment no event id", pay(func(p *Payment) { p.EventID = "" }), "event_id", "missing_event_id")
	f("reminder no reminder id", rem(func(r *Reminder) { r.ReminderID = "" }), "reminder_id", "missing_event_id")
	f("payment no payment id", pay(func(p *Payment) { p.PaymentID = "" }), "payment_id", "missing_event_id")
	f("payment far future", pay(func(p *Payment) { p.PaidAt = now.Add(365 * 24 * time.Hour) }), "paid_at", "far_future_timestamp")
	f("payment zero paid_at", pay(func(p *Payment) { p.PaidAt = time.Time{} }), "paid_at", "zero_timestamp")
	f("payment bad currency", pay(func(p *Payment) { p.Currency = "" }), "currency", "unknown_currency")
	f("payment no allocations", pay(func(p *Payment) { p.Allocations = nil }), "allocations", "empty_allocations")
	f("payment allocation without invoice", pay(func(p *Payment) { p.Allocations[1].InvoiceID = "" }), "allocations[1].invoice_id", "missing_invoice_id")
	f("payment negative allocation", pay(func(p *Payment) { p.Allocations[2].AmountMinor = -5 }), "allocations[2].amount_minor", "negative_amount")
	f("payment overflowing total", pay(func(p *Payment) { p.Allocations[1].AmountMinor = math.MaxInt64 }), "allocations[1].amount_minor", "amount_overflow")
	// Amounts beyond 10^15 minor units: a few of them would wrap the KPIs'
	// Int64 sums negative (the audit's reminded_minor -9223372036854765809).
	f("reminder amount at the bound", rem(func(r *Reminder) { r.AmountDueMinor = MaxAmountMinor }), "", "")
	f("reminder amount beyond the bound", rem(func(r *Reminder) { r.AmountDueMinor = MaxAmountMinor + 1 }), "amount_due_minor", "amount_overflow")
	f("payment total beyond the bound", pay(func(p *Payment) {
		p.Allocations[0].AmountMinor, p.Allocations[1].AmountMinor = MaxAmountMinor/2+1, MaxAmountMinor/2
	}), "allocations[1].amount_minor", "amount_overflow")
	f("invoice amount beyond the bound", inv(func(i *Invoice) { i.AmountMinor = math.MaxInt64 }), "amount_minor", "amount_overflow")
	// Text that is not UTF-8, in any field: it used to reach the store and
	// make the business counters' Prometheus labels panic.
	f("reminder channel not UTF-8", rem(func(r *Reminder) { r.Channel = "e\xffmail" }), "channel", "invalid_utf8")
	f("reminder plan not UTF-8", rem(func(r *Reminder) { r.Plan = "\xc3" }), "plan", "invalid_utf8")
	f("reminder attribute value not UTF-8", rem(func(r *Reminder) { r.Attributes = map[string]string{"segment": "\xe9t\xe9"} }), `attributes["segment"]`, "invalid_utf8")
	f("reminder attribute key not UTF-8", rem(func(r *Reminder) { r.Attributes = map[string]string{"\xff": "x"} }), "attributes", "invalid_utf8")
	f("reminder accents are fine", rem(func(r *Reminder) { r.Sender, r.Plan = "Hélène", "Entreprise – ETI" }), "", "")
	f("payment method not UTF-8", pay(func(p *Payment) { p.Method = "vir\xe9ment" }), "method", "invalid_utf8")
	f("payment allocation invoice not UTF-8", pay(func(p *Payment) { p.Allocations[0].InvoiceID = "F\xff1" }), "allocations[0].invoice_id", "invalid_utf8")
	f("invoice status not UTF-8", inv(func(i *Invoice) { i.Status = "pay\xe9e" }), "status", "invalid_utf8")

	f("invoice no invoice id", inv(func(i *Invoice) { i.InvoiceID = "" }), "invoice_id", "missing_invoice_id")
	f("invoice zero issued_at", inv(func(i *Invoice) { i.IssuedAt = time.Time{} }), "issued_at", "zero_timestamp")
	f("invoice negative amount", inv(func(i *Invoice) { i.AmountMinor = math.MinInt64 }), "amount_minor", "negative_amount")
	f("invoice unknown currency", inv(func(i *Invoice) { i.Currency = "BTC" }), "currency", "unknown_currency")
	f("invoice unknown status is fine", inv(func(i *Invoice) { i.Status = "written_off" }), "", "")
}

func TestValidate_MaxSkewOverridesDefault(t *testing.T) {
	// Rule: MaxSkew replaces the 7-day default, both tighter and looser.
	r := sampleReminder()
	r.SentAt = now.Add(2 * time.Hour)
	if err := r.Validate(now, MaxSkew(time.Hour)); err == nil {
		t.Error("2h ahead with MaxSkew(1h) should be far_future_timestamp")
	}
	r.SentAt = now.Add(20 * 24 * time.Hour)
	if err := r.Validate(now, MaxSkew(30*24*time.Hour)); err != nil {
		t.Errorf("20 days ahead with MaxSkew(30d): %v", err)
	}
}

func TestKnownCurrency(t *testing.T) {
	// Rule: active ISO 4217 codes are known; funds/metals, retired, lower-case
	// and malformed codes are not.
	for _, c := range []string{"EUR", "USD", "GBP", "CHF", "JPY", "XOF", "XAF", "MAD", "TND", "CAD", "SEK", "ZWG"} {
		if !KnownCurrency(c) {
			t.Errorf("%s should be known", c)
		}
	}
	for _, c := range []string{"", "eur", "EU", "EURO", "FRF", "DEM", "XAU", "XTS", "BTC"} {
		if KnownCurrency(c) {
			t.Errorf("%q should be unknown", c)
		}
	}
	if n := len(currencies); n < 150 {
		t.Errorf("only %d currencies", n)
	}
}
