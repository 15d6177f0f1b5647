package main

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/relance-io/relance/sinks/chdb/chdbtest"
	"github.com/relance-io/relance/sinks/clickhouse/chfront"
)

// Rule: three `relance run` instances in one consumer group share the
// partitions and write to one ClickHouse; when one is killed and another
// added mid-run, partitions (and their join state: snapshots restored, or
// rebuilt from the commits for the killed one's) move, and the facts equal
// those of a single uninterrupted run.
func TestRun_ScaleOutKillOneAddOne(t *testing.T) {
	bin := buildRelance(t)
	st := newLiveStack(t, 6, 400, 44, kfake.GroupMinSessionTimeout(100*time.Millisecond))
	evs := st.events
	produce := func(from, to int) {
		if err := st.produce(from, to); err != nil {
			t.Fatal(err)
		}
	}

	store := chdbtest.NewStore(t)
	front := chfront.Start(t, store)
	type instance struct {
		cmd    *exec.Cmd
		stderr *strings.Builder
		ops    string
	}
	start := func() *instance {
		ops := freePort(t)
		cfg := writeFile(t, "relance.yaml", fmt.Sprintf(`
kafka: {brokers: [%s], group: scale, session_timeout: 1s, heartbeat_interval: 200ms, rebalance_timeout: 5s}
registry: {url: '%s'}
store: {clickhouse: {addr: '%s', protocol: http, database: %s}}
join: {allowed_lateness: 0s, idle_timeout: 2s}
pipeline: {flush_interval: 50ms, flush_rows: 300}
http: {listen: '%s'}
`, st.kc.ListenAddrs()[0], st.reg.URL(), front.Addr, store.Database(), ops))
		in := &instance{cmd: exec.Command(bin, "run", "--config", cfg), stderr: &strings.Builder{}, ops: ops}
		in.cmd.Stderr = in.stderr
		if err := in.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return in
	}
	// An instance is at work once it has read records or restored a
	// partition's state from a snapshot (taken when partitions moved away
	// from an instance that had read everything, it leaves nothing to read).
	assigned := func(in *instance) float64 {
		n, _ := metric(in.ops, "relance_ingest_records_total")
		r, _ := metric(in.ops, `relance_stream_snapshot_duration_seconds_count{op="restore"}`)
		return n + r
	}
	q := len(evs) / 4
	produce(0, q)
	ins := []*instance{start(), start(), start()}
	waitFor(t, "all three instances to read", 60*time.Second, func() bool {
		return assigned(ins[0]) > 0 && assigned(ins[1]) > 0 && assigned(ins[2]) > 0
	})
	produce(q, 2*q)
	// One instance dies; its partitions move to the other two.
	if err := ins[1].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = ins[1].cmd.Wait()
	produce(2*q, 3*q)
	// One more joins; the group rebalances again.
	ins = append(ins, start())
	produce(3*q, len(evs))
	live := []*instance{ins[0], ins[2], ins[3]}
	waitFor(t, "the live instances to catch up", 90*time.Second, func() bool {
		total := 0.0
		for _, in := range live {
			lag, ok := metric(in.ops, "relance_ingest_consumer_lag_records")
			if !ok || lag != 0 {
				return false
			}
			total += assigned(in)
		}
		return assigned(ins[3]) > 0 && total > 0
	})
	waitReleased(t, st, "scale", 60*time.Second)
	for _, in := range live {
		if err := in.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
	}
	for _, in := range live {
		if err := in.cmd.Wait(); err != nil {
			t.Fatalf("instance: %v\n%s", err, in.stderr.String())
		}
	}

	rows, err := store.Query(context.Background(), "SELECT payment_id, allocation_index, horizon, reminder_id, credited_minor FROM `"+store.Database()+"`.attribution_facts FINAL")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows.Data {
		got = append(got, strings.Join(r, " "))
	}
	got = fields(got)
	want := fields(st.referenceFacts(t))
	if !slices.Equal(got, want) {
		t.Fatalf("after a kill and an addition: %d fact rows, want %d", len(got), len(want))
	}
	t.Logf("%d fact rows identical to a single uninterrupted run", len(got))
}
