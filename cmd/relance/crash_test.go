package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Rule: `relance run` killed with SIGKILL at random moments, again and
// again while events keep arriving, and restarted each time, ends with
// exactly the facts and raw rows of an uninterrupted run: nothing lost,
// nothing counted twice. Join-state snapshots are taken every 100ms, so
// most restarts restore one (possibly one whose commit was lost, or whose
// instance died while writing it) rather than replaying. 10 kills by
// default; RELANCE_LONG=1 makes it 40.
func TestRun_CrashLoopSIGKILL(t *testing.T) {
	kills := 10
	if os.Getenv("RELANCE_LONG") != "" {
		kills = 40
	}
	bin := buildRelance(t)
	st := newLiveStack(t, 3, 400, 33, kfake.GroupMinSessionTimeout(100*time.Millisecond))
	allocations := 0
	for _, p := range st.ds.Payments {
		allocations += len(p.Allocations)
	}
	chunk := len(st.events)/(kills+1) + 1
	produce := func(i int) {
		if err := st.produce(i*chunk, (i+1)*chunk); err != nil {
			t.Fatal(err)
		}
	}

	dir := t.TempDir()
	ops := freePort(t)
	cfg := writeFile(t, "relance.yaml", fmt.Sprintf(`
kafka: {brokers: [%s], group: crash, session_timeout: 1s, heartbeat_interval: 200ms, rebalance_timeout: 3s}
registry: {url: '%s'}
store: {chdb_dir: %s}
join: {allowed_lateness: 0s, idle_timeout: 2s}
pipeline: {flush_interval: 50ms, flush_rows: 300, snapshot_interval: 100ms}
http: {listen: '%s'}
`, st.kc.ListenAddrs()[0], st.reg.URL(), filepath.Join(dir, "chdb"), ops))
	start := func() (*exec.Cmd, *strings.Builder) {
		cmd := exec.Command(bin, "run", "--config", cfg)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &stderr
	}
	rng := rand.New(rand.NewPCG(7, 7))
	written, restores := 0.0, 0.0
	const restoreCount = `relance_stream_snapshot_duration_seconds_count{op="restore"}`
	for i := 0; i < kills; i++ {
		cmd, stderr := start()
		produce(i)
		// Kill at a random moment once this instance is at work (it has
		// written something), or at once for some of them.
		if rng.IntN(4) > 0 {
			deadline := time.Now().Add(20 * time.Second)
			for {
				n, _ := metric(ops, "relance_sink_rows_total")
				if n > 0 || time.Now().After(deadline) {
					written += n
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		n, _ := metric(ops, restoreCount)
		restores += n
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
			t.Fatalf("kill %d: the process ended by itself (%v):\n%s", i, err, stderr.String())
		}
	}
	if written == 0 {
		t.Fatal("no instance wrote anything before being killed: the crash loop proves nothing")
	}

	cmd, stderr := start()
	produce(kills)
	waitFor(t, "the last instance to catch up", 90*time.Second, func() bool {
		lag, ok := metric(ops, "relance_ingest_consumer_lag_records")
		st, _ := metric(ops, "relance_stream_state_entries")
		return ok && lag == 0 && st > 0
	})
	waitReleased(t, st, "crash", 60*time.Second)
	n, _ := metric(ops, restoreCount)
	if restores += n; restores == 0 {
		t.Fatal("no instance restored a join-state snapshot: the crash loop tested only the replay")
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("last instance: %v\n%s", err, stderr.String())
	}

	got := fields(queryChDB(t, bin, filepath.Join(dir, "chdb"), factsQuery))
	want := fields(st.referenceFacts(t))
	if !slices.Equal(got, want) {
		t.Fatalf("after %d SIGKILLs: %d fact rows, want %d", kills, len(got), len(want))
	}
	counts := fields(queryChDB(t, bin, filepath.Join(dir, "chdb"), "SELECT (SELECT count() FROM payment_allocations FINAL), (SELECT count() FROM reminders FINAL), (SELECT count() FROM late_events FINAL)"))
	if want := fmt.Sprintf("%d %d 0", allocations, len(st.ds.Reminders)); counts[0] != want {
		t.Fatalf("raw rows after %d SIGKILLs: %s, want %s (allocations, reminders, late events)", kills, counts[0], want)
	}
	t.Logf("%d SIGKILLs, %.0f partition states restored from snapshots, %d fact rows identical to an uninterrupted run", kills, restores, len(got))
}
