package ingest

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/relance-io/relance/stream"
)

// Opt configures a Consumer.
type Opt func(*cfg)

type cfg struct {
	brokers       []string
	group         string
	kgoOpts       []kgo.Opt
	joinerOpts    []stream.Opt
	flushRows     int
	flushBytes    int
	flushInterval time.Duration
	pollRecords   int
	deadLetters   string
	futureSkew    time.Duration
	now           func() time.Time
	log           *slog.Logger
	retryBackoff  time.Duration
	retryMax      time.Duration
	idleTimeout   time.Duration
	unreachable   time.Duration
	registerer    prometheus.Registerer
	shutdown      time.Duration
	stateTopic    string
	snapshotEvery time.Duration
	snapshotLoad  time.Duration
}

func defaultCfg() cfg {
	return cfg{
		unreachable:   30 * time.Second,
		group:         "relance",
		flushRows:     50_000,
		flushBytes:    64 << 20,
		flushInterval: time.Second,
		pollRecords:   10_000,
		deadLetters:   DefaultDeadLetterTopic,
		futureSkew:    7 * 24 * time.Hour,
		now:           time.Now,
		log:           slog.Default(),
		retryBackoff:  100 * time.Millisecond,
		retryMax:      10 * time.Second,
		idleTimeout:   time.Minute,
		registerer:    prometheus.NewRegistry(),
		shutdown:      30 * time.Second,
		stateTopic:    DefaultStateTopic,
		snapshotEvery: time.Minute,
		snapshotLoad:  time.Minute,
	}
}

func (c *cfg) validate() error {
	if len(c.brokers) == 0 {
		return fmt.Errorf("ingest: no Kafka broker given (set brokers, e.g. \"localhost:9092\")")
	}
	if c.group == "" {
		return fmt.Errorf("ingest: the consumer group name is empty (e.g. \"relance\")")
	}
	if c.flushRows <= 0 {
		return fmt.Errorf("ingest: flush rows %d must be positive (e.g. 50000)", c.flushRows)
	}
	if c.flushBytes <= 0 {
		return fmt.Errorf("ingest: flush bytes %d must be positive (e.g. 67108864)", c.flushBytes)
	}
	if c.flushInterval <= 0 {
		return fmt.Errorf("ingest: flush interval %s must be positive (e.g. 1s)", c.flushInterval)
	}
	if c.idleTimeout <= 0 {
		return fmt.Errorf("ingest: idle timeout %s must be positive (e.g. 1m)", c.idleTimeout)
	}
	if c.unreachable <= 0 {
		return fmt.Errorf("ingest: unreachable-after %s must be positive (e.g. 30s)", c.unreachable)
	}
	if c.deadLetters == "" {
		return fmt.Errorf("ingest: the dead-letter topic name is empty (e.g. %q)", DefaultDeadLetterTopic)
	}
	if c.stateTopic != "" && c.snapshotEvery <= 0 {
		return fmt.Errorf("ingest: snapshot interval %s must be positive (e.g. 1m), or disable snapshots with an empty state topic", c.snapshotEvery)
	}
	return nil
}

// Brokers sets the Kafka seed brokers. Required.
func Brokers(addrs ...string) Opt { return func(c *cfg) { c.brokers = addrs } }

// Group sets the consumer group, overriding the default of "relance".
func Group(name string) Opt { return func(c *cfg) { c.group = name } }

// KafkaOpts adds franz-go client options (TLS, SASL, timeouts), applied
// after the consumer's own.
func KafkaOpts(opts ...kgo.Opt) Opt { return func(c *cfg) { c.kgoOpts = append(c.kgoOpts, opts...) } }

// JoinerOpts sets the options of every partition's stream.Joiner (horizons,
// model, lateness, retention), overriding the stream package's defaults.
func JoinerOpts(opts ...stream.Opt) Opt { return func(c *cfg) { c.joinerOpts = opts } }

// FlushRows sets how many rows a batch collects before it is written,
// overriding the default of 50 000.
func FlushRows(n int) Opt { return func(c *cfg) { c.flushRows = n } }

// FlushBytes sets how many bytes of records read a batch collects before it
// is written, overriding the default of 64 MiB. Rows, bytes and time: the
// first limit reached flushes.
func FlushBytes(n int) Opt { return func(c *cfg) { c.flushBytes = n } }

// FlushInterval sets the longest time a row waits before it is written,
// overriding the default of 1s.
func FlushInterval(d time.Duration) Opt { return func(c *cfg) { c.flushInterval = d } }

// DeadLetterTopic sets where rejected records go, overriding the default of
// "relance.dead-letters".
func DeadLetterTopic(t string) Opt { return func(c *cfg) { c.deadLetters = t } }

// MaxFutureSkew sets how far past the wall clock an event time may be before
// the event is rejected, overriding the default of 7 days.
func MaxFutureSkew(d time.Duration) Opt { return func(c *cfg) { c.futureSkew = d } }

// Logger sets the structured logger, overriding slog.Default().
func Logger(l *slog.Logger) Opt { return func(c *cfg) { c.log = l } }

// UnreachableAfter sets how long Kafka may fail every poll, a write to
// the store may go on (a store that does not answer, or retries of a
// failing one), or a record may wait for the schema registry (down, or
// refusing the credentials), before the consumer reports itself not ready
// (Status),
// overriding the default of 30s: both are retried, and a broker restart,
// a leader move or a slow insert take seconds.
func UnreachableAfter(d time.Duration) Opt { return func(c *cfg) { c.unreachable = d } }

// IdleTimeout sets how long a joined input partition may deliver nothing
// before the watermark stops waiting for it and follows the other input
// alone, overriding the default of 1m. Without it, a partition with payments
// but no reminders (or the reverse) would hold its allocations forever. An
// event arriving afterwards behind the watermark is applied as a correction.
func IdleTimeout(d time.Duration) Opt { return func(c *cfg) { c.idleTimeout = d } }

// Metrics registers the consumer's Prometheus series (relance_ingest_*,
// relance_stream_*, relance_sink_*, relance_pipeline_*, relance_business_*)
// with reg, overriding the default of a private registry nobody scrapes.
func Metrics(reg prometheus.Registerer) Opt { return func(c *cfg) { c.registerer = reg } }

// ShutdownTimeout bounds the last flush and commit when Run's context ends
// (SIGTERM), overriding the default of 30s. Past it Run gives up and
// returns an error; nothing is lost (the offsets were not committed).
func ShutdownTimeout(d time.Duration) Opt { return func(c *cfg) { c.shutdown = d } }

// Snapshots sets the compacted topic that holds join-state snapshots and
// how often each partition's state is snapshotted, overriding the defaults
// of "relance.state" (created if missing) and 1m. A partition is also
// snapshotted when it is revoked and at the end of a run, so that its next
// owner restores the state instead of re-reading the topics from the
// oldest event held. An empty topic disables snapshots: every assignment
// then replays.
func Snapshots(topic string, every time.Duration) Opt {
	return func(c *cfg) { c.stateTopic, c.snapshotEvery = topic, every }
}
