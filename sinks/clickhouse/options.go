package clickhouse

import (
	"crypto/tls"
	"fmt"
	"net"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
)

// Opt configures Open.
type Opt func(*cfg)

type cfg struct {
	protocol    ch.Protocol
	addr        string
	database    string
	username    string
	password    string
	tls         *tls.Config
	compression string
	dialTimeout time.Duration
	maxConns    int
	asyncInsert bool
}

func defaultCfg() cfg {
	return cfg{
		protocol:    ch.Native,
		addr:        "", // localhost:9000 (Native) or localhost:8123 (HTTP)
		database:    "relance",
		username:    "default",
		compression: "lz4",
		dialTimeout: 10 * time.Second,
		maxConns:    4,
	}
}

var compressions = map[string]ch.CompressionMethod{
	"lz4":  ch.CompressionLZ4,
	"zstd": ch.CompressionZSTD,
	"none": ch.CompressionNone,
}

func (c *cfg) validate() error {
	switch c.protocol {
	case ch.Native:
		if c.addr == "" {
			c.addr = "localhost:9000"
		}
	case ch.HTTP:
		if c.addr == "" {
			c.addr = "localhost:8123"
		}
	default:
		return fmt.Errorf("clickhouse: protocol %v: want clickhouse.Native or clickhouse.HTTP", c.protocol)
	}
	if _, _, err := net.SplitHostPort(c.addr); err != nil {
		if c.protocol == ch.HTTP {
			return fmt.Errorf("clickhouse: addr %q: want host:port of the HTTP interface (e.g. \"localhost:8123\", 8443 with TLS)", c.addr)
		}
		return fmt.Errorf("clickhouse: addr %q: want host:port of the native protocol (e.g. \"localhost:9000\", 9440 with TLS)", c.addr)
	}
	if !isIdent(c.database) {
		return fmt.Errorf("clickhouse: database %q: want letters, digits and '_', not starting with a digit (e.g. \"relance\")", c.database)
	}
	if c.username == "" {
		return fmt.Errorf("clickhouse: username is empty (e.g. \"default\")")
	}
	if _, ok := compressions[c.compression]; !ok {
		return fmt.Errorf("clickhouse: compression %q: want lz4, zstd or none", c.compression)
	}
	if c.dialTimeout <= 0 {
		return fmt.Errorf("clickhouse: dial timeout %s must be positive (e.g. 10s)", c.dialTimeout)
	}
	if c.maxConns <= 0 {
		return fmt.Errorf("clickhouse: max open connections %d must be positive (e.g. 4)", c.maxConns)
	}
	return nil
}

// Protocol sets the wire protocol, clickhouse.Native or clickhouse.HTTP
// (from github.com/ClickHouse/clickhouse-go/v2), overriding the default of
// clickhouse.Native. Over HTTP every statement is one POST, a batch INSERT
// sends its block as Native in the body, results come back as Native, and
// lz4/zstd compress the blocks both ways.
func Protocol(p ch.Protocol) Opt { return func(c *cfg) { c.protocol = p } }

// Addr sets the host:port of the server, overriding the default of
// "localhost:9000" for the native protocol (use the secure port, usually
// 9440, with TLS) and "localhost:8123" for HTTP (8443 with TLS).
func Addr(hostPort string) Opt { return func(c *cfg) { c.addr = hostPort } }

// Database sets the database that Open creates if needed and that every
// statement uses, overriding the default of "relance".
func Database(name string) Opt { return func(c *cfg) { c.database = name } }

// Username sets the user to authenticate as, overriding the default of
// "default".
func Username(user string) Opt { return func(c *cfg) { c.username = user } }

// Password sets the user's password, overriding the default of none. It is
// never logged and never appears in an error.
func Password(password string) Opt { return func(c *cfg) { c.password = password } }

// TLS enables TLS with the given configuration, overriding the default of
// plain TCP. A nil config leaves TLS off.
func TLS(config *tls.Config) Opt { return func(c *cfg) { c.tls = config } }

// Compression sets the block compression, "lz4", "zstd" or "none",
// overriding the default of "lz4". It applies to both protocols (over HTTP
// as compress=1/decompress=1 with network_compression_method).
func Compression(method string) Opt { return func(c *cfg) { c.compression = method } }

// DialTimeout sets the timeout of establishing a connection, overriding the
// default of 10s.
func DialTimeout(d time.Duration) Opt { return func(c *cfg) { c.dialTimeout = d } }

// MaxOpenConns sets the size of the connection pool, overriding the default
// of 4.
func MaxOpenConns(n int) Opt { return func(c *cfg) { c.maxConns = n } }

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// AsyncInsert makes every INSERT an asynchronous insert that waits for the
// server's flush before returning (async_insert=1, wait_for_async_insert=1),
// overriding the default of synchronous inserts. The server then batches
// small inserts from many writers; a Write still returns only once the rows
// are durable, so offsets are never committed ahead of the data.
func AsyncInsert(on bool) Opt { return func(c *cfg) { c.asyncInsert = on } }
