package generate

import (
	"testing"
	"time"
)

// The hand-written Europe/Paris rule gives the same business-hours offset
// as the tz database around both summer-time switches and through a year.
func TestParisOffset_MatchesTZDatabase(t *testing.T) {
	f := func(date string, want time.Duration) {
		t.Helper()
		m, err := time.Parse(time.DateOnly, date)
		if err != nil {
			t.Fatal(err)
		}
		if got := parisOffset(m); got != want {
			t.Fatalf("parisOffset(%s) = %v, want %v", date, got, want)
		}
	}
	f("2026-01-15", time.Hour)
	f("2026-03-28", time.Hour)   // Saturday before the switch
	f("2026-03-29", 2*time.Hour) // last Sunday of March
	f("2026-07-14", 2*time.Hour)
	f("2026-10-24", 2*time.Hour) // Saturday before the switch back
	f("2026-10-25", time.Hour)   // last Sunday of October
	f("2027-03-28", 2*time.Hour)

	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skipf("no tz database on this machine: %v", err)
	}
	for d := range 3 * 366 {
		m := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, d)
		noon := time.Date(m.Year(), m.Month(), m.Day(), 12, 0, 0, 0, paris)
		_, secs := noon.Zone()
		if want := time.Duration(secs) * time.Second; parisOffset(m) != want {
			t.Fatalf("%s: parisOffset = %v, tz database says %v", m.Format(time.DateOnly), parisOffset(m), want)
		}
	}
}

// Steps that fall on a weekend move to the next Monday; business days stay.
func TestCalendar_BusinessDay(t *testing.T) {
	c := newCalendar(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 31) // Thursday
	f := func(d, want int) {
		t.Helper()
		if got := c.businessDay(d); got != want {
			t.Fatalf("businessDay(%d) = %d, want %d", d, got, want)
		}
	}
	f(0, 0) // Thu 1
	f(1, 1) // Fri 2
	f(2, 4) // Sat 3 -> Mon 5
	f(3, 4) // Sun 4 -> Mon 5
	f(4, 4)
}
