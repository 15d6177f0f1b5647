package stream

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Horizon is an observation window after a reminder: a payment made within
// Horizon of a reminder's sent_at (both bounds inclusive) is a candidate
// match for it.
type Horizon time.Duration

// DefaultHorizons are the 7, 15 and 30 day windows of the spec.
var DefaultHorizons = []Horizon{Horizon(7 * 24 * time.Hour), Horizon(15 * 24 * time.Hour), Horizon(30 * 24 * time.Hour)}

// Duration returns h as a time.Duration.
func (h Horizon) Duration() time.Duration { return time.Duration(h) }

// String renders whole days as "7d" and anything else as a Go duration
// ("36h0m0s"). It is the label stored in ClickHouse and used in queries.
func (h Horizon) String() string {
	d := time.Duration(h)
	if d > 0 && d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
}

// ParseHorizon reads "7d", "36h", "90m" or any Go duration. It must be
// positive.
func ParseHorizon(s string) (Horizon, error) {
	s = strings.TrimSpace(s)
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.ParseInt(n, 10, 32)
		if err != nil {
			return 0, fmt.Errorf("horizon %q: want a whole number of days (e.g. \"7d\") or a duration (e.g. \"36h\")", s)
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("horizon %q: want a whole number of days (e.g. \"7d\") or a duration (e.g. \"36h\")", s)
		}
	}
	if d <= 0 {
		return 0, fmt.Errorf("horizon %q must be positive (e.g. \"7d\")", s)
	}
	return Horizon(d), nil
}

// ParseHorizons parses a comma-separated list, sorted ascending, without
// duplicates.
func ParseHorizons(s string) ([]Horizon, error) {
	var hs []Horizon
	for i, part := range strings.Split(s, ",") {
		h, err := ParseHorizon(part)
		if err != nil {
			return nil, fmt.Errorf("horizons[%d]: %w", i, err)
		}
		hs = append(hs, h)
	}
	return normalizeHorizons(hs)
}

func normalizeHorizons(hs []Horizon) ([]Horizon, error) {
	if len(hs) == 0 {
		return nil, fmt.Errorf("horizons: at least one is needed (e.g. 7d,15d,30d)")
	}
	out := append([]Horizon(nil), hs...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	for i, h := range out {
		if h <= 0 {
			return nil, fmt.Errorf("horizons[%d]: %q must be positive (e.g. \"7d\")", i, h)
		}
		if i > 0 && out[i-1] == h {
			return nil, fmt.Errorf("horizons: %s is listed twice", h)
		}
	}
	return out, nil
}
