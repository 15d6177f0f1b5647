package ingest

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Rule: every partition number has exactly one member, every member holds
// n/m or n/m+1 of them, and a balanced assignment given back as what the
// members own comes out unchanged (sticky), whatever the claims (overlaps,
// out-of-range numbers, members owning nothing).
func TestAssignNumbers_BalancedAndSticky(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 2000; trial++ {
		n, m := rng.IntN(40), 1+rng.IntN(8)
		owned := make([][]int32, m)
		for i := range owned {
			for p := 0; p < n; p++ {
				if rng.IntN(m+1) == 0 {
					owned[i] = append(owned[i], int32(p))
				}
			}
		}
		got := assignNumbers(n, owned)
		checkBalanced(t, n, m, got)
		// Fed back as ownership, the result is stable.
		again := assignNumbers(n, byMember(m, got))
		if !slices.Equal(got, again) {
			t.Fatalf("n=%d m=%d: a balanced assignment moved when rebalanced: %v → %v", n, m, got, again)
		}
		// A member leaves: only its numbers move (and, to stay even, at
		// most one more per remaining member).
		if m > 1 {
			gone := rng.IntN(m)
			prev := byMember(m, got)
			rest := append(append([][]int32{}, prev[:gone]...), prev[gone+1:]...)
			after := assignNumbers(n, rest)
			checkBalanced(t, n, m-1, after)
			moved := 0
			for p, i := range after {
				was := got[p]
				if was == gone {
					continue
				}
				if was > gone {
					was--
				}
				if was != i {
					moved++
				}
			}
			if moved > m-1 {
				t.Fatalf("n=%d m=%d: member %d left and %d other partitions moved", n, m, gone, moved)
			}
		}
	}
}

func checkBalanced(t *testing.T, n, m int, owner []int) {
	t.Helper()
	if len(owner) != n {
		t.Fatalf("%d owners for %d partitions", len(owner), n)
	}
	count := make([]int, m)
	for p, i := range owner {
		if i < 0 || i >= m {
			t.Fatalf("partition %d has no member (%d)", p, i)
		}
		count[i]++
	}
	for i, c := range count {
		if c != n/m && c != n/m+1 {
			t.Fatalf("n=%d m=%d: member %d holds %d partitions: %v", n, m, i, c, count)
		}
	}
}

func byMember(m int, owner []int) [][]int32 {
	out := make([][]int32, m)
	for p, i := range owner {
		out[i] = append(out[i], int32(p))
	}
	return out
}

// Rule: through kgo's balancing API, partition p of every topic goes to one
// member (the join's co-partitioning), and a partition that moves between
// members is first left unassigned for one round (cooperative protocol:
// its owner revokes it, snapshots and commits, then it is assigned).
func TestCoPartitionedBalancer_KeepsTopicsTogether(t *testing.T) {
	topics := map[string]int32{"reminders": 6, "payments": 6, "invoices": 6}
	interests := []string{"invoices", "payments", "reminders"}
	bal := CoPartitionedBalancer()
	member := func(id string, owned map[string][]int32) kmsg.JoinGroupResponseMember {
		m := kmsg.NewJoinGroupResponseMember()
		m.MemberID = id
		m.ProtocolMetadata = bal.JoinGroupMetadata(interests, owned, 1)
		return m
	}
	plan := func(members ...kmsg.JoinGroupResponseMember) map[string]map[string][]int32 {
		mb, _, err := bal.MemberBalancer(members)
		if err != nil {
			t.Fatal(err)
		}
		be, ok := mb.(kgo.GroupMemberBalancerOrError)
		if !ok {
			t.Fatalf("%T cannot report balancing errors", mb)
		}
		a, err := be.BalanceOrError(topics)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]map[string][]int32{}
		sync := a.IntoSyncAssignment()
		for _, s := range sync {
			got, err := bal.ParseSyncAssignment(s.MemberAssignment)
			if err != nil {
				t.Fatal(err)
			}
			for tp := range got {
				slices.Sort(got[tp])
			}
			out[s.MemberID] = got
		}
		return out
	}
	together := func(p map[string]map[string][]int32) {
		t.Helper()
		for id, a := range p {
			if !slices.Equal(a["reminders"], a["payments"]) || !slices.Equal(a["reminders"], a["invoices"]) {
				t.Fatalf("member %s holds different partitions per topic: %v", id, a)
			}
		}
	}

	// First join: nothing owned, two members share the six numbers.
	p1 := plan(member("a", nil), member("b", nil))
	together(p1)
	if len(p1["a"]["reminders"])+len(p1["b"]["reminders"]) != 6 || len(p1["a"]["reminders"]) != 3 {
		t.Fatalf("first assignment %v, want 3 + 3", p1)
	}
	// A third member joins: the two old ones keep what they own except
	// what must move, and what moves is assigned to nobody in this round.
	p2 := plan(member("a", p1["a"]), member("b", p1["b"]), member("c", nil))
	together(p2)
	if len(p2["c"]["reminders"]) != 0 {
		t.Fatalf("partitions given to the new member in the same round they are revoked: %v", p2["c"])
	}
	for _, id := range []string{"a", "b"} {
		if len(p2[id]["reminders"]) != 2 {
			t.Fatalf("member %s keeps %v, want 2 partitions", id, p2[id]["reminders"])
		}
		for _, p := range p2[id]["reminders"] {
			if !slices.Contains(p1[id]["reminders"], p) {
				t.Fatalf("member %s was given partition %d it did not own while another revokes", id, p)
			}
		}
	}
	// Next round, after the revocations: the new member gets the two freed.
	p3 := plan(member("a", p2["a"]), member("b", p2["b"]), member("c", nil))
	together(p3)
	if len(p3["c"]["reminders"]) != 2 {
		t.Fatalf("second round gives the new member %v, want 2 partitions", p3["c"])
	}
}
