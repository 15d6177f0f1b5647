// Package stream is relance's event-time join: it matches payment
// allocations to the reminders sent on their invoice within each observation
// Horizon, attributes the amounts under an attribution Model, and emits
// Facts. It is pure: events in, facts out, no I/O.
//
// # What it owns
//
//   - [Joiner]: the join state of one pair of co-partitioned input
//     partitions (reminders partition p, payments partition p), its
//     watermark, its buffering, its corrections and its retention.
//   - [Horizon] and [DefaultHorizons] (7d, 15d, 30d), with [ParseHorizon] and
//     [ParseHorizons] for configuration.
//   - The watermark ([Joiner.Watermark]): the event time up to which
//     allocations have been emitted.
//   - The attribution models ([Model]: [LastTouch], [FirstTouch], [Linear],
//     [TimeDecay]) and their exact split of an amount in minor units.
//   - [Fact], the output row (allocation × horizon × credited reminder, or
//     none), and [LateEvent], an event that arrived too late to change
//     anything.
//   - The offsets needed to rebuild the state ([Joiner.LowWater]), so that
//     the caller knows what it may commit.
//
// # What it must not do
//
// No Kafka (package ingest reads the topics and calls AddReminder,
// AddPayment, Idle after its idle timeout, and Flush), no SQL and no store (package sinks maps Facts
// to rows), no logging, and no wall clock: time is the event time of the
// inputs. The one exception is the default fact version clock (see
// [VersionClock]), which stamps each emission with wall time in nanoseconds
// so that a later computation always outranks an earlier one in the store;
// tests replace it with a counter. A Joiner is not safe for concurrent use:
// one goroutine owns a partition.
//
// # Matching rule
//
// For an allocation a (invoice i, amount, paid_at) and a horizon H the
// candidates are the non-holdout reminders r on invoice i with
// r.sent_at <= a.paid_at <= r.sent_at + H, both bounds inclusive. One scan at
// the largest horizon serves every horizon: each candidate falls into the
// horizons that are at least paid_at - sent_at. An allocation without a
// candidate yields one unmatched Fact (collected without reminder) for that
// horizon. Credits of one allocation for one horizon always sum exactly to
// its amount (see [Model] for the ties and the remainder).
//
// # Buffering and when facts are emitted
//
// Each input has a "newest event time seen" (the largest sent_at read from
// the reminders partition, the largest paid_at read from the payments
// partition). The watermark is
//
//	min(newest event time of each input) - allowed lateness
//
// that is, the newest event time of the slower input minus the allowed
// lateness ([AllowedLateness], default 24h). It never moves backwards. While
// an input has delivered nothing, there is no watermark and nothing is
// emitted; an input the caller declares [Joiner.Idle] stops holding the
// watermark back until it delivers again. [Joiner.Flush] declares the end of
// the input: the watermark jumps to the newest event time seen on either
// input.
//
// A payment's allocations are buffered until the watermark reaches their
// paid_at; then their Facts are computed once, from every reminder received
// so far, and handed out by [Joiner.Drain]. A reminder is never emitted on its
// own: it is state that allocations are matched against. So an event that
// arrives within the allowed lateness of the slower input's newest event
// time is part of the first emission, and the facts are exactly those of the
// matching rule applied to the full data set, whatever the arrival order.
//
// # Corrections
//
// Reminders and allocations stay in state after the watermark passes them.
// A reminder that arrives after facts were emitted for a payment it
// precedes within the largest horizon makes the Joiner recompute those
// facts; a payment that arrives behind the watermark is emitted at once.
// When a recomputation changes anything, every row of the allocation is
// written again with a higher Version, and a key that no longer holds (the
// credit moved to another reminder, or the allocation became matched) is
// retracted by a row with Deleted set. The store keeps the highest version
// of each key and hides deleted keys (ReplacingMergeTree(version,
// is_deleted) read with FINAL), so the facts it shows converge to the
// matching rule.
//
// # Retention and too-late events
//
// An invoice's state is dropped once the watermark has passed both
// sent_at + largest horizon + retention of its reminders and
// paid_at + retention of its allocations ([Retention], default 7 days).
// While an invoice has state, all its events are there, so a late event on
// it is applied exactly. On an invoice without state, a payment paid before
// watermark - retention, or a reminder sent before watermark - retention -
// largest horizon, is too late: it changes no fact and is returned by Drain
// as a [LateEvent] with reason "beyond_retention" (the caller writes it to
// the late_events table), counted in [Stats].TooLate. A reminder between
// the two is applied and returned as "partially_applied" ([Stats].PartlyLate):
// payments it would have matched may be gone. Nothing is silently dropped.
//
// # Outcomes
//
// [Outcome] is a reminder's result per horizon: paid on its invoice within
// the horizon, credited to it, final once the watermark passes sent_at + H.
// [Joiner.DrainOutcomes] returns those that changed since the last call.
//
// Facts and Outcomes handed out are the caller's; a caller that drops them
// once written may give them back with [Joiner.Recycle], so that later
// output reuses their memory.
//
// # Restarts
//
// [Joiner.Resume] restores a previous owner's watermark and how far it had
// read each source. Re-read events rebuild the state without emitting; new
// events are held until both sources are re-read, then meet the whole
// state. The caller commits [Joiner.LowWater] offsets and the watermark.
//
// [Joiner.AppendSnapshot] writes the state as the events that rebuild it;
// [Joiner.Restore] replays them quietly into a new Joiner, then resumes as
// Resume does from the snapshot's offsets. Where snapshots are stored is
// the caller's business (package ingest: a compacted Kafka topic).
//
// A second event with a reminder_id (on the same invoice) or payment_id
// already in state is a duplicate: it is absorbed (the first one wins),
// counted in [Stats].Duplicates and handed out by [Joiner.DrainDuplicates]
// so that the caller can dead-letter it. Events re-read by a replay after a
// restart are not duplicates.
package stream
