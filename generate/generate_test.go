package generate

import (
	"crypto/sha256"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/relance-io/relance/schemas"
)

// defaultDataset is generated once: most tests read the default year.
var defaultDataset = sync.OnceValues(func() (*Dataset, error) { return Generate(DefaultParams()) })

func mustDefault(t testing.TB) *Dataset {
	t.Helper()
	ds, err := defaultDataset()
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func digest(ds *Dataset) string {
	// %+v prints maps with sorted keys, so the digest covers every field.
	return fmt.Sprintf("%x", sha256.Sum256(fmt.Appendf(nil, "%+v", *ds)))
}

// The same Params give a byte-identical Dataset; another seed gives another
// one.
func TestGenerate_Deterministic(t *testing.T) {
	p := DefaultParams()
	p.Customers = 300
	a, err := Generate(p)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate(p)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) || digest(a) != digest(b) {
		t.Fatal("two runs with the same params differ")
	}
	p.Seed = 2
	c, err := Generate(p)
	if err != nil {
		t.Fatal(err)
	}
	if digest(a) == digest(c) {
		t.Fatal("seeds 1 and 2 gave the same dataset")
	}
}

// GenerateWithProgress reports every customer once, in order, ending at
// p.Customers, and gives the very data set Generate gives: progress is
// observed, it does not change the output.
func TestGenerateWithProgress_CountsCustomersAndChangesNothing(t *testing.T) {
	p := DefaultParams()
	p.Customers = 120
	var calls []int
	got, err := GenerateWithProgress(p, func(done int) { calls = append(calls, done) })
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range calls {
		if c != i+1 {
			t.Fatalf("progress call %d reported %d customers done, want %d (calls: %v)", i, c, i+1, calls)
		}
	}
	if len(calls) != p.Customers {
		t.Fatalf("%d progress calls, want one per customer (%d)", len(calls), p.Customers)
	}
	want, err := Generate(p)
	if err != nil {
		t.Fatal(err)
	}
	if digest(got) != digest(want) {
		t.Fatal("the data set generated with progress differs from Generate's")
	}
	if _, err := GenerateWithProgress(Params{}, func(int) { t.Fatal("progress called for invalid params") }); err == nil {
		t.Fatal("invalid params accepted")
	}
}

// Adding customers leaves the existing customers' invoices unchanged: each
// customer has its own random stream.
func TestGenerate_CustomersAreIndependent(t *testing.T) {
	p := DefaultParams()
	p.Customers = 50
	small, err := Generate(p)
	if err != nil {
		t.Fatal(err)
	}
	p.Customers = 60
	big, err := Generate(p)
	if err != nil {
		t.Fatal(err)
	}
	amounts := func(ds *Dataset) []int64 {
		var out []int64
		for _, inv := range ds.Invoices {
			if inv.CustomerID <= "C00050" {
				out = append(out, inv.AmountMinor)
			}
		}
		return out
	}
	if !slices.Equal(amounts(small), amounts(big)) {
		t.Fatal("customers C00001..C00050 changed when 10 customers were added")
	}
}

// Default volumes stay in the documented ranges (package doc), so the demo
// and the pipeline benchmarks keep their size.
func TestGenerate_DefaultVolumes(t *testing.T) {
	ds := mustDefault(t)
	f := func(name string, got, lo, hi int) {
		t.Helper()
		if got < lo || got > hi {
			t.Errorf("%s: %d, want %d..%d", name, got, lo, hi)
		}
	}
	f("invoices", len(ds.Invoices), 20_000, 40_000)
	f("reminders", len(ds.Reminders), 40_000, 100_000)
	f("payments", len(ds.Payments), 20_000, 40_000)
}

// Every event satisfies the data contract the pipeline relies on: required
// fields set, positive amounts, no over-payment, consistent customer ids,
// plan-consistent levels, dates at midnight UTC, times in the window, sorted
// slices and unique ids.
func TestGenerate_Invariants(t *testing.T) {
	p := DefaultParams()
	ds := mustDefault(t)
	start := p.Start
	end := start.AddDate(0, p.Months, 0)
	inWindow := func(what string, at time.Time) {
		t.Helper()
		if at.Before(start) || !at.Before(end) {
			t.Errorf("%s: %s outside [%s, %s)", what, at, start, end)
		}
		if at.Location() != time.UTC || at.Nanosecond()%int(time.Millisecond) != 0 {
			t.Errorf("%s: %s must be UTC at millisecond precision", what, at)
		}
	}
	midnight := func(what string, d time.Time) {
		t.Helper()
		if d.Location() != time.UTC || !d.Equal(d.Truncate(24*time.Hour)) {
			t.Errorf("%s: %s is not midnight UTC", what, d)
		}
	}
	attributes := func(what string, a map[string]string) {
		t.Helper()
		for _, k := range []string{"customer_segment", "country", "business_unit"} {
			if a[k] == "" {
				t.Errorf("%s: attribute %q missing", what, k)
			}
		}
	}
	eventIDs := map[string]bool{}
	uniqueEvent := func(id string) {
		t.Helper()
		if id == "" || eventIDs[id] {
			t.Errorf("event id %q empty or duplicated", id)
		}
		eventIDs[id] = true
	}

	invoices := map[string]schemas.Invoice{}
	for i, inv := range ds.Invoices {
		uniqueEvent(inv.EventID)
		if inv.InvoiceID == "" || inv.CustomerID == "" || inv.Currency != p.Currency || inv.Status == "" {
			t.Fatalf("invoice %d: required field empty: %+v", i, inv)
		}
		if _, dup := invoices[inv.InvoiceID]; dup {
			t.Fatalf("invoice id %s duplicated", inv.InvoiceID)
		}
		invoices[inv.InvoiceID] = inv
		if inv.AmountMinor < p.MinAmountMinor || inv.AmountMinor > p.MaxAmountMinor {
			t.Errorf("%s: amount %d outside [%d, %d]", inv.InvoiceID, inv.AmountMinor, p.MinAmountMinor, p.MaxAmountMinor)
		}
		inWindow(inv.InvoiceID, inv.IssuedAt)
		midnight(inv.InvoiceID+" due date", inv.DueDate)
		if days := inv.DueDate.Sub(inv.IssuedAt.Truncate(24*time.Hour)) / (24 * time.Hour); days != 30 && days != 45 {
			t.Errorf("%s: due %d days after issue, want 30 or 45", inv.InvoiceID, days)
		}
		attributes(inv.InvoiceID, inv.Attributes)
		if i > 0 {
			prev := ds.Invoices[i-1]
			if inv.IssuedAt.Before(prev.IssuedAt) || inv.IssuedAt.Equal(prev.IssuedAt) && inv.InvoiceID < prev.InvoiceID {
				t.Fatalf("invoices not sorted at %d", i)
			}
		}
	}

	// Payments: allocations positive, one invoice at most once per payment,
	// same customer, never more than the invoice amount in total.
	paid := map[string]int64{}
	paymentIDs := map[string]bool{}
	type instalment struct {
		at     time.Time
		amount int64
	}
	instalments := map[string][]instalment{}
	for i, pay := range ds.Payments {
		uniqueEvent(pay.EventID)
		if pay.PaymentID == "" || paymentIDs[pay.PaymentID] || pay.CustomerID == "" || pay.Method == "" || pay.Currency != p.Currency {
			t.Fatalf("payment %d: required field empty or id duplicated: %+v", i, pay)
		}
		paymentIDs[pay.PaymentID] = true
		inWindow(pay.PaymentID, pay.PaidAt)
		if n := len(pay.Allocations); n < 1 || n > 3 {
			t.Errorf("%s: %d allocations, want 1..3", pay.PaymentID, n)
		}
		seen := map[string]bool{}
		for _, a := range pay.Allocations {
			inv, ok := invoices[a.InvoiceID]
			switch {
			case !ok:
				t.Fatalf("%s: unknown invoice %q", pay.PaymentID, a.InvoiceID)
			case seen[a.InvoiceID]:
				t.Errorf("%s: invoice %s allocated twice", pay.PaymentID, a.InvoiceID)
			case a.AmountMinor <= 0:
				t.Errorf("%s: allocation %d <= 0", pay.PaymentID, a.AmountMinor)
			case inv.CustomerID != pay.CustomerID:
				t.Errorf("%s: customer %s pays invoice %s of %s", pay.PaymentID, pay.CustomerID, inv.InvoiceID, inv.CustomerID)
			case !pay.PaidAt.After(inv.IssuedAt):
				t.Errorf("%s: paid at %s, before invoice %s was issued", pay.PaymentID, pay.PaidAt, inv.InvoiceID)
			}
			seen[a.InvoiceID] = true
			paid[a.InvoiceID] += a.AmountMinor
			instalments[a.InvoiceID] = append(instalments[a.InvoiceID], instalment{pay.PaidAt, a.AmountMinor})
		}
		if i > 0 {
			prev := ds.Payments[i-1]
			if pay.PaidAt.Before(prev.PaidAt) || pay.PaidAt.Equal(prev.PaidAt) && pay.PaymentID < prev.PaymentID {
				t.Fatalf("payments not sorted at %d", i)
			}
		}
	}
	for id, sum := range paid {
		if sum > invoices[id].AmountMinor {
			t.Errorf("%s over-paid: %d > %d", id, sum, invoices[id].AmountMinor)
		}
	}

	// Reminders: plan-consistent, sent in Paris business hours, and only
	// while the invoice is unpaid, for the amount outstanding at the time
	// (a payment at the very same millisecond counts as after).
	plans := map[string]Plan{}
	for _, pl := range p.Plans {
		plans[pl.Name] = pl
	}
	reminderIDs := map[string]bool{}
	var holdouts, postDue int
	for i, r := range ds.Reminders {
		uniqueEvent(r.EventID)
		if r.ReminderID == "" || reminderIDs[r.ReminderID] || r.Channel == "" || r.Sender == "" || r.Currency != p.Currency {
			t.Fatalf("reminder %d: required field empty or id duplicated: %+v", i, r)
		}
		reminderIDs[r.ReminderID] = true
		inv, ok := invoices[r.InvoiceID]
		if !ok {
			t.Fatalf("%s: unknown invoice %q", r.ReminderID, r.InvoiceID)
		}
		if r.CustomerID != inv.CustomerID || !reflect.DeepEqual(r.Attributes, inv.Attributes) {
			t.Errorf("%s: customer/attributes differ from invoice %s", r.ReminderID, inv.InvoiceID)
		}
		if !r.InvoiceDueDate.Equal(inv.DueDate) {
			t.Errorf("%s: invoice_due_date %s, invoice says %s", r.ReminderID, r.InvoiceDueDate, inv.DueDate)
		}
		midnight(r.ReminderID+" due date", r.InvoiceDueDate)
		inWindow(r.ReminderID, r.SentAt)
		attributes(r.ReminderID, r.Attributes)
		if !r.SentAt.After(inv.IssuedAt) {
			t.Errorf("%s: sent %s before its invoice was issued", r.ReminderID, r.SentAt)
		}

		pl, ok := plans[r.Plan]
		if !ok || r.Level < 0 || int(r.Level) >= len(pl.Steps) {
			t.Fatalf("%s: plan %q has no level %d", r.ReminderID, r.Plan, r.Level)
		}
		step := pl.Steps[r.Level]
		if r.Channel != step.Channel || r.FinalNotice != step.FinalNotice {
			t.Errorf("%s: level %d is %s/final=%v, plan %s says %s/final=%v", r.ReminderID, r.Level, r.Channel, r.FinalNotice, r.Plan, step.Channel, step.FinalNotice)
		}
		// dpd is the step's offset, moved to Monday if it fell on a weekend.
		dpd := int(r.SentAt.Truncate(24*time.Hour).Sub(r.InvoiceDueDate) / (24 * time.Hour))
		if dpd < step.DayOffset || dpd > step.DayOffset+2 {
			t.Errorf("%s: sent at dpd %d, plan step at %d", r.ReminderID, dpd, step.DayOffset)
		}
		if local := r.SentAt.Add(parisOffset(r.SentAt.Truncate(24 * time.Hour))); local.Hour() < 8 || local.Hour() >= 18 ||
			local.Weekday() == time.Saturday || local.Weekday() == time.Sunday {
			t.Errorf("%s: sent %s Paris time, outside business hours", r.ReminderID, local.Format("Mon 15:04"))
		}

		var paidBefore int64
		for _, in := range instalments[r.InvoiceID] {
			if in.at.Before(r.SentAt) {
				paidBefore += in.amount
			}
		}
		if want := inv.AmountMinor - paidBefore; r.AmountDueMinor != want || want <= 0 {
			t.Errorf("%s: amount_due %d, outstanding at sent_at is %d", r.ReminderID, r.AmountDueMinor, want)
		}

		if r.Level == 0 && r.Holdout {
			t.Errorf("%s: preventive reminder is a holdout; only post-due ones may be", r.ReminderID)
		}
		if r.Level >= 1 {
			postDue++
			if r.Holdout {
				holdouts++
			}
		}
		if i > 0 {
			prev := ds.Reminders[i-1]
			if r.SentAt.Before(prev.SentAt) || r.SentAt.Equal(prev.SentAt) && r.ReminderID < prev.ReminderID {
				t.Fatalf("reminders not sorted at %d", i)
			}
		}
	}
	// 46 000 post-due reminders at 5 %: the standard error is 0.1 point.
	if share := float64(holdouts) / float64(postDue); math.Abs(share-p.HoldoutShare) > 0.005 {
		t.Errorf("holdout share %.4f, want %.2f ± 0.005", share, p.HoldoutShare)
	}
}

// The data shows the variety the dashboards need: every segment, plan,
// channel, level, collector and method appears; some payments are partial,
// some settle several invoices, some come before any reminder; some
// invoices are never paid.
func TestGenerate_Variety(t *testing.T) {
	p := DefaultParams()
	ds := mustDefault(t)
	seen := map[string]bool{}
	for _, r := range ds.Reminders {
		seen["plan "+r.Plan] = true
		seen["channel "+r.Channel] = true
		seen[fmt.Sprintf("level %d", r.Level)] = true
		seen["sender "+r.Sender] = true
		seen["segment "+r.Attributes["customer_segment"]] = true
	}
	firstReminder := map[string]time.Time{}
	for _, r := range ds.Reminders {
		if _, ok := firstReminder[r.InvoiceID]; !ok {
			firstReminder[r.InvoiceID] = r.SentAt
		}
	}
	paid := map[string]int{}
	var multi, beforeAnyReminder int
	for _, pay := range ds.Payments {
		seen["method "+pay.Method] = true
		if len(pay.Allocations) > 1 {
			multi++
		}
		for _, a := range pay.Allocations {
			paid[a.InvoiceID]++
			if first, ok := firstReminder[a.InvoiceID]; !ok || pay.PaidAt.Before(first) {
				beforeAnyReminder++
			}
		}
	}
	var want []string
	for _, pl := range p.Plans {
		want = append(want, "plan "+pl.Name)
		for _, s := range pl.Steps {
			want = append(want, "channel "+s.Channel, fmt.Sprintf("level %d", s.Level))
		}
	}
	for _, c := range p.Collectors {
		want = append(want, "sender "+c.Name)
	}
	for _, s := range p.Segments {
		want = append(want, "segment "+s.Name)
	}
	for _, m := range p.Methods {
		want = append(want, "method "+m.Value)
	}
	for _, w := range want {
		if !seen[w] {
			t.Errorf("%s never appears", w)
		}
	}
	var partial, unpaid int
	for _, inv := range ds.Invoices {
		switch paid[inv.InvoiceID] {
		case 0:
			unpaid++
		case 1:
		default:
			partial++
		}
	}
	n := len(ds.Invoices)
	f := func(what string, got int, lo, hi float64, of int) {
		t.Helper()
		if share := float64(got) / float64(of); share < lo || share > hi {
			t.Errorf("%s: %d of %d (%.3f), want share in [%.2f, %.2f]", what, got, of, share, lo, hi)
		}
	}
	f("invoices paid in instalments", partial, 0.01, 0.15, n)
	f("invoices never paid (in the window)", unpaid, 0.05, 0.40, n)
	f("payments settling several invoices", multi, 0.03, 0.25, len(ds.Payments))
	f("allocations paid before any reminder", beforeAnyReminder, 0.05, 0.50, len(ds.Payments))
}
