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
	"encoding/base64"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
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

// selfSigned makes a CA-less self-signed server certificate for 127.0.0.1
// and localhost, and writes its PEM to dir/ca.pem.
func selfSigned(t *testing.T, dir string) (tls.Certificate, string) {
	t.Helper()
	cert, certFile, _ := newCert(t, dir, "ca", x509.ExtKeyUsageServerAuth)
	return cert, certFile
}

// newCert makes a self-signed certificate for usage and writes its PEM and
// its key's PEM to dir/name.pem and dir/name-key.pem.
func newCert(t *testing.T, dir, name string, usage x509.ExtKeyUsage) (cert tls.Certificate, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	kb, _ := x509.MarshalECPrivateKey(key)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
	if cert, err = tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, certFile, keyFile
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

// Rule: `relance run` reads a Kafka that requires TLS and SASL/SCRAM
// (SHA-256 or SHA-512, with or without a client certificate), writes
// through the production ClickHouse sink (clickhouse-go, HTTP, with a
// password), serves /metrics, /healthz and /readyz, stops cleanly on
// SIGTERM (its context ending) — and no password ever appears in its logs.
// `config check` accepts the same configuration, and names kafka.brokers,
// without any password, when the password is wrong or the client
// certificate the brokers require is missing.
func TestRun_TLSAndSCRAMEndToEnd(t *testing.T) {
	for _, tc := range []struct {
		name, mechanism string
		clientCert      bool
	}{
		{"SCRAM-SHA-256", "SCRAM-SHA-256", false},
		{"SCRAM-SHA-512", "SCRAM-SHA-512", false},
		{"SCRAM-SHA-512 and a client certificate", "SCRAM-SHA-512", true},
	} {
		t.Run(tc.name, func(t *testing.T) { secureEndToEnd(t, tc.mechanism, tc.clientCert) })
	}
}

func secureEndToEnd(t *testing.T, mechanism string, clientCert bool) {
	const (
		kafkaPw = "kafka-pw-3e9d51c7"
		adminPw = "admin-pw-b04f2e11"
		chPw    = "clickhouse-pw-9a7c04d2"
		wrongPw = "wrong-pw-61d0c8aa"
		srPw    = "registry-pw-5d2b8e40"
	)
	dir := t.TempDir()
	cert, caFile := selfSigned(t, dir)
	serverTLS := &tls.Config{Certificates: []tls.Certificate{cert}}
	pool := x509.NewCertPool()
	caPEM, _ := os.ReadFile(caFile)
	pool.AppendCertsFromPEM(caPEM)
	adminTLS := &tls.Config{RootCAs: pool}
	tlsYAML := `{enabled: true, ca_file: ` + caFile + `}`
	if clientCert {
		ccert, certFile, keyFile := newCert(t, dir, "client", x509.ExtKeyUsageClientAuth)
		clients := x509.NewCertPool()
		clients.AddCert(ccert.Leaf)
		serverTLS.ClientAuth, serverTLS.ClientCAs = tls.RequireAndVerifyClientCert, clients
		adminTLS.Certificates = []tls.Certificate{ccert}
		tlsYAML = `{enabled: true, ca_file: ` + caFile + `, cert_file: ` + certFile + `, key_file: ` + keyFile + `}`
	}
	topics := append(append([]string{}, ingest.Topics...), ingest.DefaultDeadLetterTopic)
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, topics...),
		kfake.TLS(serverTLS),
		kfake.EnableSASL(),
		kfake.Superuser(mechanism, "admin", adminPw),
		kfake.User(mechanism, "relance", kafkaPw))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	// The registry wants basic authentication, over TLS (a TLS front with
	// the brokers' certificate before srfake).
	reg := srfake.New(srfake.WithAuth("Basic " + base64.StdEncoding.EncodeToString([]byte("relance-sr:"+srPw))))
	defer reg.Close()
	regURL, _ := url.Parse(reg.URL())
	regTLS := httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(regURL))
	regTLS.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	regTLS.StartTLS()
	defer regTLS.Close()

	// Produce a small book as the admin, over TLS.
	admin := scram.Auth{User: "admin", Pass: adminPw}.AsSha512Mechanism()
	if mechanism == "SCRAM-SHA-256" {
		admin = scram.Auth{User: "admin", Pass: adminPw}.AsSha256Mechanism()
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(kc.ListenAddrs()...), kgo.DialTLSConfig(adminTLS), kgo.SASL(admin))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	src, _ := sr.NewClient(sr.URLs(reg.URL()), sr.BasicAuth("relance-sr", srPw))
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
	// ClickHouse over TLS: an HTTPS front with the same certificate before
	// the test's HTTP front over chDB; it is the only address relance gets,
	// so the facts reaching the store went through TLS.
	chURL, _ := url.Parse("http://" + front.Addr)
	chTLS := httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(chURL))
	chTLS.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	chTLS.StartTLS()
	defer chTLS.Close()
	t.Setenv("RELANCE_CLICKHOUSE_PASSWORD", chPw)
	pwFile := filepath.Join(dir, "kafka-password")
	if err := os.WriteFile(pwFile, []byte(kafkaPw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srPwFile := filepath.Join(dir, "registry-password")
	if err := os.WriteFile(srPwFile, []byte(srPw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	registryYAML := func(pwFile string) string {
		return `{url: '` + regTLS.URL + `', user: relance-sr, password_file: ` + pwFile + `, tls: {enabled: true, ca_file: ` + caFile + `}}`
	}
	yamlText := func(tlsYAML, pwFile string, registry ...string) string {
		reg := registryYAML(srPwFile)
		if len(registry) > 0 {
			reg = registry[0]
		}
		return `
kafka:
  brokers: [` + kc.ListenAddrs()[0] + `]
  group: secure
  tls: ` + tlsYAML + `
  sasl: {mechanism: ` + mechanism + `, user: relance, password_file: ` + pwFile + `}
registry: ` + reg + `
store:
  clickhouse: {addr: '` + strings.TrimPrefix(chTLS.URL, "https://") + `', protocol: http, database: ` + store.Database() + `, tls: {enabled: true, ca_file: ` + caFile + `}}
join: {idle_timeout: 200ms, allowed_lateness: 0s}
pipeline: {flush_interval: 100ms}
http: {listen: '127.0.0.1:0'}
log: {level: debug}
`
	}
	cfgFile := writeFile(t, "relance.yaml", yamlText(tlsYAML, pwFile))

	check := func(cfgFile string) error {
		return cmdConfig(context.Background(), []string{"check", "--config", cfgFile}, io.Discard)
	}
	if err := check(cfgFile); err != nil {
		t.Fatalf("config check of a working configuration: %v", err)
	}
	wrongFile := filepath.Join(dir, "wrong-password")
	if err := os.WriteFile(wrongFile, []byte(wrongPw), 0o600); err != nil {
		t.Fatal(err)
	}
	refused := map[string]string{"a wrong password": yamlText(tlsYAML, wrongFile)}
	if clientCert {
		refused["no client certificate"] = yamlText(`{enabled: true, ca_file: `+caFile+`}`, pwFile)
	}
	for what, text := range refused {
		err := check(writeFile(t, "refused.yaml", text))
		if err == nil || !strings.Contains(err.Error(), "kafka.brokers: ") || strings.Contains(err.Error(), "registry.url") {
			t.Fatalf("config check with %s: %v, want kafka.brokers refused and the registry fine", what, err)
		}
		for _, pw := range []string{kafkaPw, adminPw, chPw, wrongPw, srPw} {
			if strings.Contains(err.Error(), pw) {
				t.Fatalf("config check with %s: the error holds a password: %v", what, err)
			}
		}
	}

	// The registry refuses a wrong password and a client that does not
	// trust its certificate; the brokers are fine.
	for what, text := range map[string]string{
		"a wrong registry password": yamlText(tlsYAML, pwFile, registryYAML(wrongFile)),
		"no registry CA":            yamlText(tlsYAML, pwFile, `{url: '`+regTLS.URL+`', user: relance-sr, password_file: `+srPwFile+`}`),
	} {
		err := check(writeFile(t, "refused.yaml", text))
		if err == nil || !strings.Contains(err.Error(), "registry.url: ") || strings.Contains(err.Error(), "kafka.brokers") {
			t.Fatalf("config check with %s: %v, want registry.url refused and the brokers fine", what, err)
		}
		for _, pw := range []string{kafkaPw, adminPw, chPw, wrongPw, srPw} {
			if strings.Contains(err.Error(), pw) {
				t.Fatalf("config check with %s: the error holds a password: %v", what, err)
			}
		}
	}

	proc := startRun(t, cfgFile)
	logs, get := proc.logs, proc.get
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
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, `relance_ingest_records_total{partition=`) || !strings.Contains(body, `go_build_info{`) {
		t.Errorf("/metrics = %d, without relance_ingest_records_total or go_build_info", code)
	}
	proc.stop(t)
	for _, pw := range []string{kafkaPw, adminPw, chPw, srPw} {
		if strings.Contains(logs.String(), pw) {
			t.Fatalf("a password is in the logs")
		}
	}
	if !strings.Contains(logs.String(), `"sasl":"`+mechanism+`"`) {
		t.Errorf("the log does not say SASL is on:\n%s", logs.String())
	}
}

// Rule: a Config logged whole through slog, as JSON or text, shows its
// users and hides its passwords, whether they come from the file or the
// environment; errors about an unreadable password file name the file and
// hold no secret.
func TestConfig_SecretsStayOutOfLogsAndErrors(t *testing.T) {
	const filePw, envPw = "file-pw-0c4e9b27", "env-pw-d81f3a60"
	t.Setenv("RELANCE_CLICKHOUSE_PASSWORD", envPw)
	c, err := loadConfig(writeFile(t, "c.yaml", "kafka: {sasl: {mechanism: SCRAM-SHA-256, user: relance, password: "+filePw+"}}\n"+
		"store: {clickhouse: {addr: 'ch:9000', user: writer}}\n"), os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Kafka.SASL.Password != filePw || c.Store.ClickHouse.Password != envPw {
		t.Fatalf("the passwords were not loaded: the test would prove nothing")
	}
	for _, format := range []string{"json", "text"} {
		var b bytes.Buffer
		c.Log.Format = format
		c.logger(&b).Info("configuration", "config", c, "kafka_password", c.Kafka.SASL.Password)
		if s := b.String(); strings.Contains(s, filePw) || strings.Contains(s, envPw) {
			t.Fatalf("%s log holds a password:\n%s", format, s)
		}
		if s := b.String(); !strings.Contains(s, "relance") || !strings.Contains(s, "writer") || strings.Count(s, redacted) < 3 {
			t.Fatalf("%s log lacks the users or the redacted passwords:\n%s", format, s)
		}
	}

	c.Kafka.SASL.Password, c.Kafka.SASL.PasswordFile = "", filepath.Join(t.TempDir(), "gone")
	err = c.validate()
	if err == nil || !strings.Contains(err.Error(), `kafka.sasl.password_file: "`+c.Kafka.SASL.PasswordFile+`" cannot be read`) {
		t.Fatalf("validate with an unreadable password file: %v", err)
	}
	_, kerr := c.kafkaOpts() // the file went away after validation
	if kerr == nil || !strings.Contains(kerr.Error(), `kafka.sasl.password_file: "`+c.Kafka.SASL.PasswordFile+`" cannot be read`) {
		t.Fatalf("kafka options with an unreadable password file: %v", kerr)
	}
	for _, e := range []error{err, kerr} {
		if strings.Contains(e.Error(), filePw) || strings.Contains(e.Error(), envPw) {
			t.Fatalf("the error holds a password: %v", e)
		}
	}
}

// inProcess is `relance run` started in the test's process on a
// configuration file: its logs, its ops endpoint, and how to stop it.
type inProcess struct {
	logs   *syncBuffer
	ops    string // host:port of /metrics, /healthz, /readyz
	cancel context.CancelFunc
	done   chan error
}

// startRun loads cfgFile as `relance run --config` would and runs it until
// the end of the test (or cancel), failing the test if it does not start.
func startRun(t *testing.T, cfgFile string) *inProcess {
	t.Helper()
	fs := newFlagSet()
	cf := newConfigFlags(fs)
	if err := fs.Parse([]string{"--config", cfgFile}); err != nil {
		t.Fatal(err)
	}
	cfg, err := cf.load()
	if err != nil {
		t.Fatal(err)
	}
	p := &inProcess{logs: &syncBuffer{}, done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	t.Cleanup(cancel)
	ready := make(chan string, 1)
	go func() { p.done <- run(ctx, cfg, p.logs, ready) }()
	select {
	case p.ops = <-ready:
	case err := <-p.done:
		t.Fatalf("run stopped at start: %v\n%s", err, p.logs.String())
	case <-time.After(20 * time.Second):
		t.Fatal("run did not start")
	}
	return p
}

// stop does what SIGTERM does and waits for run to return, within its
// shutdown timeout, without error.
func (p *inProcess) stop(t *testing.T) {
	t.Helper()
	p.cancel()
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("run after SIGTERM: %v\n%s", err, p.logs.String())
		}
	case <-time.After(35 * time.Second):
		t.Fatal("run did not stop within its shutdown timeout")
	}
}

// get fetches path from the ops endpoint: status code and body (or the
// error text with code 0).
func (p *inProcess) get(path string) (int, string) {
	resp, err := http.Get("http://" + p.ops + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
