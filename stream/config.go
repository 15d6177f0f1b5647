package stream

import (
	"fmt"
	"time"
)

// Opt configures a Joiner.
type Opt func(*cfg)

type cfg struct {
	horizons  []Horizon
	lateness  time.Duration
	retention time.Duration
	model     Model
	halfLife  time.Duration
	version   func() uint64
}

func defaultCfg() cfg {
	return cfg{
		horizons:  DefaultHorizons,
		lateness:  24 * time.Hour,
		retention: 7 * 24 * time.Hour,
		model:     LastTouch,
		halfLife:  7 * 24 * time.Hour,
		version:   newWallVersion(),
	}
}

func (c *cfg) validate() error {
	hs, err := normalizeHorizons(c.horizons)
	if err != nil {
		return err
	}
	c.horizons = hs
	if c.lateness < 0 {
		return fmt.Errorf("allowed lateness %s must not be negative (e.g. 24h)", c.lateness)
	}
	if c.retention < 0 {
		return fmt.Errorf("retention %s must not be negative (e.g. 168h)", c.retention)
	}
	if c.model == TimeDecay && c.halfLife <= 0 {
		return fmt.Errorf("time_decay half-life %s must be positive (e.g. 168h)", c.halfLife)
	}
	if c.model > TimeDecay {
		return fmt.Errorf("unknown attribution model %d", c.model)
	}
	return nil
}

// Horizons sets the observation windows, overriding the default of 7d, 15d
// and 30d. They are sorted; duplicates and non-positive values are errors.
func Horizons(hs ...Horizon) Opt { return func(c *cfg) { c.horizons = hs } }

// AllowedLateness sets how far behind the newest event time of its slowest
// input an event may arrive and still be part of the first, final emission,
// overriding the default of 24h. Allocations are held back this long before
// their facts are written.
func AllowedLateness(d time.Duration) Opt { return func(c *cfg) { c.lateness = d } }

// Retention sets how long past the watermark an invoice's reminders (beyond
// the largest horizon) and allocations are kept so that a late event can
// still correct the facts it changes, overriding the default of 7 days.
// Events older than watermark - retention are reported as too late.
func Retention(d time.Duration) Opt { return func(c *cfg) { c.retention = d } }

// Attribution sets the attribution model, overriding the default LastTouch.
func Attribution(m Model) Opt { return func(c *cfg) { c.model = m } }

// HalfLife sets the TimeDecay half-life, overriding the default of 7 days.
func HalfLife(d time.Duration) Opt { return func(c *cfg) { c.halfLife = d } }

// VersionClock sets the source of fact versions, overriding the default of a
// wall clock in nanoseconds that never repeats nor goes backwards within a
// process. The store keeps the highest version of a fact key, so a later
// computation (made with more data) must get a higher version: wall time
// provides that across restarts too.
func VersionClock(fn func() uint64) Opt { return func(c *cfg) { c.version = fn } }

func newWallVersion() func() uint64 {
	var last uint64
	return func() uint64 {
		v := uint64(time.Now().UnixNano())
		if v <= last {
			v = last + 1
		}
		last = v
		return v
	}
}
