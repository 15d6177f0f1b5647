package ingest_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/relance-io/relance/generate"
	"github.com/relance-io/relance/ingest"
	"github.com/relance-io/relance/internal/oracle"
	"github.com/relance-io/relance/schemas"
	"github.com/relance-io/relance/stream"
)

// timedRecord is a record and the event time it carries.
type timedRecord struct {
	at  time.Time
	rec *kgo.Record
}

// shuffled encodes ds as the producers would (keyed by customer id) and
// orders the three topics together by event time plus a random delay in
// [0, maxDelay) drawn from seed: each event overtakes, or is overtaken by,
// any event less than maxDelay away in event time, whatever its topic.
func shuffled(tb testing.TB, serde *schemas.Serde, ds *generate.Dataset, seed uint64, maxDelay time.Duration) []timedRecord {
	tb.Helper()
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var out []timedRecord
	arrival := map[*kgo.Record]time.Time{}
	add := func(at time.Time, topic, key string, b []byte, err error) {
		if err != nil {
			tb.Fatal(err)
		}
		r := &kgo.Record{Topic: topic, Key: []byte(key), Value: b}
		arrival[r] = at.Add(time.Duration(rng.Int64N(int64(maxDelay))))
		out = append(out, timedRecord{at, r})
	}
	for i := range ds.Invoices {
		v := &ds.Invoices[i]
		b, err := serde.EncodeInvoice(v)
		add(v.IssuedAt, schemas.TopicInvoices, v.CustomerID, b, err)
	}
	for i := range ds.Reminders {
		v := &ds.Reminders[i]
		b, err := serde.EncodeReminder(v)
		add(v.SentAt, schemas.TopicReminders, v.CustomerID, b, err)
	}
	for i := range ds.Payments {
		v := &ds.Payments[i]
		b, err := serde.EncodePayment(v)
		add(v.PaidAt, schemas.TopicPayments, v.CustomerID, b, err)
	}
	sort.SliceStable(out, func(i, j int) bool { return arrival[out[i].rec].Before(arrival[out[j].rec]) })
	return out
}

// disorder measures, per joined topic, how far the records of each
// partition are out of event-time order (by offset): the number of records
// with an older event time than one before them, and the largest such gap.
func disorder(recs []timedRecord) (behind map[string]int, worst time.Duration, partitions map[string]map[int32]bool) {
	behind, partitions = map[string]int{}, map[string]map[int32]bool{}
	newest := map[string]map[int32]time.Time{}
	byOffset := slices.Clone(recs)
	sort.SliceStable(byOffset, func(i, j int) bool { return byOffset[i].rec.Offset < byOffset[j].rec.Offset })
	for _, r := range byOffset {
		topic, p := r.rec.Topic, r.rec.Partition
		if topic == schemas.TopicInvoices {
			continue
		}
		if newest[topic] == nil {
			newest[topic], partitions[topic] = map[int32]time.Time{}, map[int32]bool{}
		}
		partitions[topic][p] = true
		if n, ok := newest[topic][p]; ok && r.at.Before(n) {
			behind[topic]++
			worst = max(worst, n.Sub(r.at))
		} else {
			newest[topic][p] = r.at
		}
	}
	return behind, worst, partitions
}

// oracleFacts is what attribution_facts must hold under last_touch, by
// brute force: one row per allocation and horizon, credited in full to
// the oracle's reminder, or to none ("" and 0).
func oracleFacts(ds *generate.Dataset) []string {
	var out []string
	for _, h := range []struct {
		label string
		d     time.Duration
	}{{"7d", 7 * 24 * time.Hour}, {"15d", 15 * 24 * time.Hour}, {"30d", 30 * 24 * time.Hour}} {
		for _, c := range oracle.Credits(ds, h.d) {
			reminder, credited := "", int64(0)
			if c.Reminder != nil {
				reminder, credited = c.Reminder.ReminderID, c.Allocation.AmountMinor
			}
			out = append(out, fmt.Sprintf("%s\t%d\t%s\t%s\t%d", c.Payment.PaymentID, c.AllocationIndex, h.label, reminder, credited))
		}
	}
	slices.Sort(out)
	return out
}

// detailQuery is more of attribution_facts and the reminder outcomes than
// the oracle checks: orders must agree on them too.
const detailQuery = `SELECT 'fact', payment_id, toString(allocation_index), horizon, model, toString(matched), toString(candidates), reminder_id,
	toString(sent_at), toString(lag_ms), toString(credited_minor), channel, toString(level)
FROM attribution_facts FINAL
UNION ALL
SELECT 'outcome', invoice_id, reminder_id, horizon, toString(collected_minor), toString(credited_minor), toString(is_final), '', '', '', '', '', ''
FROM reminder_outcomes FINAL`

// Rule (SPEC §3): results do not depend on arrival order. A generated data
// set is produced in several random orders over four partitions (keyed by
// customer id, so co-partitioned): reminders, payments and invoices
// interleaved at random, each topic partition out of event-time order by
// up to maxDelay. Within the allowed lateness (the default 24h, maxDelay
// 23h) every order yields exactly the last_touch facts of the brute-force
// oracle, and the same facts and reminder outcomes as every other order.
// Beyond it (maxDelay 3 days) but within retention, late events are
// applied as corrections and the results are still exact.
func TestConsumer_ShuffledArrivalAcrossPartitionsGivesOracleFacts(t *testing.T) {
	ds := dataset(t, 31)
	want := oracleFacts(ds)
	joiner := ingest.JoinerOpts(stream.Attribution(stream.LastTouch), stream.AllowedLateness(24*time.Hour), stream.Retention(7*24*time.Hour))
	var first []string // facts and outcomes of the first order
	firstSeed := uint64(0)
	for _, tc := range []struct {
		name     string
		maxDelay time.Duration
		seeds    []uint64
		late     bool // whether events arrive behind the watermark
	}{
		{"WithinAllowedLateness", 23 * time.Hour, []uint64{1, 2, 3}, false},
		{"BeyondAllowedLatenessWithinRetention", 72 * time.Hour, []uint64{4, 5}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i, seed := range tc.seeds {
				st := newStackOf(t, 4)
				recs := shuffled(t, st.serde, ds, seed, tc.maxDelay)
				e := ends{}
				plain := make([]*kgo.Record, len(recs))
				for i := range recs {
					plain[i] = recs[i].rec
				}
				// Half the orders one record per request and small
				// fetches: the consumer then sees the topics of a
				// partition interleaved record by record, not one topic's
				// backlog after the other's.
				small := i%2 == 1
				var opts []ingest.Opt
				if small {
					st.produceSingly(t, e, plain)
					opts = append(opts, smallFetches())
				} else {
					st.produce(t, e, plain...)
				}
				behind, worst, parts := disorder(recs)
				for _, topic := range []string{schemas.TopicReminders, schemas.TopicPayments} {
					if len(parts[topic]) < 3 {
						t.Fatalf("seed %d: %s spread over %d partitions, want at least 3", seed, topic, len(parts[topic]))
					}
					if behind[topic] == 0 {
						t.Fatalf("seed %d: %s arrived in event-time order: the test proves nothing", seed, topic)
					}
				}
				if worst >= tc.maxDelay {
					t.Fatalf("seed %d: an event arrived %s behind a newer one, the shuffle bound is %s", seed, worst, tc.maxDelay)
				}

				store := newStore(t, strconv.FormatUint(seed, 10))
				stats, err := st.consume(t, store, "shuffled", e, append(opts, joiner)...)
				if err != nil {
					t.Fatal(err)
				}
				if n := total(stats.DeadLetters); n != 0 {
					t.Fatalf("seed %d: %d dead letters: %v", seed, n, stats.DeadLetters)
				}
				// The premise, as the joiners saw it: behind the watermark
				// only beyond the allowed lateness, never beyond retention.
				if j := stats.Joiner; (j.Late > 0) != tc.late || j.TooLate+j.PartlyLate > 0 {
					t.Fatalf("seed %d: %d events late, %d too late, %d partly late; want late events %v and none beyond retention", seed, j.Late, j.TooLate, j.PartlyLate, tc.late)
				}
				got := query(t, store, factsQuery)
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Errorf("seed %d: facts differ from the oracle: %s", seed, diff(got, want))
				}
				detail := query(t, store, detailQuery)
				slices.Sort(detail)
				if first == nil {
					first, firstSeed = detail, seed
				} else if !slices.Equal(detail, first) {
					t.Errorf("seed %d: facts and outcomes differ from seed %d's order: %s", seed, firstSeed, diff(detail, first))
				}
				t.Logf("seed %d (small fetches %v): %v records behind a newer one, worst by %s, over %d+%d partitions; %d fact rows equal to the oracle; joiner %+v",
					seed, small, behind, worst, len(parts[schemas.TopicReminders]), len(parts[schemas.TopicPayments]), len(got), stats.Joiner)
			}
		})
	}
}
