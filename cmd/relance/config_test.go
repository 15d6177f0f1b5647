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
	f("store: {chdb_dir: d}\nhttp: {listen: '9464'}", `http.listen: "9464" must be [host]:port (e.g. ":9464")`)
	f("store: {chdb_dir: d}\nkafka: {session_timeout: 2s, heartbeat_interval: 3s}", `kafka.heartbeat_interval: 3s must be below kafka.session_timeout (2s)`)
	f("store: {chdb_dir: d}\nlog: {level: verbose}", `log.level: "verbose" must be debug, info, warn or error`)
	f("store: {chdb_dir: d}\nkafak: {brokers: [k:1]}", `field kafak not found`)
	f("store: {chdb_dir: d}\nkafak: {brokers: [k:1]}", `unknown keys are errors`)
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

// Rule: secrets never appear in `config print`, whether they come from the
// file or the environment; the rest of the configuration does.
func TestConfig_PrintRedactsSecrets(t *testing.T) {
	const filePw, envPw = "file-pw-5f2a9c", "env-pw-77b1e0"
	t.Setenv("RELANCE_CLICKHOUSE_PASSWORD", envPw)
	p := writeFile(t, "c.yaml", "kafka: {brokers: ['kafka:9092'], sasl: {mechanism: SCRAM-SHA-512, user: relance, password: "+filePw+"}}\nstore: {clickhouse: {addr: 'ch:9000'}}\n")
	var out bytes.Buffer
	if err := cmdConfig(context.Background(), []string{"print", "--config", p}, &out); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); strings.Contains(s, filePw) || strings.Contains(s, envPw) {
		t.Fatalf("a password is printed:\n%s", s)
	}
	if s := out.String(); !strings.Contains(s, "password: '***'") || !strings.Contains(s, "user: relance") {
		t.Fatalf("want redacted passwords and the user:\n%s", s)
	}
	out.Reset()
	if err := cmdConfig(context.Background(), []string{"check", "--config", p}, &out); err != nil || !strings.Contains(out.String(), "valid") {
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
	text := strings.NewReplacer("/etc/relance/kafka-ca.pem", secret, "/run/secrets/kafka-password", secret,
		"/run/secrets/clickhouse-password", secret).Replace(string(b))
	var out bytes.Buffer
	if err := cmdConfig(context.Background(), []string{"check", "--config", writeFile(t, "relance.yaml", text)}, &out); err != nil {
		t.Fatalf("docs/relance.example.yaml: %v", err)
	}
}
