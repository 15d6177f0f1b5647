package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/relance-io/relance/generate"
	"github.com/relance-io/relance/ingest"
	"github.com/relance-io/relance/schemas"
	"github.com/relance-io/relance/stream"
)

// Rule: `relance run` killed with SIGKILL at random moments, again and
// again while events keep arriving, and restarted each time, ends with
// exactly the facts and raw rows of an uninterrupted run: nothing lost,
// nothing counted twice. 10 kills by default; RELANCE_LONG=1 makes it 40.
func TestRun_CrashLoopSIGKILL(t *testing.T) {
	kills := 10
	if os.Getenv("RELANCE_LONG") != "" {
		kills = 40
	}
	bin := buildRelance(t)
	topics := append(append([]string{}, ingest.Topics...), ingest.DefaultDeadLetterTopic)
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, topics...), kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	reg := srfake.New()
	defer reg.Close()
	src, _ := sr.NewClient(sr.URLs(reg.URL()))
	serde, err := schemas.NewSerde(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	p := generate.DefaultParams()
	p.Customers, p.Months, p.Seed = 400, 6, 33
	p.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ds, err := generate.Generate(p)
	if err != nil {
		t.Fatal(err)
	}
	type ev struct {
		at  time.Time
		rec *kgo.Record
	}
	var evs []ev
	allocations := 0
	for i := range ds.Reminders {
		b, _ := serde.EncodeReminder(&ds.Reminders[i])
		evs = append(evs, ev{ds.Reminders[i].SentAt, &kgo.Record{Topic: schemas.TopicReminders, Key: []byte(ds.Reminders[i].CustomerID), Value: b}})
	}
	for i := range ds.Payments {
		b, _ := serde.EncodePayment(&ds.Payments[i])
		evs = append(evs, ev{ds.Payments[i].PaidAt, &kgo.Record{Topic: schemas.TopicPayments, Key: []byte(ds.Payments[i].CustomerID), Value: b}})
		allocations += len(ds.Payments[i].Allocations)
	}
	slices.SortStableFunc(evs, func(a, b ev) int { return a.at.Compare(b.at) })
	prod, err := kgo.NewClient(kgo.SeedBrokers(kc.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	chunk := len(evs)/(kills+1) + 1
	produce := func(i int) {
		from, to := min(i*chunk, len(evs)), min((i+1)*chunk, len(evs))
		var recs []*kgo.Record
		for _, e := range evs[from:to] {
			recs = append(recs, e.rec)
		}
		if err := prod.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
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
pipeline: {flush_interval: 50ms, flush_rows: 300}
http: {listen: '%s'}
`, kc.ListenAddrs()[0], reg.URL(), filepath.Join(dir, "chdb"), ops))
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
	written := 0.0
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
	time.Sleep(3 * time.Second) // the idle timeout releases the newest allocations
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("last instance: %v\n%s", err, stderr.String())
	}

	query := func(q string) []string {
		out, err := exec.Command(bin, "query", "--chdb-dir", filepath.Join(dir, "chdb"), q).CombinedOutput()
		if err != nil {
			t.Fatalf("relance query: %v\n%s", err, out)
		}
		space := regexp.MustCompile(`\s+`)
		var rows []string
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n")[1:] {
			rows = append(rows, space.ReplaceAllString(strings.TrimSpace(line), " "))
		}
		return rows
	}
	got := query("SELECT payment_id, allocation_index, horizon, reminder_id, credited_minor FROM attribution_facts FINAL ORDER BY ALL")
	j, _ := stream.NewJoiner()
	for i, e := range evs {
		if e.rec.Topic == schemas.TopicReminders {
			r, _ := serde.DecodeReminder(e.rec.Value)
			j.AddReminder(r, int64(i))
		} else {
			p, _ := serde.DecodePayment(e.rec.Value)
			j.AddPayment(p, int64(i))
		}
	}
	j.Flush()
	facts, _ := j.Drain()
	var want []string
	for _, f := range facts {
		id := ""
		if f.Reminder != nil {
			id = f.Reminder.ReminderID
		}
		want = append(want, strings.TrimSpace(strings.Join(strings.Fields(fmt.Sprintf("%s %d %s %s %d", f.PaymentID, f.AllocationIndex, f.Horizon, id, f.CreditedMinor)), " ")))
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("after %d SIGKILLs: %d fact rows, want %d", kills, len(got), len(want))
	}
	counts := query("SELECT (SELECT count() FROM payment_allocations FINAL), (SELECT count() FROM reminders FINAL), (SELECT count() FROM late_events FINAL)")
	if want := fmt.Sprintf("%d %d 0", allocations, len(ds.Reminders)); counts[0] != want {
		t.Fatalf("raw rows after %d SIGKILLs: %s, want %s (allocations, reminders, late events)", kills, counts[0], want)
	}
	t.Logf("%d SIGKILLs, %d fact rows identical to an uninterrupted run", kills, len(got))
}
