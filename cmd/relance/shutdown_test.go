package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
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

// Rule: SIGTERM in the middle of a stream stops `relance run` within its
// shutdown timeout with exit status 0, after flushing and committing; a
// restart in the same group picks up from there, and the facts in the store
// are exactly those of an uninterrupted computation: nothing lost, nothing
// counted twice.
func TestRun_SIGTERMMidStreamLosesAndDuplicatesNothing(t *testing.T) {
	bin := buildRelance(t)
	topics := append(append([]string{}, ingest.Topics...), ingest.DefaultDeadLetterTopic)
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, topics...))
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
	p.Customers, p.Months, p.Seed = 300, 6, 21
	p.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ds, err := generate.Generate(p)
	if err != nil {
		t.Fatal(err)
	}
	// Events in event-time order, as live producers would send them.
	type ev struct {
		at  time.Time
		rec *kgo.Record
	}
	var evs []ev
	for i := range ds.Reminders {
		b, _ := serde.EncodeReminder(&ds.Reminders[i])
		evs = append(evs, ev{ds.Reminders[i].SentAt, &kgo.Record{Topic: schemas.TopicReminders, Key: []byte(ds.Reminders[i].CustomerID), Value: b}})
	}
	for i := range ds.Payments {
		b, _ := serde.EncodePayment(&ds.Payments[i])
		evs = append(evs, ev{ds.Payments[i].PaidAt, &kgo.Record{Topic: schemas.TopicPayments, Key: []byte(ds.Payments[i].CustomerID), Value: b}})
	}
	slices.SortStableFunc(evs, func(a, b ev) int { return a.at.Compare(b.at) })
	prod, err := kgo.NewClient(kgo.SeedBrokers(kc.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	produce := func(from, to int) error {
		for _, e := range evs[from:to] {
			prod.Produce(context.Background(), e.rec, func(_ *kgo.Record, err error) {
				if err != nil {
					t.Errorf("produce: %v", err)
				}
			})
		}
		return prod.Flush(context.Background())
	}

	dir := t.TempDir()
	ops := freePort(t)
	cfg := writeFile(t, "relance.yaml", fmt.Sprintf(`
kafka: {brokers: [%s], group: g1}
registry: {url: '%s'}
store: {chdb_dir: %s}
join: {allowed_lateness: 0s, idle_timeout: 2s}
pipeline: {flush_interval: 50ms, flush_rows: 2000, shutdown_timeout: 20s}
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
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatalf("relance run did not stop within 30s of SIGTERM\n%s", stderr.String())
		}
		return time.Since(t0)
	}

	half := len(evs) / 2
	if err := produce(0, half); err != nil {
		t.Fatal(err)
	}
	cmd, stderr := start()
	waitFor(t, "the first rows to be written", 60*time.Second, func() bool {
		n, _ := metric(ops, "relance_sink_rows_total")
		return n > 0
	})
	// More events keep coming while SIGTERM arrives.
	produced := make(chan error, 1)
	go func() { produced <- produce(half, half+len(evs)/4) }()
	took := stop(cmd, stderr)
	t.Logf("stopped %s after SIGTERM", took.Round(time.Millisecond))
	if err := <-produced; err != nil {
		t.Fatal(err)
	}
	if err := produce(half+len(evs)/4, len(evs)); err != nil {
		t.Fatal(err)
	}

	cmd, stderr = start()
	waitFor(t, "the restarted pipeline to catch up", 60*time.Second, func() bool {
		lag, ok := metric(ops, "relance_ingest_consumer_lag_records")
		st, _ := metric(ops, "relance_stream_state_entries")
		return ok && lag == 0 && st > 0
	})
	// Let the idle timeout release the last allocations, then stop.
	time.Sleep(3 * time.Second)
	stop(cmd, stderr)

	out, err := exec.Command(bin, "query", "--chdb-dir", filepath.Join(dir, "chdb"),
		"SELECT payment_id, allocation_index, horizon, reminder_id, credited_minor FROM attribution_facts FINAL ORDER BY ALL").CombinedOutput()
	if err != nil {
		t.Fatalf("relance query: %v\n%s", err, out)
	}
	space := regexp.MustCompile(`\s+`)
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n")[1:] {
		got = append(got, space.ReplaceAllString(strings.TrimSpace(line), " "))
	}

	// The reference: one uninterrupted joiner over all events, in order.
	j, _ := stream.NewJoiner()
	for i, e := range evs {
		switch e.rec.Topic {
		case schemas.TopicReminders:
			r, _ := serde.DecodeReminder(e.rec.Value)
			j.AddReminder(r, int64(i))
		default:
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
		want = append(want, space.ReplaceAllString(strings.TrimSpace(fmt.Sprintf("%s %d %s %s %d", f.PaymentID, f.AllocationIndex, f.Horizon, id, f.CreditedMinor)), " "))
	}
	slices.Sort(want)
	slices.Sort(got)
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
