package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const validYAML = `
kafka:
  brokers: ["kafka:9092"]
store:
  chdb_dir: data/chdb
`

// Rule: every invalid setting is reported with its key and the fix, all at
// once; a valid file passes.
func TestConfig_ValidationMessages(t *testing.T) {
	f := func(yamlText, want string) {
		t.Helper()
		c, err := loadConfig(writeFile(t, "c.yaml", yamlText), func(string) string { return "" })
		if err == nil {
			err = c.validate()
		}
		if want == "" {
			if err != nil {
				t.Fatalf("valid config rejected: %v", err)
			}
			return
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("config:\n%s\nerror %v\nwant it to contain %q", yamlText, err, want)
		}
	}
	f(validYAML, "")
	f("kafka: {brokers: []}\nstore: {chdb_dir: d}", `kafka.brokers: at least one broker is needed (e.g. ["localhost:9092"])`)
	f("kafka: {brokers: [kafka]}\nstore: {chdb_dir: d}", `kafka.brokers[0]: "kafka" must be host:port (e.g. "kafka:9092")`)
	f("kafka: {group: ''}\nstore: {chdb_dir: d}", `kafka.group: must not be empty`)
	f("kafka: {sasl: {mechanism: GSSAPI}}\nstore: {chdb_dir: d}", `kafka.sasl.mechanism: "GSSAPI" is not supported (use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)`)
	f("kafka: {sasl: {mechanism: SCRAM-SHA-512, user: u}}\nstore: {chdb_dir: d}", `kafka.sasl.password_file: needed with mechanism SCRAM-SHA-512`)
	f("kafka: {sasl: {user: u}}\nstore: {chdb_dir: d}", `kafka.sasl.mechanism: a user is set but no mechanism`)
	f("kafka: {tls: {enabled: true, ca_file: /nonexistent/ca.pem}}\nstore: {chdb_dir: d}", `kafka.tls.ca_file: "/nonexistent/ca.pem" cannot be read`)
	f("kafka: {tls: {ca_file: "+writeFile(t, "ca.pem", "x")+"}}\nstore: {chdb_dir: d}", `kafka.tls.ca_file: set but kafka.tls.enabled is false`)
	f("registry: {url: 'ftp://registry'}\nstore: {chdb_dir: d}", `registry.url: "ftp://registry" must be an http(s) URL (e.g. "http://localhost:8081")`)
	f("registry: {url: 'http://u:s3cret@registry:8081'}\nstore: {chdb_dir: d}", `registry.url: "http://u:xxxxx@registry:8081" carries credentials: put them in registry.user and registry.password_file`)
	f("kafka: {brokers: [k:9092]}", `store: choose one of store.chdb_dir`)
	f("store: {chdb_dir: d, clickhouse: {addr: 'ch:9000'}}", `store: store.chdb_dir and store.clickhouse.addr are both set`)
	f("store: {clickhouse: {addr: ch}}", `store.clickhouse.addr: "ch" must be host:port`)
	f("store: {clickhouse: {addr: 'ch:9000', protocol: grpc}}", `store.clickhouse.protocol: "grpc" must be native or http`)
	f("store: {chdb_dir: d}\njoin: {horizons: []}", `join.horizons: at least one is needed`)
	f("store: {chdb_dir: d}\njoin: {horizons: [7d, -7d]}", `join.horizons[1]: "-7d" must be a positive duration (e.g. "7d")`)
	f("store: {chdb_dir: d}\njoin: {model: best_touch}", `join.model: "best_touch" is not a model`)
	f("store: {chdb_dir: d}\njoin: {allowed_lateness: -1h}", `join.allowed_lateness: -1h0m0s must be positive`)
	f("store: {chdb_dir: d}\njoin: {retention: soon}", `"soon": want a duration such as "36h" or "7d"`)
	f("store: {chdb_dir: d}\npipeline: {flush_rows: 0}", `pipeline.flush_rows: 0 must be positive`)
	f("store: {chdb_dir: d}\nhttp: {listen: '9464'}", `http.listen: "9464" must be [host]:port with a port from 0 to 65535 (e.g. ":9464")`)
	f("store: {chdb_dir: d}\nhttp: {listen: ':99999'}", `http.listen: ":99999" must be [host]:port with a port from 0 to 65535`)
	f("store: {chdb_dir: d}\njoin: {horizons: [7d, 15d, 168h]}", `join.horizons[2]: "168h" is the same horizon as "7d" (7d): list each once`)
	f("store: {chdb_dir: d}\nkafka: {session_timeout: 2s, heartbeat_interval: 3s}", `kafka.heartbeat_interval: 3s must be below kafka.session_timeout (2s)`)
	f("store: {chdb_dir: d}\nlog: {level: verbose}", `log.level: "verbose" must be debug, info, warn or error`)
	f("store: {chdb_dir: d}\nkafak: {brokers: [k:1]}", "line 2: kafak: unknown key (check the spelling against `relance config print`)")
	// Every mistake the decoder meets is reported at once, by its key.
	f("kafka:\n  brokers: 'k:9092'\n  grup: g\nstore: {chdb_dir: d}\njoin:\n  retention: 1 day\npipeline:\n  flush_rows: many\n",
		"line 2: kafka.brokers: \"k:9092\" is not a list (e.g. [\"a\", \"b\"])\n"+
			"  line 3: kafka.grup: unknown key (check the spelling against `relance config print`)\n"+
			"  line 6: join.retention: \"1 day\": want a duration such as \"36h\" or \"7d\"\n"+
			"  line 8: pipeline.flush_rows: \"many\" is not a whole number")

	f("kafka: {dead_letter_topic: ''}\nstore: {chdb_dir: d}", `kafka.dead_letter_topic: must not be empty (e.g. "relance.dead-letters")`)
	f("kafka: {sasl: {mechanism: SCRAM-SHA-256, password: pw}}\nstore: {chdb_dir: d}", `kafka.sasl.user: needed with mechanism SCRAM-SHA-256 (or env RELANCE_KAFKA_USER)`)
	f("kafka: {sasl: {mechanism: PLAIN, user: u, password_file: /nonexistent/pw}}\nstore: {chdb_dir: d}", `kafka.sasl.password_file: "/nonexistent/pw" cannot be read: no such file or directory`)
	f("store: {clickhouse: {addr: 'ch:9000', password_file: /nonexistent/pw}}", `store.clickhouse.password_file: "/nonexistent/pw" cannot be read: no such file or directory`)
	f("registry: {user: u, password_file: /nonexistent/pw}\nstore: {chdb_dir: d}", `registry.password_file: "/nonexistent/pw" cannot be read: no such file or directory`)
	f("registry: {password: p}\nstore: {chdb_dir: d}", `registry.user: a password is set but no user`)
	f("registry: {url: 'http://r:8081', tls: {enabled: true}}\nstore: {chdb_dir: d}", `registry.url: "http://r:8081" is http but registry.tls.enabled is true (use https://)`)
	f("registry: {url: 'https://r:8081', tls: {enabled: true, ca_file: /nonexistent/ca.pem}}\nstore: {chdb_dir: d}", `registry.tls.ca_file: "/nonexistent/ca.pem" cannot be read`)
	notPEM := writeFile(t, "not.pem", "not a certificate")
	f("kafka: {tls: {enabled: true, ca_file: "+notPEM+"}}\nstore: {chdb_dir: d}", `kafka.tls.ca_file: "`+notPEM+`" holds no PEM certificate`)
	f("kafka: {tls: {enabled: true, cert_file: "+notPEM+"}}\nstore: {chdb_dir: d}", `kafka.tls: cert_file and key_file go together (mutual TLS needs both)`)
	f("store: {clickhouse: {addr: 'ch:9000', tls: {enabled: true, key_file: "+notPEM+"}}}", `store.clickhouse.tls: cert_file and key_file go together`)
	f("kafka: {tls: {enabled: true, cert_file: "+notPEM+", key_file: "+notPEM+"}}\nstore: {chdb_dir: d}", `kafka.tls: cert_file and key_file are not a PEM certificate and its private key: tls:`)
	f("store: {clickhouse: {addr: 'ch:9000', compression: gzip}}", `store.clickhouse.compression: "gzip" must be lz4, zstd or none`)
	f("store: {chdb_dir: d, clickhouse: {async_insert: true}}", `store.clickhouse.async_insert: applies to a ClickHouse server (store.clickhouse.addr)`)
	f("store: {chdb_dir: d}\npipeline: {flush_bytes: -1}", `pipeline.flush_bytes: -1 must be positive (e.g. 67108864)`)
	f("store: {chdb_dir: d}\nlog: {format: logfmt}", `log.format: "logfmt" must be json or text`)
	// "must be positive" for every duration but allowed_lateness and
	// retention, which may be 0 (exact-on-first-emission off, no
	// corrections kept) but not negative; the example is the default.
	for _, d := range []struct{ section, key, value, eg string }{
		{"join", "half_life", "0s", "7d"}, {"join", "idle_timeout", "0s", "1m"}, {"join", "retention", "-1h", "7d"},
		{"pipeline", "flush_interval", "0s", "1s"}, {"pipeline", "shutdown_timeout", "0s", "30s"}, {"pipeline", "snapshot_interval", "0s", "1m"},
		{"kafka", "session_timeout", "0s", "45s"}, {"kafka", "heartbeat_interval", "0s", "3s"}, {"kafka", "rebalance_timeout", "0s", "60s"},
	} {
		v, _ := time.ParseDuration(d.value)
		f("store: {chdb_dir: d}\n"+d.section+": {"+d.key+": "+d.value+"}", d.section+"."+d.key+": "+v.String()+` must be positive (e.g. "`+d.eg+`")`)
	}
	f("store: {chdb_dir: d}\njoin: {allowed_lateness: 0s, retention: 0s}", "")
	pem := writeFile(t, "ca.pem", "")
	_, ca := selfSigned(t, filepath.Dir(pem))
	f("kafka: {tls: {enabled: true, ca_file: "+ca+"}}\nstore: {clickhouse: {addr: 'ch:9000', compression: zstd, async_insert: true}}", "")
}

// Rule: the environment overrides the file, and flags override both.
func TestConfig_PrecedenceFileEnvFlags(t *testing.T) {
	t.Setenv("RELANCE_KAFKA_GROUP", "from-env")
	t.Setenv("RELANCE_REGISTRY_URL", "http://env-registry:8081")
	p := writeFile(t, "c.yaml", "kafka: {brokers: ['kafka:9092'], group: from-file}\nstore: {chdb_dir: d}\nregistry: {url: 'http://file:8081'}\n")
	var out bytes.Buffer
	if err := cmdConfig(context.Background(), []string{"print", "--config", p, "--group", "from-flag"}, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"group: from-flag", "url: http://env-registry:8081", "- kafka:9092"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("config print lacks %q:\n%s", want, out.String())
		}
	}
}

// Rule: comma-separated lists from the environment and from flags are
// trimmed: "k1:9092, k2:9092" names two brokers, not " k2:9092".
func TestConfig_ListsAreTrimmed(t *testing.T) {
	t.Setenv("RELANCE_KAFKA_BROKERS", "k1:9092, k2:9092")
	p := writeFile(t, "c.yaml", "store: {chdb_dir: d}\n")
	var out bytes.Buffer
	if err := cmdConfig(context.Background(), []string{"print", "--config", p}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "- k2:9092\n") || strings.Contains(out.String(), "' k2:9092'") {
		t.Errorf("brokers from the environment not trimmed:\n%s", out.String())
	}
	out.Reset()
	if err := cmdConfig(context.Background(), []string{"print", "--config", p, "--brokers", "a:1 , b:2", "--horizons", "7d, 30d"}, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"- a:1\n", "- b:2\n", "- 30d\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("config print lacks %q (flags not trimmed):\n%s", want, out.String())
		}
	}
}

// Rule: secrets never appear in `config print`, whether they come from the
// file or the environment; the rest of the configuration does.
func TestConfig_PrintRedactsSecrets(t *testing.T) {
	const filePw, envPw, srPw = "file-pw-5f2a9c", "env-pw-77b1e0", "sr-env-pw-0d93"
	t.Setenv("RELANCE_CLICKHOUSE_PASSWORD", envPw)
	t.Setenv("RELANCE_REGISTRY_USER", "sr-user")
	t.Setenv("RELANCE_REGISTRY_PASSWORD", srPw)
	p := writeFile(t, "c.yaml", "kafka: {brokers: ['kafka:9092'], sasl: {mechanism: SCRAM-SHA-512, user: relance, password: "+filePw+"}}\nstore: {clickhouse: {addr: 'ch:9000'}}\n")
	var out bytes.Buffer
	if err := cmdConfig(context.Background(), []string{"print", "--config", p}, &out); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); strings.Contains(s, filePw) || strings.Contains(s, envPw) || strings.Contains(s, srPw) {
		t.Fatalf("a password is printed:\n%s", s)
	}
	if s := out.String(); strings.Count(s, "password: '***'") != 3 || !strings.Contains(s, "user: relance") || !strings.Contains(s, "user: sr-user") {
		t.Fatalf("want redacted passwords and the user:\n%s", s)
	}
	out.Reset()
	if err := cmdConfig(context.Background(), []string{"check", "--offline", "--config", p}, &out); err != nil || !strings.Contains(out.String(), "valid") {
		t.Fatalf("config check: %v %q", err, out.String())
	}
}

func newFlagSet() *flag.FlagSet { return flag.NewFlagSet("test", flag.ContinueOnError) }

func itoa(n int) string { return strconv.Itoa(n) }

// Rule: the example configuration shipped in docs/ is valid (its secret
// files and CA are replaced by readable ones).
func TestConfig_ExampleIsValid(t *testing.T) {
	b, err := os.ReadFile("../../docs/relance.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	secret := writeFile(t, "secret", "pw")
	_, ca := selfSigned(t, filepath.Dir(secret))
	text := strings.NewReplacer("/etc/relance/kafka-ca.pem", ca, "/run/secrets/kafka-password", secret,
		"/run/secrets/clickhouse-password", secret).Replace(string(b))
	var out bytes.Buffer
	if err := cmdConfig(context.Background(), []string{"check", "--offline", "--config", writeFile(t, "relance.yaml", text)}, &out); err != nil {
		t.Fatalf("docs/relance.example.yaml: %v", err)
	}
}

// Rule: `config check` tries the registry and the brokers: it says both
// answer when they do, and names the one that does not answer (here a
// closed port) with its key, failing the check; --offline skips the tries.
func TestConfig_CheckTriesTheRegistryAndTheBrokers(t *testing.T) {
	kc, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	reg := srfake.New()
	defer reg.Close()
	closed := freePort(t) // nothing listens there once freePort returns
	check := func(brokers, registry string, more ...string) (string, error) {
		var out bytes.Buffer
		args := append([]string{"check", "--brokers", brokers, "--registry", registry, "--chdb-dir", "d"}, more...)
		err := cmdConfig(context.Background(), args, &out)
		return out.String(), err
	}

	out, err := check(kc.ListenAddrs()[0], reg.URL())
	if err != nil || !strings.Contains(out, "schema registry "+reg.URL()+" answers") || !strings.Contains(out, "kafka brokers "+kc.ListenAddrs()[0]+" answer") ||
		!strings.Contains(out, "configuration is valid") {
		t.Fatalf("both reachable: %v\n%s", err, out)
	}

	out, err = check(kc.ListenAddrs()[0], "http://"+closed)
	if err == nil || !strings.Contains(err.Error(), "registry.url: http://"+closed+" is unreachable") || !strings.Contains(err.Error(), "connection refused") ||
		strings.Contains(err.Error(), "kafka.brokers") || strings.Contains(out, "configuration is valid") {
		t.Fatalf("registry on a closed port: %v\n%s", err, out)
	}

	out, err = check(closed, reg.URL())
	if err == nil || !strings.Contains(err.Error(), "kafka.brokers: "+closed+" unreachable") || strings.Contains(err.Error(), "registry.url") ||
		strings.Contains(out, "configuration is valid") {
		t.Fatalf("brokers on a closed port: %v\n%s", err, out)
	}

	if out, err = check(closed, "http://"+closed, "--offline"); err != nil || !strings.Contains(out, "configuration is valid") {
		t.Fatalf("--offline with nothing reachable: %v\n%s", err, out)
	}
}

// Rule: durations in the JSON log read as durations ("11ms"), not as
// integer nanoseconds.
func TestConfig_JSONLogDurationsAreReadable(t *testing.T) {
	var b bytes.Buffer
	c := defaultConfig()
	c.Log.Format = "json"
	c.logger(&b).Info("restored", "took", 11*time.Millisecond)
	if !strings.Contains(b.String(), `"took":"11ms"`) {
		t.Errorf("log line %s", b.String())
	}
}
