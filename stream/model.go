package stream

import "fmt"

// Model is an attribution model: how an allocation's amount is credited to
// its candidate reminders.
type Model uint8

const (
	// LastTouch credits the whole allocation to the latest candidate (ties:
	// higher level, then greater reminder_id). The default.
	LastTouch Model = iota
	// FirstTouch credits the earliest candidate (ties: lower level, then
	// smaller reminder_id).
	FirstTouch
	// Linear splits equally in minor units, the remainder to the latest.
	Linear
	// TimeDecay weighs each candidate by 2^(-lag/half-life), the remainder
	// to the latest.
	TimeDecay
)

func (m Model) String() string {
	switch m {
	case LastTouch:
		return "last_touch"
	case FirstTouch:
		return "first_touch"
	case Linear:
		return "linear"
	case TimeDecay:
		return "time_decay"
	}
	return fmt.Sprintf("model(%d)", uint8(m))
}

// ParseModel reads a model name as written in configuration.
func ParseModel(s string) (Model, error) {
	for _, m := range []Model{LastTouch, FirstTouch, Linear, TimeDecay} {
		if m.String() == s {
			return m, nil
		}
	}
	return 0, fmt.Errorf("model %q: want one of last_touch, first_touch, linear, time_decay", s)
}
