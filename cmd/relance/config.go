package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"github.com/twmb/franz-go/pkg/sr"
	"go.yaml.in/yaml/v3"

	"github.com/relance-io/relance/schemas"
	"github.com/relance-io/relance/stream"
)

// Config is the whole configuration of `relance run`, read from a YAML file
// (--config or RELANCE_CONFIG), then environment variables, then flags,
// each overriding the one before. Unknown keys are errors. Every field says
// its key, meaning and default; `relance config print` shows the result
// with secrets redacted.
type Config struct {
	Kafka    KafkaConfig    `yaml:"kafka"`
	Registry RegistryConfig `yaml:"registry"`
	Store    StoreConfig    `yaml:"store"`
	Join     JoinConfig     `yaml:"join"`
	Pipeline PipelineConfig `yaml:"pipeline"`
	HTTP     HTTPConfig     `yaml:"http"`
	Log      LogConfig      `yaml:"log"`
}

// KafkaConfig is where events come from.
type KafkaConfig struct {
	// brokers: seed brokers, e.g. ["kafka-1:9092", "kafka-2:9092"].
	// Default ["localhost:9092"]. Env RELANCE_KAFKA_BROKERS (comma-separated).
	Brokers []string `yaml:"brokers"`
	// group: consumer group; all instances of one deployment share it.
	// Default "relance". Env RELANCE_KAFKA_GROUP.
	Group string `yaml:"group"`
	// dead_letter_topic: where rejected records go. Default
	// "relance.dead-letters".
	DeadLetterTopic string `yaml:"dead_letter_topic"`
	// state_topic: compacted topic holding join-state snapshots, created
	// if missing (so that a restarted or new owner of a partition restores
	// its state instead of re-reading the oldest events held). Default
	// "relance.state"; "" disables snapshots (every start replays).
	StateTopic string `yaml:"state_topic"`
	// tls: TLS to the brokers (off by default).
	TLS TLSConfig `yaml:"tls"`
	// sasl: authentication (off by default).
	SASL SASLConfig `yaml:"sasl"`
	// session_timeout: how long the group waits for a silent member before
	// moving its partitions (a crashed instance's partitions move after
	// this). Default "45s"; must be within the brokers' group limits.
	SessionTimeout Duration `yaml:"session_timeout"`
	// heartbeat_interval: below session_timeout. Default "3s".
	HeartbeatInterval Duration `yaml:"heartbeat_interval"`
	// rebalance_timeout: how long members may take to flush and commit
	// when partitions move. Default "60s".
	RebalanceTimeout Duration `yaml:"rebalance_timeout"`
}

// TLSConfig enables TLS with an optional CA and client certificate.
type TLSConfig struct {
	// enabled: use TLS. Default false.
	Enabled bool `yaml:"enabled"`
	// ca_file: PEM CA bundle to trust instead of the system roots.
	CAFile string `yaml:"ca_file"`
	// cert_file, key_file: PEM client certificate and key (mutual TLS).
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// server_name: expected server name, when it differs from the host.
	ServerName string `yaml:"server_name"`
}

// SASLConfig authenticates to Kafka.
type SASLConfig struct {
	// mechanism: "", "PLAIN", "SCRAM-SHA-256" or "SCRAM-SHA-512".
	Mechanism string `yaml:"mechanism"`
	// user: the SASL user. Env RELANCE_KAFKA_USER.
	User string `yaml:"user"`
	// password: never written here in production: use password_file or
	// env RELANCE_KAFKA_PASSWORD. Redacted in `config print` and logs.
	Password Secret `yaml:"password"`
	// password_file: file holding the password (e.g. a mounted secret).
	PasswordFile string `yaml:"password_file"`
}

// RegistryConfig is the Confluent-compatible schema registry.
type RegistryConfig struct {
	// url: e.g. "http://schema-registry:8081" or "https://…" with tls.
	// Default "http://localhost:8081". Env RELANCE_REGISTRY_URL.
	URL string `yaml:"url"`
	// user: HTTP basic authentication user (e.g. a Confluent Cloud API
	// key), none by default. Env RELANCE_REGISTRY_USER.
	User string `yaml:"user"`
	// password: use password_file or env RELANCE_REGISTRY_PASSWORD.
	// Redacted in `config print` and logs.
	Password Secret `yaml:"password"`
	// password_file: file holding the password.
	PasswordFile string `yaml:"password_file"`
	// tls: CA and optional client certificate for an https:// registry.
	TLS TLSConfig `yaml:"tls"`
}

// StoreConfig chooses the store: exactly one of chdb_dir (embedded) and
// clickhouse.addr (server).
type StoreConfig struct {
	// chdb_dir: directory of the embedded chDB store, e.g. "data/chdb".
	ChDBDir string `yaml:"chdb_dir"`
	// clickhouse: a ClickHouse server.
	ClickHouse ClickHouseConfig `yaml:"clickhouse"`
	// migrate: apply the schema migrations at start. Default true.
	Migrate *bool `yaml:"migrate"`
}

// ClickHouseConfig is a ClickHouse server.
type ClickHouseConfig struct {
	// addr: host:port, e.g. "clickhouse:9000" (native) or
	// "clickhouse:8123" (http).
	Addr string `yaml:"addr"`
	// protocol: native (default) or http.
	Protocol string `yaml:"protocol"`
	// database: default "relance".
	Database string `yaml:"database"`
	// user: default "default". Env RELANCE_CLICKHOUSE_USER.
	User string `yaml:"user"`
	// password: use password_file or env RELANCE_CLICKHOUSE_PASSWORD.
	Password Secret `yaml:"password"`
	// password_file: file holding the password.
	PasswordFile string `yaml:"password_file"`
	// tls: TLS to the server.
	TLS TLSConfig `yaml:"tls"`
	// compression: block compression on the wire, lz4 (the default), zstd
	// or none. zstd trades CPU for bandwidth to a remote server; none
	// suits a server on the same host.
	Compression string `yaml:"compression"`
	// async_insert: let the server buffer the inserts of many writers into
	// fewer parts (async_insert=1), for many instances writing small
	// batches. Each insert still waits for the server's flush
	// (wait_for_async_insert=1), so offsets are committed only once the
	// rows are stored; a write then takes up to the server's
	// async_insert_busy_timeout_ms longer. Server only (not chdb_dir).
	// Default false.
	AsyncInsert bool `yaml:"async_insert"`
}

// JoinConfig is the matching rule's knobs (docs/SEMANTICS.md).
type JoinConfig struct {
	// horizons: observation windows. Default ["7d", "15d", "30d"].
	Horizons []string `yaml:"horizons"`
	// model: last_touch (default), first_touch, linear or time_decay.
	Model string `yaml:"model"`
	// half_life: time_decay half-life. Default "7d".
	HalfLife Duration `yaml:"half_life"`
	// allowed_lateness: how late an event may be and still make the first
	// emission exact. Default "24h".
	AllowedLateness Duration `yaml:"allowed_lateness"`
	// retention: how long state is kept past the watermark for
	// corrections. Default "7d".
	Retention Duration `yaml:"retention"`
	// idle_timeout: after this long without records an input no longer
	// holds the watermark back. Default "1m".
	IdleTimeout Duration `yaml:"idle_timeout"`
}

// PipelineConfig is batching.
type PipelineConfig struct {
	// flush_interval: longest wait before rows are written. Default "1s".
	FlushInterval Duration `yaml:"flush_interval"`
	// flush_rows: rows per batch at most. Default 50000.
	FlushRows int `yaml:"flush_rows"`
	// flush_bytes: bytes of records read per batch at most. Default
	// 67108864 (64 MiB).
	FlushBytes int `yaml:"flush_bytes"`
	// shutdown_timeout: how long SIGTERM may take to flush and commit.
	// Default "30s".
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
	// snapshot_interval: how often each partition's join state is
	// snapshotted to kafka.state_topic (also on every revoke and shutdown).
	// Shorter means less to re-read after a crash, more bytes written.
	// Default "1m".
	SnapshotInterval Duration `yaml:"snapshot_interval"`
}

// HTTPConfig is the operations endpoint: /metrics, /healthz, /readyz.
type HTTPConfig struct {
	// listen: address, e.g. ":9464" (the default); "" disables it.
	Listen string `yaml:"listen"`
}

// LogConfig is the structured log.
type LogConfig struct {
	// level: debug, info (default), warn or error.
	Level string `yaml:"level"`
	// format: json (default) or text.
	Format string `yaml:"format"`
}

// Secret is a string never shown: fmt, YAML and slog print it redacted.
type Secret string

const redacted = "***"

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// MarshalYAML redacts the secret in `config print`.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// MarshalJSON redacts the secret where LogValue is not asked: slog's JSON
// handler marshals a struct holding a Secret (a whole Config) with
// encoding/json, which would otherwise print the string.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// LogValue redacts the secret in structured logs.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Duration is a time.Duration written "90s", "24h" or "7d" in YAML.
type Duration time.Duration

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseDuration(n.Value)
	if err != nil {
		// A TypeError, so that the decoder goes on and every bad value of
		// the file is reported at once.
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %v", n.Line, err)}}
	}
	*d = Duration(v)
	return nil
}

func (d Duration) MarshalYAML() (any, error) {
	s := stream.Horizon(d).String() // whole days as "7d"
	// Then Go's form without its zero tails: "1m", "36h", "1h30m".
	if t, ok := strings.CutSuffix(s, "m0s"); ok {
		s = t + "m"
	}
	if t, ok := strings.CutSuffix(s, "h0m"); ok {
		s = t + "h"
	}
	return s, nil
}

func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil {
			return 0, fmt.Errorf("%q: want a duration such as \"36h\" or \"7d\"", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q: want a duration such as \"36h\" or \"7d\"", s)
	}
	return d, nil
}

func defaultConfig() Config {
	yes := true
	return Config{
		Kafka: KafkaConfig{Brokers: []string{"localhost:9092"}, Group: "relance", DeadLetterTopic: "relance.dead-letters", StateTopic: "relance.state",
			SessionTimeout: Duration(45 * time.Second), HeartbeatInterval: Duration(3 * time.Second), RebalanceTimeout: Duration(60 * time.Second)},
		Registry: RegistryConfig{URL: "http://localhost:8081"},
		Store:    StoreConfig{ClickHouse: ClickHouseConfig{Database: "relance", User: "default", Protocol: "native", Compression: "lz4"}, Migrate: &yes},
		Join: JoinConfig{Horizons: []string{"7d", "15d", "30d"}, Model: "last_touch", HalfLife: Duration(7 * 24 * time.Hour),
			AllowedLateness: Duration(24 * time.Hour), Retention: Duration(7 * 24 * time.Hour), IdleTimeout: Duration(time.Minute)},
		Pipeline: PipelineConfig{FlushInterval: Duration(time.Second), FlushRows: 50_000, FlushBytes: 64 << 20, ShutdownTimeout: Duration(30 * time.Second),
			SnapshotInterval: Duration(time.Minute)},
		HTTP: HTTPConfig{Listen: ":9464"},
		Log:  LogConfig{Level: "info", Format: "json"},
	}
}

// loadConfig reads the file (if any) over the defaults, then applies env.
func loadConfig(path string, env func(string) string) (Config, error) {
	c := defaultConfig()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
			var te *yaml.TypeError
			if !errors.As(err, &te) {
				return c, fmt.Errorf("config %s: %v", path, err)
			}
			return c, fmt.Errorf("config %s:\n  %s", path, strings.Join(keyedErrors(b, te.Errors), "\n  "))
		}
	}
	applyEnv(&c, env)
	return c, nil
}

// keyedErrors rewrites the decoder's messages ("line 3: field grup not
// found in type main.KafkaConfig", "line 14: cannot unmarshal !!str `many`
// into int") with the key they are about, in the file's own terms
// ("line 3: kafka.grup: unknown key …", "line 14: pipeline.flush_rows:
// "many" is not a whole number").
func keyedErrors(text []byte, errs []string) []string {
	var doc yaml.Node
	if yaml.Unmarshal(text, &doc) != nil {
		return errs
	}
	// The key path of every key and of every scalar value, by line.
	type place struct{ path, key, value string }
	byLine := map[int][]place{}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode, yaml.SequenceNode:
			for i, c := range n.Content {
				p := path
				if n.Kind == yaml.SequenceNode {
					p = fmt.Sprintf("%s[%d]", path, i)
				}
				walk(c, p)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := k.Value
				if path != "" {
					p = path + "." + k.Value
				}
				byLine[k.Line] = append(byLine[k.Line], place{path: p, key: k.Value})
				if v.Kind == yaml.ScalarNode {
					byLine[v.Line] = append(byLine[v.Line], place{path: p, value: v.Value})
				} else {
					byLine[v.Line] = append(byLine[v.Line], place{path: p, value: "\x00"})
				}
				walk(v, p)
			}
		}
	}
	walk(&doc, "")
	unknownRe := regexp.MustCompile(`^line (\d+): field (\S+) not found in type \S+$`)
	typeRe := regexp.MustCompile("^line (\\d+): cannot unmarshal !!(\\w+) (?:`([^`]*)` )?into (\\S+)$")
	lineRe := regexp.MustCompile(`^line (\d+): "([^"]*)": (.*)$`)
	want := map[string]string{"int": "a whole number", "int64": "a whole number", "uint32": "a whole number",
		"float64": "a number", "bool": "true or false", "string": "a text", "[]string": `a list (e.g. ["a", "b"])`}
	out := make([]string, 0, len(errs))
	for _, e := range errs {
		switch {
		case unknownRe.MatchString(e):
			m := unknownRe.FindStringSubmatch(e)
			line, _ := strconv.Atoi(m[1])
			path := m[2]
			for _, pl := range byLine[line] {
				if pl.key == m[2] {
					path = pl.path
				}
			}
			e = fmt.Sprintf("line %s: %s: unknown key (check the spelling against `relance config print`)", m[1], path)
		case typeRe.MatchString(e):
			m := typeRe.FindStringSubmatch(e)
			line, _ := strconv.Atoi(m[1])
			path, value := "?", m[3]
			var nested []string // a list or mapping where a value is wanted
			for _, pl := range byLine[line] {
				if m[3] == "" && pl.value == "\x00" {
					nested = append(nested, pl.path)
				}
				if m[3] != "" && pl.value != "" && strings.HasPrefix(pl.value, strings.TrimSuffix(m[3], "...")) {
					path, value = pl.path, pl.value // the decoder cuts long values
					break
				}
			}
			// Innermost first: on "kafka: {group: [x]}" both kafka and
			// kafka.group hold a mapping or a list on that line.
			var inner []string
			for _, a := range nested {
				outer := false
				for _, b := range nested {
					outer = outer || strings.HasPrefix(b, a+".") || strings.HasPrefix(b, a+"[")
				}
				if !outer {
					inner = append(inner, a)
				}
			}
			switch len(inner) {
			case 0:
			case 1:
				path = inner[0]
			default:
				path = "one of " + strings.Join(inner, ", ")
			}
			kind := map[string]string{"seq": "list", "map": "mapping"}[m[2]]
			if kind == "" {
				kind = m[2]
			}
			w := want[strings.TrimPrefix(m[4], "main.")]
			if w == "" {
				w = "another kind of value (see `relance config print`)"
			}
			if value != "" {
				e = fmt.Sprintf("line %s: %s: %q is not %s", m[1], path, value, w)
			} else {
				e = fmt.Sprintf("line %s: %s: want %s, not a %s", m[1], path, w, kind)
			}
		case lineRe.MatchString(e):
			m := lineRe.FindStringSubmatch(e)
			line, _ := strconv.Atoi(m[1])
			for _, pl := range byLine[line] {
				if pl.value == m[2] {
					e = fmt.Sprintf("line %s: %s: %q: %s", m[1], pl.path, m[2], m[3])
					break
				}
			}
		}
		out = append(out, e)
	}
	return out
}

func applyEnv(c *Config, env func(string) string) {
	set := func(name string, dst *string) {
		if v := env(name); v != "" {
			*dst = v
		}
	}
	if v := env("RELANCE_KAFKA_BROKERS"); v != "" {
		c.Kafka.Brokers = splitList(v)
	}
	set("RELANCE_KAFKA_GROUP", &c.Kafka.Group)
	set("RELANCE_KAFKA_USER", &c.Kafka.SASL.User)
	if v := env("RELANCE_KAFKA_PASSWORD"); v != "" {
		c.Kafka.SASL.Password = Secret(v)
	}
	set("RELANCE_KAFKA_PASSWORD_FILE", &c.Kafka.SASL.PasswordFile)
	set("RELANCE_REGISTRY_URL", &c.Registry.URL)
	set("RELANCE_REGISTRY_USER", &c.Registry.User)
	if v := env("RELANCE_REGISTRY_PASSWORD"); v != "" {
		c.Registry.Password = Secret(v)
	}
	set("RELANCE_REGISTRY_PASSWORD_FILE", &c.Registry.PasswordFile)
	set("RELANCE_CLICKHOUSE_USER", &c.Store.ClickHouse.User)
	if v := env("RELANCE_CLICKHOUSE_PASSWORD"); v != "" {
		c.Store.ClickHouse.Password = Secret(v)
	}
	set("RELANCE_CLICKHOUSE_PASSWORD_FILE", &c.Store.ClickHouse.PasswordFile)
}

// validate checks everything that can be checked without the network and
// returns every problem, each naming its key and the fix.
func (c *Config) validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if len(c.Kafka.Brokers) == 0 {
		bad(`kafka.brokers: at least one broker is needed (e.g. ["localhost:9092"])`)
	}
	for i, b := range c.Kafka.Brokers {
		if _, port, err := net.SplitHostPort(strings.TrimSpace(b)); err != nil || port == "" {
			bad(`kafka.brokers[%d]: %q must be host:port (e.g. "kafka:9092")`, i, b)
		}
	}
	if c.Kafka.Group == "" {
		bad(`kafka.group: must not be empty (e.g. "relance")`)
	}
	if c.Kafka.DeadLetterTopic == "" {
		bad(`kafka.dead_letter_topic: must not be empty (e.g. "relance.dead-letters")`)
	}
	switch c.Kafka.SASL.Mechanism {
	case "":
		if c.Kafka.SASL.User != "" {
			bad(`kafka.sasl.mechanism: a user is set but no mechanism (e.g. "SCRAM-SHA-512")`)
		}
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		if c.Kafka.SASL.User == "" {
			bad(`kafka.sasl.user: needed with mechanism %s (or env RELANCE_KAFKA_USER)`, c.Kafka.SASL.Mechanism)
		}
		if c.Kafka.SASL.Password == "" && c.Kafka.SASL.PasswordFile == "" {
			bad(`kafka.sasl.password_file: needed with mechanism %s (or env RELANCE_KAFKA_PASSWORD)`, c.Kafka.SASL.Mechanism)
		}
	default:
		bad(`kafka.sasl.mechanism: %q is not supported (use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)`, c.Kafka.SASL.Mechanism)
	}
	checkTLS := func(key string, t TLSConfig) {
		for _, f := range []struct{ name, path string }{{"ca_file", t.CAFile}, {"cert_file", t.CertFile}, {"key_file", t.KeyFile}} {
			if f.path == "" {
				continue
			}
			if !t.Enabled {
				bad(`%s.%s: set but %s.enabled is false (set enabled: true)`, key, f.name, key)
			}
			if _, err := os.Stat(f.path); err != nil {
				bad(`%s.%s: %q cannot be read: %v`, key, f.name, f.path, errors.Unwrap(err))
			}
		}
		if pem, err := os.ReadFile(t.CAFile); err == nil && !x509.NewCertPool().AppendCertsFromPEM(pem) {
			bad(`%s.ca_file: %q holds no PEM certificate (want "-----BEGIN CERTIFICATE-----" blocks)`, key, t.CAFile)
		}
		if (t.CertFile == "") != (t.KeyFile == "") {
			bad(`%s: cert_file and key_file go together (mutual TLS needs both)`, key)
		} else if t.CertFile != "" && readable(t.CertFile) && readable(t.KeyFile) {
			if _, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile); err != nil {
				bad(`%s: cert_file and key_file are not a PEM certificate and its private key: %v`, key, err)
			}
		}
	}
	checkSecretFile := func(key, path string) {
		if path == "" {
			return
		}
		if _, err := os.ReadFile(path); err != nil {
			bad(`%s: %q cannot be read: %v`, key, path, errors.Unwrap(err))
		}
	}
	checkSecretFile("kafka.sasl.password_file", c.Kafka.SASL.PasswordFile)
	checkSecretFile("store.clickhouse.password_file", c.Store.ClickHouse.PasswordFile)
	checkSecretFile("registry.password_file", c.Registry.PasswordFile)
	checkTLS("kafka.tls", c.Kafka.TLS)
	checkTLS("store.clickhouse.tls", c.Store.ClickHouse.TLS)
	checkTLS("registry.tls", c.Registry.TLS)
	if u, err := url.Parse(c.Registry.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad(`registry.url: %q must be an http(s) URL (e.g. "http://localhost:8081")`, c.Registry.URL)
	} else if u.User != nil {
		// It would be printed by config print and in errors and logs.
		bad(`registry.url: %q carries credentials: put them in registry.user and registry.password_file (or env RELANCE_REGISTRY_PASSWORD), which are never printed`, u.Redacted())
	} else if c.Registry.TLS.Enabled && u.Scheme != "https" {
		bad(`registry.url: %q is http but registry.tls.enabled is true (use https://)`, c.Registry.URL)
	}
	if c.Registry.User == "" && (c.Registry.Password != "" || c.Registry.PasswordFile != "") {
		bad(`registry.user: a password is set but no user (or env RELANCE_REGISTRY_USER)`)
	}
	switch {
	case c.Store.ChDBDir == "" && c.Store.ClickHouse.Addr == "":
		bad(`store: choose one of store.chdb_dir (embedded, e.g. "data/chdb") and store.clickhouse.addr (server, e.g. "clickhouse:9000")`)
	case c.Store.ChDBDir != "" && c.Store.ClickHouse.Addr != "":
		bad(`store: store.chdb_dir and store.clickhouse.addr are both set: keep one`)
	case c.Store.ClickHouse.Addr != "":
		if _, port, err := net.SplitHostPort(c.Store.ClickHouse.Addr); err != nil || port == "" {
			bad(`store.clickhouse.addr: %q must be host:port (e.g. "clickhouse:9000")`, c.Store.ClickHouse.Addr)
		}
	}
	if p := c.Store.ClickHouse.Protocol; p != "native" && p != "http" {
		bad(`store.clickhouse.protocol: %q must be native or http`, p)
	}
	switch c.Store.ClickHouse.Compression {
	case "lz4", "zstd", "none":
	default:
		bad(`store.clickhouse.compression: %q must be lz4, zstd or none`, c.Store.ClickHouse.Compression)
	}
	if c.Store.ClickHouse.AsyncInsert && c.Store.ChDBDir != "" && c.Store.ClickHouse.Addr == "" {
		bad(`store.clickhouse.async_insert: applies to a ClickHouse server (store.clickhouse.addr); the embedded store (store.chdb_dir) always writes synchronously: remove it`)
	}
	if len(c.Join.Horizons) == 0 {
		bad(`join.horizons: at least one is needed (e.g. ["7d", "15d", "30d"])`)
	}
	seen := map[stream.Horizon]string{}
	for i, h := range c.Join.Horizons {
		v, err := stream.ParseHorizon(h)
		if err != nil {
			bad(`join.horizons[%d]: %q must be a positive duration (e.g. "7d")`, i, h)
			continue
		}
		if first, ok := seen[v]; ok {
			bad(`join.horizons[%d]: %q is the same horizon as %q (%s): list each once`, i, h, first, v)
		}
		seen[v] = h
	}
	if _, err := stream.ParseModel(c.Join.Model); err != nil {
		bad(`join.model: %q is not a model (use last_touch, first_touch, linear or time_decay)`, c.Join.Model)
	}
	for _, d := range []struct {
		key string
		v   Duration
		pos bool
		eg  string // the default
	}{
		{"join.half_life", c.Join.HalfLife, true, "7d"}, {"join.allowed_lateness", c.Join.AllowedLateness, false, "24h"},
		{"join.retention", c.Join.Retention, false, "7d"}, {"join.idle_timeout", c.Join.IdleTimeout, true, "1m"},
		{"pipeline.flush_interval", c.Pipeline.FlushInterval, true, "1s"}, {"pipeline.shutdown_timeout", c.Pipeline.ShutdownTimeout, true, "30s"},
		{"pipeline.snapshot_interval", c.Pipeline.SnapshotInterval, true, "1m"},
		{"kafka.session_timeout", c.Kafka.SessionTimeout, true, "45s"}, {"kafka.heartbeat_interval", c.Kafka.HeartbeatInterval, true, "3s"},
		{"kafka.rebalance_timeout", c.Kafka.RebalanceTimeout, true, "60s"},
	} {
		if d.v < 0 || (d.pos && d.v == 0) {
			bad(`%s: %s must be positive (e.g. %q)`, d.key, time.Duration(d.v), d.eg)
		}
	}
	if c.Kafka.HeartbeatInterval >= c.Kafka.SessionTimeout {
		bad(`kafka.heartbeat_interval: %s must be below kafka.session_timeout (%s)`, time.Duration(c.Kafka.HeartbeatInterval), time.Duration(c.Kafka.SessionTimeout))
	}
	if c.Pipeline.FlushRows <= 0 {
		bad(`pipeline.flush_rows: %d must be positive (e.g. 50000)`, c.Pipeline.FlushRows)
	}
	if c.Pipeline.FlushBytes <= 0 {
		bad(`pipeline.flush_bytes: %d must be positive (e.g. 67108864)`, c.Pipeline.FlushBytes)
	}
	if c.HTTP.Listen != "" {
		_, port, err := net.SplitHostPort(c.HTTP.Listen)
		if err == nil {
			_, err = net.LookupPort("tcp", port)
		}
		if err != nil {
			bad(`http.listen: %q must be [host]:port with a port from 0 to 65535 (e.g. ":9464")`, c.HTTP.Listen)
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad(`log.level: %q must be debug, info, warn or error`, c.Log.Level)
	}
	if c.Log.Format != "json" && c.Log.Format != "text" {
		bad(`log.format: %q must be json or text`, c.Log.Format)
	}
	return errors.Join(errs...)
}

func readable(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

// secretValue returns the secret from the value or the file.
func secretValue(key string, v Secret, file string) (string, error) {
	if v != "" {
		return string(v), nil
	}
	if file == "" {
		return "", nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s: %q cannot be read: %v", key, file, errors.Unwrap(err))
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// tlsConfig builds a *tls.Config, nil when TLS is off.
func (t TLSConfig) build(key string) (*tls.Config, error) {
	if !t.Enabled {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%s.ca_file: %w", key, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s.ca_file: %q holds no PEM certificate", key, t.CAFile)
		}
		cfg.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%s.cert_file/key_file: %w", key, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// kafkaOpts turns the Kafka section into franz-go client options.
func (c *Config) kafkaOpts() ([]kgo.Opt, error) {
	opts := []kgo.Opt{
		kgo.SessionTimeout(time.Duration(c.Kafka.SessionTimeout)),
		kgo.HeartbeatInterval(time.Duration(c.Kafka.HeartbeatInterval)),
		kgo.RebalanceTimeout(time.Duration(c.Kafka.RebalanceTimeout)),
	}
	tc, err := c.Kafka.TLS.build("kafka.tls")
	if err != nil {
		return nil, err
	}
	if tc != nil {
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if m := c.Kafka.SASL.Mechanism; m != "" {
		pw, err := secretValue("kafka.sasl.password_file", c.Kafka.SASL.Password, c.Kafka.SASL.PasswordFile)
		if err != nil {
			return nil, err
		}
		switch m {
		case "PLAIN":
			opts = append(opts, kgo.SASL(plain.Auth{User: c.Kafka.SASL.User, Pass: pw}.AsMechanism()))
		case "SCRAM-SHA-256":
			opts = append(opts, kgo.SASL(scram.Auth{User: c.Kafka.SASL.User, Pass: pw}.AsSha256Mechanism()))
		case "SCRAM-SHA-512":
			opts = append(opts, kgo.SASL(scram.Auth{User: c.Kafka.SASL.User, Pass: pw}.AsSha512Mechanism()))
		}
	}
	return opts, nil
}

func (c *Config) logger(w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.Log.Level))
	o := &slog.HandlerOptions{Level: lvl, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		// A duration reads "11ms" in JSON too, not 11000000 (nanoseconds).
		if a.Value.Kind() == slog.KindDuration {
			return slog.String(a.Key, a.Value.Duration().String())
		}
		return a
	}}
	if c.Log.Format == "text" {
		return slog.New(slog.NewTextHandler(w, o))
	}
	return slog.New(slog.NewJSONHandler(w, o))
}

// print writes the configuration as YAML, secrets redacted.
func (c *Config) print() ([]byte, error) { return yaml.Marshal(c) }

// registry is a schema registry client with the configured basic
// authentication and TLS.
func (c *Config) registry() (*sr.Client, error) {
	opts := []sr.ClientOpt{sr.URLs(c.Registry.URL)}
	if c.Registry.User != "" {
		pw, err := secretValue("registry.password_file", c.Registry.Password, c.Registry.PasswordFile)
		if err != nil {
			return nil, err
		}
		opts = append(opts, sr.BasicAuth(c.Registry.User, pw))
	}
	tc, err := c.Registry.TLS.build("registry.tls")
	if err != nil {
		return nil, err
	}
	if tc != nil {
		opts = append(opts, sr.DialTLSConfig(tc))
	}
	rcl, err := sr.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("registry.url: %w", err)
	}
	return rcl, nil
}

// serde connects to the schema registry and finds the embedded schemas,
// registering them unless opts say ReadOnly.
func (c *Config) serde(ctx context.Context, opts ...schemas.Opt) (*schemas.Serde, error) {
	rcl, err := c.registry()
	if err != nil {
		return nil, err
	}
	serde, err := schemas.NewSerde(ctx, rcl, opts...)
	if err != nil {
		return nil, fmt.Errorf("schema registry %s unreachable or refusing the schemas (check registry.url): %w", c.Registry.URL, err)
	}
	return serde, nil
}

// deliveryTimeout is how long the produce and import commands let a record
// wait for the brokers before giving up with an error (the client retries
// meanwhile): an outage in the middle of a run ends it instead of leaving
// the progress bar at a standstill.
const deliveryTimeout = 2 * time.Minute

// producer is a Kafka client for the produce and import commands, with the
// configured TLS and SASL. The brokers are asked first (as `config check`
// does): unreachable ones are an error saying what to check, not a
// progress bar that never moves.
func (c *Config) producer(ctx context.Context) (*kgo.Client, error) {
	kopts, err := c.kafkaOpts()
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.Kafka.Brokers...), kgo.ProducerLinger(5 * time.Millisecond),
		kgo.MaxBufferedRecords(50_000), kgo.RecordDeliveryTimeout(deliveryTimeout)}, kopts...)...)
	if err != nil {
		return nil, fmt.Errorf("kafka.brokers: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	if err := cl.Ping(pctx); err != nil {
		cl.Close()
		return nil, fmt.Errorf("kafka.brokers: %s unreachable or refusing the connection: %v (check the addresses, kafka.tls and kafka.sasl)",
			strings.Join(c.Kafka.Brokers, ","), err)
	}
	return cl, nil
}

// splitList splits a comma-separated flag or environment value, trimming
// the spaces around each entry ("k1:9092, k2:9092").
func splitList(v string) []string {
	out := strings.Split(v, ",")
	for i := range out {
		out[i] = strings.TrimSpace(out[i])
	}
	return out
}
