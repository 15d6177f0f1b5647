package generate

import (
	"math"
	"testing"
	"time"
)

// Reminders work, and the control group shows it: the share of phone
// reminders followed by a payment of the invoice within 7 days is clearly
// higher when the call was made than when it was withheld (holdout). The
// difference must be both large (> 8 points) and significant (z > 4).
func TestGenerate_RemindersRaisePayment(t *testing.T) {
	ds := mustDefault(t)
	payments := map[string][]time.Time{}
	for _, pay := range ds.Payments {
		for _, a := range pay.Allocations {
			payments[a.InvoiceID] = append(payments[a.InvoiceID], pay.PaidAt)
		}
	}
	const horizon = 7 * 24 * time.Hour
	var n, paid [2]int // index 1 = holdout
	for _, r := range ds.Reminders {
		if r.Channel != "phone" {
			continue
		}
		h := 0
		if r.Holdout {
			h = 1
		}
		n[h]++
		for _, at := range payments[r.InvoiceID] {
			if !at.Before(r.SentAt) && !at.After(r.SentAt.Add(horizon)) {
				paid[h]++
				break
			}
		}
	}
	if n[0] < 1000 || n[1] < 100 {
		t.Fatalf("too few phone reminders to judge: %d sent, %d holdouts", n[0], n[1])
	}
	sent, held := float64(paid[0])/float64(n[0]), float64(paid[1])/float64(n[1])
	pooled := float64(paid[0]+paid[1]) / float64(n[0]+n[1])
	z := (sent - held) / math.Sqrt(pooled*(1-pooled)*(1/float64(n[0])+1/float64(n[1])))
	t.Logf("paid within 7 days: sent phone %.3f (n=%d), holdout phone %.3f (n=%d), z=%.1f", sent, n[0], held, n[1], z)
	if sent-held < 0.08 || z < 4 {
		t.Errorf("phone reminders do not raise payment enough: sent %.3f vs holdout %.3f (z=%.1f)", sent, held, z)
	}
}
