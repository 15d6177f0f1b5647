package generate

import "time"

// The generator works in whole days counted from Params.Start and turns a
// day plus a Paris wall-clock time into a UTC instant. Europe/Paris is
// computed from the EU summer-time rule rather than loaded from the system
// tz database: the package does no I/O and its output must not depend on
// the machine's zoneinfo.

const day = 24 * time.Hour

// calendar holds per-day facts for the simulated window.
type calendar struct {
	start    time.Time // midnight UTC of day 0
	days     int       // days in the window
	midnight []time.Time
	offset   []time.Duration // Paris UTC offset during business hours
	weekday  []time.Weekday
}

func newCalendar(start time.Time, days int) *calendar {
	n := days
	c := &calendar{
		start:    start,
		days:     days,
		midnight: make([]time.Time, n),
		offset:   make([]time.Duration, n),
		weekday:  make([]time.Weekday, n),
	}
	for d := range n {
		m := start.AddDate(0, 0, d)
		c.midnight[d] = m
		c.offset[d] = parisOffset(m)
		c.weekday[d] = m.Weekday()
	}
	return c
}

// at returns the UTC instant of Paris wall-clock time local on day d.
func (c *calendar) at(d int, local time.Duration) time.Time {
	return c.midnight[d].Add(local - c.offset[d])
}

func (c *calendar) weekend(d int) bool {
	w := c.weekday[d]
	return w == time.Saturday || w == time.Sunday
}

// businessDay moves d forward to the next Monday–Friday.
func (c *calendar) businessDay(d int) int {
	for d < len(c.weekday) && c.weekend(d) {
		d++
	}
	return d
}

// parisOffset is the Europe/Paris UTC offset in force during business hours
// (06:00–22:00 local) on the date of midnight m: +2h from the last Sunday of
// March to the day before the last Sunday of October, +1h otherwise. The
// switches happen at 01:00 UTC, before any business hour of that Sunday.
func parisOffset(m time.Time) time.Duration {
	y := m.Year()
	summer := lastSunday(y, time.March)
	winter := lastSunday(y, time.October)
	if !m.Before(summer) && m.Before(winter) {
		return 2 * time.Hour
	}
	return time.Hour
}

func lastSunday(year int, month time.Month) time.Time {
	last := time.Date(year, month+1, 0, 0, 0, 0, 0, time.UTC)
	return last.AddDate(0, 0, -int(last.Weekday()))
}
