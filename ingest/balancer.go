package ingest

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// CoPartitionedBalancer assigns partitions by number: partition p of every
// topic goes to the same member, because the join needs a customer's
// reminders and payments in one place. It is sticky (a member keeps the
// partition numbers it owns as long as the spread stays within one of
// even) and cooperative (KIP-429: a rebalance only revokes what moves, so
// the other partitions keep being consumed, and a moving partition is
// snapshotted by its old owner before the new one restores it).
//
// kgo's cooperative-sticky balancer cannot be used as is: it balances each
// topic's partitions independently and would split partition p of
// reminders and payments between members. Every member of a group must use
// this balancer (its protocol name is "relance-copartitioned").
func CoPartitionedBalancer() kgo.GroupBalancer { return coPartitioned{} }

type coPartitioned struct{}

func (coPartitioned) ProtocolName() string { return "relance-copartitioned" }
func (coPartitioned) IsCooperative() bool  { return true }

func (coPartitioned) JoinGroupMetadata(interests []string, current map[string][]int32, generation int32) []byte {
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Version = 3
	meta.Topics = interests
	meta.Generation = generation
	topics := make([]string, 0, len(current))
	for t := range current {
		topics = append(topics, t)
	}
	sort.Strings(topics) // deterministic: Kafka compares metadata to decide on rebalances
	for _, t := range topics {
		owned := kmsg.NewConsumerMemberMetadataOwnedPartition()
		owned.Topic = t
		owned.Partitions = current[t]
		meta.OwnedPartitions = append(meta.OwnedPartitions, owned)
	}
	return meta.AppendTo(nil)
}

func (coPartitioned) ParseSyncAssignment(assignment []byte) (map[string][]int32, error) {
	return kgo.ParseConsumerSyncAssignment(assignment)
}

func (c coPartitioned) MemberBalancer(members []kmsg.JoinGroupResponseMember) (kgo.GroupMemberBalancer, map[string]struct{}, error) {
	b, err := kgo.NewConsumerBalancer(c, members)
	if err != nil {
		return nil, nil, err
	}
	return b, b.MemberTopics(), nil
}

// Balance plans partition numbers 0..n-1 (n the largest partition count of
// the topics) over the members, then lets kgo hold back, for one round,
// what moves between members (cooperative protocol).
func (coPartitioned) Balance(b *kgo.ConsumerBalancer, topics map[string]int32) kgo.IntoSyncAssignment {
	members := b.Members() // sorted by instance id, then member id
	plan := b.NewPlan()
	if len(members) == 0 {
		return plan
	}
	n := int32(0)
	for _, c := range topics {
		n = max(n, c)
	}
	owned := make([][]int32, len(members))
	b.EachMember(func(m *kmsg.JoinGroupResponseMember, meta *kmsg.ConsumerMemberMetadata) {
		for i := range members {
			if members[i].MemberID != m.MemberID {
				continue
			}
			seen := map[int32]bool{}
			for _, t := range meta.OwnedPartitions {
				if _, ok := topics[t.Topic]; !ok {
					continue
				}
				for _, p := range t.Partitions {
					if p < n && !seen[p] {
						seen[p] = true
						owned[i] = append(owned[i], p)
					}
				}
			}
			sort.Slice(owned[i], func(a, c int) bool { return owned[i][a] < owned[i][c] })
		}
	})
	owners := assignNumbers(int(n), owned)
	for p, mi := range owners {
		for t, c := range topics {
			if int32(p) < c {
				plan.AddPartition(&members[mi], t, int32(p))
			}
		}
	}
	plan.AdjustCooperative(b)
	return plan
}

// assignNumbers gives each of n partition numbers to one of len(owned)
// members, every member getting n/m or n/m+1 of them; a member keeps the
// numbers it owned (owned[i], ascending) while that holds, a number
// claimed twice goes to the first claimant. It returns the member index
// of each number.
func assignNumbers(n int, owned [][]int32) []int {
	m := len(owned)
	low, extra := n/m, n%m // extra members may hold low+1
	owner := make([]int, n)
	for p := range owner {
		owner[p] = -1
	}
	count := make([]int, m)
	// Members owning more than low keep low+1 while extra slots last,
	// in member order: deterministic whatever the map orders upstream.
	for i, ps := range owned {
		limit := low
		if extra > 0 {
			limit = low + 1
		}
		for _, p := range ps {
			if count[i] == limit {
				break
			}
			if owner[p] == -1 {
				owner[p] = i
				count[i]++
			}
		}
		if count[i] == low+1 {
			extra--
		}
	}
	for p := range owner {
		if owner[p] != -1 {
			continue
		}
		// The least loaded member that may still take one.
		best := -1
		for i := range count {
			limit := low
			if count[i] == low && extra > 0 {
				limit = low + 1
			}
			if count[i] < limit && (best == -1 || count[i] < count[best]) {
				best = i
			}
		}
		if best == -1 {
			// Unreachable (the slots left always equal the numbers
			// left); never leave a partition without a member.
			best = 0
			for i := range count {
				if count[i] < count[best] {
					best = i
				}
			}
		}
		if count[best] == low {
			extra--
		}
		owner[p] = best
		count[best]++
	}
	return owner
}
