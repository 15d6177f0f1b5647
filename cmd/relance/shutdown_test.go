package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildRelance builds the relance binary once per test binary.
func buildRelance(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "relance")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// metric sums the samples of a Prometheus metric on the ops endpoint.
func metric(addr, name string) (float64, bool) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	var sum float64
	found := false
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ") {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			sum += v
			found = true
		}
	}
	return sum, found
}

// waitReleased waits until group has read everything produced and written
// the facts of every allocation (see liveStack.released). A sleep instead
// flakes on a loaded machine, and per-instance metrics cannot tell a
// partition not fetched yet from one caught up.
func waitReleased(t *testing.T, st *liveStack, group string, d time.Duration) {
	t.Helper()
	waitFor(t, "the group to read everything and release the newest allocations", d, func() bool { return st.released(group) })
}

func waitFor(t *testing.T, what string, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// metricSeries returns each sample of a Prometheus metric on the ops
// endpoint, keyed by its labels as written (e.g.
// `{partition="0",topic="reminders"}`).
func metricSeries(addr, name string) map[string]float64 {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if labels, ok := strings.CutPrefix(sc.Text(), name+"{"); ok {
			f := strings.Fields(labels)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			out["{"+f[0]] = v
		}
	}
	return out
}

// Rule: SIGTERM in the middle of a stream stops `relance run` within its
// shutdown timeout with exit status 0, after flushing and committing: with
// periodic flushes off, the group's commits stay where they were while it
// reads, and at exit they say everything produced was read (their offsets
// stay at the join state's low water: see ingest's commit). A restart in
// the same group picks up from there, and the facts in the store are
// exactly those of an uninterrupted computation: nothing lost, nothing
// counted twice.
func TestRun_SIGTERMMidStreamLosesAndDuplicatesNothing(t *testing.T) {
	bin := buildRelance(t)
	st := newLiveStack(t, 3, 300, 21)
	evs := st.events
	produce := st.produce

	dir := t.TempDir()
	ops := freePort(t)
	config := func(pipeline string) string {
		return writeFile(t, "relance.yaml", fmt.Sprintf(`
kafka: {brokers: [%s], group: g1}
registry: {url: '%s'}
store: {chdb_dir: %s}
join: {allowed_lateness: 0s, idle_timeout: 2s}
pipeline: %s
http: {listen: '%s'}
`, st.kc.ListenAddrs()[0], st.reg.URL(), filepath.Join(dir, "chdb"), pipeline, ops))
	}
	cfg := config(`{flush_interval: 50ms, flush_rows: 2000, shutdown_timeout: 20s}`)
	// Nothing but SIGTERM flushes and commits: no flush interval, row or
	// byte count or snapshot is reached while it runs.
	shutdownOnly := config(`{flush_interval: 1h, flush_rows: 100000000, shutdown_timeout: 20s, snapshot_interval: 1h}`)
	start := func(cfg string) (*exec.Cmd, *strings.Builder) {
		cmd := exec.Command(bin, "run", "--config", cfg)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &stderr
	}
	stop := func(cmd *exec.Cmd, stderr *strings.Builder) time.Duration {
		t0 := time.Now()
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("relance run after SIGTERM: %v\n%s", err, stderr.String())
			}
			// The stop says what the run did.
			if !regexp.MustCompile(`"msg":"relance stopped","records_read":[1-9][0-9]*,"batches_written":[0-9]+,"rows_written":[0-9]+,"commits":[0-9]+`).MatchString(stderr.String()) {
				t.Errorf("no stop line with the run's counts:\n%s", stderr.String())
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatalf("relance run did not stop within 30s of SIGTERM\n%s", stderr.String())
		}
		return time.Since(t0)
	}

	half, quarter, tail := len(evs)/2, len(evs)/4, len(evs)-len(evs)/10
	if err := produce(0, half); err != nil {
		t.Fatal(err)
	}
	cmd, stderr := start(cfg)
	waitFor(t, "the first rows to be written", 60*time.Second, func() bool {
		n, _ := metric(ops, "relance_sink_rows_total")
		return n > 0
	})
	// More events keep coming while SIGTERM arrives.
	produced := make(chan error, 1)
	go func() { produced <- produce(half, half+quarter) }()
	took := stop(cmd, stderr)
	t.Logf("stopped %s after SIGTERM", took.Round(time.Millisecond))
	if err := <-produced; err != nil {
		t.Fatal(err)
	}
	if err := produce(half+quarter, tail); err != nil {
		t.Fatal(err)
	}

	before := st.commitStates("g1")
	if st.readToTheEnd(before) {
		t.Fatalf("the group has committed everything already: the check below would prove nothing")
	}
	cmd, stderr = start(shutdownOnly)
	waitFor(t, "the restarted pipeline to read every partition to its end", 60*time.Second, func() bool {
		lag := metricSeries(ops, "relance_ingest_consumer_lag_records")
		for topic, ps := range st.end {
			for p := range ps {
				if v, ok := lag[fmt.Sprintf(`{partition="%d",topic="%s"}`, p, topic)]; !ok || v != 0 {
					return false
				}
			}
		}
		return true
	})
	if got := st.commitStates("g1"); !reflect.DeepEqual(got, before) {
		t.Fatalf("commits moved before SIGTERM with periodic flushes off: %v, were %v", got, before)
	}
	took = stop(cmd, stderr)
	if got := st.commitStates("g1"); !st.readToTheEnd(got) {
		t.Fatalf("commits at exit say %v (wm, rn, pn per partition)\nwant everything produced read: %v", got, st.end)
	}
	t.Logf("flushed and committed everything read in %s after SIGTERM", took.Round(time.Millisecond))

	if err := produce(tail, len(evs)); err != nil {
		t.Fatal(err)
	}
	cmd, stderr = start(cfg)
	waitFor(t, "the restarted pipeline to catch up", 60*time.Second, func() bool {
		lag, ok := metric(ops, "relance_ingest_consumer_lag_records")
		st, _ := metric(ops, "relance_stream_state_entries")
		return ok && lag == 0 && st > 0
	})
	waitReleased(t, st, "g1", 60*time.Second)
	stop(cmd, stderr)

	got := fields(queryChDB(t, bin, filepath.Join(dir, "chdb"), factsQuery))
	want := fields(st.referenceFacts(t))
	if !slices.Equal(got, want) {
		missing, extra := 0, 0
		for _, w := range want {
			if !slices.Contains(got, w) {
				missing++
			}
		}
		for _, g := range got {
			if !slices.Contains(want, g) {
				extra++
			}
		}
		t.Fatalf("after SIGTERM and restart: %d fact rows, want %d (%d missing, %d extra)", len(got), len(want), missing, extra)
	}
	t.Logf("%d fact rows identical to an uninterrupted run", len(got))
}
