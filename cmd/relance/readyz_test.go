package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/relance-io/relance/ingest"
	"github.com/relance-io/relance/sinks/chdb/chdbtest"
	"github.com/relance-io/relance/sinks/clickhouse/chfront"
)

// Rule: /readyz answers 503 while the consumer has no partitions (here the
// topics do not exist yet: the group has nothing to be assigned, though the
// consumer runs and asks for them), 200 once the topics exist and their
// partitions are assigned, 503 while the store does not answer SELECT 1,
// and 200 again once it does. /healthz answers 200 throughout.
func TestRun_ReadyzFollowsAssignmentAndTheStore(t *testing.T) {
	var askedForTopics atomic.Bool
	kc, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	kc.ControlKey(int16(kmsg.Metadata), func(req kmsg.Request) (kmsg.Response, error, bool) {
		kc.KeepControl()
		for _, rt := range req.(*kmsg.MetadataRequest).Topics {
			if rt.Topic != nil && *rt.Topic == ingest.Topics[0] {
				askedForTopics.Store(true)
			}
		}
		return nil, nil, false
	})
	reg := srfake.New()
	defer reg.Close()
	store := chdbtest.NewStore(t)
	front := chfront.Start(t, store)
	var storeDown atomic.Bool
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if storeDown.Load() {
			http.Error(w, "Code: 210. DB::NetException: Connection refused", http.StatusServiceUnavailable)
			return
		}
		front.ServeHTTP(w, r)
	}))
	defer proxy.Close()

	cfgFile := writeFile(t, "relance.yaml", `
kafka: {brokers: [`+kc.ListenAddrs()[0]+`], group: readyz}
registry: {url: '`+reg.URL()+`'}
store: {clickhouse: {addr: '`+strings.TrimPrefix(proxy.URL, "http://")+`', protocol: http, database: `+store.Database()+`}}
pipeline: {flush_interval: 100ms}
http: {listen: '127.0.0.1:0'}
`)
	proc := startRun(t, cfgFile)
	logs, get := proc.logs, proc.get
	expect := func(when string, wantCode int, wantBody string) {
		t.Helper()
		if code, body := get("/readyz"); code != wantCode || !strings.Contains(body, wantBody) {
			t.Fatalf("%s: /readyz = %d %q, want %d %q\n%s", when, code, body, wantCode, wantBody, logs.String())
		}
		if code, _ := get("/healthz"); code != http.StatusOK {
			t.Fatalf("%s: /healthz = %d", when, code)
		}
	}

	waitFor(t, "the consumer to ask the brokers for its topics", 20*time.Second, askedForTopics.Load)
	expect("before the topics exist", http.StatusServiceUnavailable, "not ready: no partition assigned yet")

	cl, err := kgo.NewClient(kgo.SeedBrokers(kc.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrCreateTopicsRequest()
	for _, topic := range append(append([]string{}, ingest.Topics...), ingest.DefaultDeadLetterTopic) {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, 2, 1
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range resp.Topics {
		if err := kerr.ErrorForCode(rt.ErrorCode); err != nil {
			t.Fatalf("create %s: %v", rt.Topic, err)
		}
	}
	waitFor(t, "/readyz to answer 200 once the partitions are assigned", 60*time.Second, func() bool {
		code, _ := get("/readyz")
		return code == http.StatusOK
	})

	storeDown.Store(true)
	expect("while the store does not answer", http.StatusServiceUnavailable, "not ready: the store does not answer")
	storeDown.Store(false)
	expect("once the store answers again", http.StatusOK, "ready")

	proc.stop(t)
}
