package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/relance-io/relance/generate"
	"github.com/relance-io/relance/ingest"
	"github.com/relance-io/relance/schemas"
	"github.com/relance-io/relance/sinks/chdb/chdbtest"
	"github.com/relance-io/relance/sinks/clickhouse/chfront"
)

// selfSigned makes a CA-less self-signed certificate for 127.0.0.1 and
// localhost, and writes its PEM to dir/ca.pem.
func selfSigned(t *testing.T, dir string) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kfake"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	kb, _ := x509.MarshalECPrivateKey(key)
	cert, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}))
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, ca
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Rule: `relance run` reads a Kafka that requires TLS and SASL/SCRAM-SHA-512,
// writes through the production ClickHouse sink (clickhouse-go, HTTP, with
// a password), serves /metrics, /healthz and /readyz, stops cleanly on
// SIGTERM (its context ending) — and no password ever appears in its logs.
func TestRun_TLSAndSCRAMEndToEnd(t *testing.T) {
	const (
		kafkaPw = "kafka-pw-3e9d51c7"
		adminPw = "admin-pw-b04f2e11"
		chPw    = "clickhouse-pw-9a7c04d2"
	)
	dir := t.TempDir()
	cert, caFile := selfSigned(t, dir)
	topics := append(append([]string{}, ingest.Topics...), ingest.DefaultDeadLetterTopic)
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, topics...),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}}),
		kfake.EnableSASL(),
		kfake.Superuser("SCRAM-SHA-512", "admin", adminPw),
		kfake.User("SCRAM-SHA-512", "relance", kafkaPw))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	reg := srfake.New()
	defer reg.Close()

	// Produce a small book as the admin, over TLS.
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(caFile)
	pool.AppendCertsFromPEM(pem)
	prod, err := kgo.NewClient(kgo.SeedBrokers(kc.ListenAddrs()...), kgo.DialTLSConfig(&tls.Config{RootCAs: pool}),
		kgo.SASL(scram.Auth{User: "admin", Pass: adminPw}.AsSha512Mechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	src, _ := sr.NewClient(sr.URLs(reg.URL()))
	serde, err := schemas.NewSerde(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	p := generate.DefaultParams()
	p.Customers, p.Months, p.Seed = 30, 3, 9
	p.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ds, err := generate.Generate(p)
	if err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for i := range ds.Reminders {
		b, _ := serde.EncodeReminder(&ds.Reminders[i])
		recs = append(recs, &kgo.Record{Topic: schemas.TopicReminders, Key: []byte(ds.Reminders[i].CustomerID), Value: b})
	}
	allocations := 0
	for i := range ds.Payments {
		b, _ := serde.EncodePayment(&ds.Payments[i])
		recs = append(recs, &kgo.Record{Topic: schemas.TopicPayments, Key: []byte(ds.Payments[i].CustomerID), Value: b})
		allocations += len(ds.Payments[i].Allocations)
	}
	if err := prod.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	store := chdbtest.NewStore(t)
	front := chfront.Start(t, store)
	t.Setenv("RELANCE_CLICKHOUSE_PASSWORD", chPw)
	pwFile := filepath.Join(dir, "kafka-password")
	if err := os.WriteFile(pwFile, []byte(kafkaPw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgFile := writeFile(t, "relance.yaml", `
kafka:
  brokers: [`+kc.ListenAddrs()[0]+`]
  group: secure
  tls: {enabled: true, ca_file: `+caFile+`}
  sasl: {mechanism: SCRAM-SHA-512, user: relance, password_file: `+pwFile+`}
registry: {url: '`+reg.URL()+`'}
store:
  clickhouse: {addr: '`+front.Addr+`', protocol: http, database: `+store.Database()+`}
join: {idle_timeout: 200ms, allowed_lateness: 0s}
pipeline: {flush_interval: 100ms}
http: {listen: '127.0.0.1:0'}
log: {level: debug}
`)
	fs := newFlagSet()
	cf := newConfigFlags(fs)
	if err := fs.Parse([]string{"--config", cfgFile}); err != nil {
		t.Fatal(err)
	}
	cfg, err := cf.load()
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, &logs, ready) }()
	var ops string
	select {
	case ops = <-ready:
	case err := <-done:
		t.Fatalf("run stopped at start: %v\n%s", err, logs.String())
	case <-time.After(20 * time.Second):
		t.Fatal("run did not start")
	}
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + ops + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
	// Wait for every allocation's facts (all three horizons): with no
	// allowed lateness and the idle timeout, even the newest come out
	// while the pipeline keeps running.
	deadline := time.Now().Add(30 * time.Second)
	for {
		rows, err := store.Query(context.Background(), "SELECT count() FROM attribution_facts FINAL")
		if err == nil && rows.Data[0][0] == itoa(3*allocations) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("facts: %v %v, want %d rows\n%s", rows, err, 3*allocations, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, body := get("/readyz"); code != 200 {
		t.Errorf("/readyz = %d %s", code, body)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, `relance_ingest_records_total{partition=`) {
		t.Errorf("/metrics = %d, without relance_ingest_records_total", code)
	}
	cancel() // what SIGTERM does
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run after SIGTERM: %v", err)
		}
	case <-time.After(35 * time.Second):
		t.Fatal("run did not stop within its shutdown timeout")
	}
	for _, pw := range []string{kafkaPw, adminPw, chPw} {
		if strings.Contains(logs.String(), pw) {
			t.Fatalf("a password is in the logs")
		}
	}
	if !strings.Contains(logs.String(), `"sasl":"SCRAM-SHA-512"`) {
		t.Errorf("the log does not say SASL is on:\n%s", logs.String())
	}
}
