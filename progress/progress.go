// Package progress reports how far a long phase (generation, import,
// pipeline catch-up) has gone: a bar redrawn in place, with rate and ETA,
// when the output is a terminal; a plain line every few seconds when it is
// not (CI logs, files, pipes), so logs stay readable.
//
// A Bar is driven by Add/Set from the worker, or samples a counter (Poll)
// at each tick; Done stops it. It never writes after Done returns.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Opt configures a Bar.
type Opt func(*cfg)

type cfg struct {
	terminal *bool
	interval time.Duration
	unit     string
	poll     func() int64
	now      func() time.Time
	width    int
}

// Terminal forces the output mode, overriding the default of detecting
// whether the writer is a character device (a terminal).
func Terminal(on bool) Opt { return func(c *cfg) { c.terminal = &on } }

// Interval sets how often the bar is redrawn or a line printed, overriding
// the defaults of 200ms on a terminal and 5s otherwise.
func Interval(d time.Duration) Opt { return func(c *cfg) { c.interval = d } }

// Unit names what is counted ("records", "rows"), overriding the default of
// none.
func Unit(u string) Opt { return func(c *cfg) { c.unit = u } }

// clock replaces the wall clock, so tests can fix the elapsed time and
// therefore the rate and ETA shown.
func clock(now func() time.Time) Opt { return func(c *cfg) { c.now = now } }

// Poll makes the bar read its current count from fn at each tick instead of
// (or on top of) Add/Set, e.g. a consumer's records-read counter. fn must be
// safe to call from another goroutine.
func Poll(fn func() int64) Opt { return func(c *cfg) { c.poll = fn } }

// Bar is one phase's progress. Its methods are safe for concurrent use; a
// nil *Bar does nothing, so callers need not check whether progress is on.
type Bar struct {
	w     io.Writer
	label string
	total atomic.Int64
	cur   atomic.Int64
	cfg   cfg
	tty   bool
	start time.Time

	stop chan struct{}
	done chan struct{}
	once sync.Once
	mu   sync.Mutex // serialises writes
}

// New starts reporting the phase label of total units (0 when unknown:
// then only the count, rate and elapsed time are shown) to w. A nil w gives
// a nil Bar: no output.
func New(w io.Writer, label string, total int64, opts ...Opt) *Bar {
	if w == nil {
		return nil
	}
	b := &Bar{w: w, label: label, stop: make(chan struct{}), done: make(chan struct{})}
	b.cfg.now = time.Now
	b.cfg.width = 30
	for _, o := range opts {
		o(&b.cfg)
	}
	b.start = b.cfg.now()
	if b.cfg.terminal != nil {
		b.tty = *b.cfg.terminal
	} else {
		b.tty = IsTerminal(w)
	}
	if b.cfg.interval <= 0 {
		b.cfg.interval = 5 * time.Second
		if b.tty {
			b.cfg.interval = 200 * time.Millisecond
		}
	}
	b.total.Store(total)
	go b.loop()
	return b
}

// IsTerminal reports whether w is a terminal (a character device).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Add counts n more units done.
func (b *Bar) Add(n int64) {
	if b != nil {
		b.cur.Add(n)
	}
}

// Set sets the count of units done.
func (b *Bar) Set(n int64) {
	if b != nil {
		b.cur.Store(n)
	}
}

// SetTotal changes the total, e.g. once it is known.
func (b *Bar) SetTotal(n int64) {
	if b != nil {
		b.total.Store(n)
	}
}

// Done stops the bar. On a terminal it erases the bar's line, so that the
// caller's own summary line takes its place; otherwise it prints nothing
// more (the periodic lines already went out).
func (b *Bar) Done() {
	if b == nil {
		return
	}
	b.once.Do(func() {
		close(b.stop)
		<-b.done
		if b.tty {
			b.mu.Lock()
			fmt.Fprint(b.w, "\r\033[K")
			b.mu.Unlock()
		}
	})
}

func (b *Bar) loop() {
	defer close(b.done)
	t := time.NewTicker(b.cfg.interval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.mu.Lock()
			if b.tty {
				fmt.Fprint(b.w, "\r\033[K"+b.Line())
			} else {
				fmt.Fprintln(b.w, b.Line())
			}
			b.mu.Unlock()
		}
	}
}

// Line renders the current state, e.g.
// "produce [=========>          ] 45.0% 12 345/27 432 records 3 210/s ETA 5s"
// on a terminal and "produce: 12 345/27 432 records (45.0%), 3 210/s, ETA 5s"
// otherwise.
func (b *Bar) Line() string {
	if b.cfg.poll != nil {
		b.cur.Store(b.cfg.poll())
	}
	cur, total := b.cur.Load(), b.total.Load()
	elapsed := b.cfg.now().Sub(b.start)
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(cur) / s
	}
	unit := ""
	if b.cfg.unit != "" {
		unit = " " + b.cfg.unit
	}
	if total <= 0 && cur == 0 {
		return fmt.Sprintf("%s: %s elapsed", b.label, elapsed.Round(time.Second))
	}
	if total <= 0 {
		return fmt.Sprintf("%s: %s%s, %s/s, %s elapsed", b.label, Count(cur), unit, Count(int64(rate)), elapsed.Round(time.Second))
	}
	frac := min(float64(cur)/float64(total), 1)
	eta := "?"
	if cur >= total {
		eta = "0s"
	} else if cur > 0 && elapsed > 0 {
		// Rounded up: an ETA of 0s while work remains would be a lie.
		left := time.Duration(float64(elapsed) * float64(total-cur) / float64(cur))
		eta = ((left + time.Second - 1) / time.Second * time.Second).String()
	}
	if !b.tty {
		return fmt.Sprintf("%s: %s/%s%s (%.1f%%), %s/s, ETA %s", b.label, Count(cur), Count(total), unit, 100*frac, Count(int64(rate)), eta)
	}
	fill := int(frac * float64(b.cfg.width))
	bar := strings.Repeat("=", fill)
	if fill < b.cfg.width {
		bar += ">" + strings.Repeat(" ", b.cfg.width-fill-1)
	}
	return fmt.Sprintf("%s [%s] %5.1f%% %s/%s%s %s/s ETA %s", b.label, bar, 100*frac, Count(cur), Count(total), unit, Count(int64(rate)), eta)
}

// Count renders n with thin groups of three digits: 1234567 → "1 234 567".
func Count(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out strings.Builder
	if neg {
		out.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out.WriteByte(' ')
		}
		out.WriteRune(c)
	}
	return out.String()
}
