package progress

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fixedClock reads t0 on its first call (the bar's start) and t0+elapsed
// on every later one, so the rate and ETA of every line are known.
func fixedClock(elapsed time.Duration) Opt {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	calls := 0
	return clock(func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 1 {
			return t0
		}
		return t0.Add(elapsed)
	})
}

// waitLines waits until out holds n lines (each redraw of a terminal bar
// or each plain line ends one), failing after a generous deadline: the
// ticks are real, only their content is fixed.
func waitLines(t *testing.T, out *syncBuf, sep string, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(out.String(), sep) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d lines after 20s, want %d: %q", strings.Count(out.String(), sep), n, out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Rule: when the output is not a terminal, the bar prints plain lines (no
// carriage return, no escape sequence), one per tick, with count, total,
// percentage, rate and ETA, and nothing after Done. 250 of 1 000 rows in
// 10 s is 25 rows/s, so the 750 left take 30 s.
func TestBar_PlainLinesWhenNotATerminal(t *testing.T) {
	var out syncBuf
	b := New(&out, "import", 1000, Unit("rows"), Interval(10*time.Millisecond), fixedClock(10*time.Second))
	b.Add(250)
	waitLines(t, &out, "\n", 2)
	b.Done()
	got := out.String()
	if strings.ContainsAny(got, "\r\033") {
		t.Fatalf("terminal control characters in plain output: %q", got)
	}
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	for _, l := range lines {
		if l != "import: 250/1 000 rows (25.0%), 25/s, ETA 30s" {
			t.Fatalf("plain line %q, want %q", l, "import: 250/1 000 rows (25.0%), 25/s, ETA 30s")
		}
	}
	n := len(got)
	time.Sleep(30 * time.Millisecond)
	if len(out.String()) != n {
		t.Fatal("output after Done")
	}
}

// Rule: on a terminal the bar is redrawn in place (carriage return, erase
// line) with a bar, the count, the rate and the ETA, and Done erases it so
// the caller's summary replaces it. 42 of 84 in 10 s is 4.2/s (shown 4/s),
// so the 42 left take 10 s.
func TestBar_RedrawnInPlaceOnATerminal(t *testing.T) {
	var out syncBuf
	b := New(&out, "consume", 0, Terminal(true), Interval(10*time.Millisecond), Poll(func() int64 { return 42 }), fixedClock(10*time.Second))
	b.SetTotal(84)
	waitLines(t, &out, "\r\033[K", 2)
	b.Done()
	got := out.String()
	want := "\r\033[Kconsume [===============>              ]  50.0% 42/84 4/s ETA 10s"
	if !strings.HasPrefix(got, want) || !strings.HasSuffix(got, "\r\033[K") {
		t.Fatalf("terminal output %q, want redraws of %q then an erase", got, want)
	}
	if redraws := strings.Split(strings.TrimSuffix(got, "\r\033[K"), "\r\033[K")[1:]; len(redraws) < 2 || strings.Contains(got, "\n") {
		t.Fatalf("terminal output %q: want at least two in-place redraws and no newline", got)
	} else {
		for _, r := range redraws {
			if "\r\033[K"+r != want {
				t.Fatalf("redraw %q, want %q", r, want)
			}
		}
	}
}

// Rule: the ETA is the time left at the average rate so far, rounded up
// to the second (never 0s while work remains), "0s" once done, "?" before
// anything is done; with no total, the count, rate and elapsed time show.
func TestBar_Line(t *testing.T) {
	f := func(total, cur int64, elapsed time.Duration, want string) {
		t.Helper()
		b := New(&syncBuf{}, "gen", total, Terminal(false), Interval(time.Hour), fixedClock(elapsed))
		b.Set(cur)
		if got := b.Line(); got != want {
			t.Errorf("Line() = %q, want %q", got, want)
		}
		b.Done()
	}
	f(2000, 1998, 10*time.Second, "gen: 1 998/2 000 (99.9%), 199/s, ETA 1s") // 0.01 s left, rounded up
	f(2000, 500, 3*time.Second, "gen: 500/2 000 (25.0%), 166/s, ETA 9s")
	f(2000, 2000, 3*time.Second, "gen: 2 000/2 000 (100.0%), 666/s, ETA 0s")
	f(2000, 0, 3*time.Second, "gen: 0/2 000 (0.0%), 0/s, ETA ?")
	f(0, 1500, 3*time.Second, "gen: 1 500, 500/s, 3s elapsed")
	f(3600, 60, time.Minute, "gen: 60/3 600 (1.7%), 1/s, ETA 59m0s")
}

// Rule: a nil Bar (progress off) is usable and silent.
func TestBar_NilIsSilent(t *testing.T) {
	b := New(nil, "x", 1)
	b.Add(1)
	b.Set(2)
	b.SetTotal(3)
	b.Done()
}

func TestCount(t *testing.T) {
	f := func(n int64, want string) {
		t.Helper()
		if got := Count(n); got != want {
			t.Errorf("Count(%d) = %q, want %q", n, got, want)
		}
	}
	f(0, "0")
	f(999, "999")
	f(1000, "1 000")
	f(1234567, "1 234 567")
	f(-1234, "-1 234")
}
