package progress

import (
	"bytes"
	"regexp"
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

// Rule: when the output is not a terminal, the bar prints plain lines (no
// carriage return, no escape sequence) with count, total, percentage, rate
// and ETA, periodically, and nothing after Done.
func TestBar_PlainLinesWhenNotATerminal(t *testing.T) {
	var out syncBuf
	b := New(&out, "import", 1000, Unit("rows"), Interval(10*time.Millisecond))
	b.Add(250)
	time.Sleep(50 * time.Millisecond)
	b.Done()
	got := out.String()
	if strings.ContainsAny(got, "\r\033") {
		t.Fatalf("terminal control characters in plain output: %q", got)
	}
	if !regexp.MustCompile(`(?m)^import: 250/1 000 rows \(25\.0%\), [0-9 ]+/s, ETA \S+$`).MatchString(got) {
		t.Fatalf("no plain progress line in %q", got)
	}
	n := len(got)
	time.Sleep(30 * time.Millisecond)
	if len(out.String()) != n {
		t.Fatal("output after Done")
	}
}

// Rule: on a terminal the bar is redrawn in place (carriage return, erase
// line) with a bar, and Done erases it so the caller's summary replaces it.
func TestBar_RedrawnInPlaceOnATerminal(t *testing.T) {
	var out syncBuf
	b := New(&out, "consume", 0, Terminal(true), Interval(10*time.Millisecond), Poll(func() int64 { return 42 }))
	b.SetTotal(84)
	time.Sleep(50 * time.Millisecond)
	b.Done()
	got := out.String()
	if !strings.Contains(got, "\r\033[Kconsume [===============>") || !strings.Contains(got, "42/84") || !strings.HasSuffix(got, "\r\033[K") {
		t.Fatalf("terminal output %q", got)
	}
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
