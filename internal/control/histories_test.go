package control

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/meridiandb/meridian/internal/session"
	"github.com/stretchr/testify/require"
)

// The §5.5 histories as planning inputs. Partition 0 throughout;
// c1@A Wr(x,1) is LSN 5 with session token 1#5.

// failOver runs Fence, ChooseTarget, Plan and Promote (at SafeAt) and
// returns the plan.
func failOver(t *testing.T, s *State, deposed string, surv map[string]RegionProgress) (string, map[uint64]PartPlan) {
	t.Helper()
	res := mustApply(t, s, Fence{Epoch: s.Epoch + 1, Deposed: deposed, Reason: deposed + " destroyed", At: at(1)})
	target, plan, err := ChooseTarget(s, surv, false)
	require.NoError(t, err)
	mustApply(t, s, Plan{Epoch: s.Epoch, Target: target, Partitions: plan, At: at(2)})
	start := map[uint64]int64{}
	for p, pp := range plan {
		start[p] = pp.TargetLSN + 1
	}
	mustApply(t, s, Promote{Epoch: s.Epoch, Target: target, StartLSN: start, At: res.SafeAt})
	return target, plan
}

var x1 = session.Token{Version: 1, GlobalLSN: 5} // c1@A Wr(x,1) -> ok τ

// FO-A1: the write synced to B survives A's loss.
func TestFOA1SyncedWriteSurvives(t *testing.T) {
	s := newABC(t)
	// c2@B SyncRead(x, τ) succeeded: B holds LSN 5 durably; C lags at 3.
	target, plan := failOver(t, s, "A", map[string]RegionProgress{"B": prog(2, 1, 0, 5), "C": prog(2, 1, 0, 3)})
	require.Equal(t, "B", target)
	require.Equal(t, map[uint64]PartPlan{0: {5, "B"}}, plan)
	// Rd(x) anywhere after quiescence -> 1: every region serves τ once it
	// has caught up, and waits (never answers ⊥) before.
	require.Equal(t, Serve, TokenVerdict(s.History, 0, x1, 5, 2)) // B
	require.Equal(t, Wait, TokenVerdict(s.History, 0, x1, 3, 2))  // C, catching up
	require.Equal(t, Serve, TokenVerdict(s.History, 0, x1, 9, 2)) // C, after new writes
	// A region that has not adopted epoch 2 still serves τ (it is below
	// epoch 1's commit point) but waits for tokens of B's new writes.
	require.Equal(t, Serve, TokenVerdict(s.History, 0, x1, 5, 1))
	require.Equal(t, Future, TokenVerdict(s.History, 0, session.Token{Version: 2, GlobalLSN: 6}, 5, 1))
}

// FO-F1: the failover must not promote the lagging C without first
// catching it up to B's max, nor make a plan that leaves x=1 behind.
func TestFOF1LaggingPreferredRegionCatchesUp(t *testing.T) {
	cPreferred := func(t testing.TB) *State {
		s, err := New(Config{Regions: []RegionSpec{{"A", 1, 0}, {"C", 3, 10}, {"B", 2, 20}}, Consistency: ConsistencyPolicy{Level: "Session"}, Lease: lease, At: t0})
		require.NoError(t, err)
		mustApply(t, s, Fence{Epoch: 2, Deposed: "A", At: at(1)})
		return s
	}
	surv := map[string]RegionProgress{"B": prog(2, 1, 0, 5), "C": prog(2, 1, 0, 3)}

	s := cPreferred(t)
	target, plan, err := ChooseTarget(s, surv, false)
	require.NoError(t, err)
	require.Equal(t, "C", target, "priority decides the target")
	require.Equal(t, map[uint64]PartPlan{0: {5, "B"}}, plan, "C catches up from B to 5 before it writes")

	// Without B's report there is no safe plan at all.
	_, _, err = ChooseTarget(s, map[string]RegionProgress{"C": prog(2, 1, 0, 3)}, false)
	requireIs(t, err, ErrUnsafe)
	require.Contains(t, err.Error(), `cannot fail over safely: region "B" has not reported`)
	// Nor with a report B sent before it adopted the fence (not final).
	_, _, err = ChooseTarget(s, map[string]RegionProgress{"B": prog(1, 1, 0, 5), "C": prog(2, 1, 0, 3)}, false)
	requireIs(t, err, ErrUnsafe)

	// A Promote that would start C's writes at 4 (over x=1) is refused.
	mustApply(t, s, Plan{Epoch: 2, Target: target, Partitions: plan, At: at(2)})
	_, err = s.Apply(Promote{Epoch: 2, Target: "C", StartLSN: map[uint64]int64{0: 4}, At: at(12)})
	requireIs(t, err, ErrUnsafe)
	mustApply(t, s, Promote{Epoch: 2, Target: "C", StartLSN: map[uint64]int64{0: 6}, At: at(12)})
	// B never truncates x=1: nothing of B's log diverges.
	_, _, ok := Divergence(s.History, 0, 1, 5)
	require.False(t, ok)
	require.Equal(t, Serve, TokenVerdict(s.History, 0, x1, 5, 2))

	// Exhaustively: whatever the priorities and lags, a plan's target LSN
	// is the max durable LSN of the survivors.
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		s, err := New(Config{Regions: []RegionSpec{{"A", 1, 0}, {"B", 2, 1 + rng.IntN(5)}, {"C", 3, 10 + rng.IntN(5)}, {"D", 4, 20 + rng.IntN(5)}},
			Consistency: ConsistencyPolicy{Level: "Session"}, Lease: lease, At: t0})
		require.NoError(t, err)
		mustApply(t, s, Fence{Epoch: 2, Deposed: "A"})
		surv := map[string]RegionProgress{}
		var maxLSN int64
		for _, r := range []string{"B", "C", "D"} {
			l := int64(rng.IntN(10))
			maxLSN = max(maxLSN, l)
			surv[r] = prog(2, 1, 0, l)
		}
		_, plan, err := ChooseTarget(s, surv, false)
		require.NoError(t, err, "case %d", i)
		require.Equal(t, maxLSN, plan[0].TargetLSN, "case %d", i)
		require.Equal(t, maxLSN, surv[plan[0].Source].Partitions[0].Durable, "the source holds the max")
	}
}

// FO-A2: an unsynced write is lost within the RPO; its token is
// rejected, never answered with older data.
func TestFOA2UnsyncedWriteLost(t *testing.T) {
	s := newABC(t)
	x2 := session.Token{Version: 1, GlobalLSN: 6} // c1@A Wr(x,2), only in A
	_, plan := failOver(t, s, "A", map[string]RegionProgress{"B": prog(2, 1, 0, 5), "C": prog(2, 1, 0, 5)})
	require.Equal(t, int64(5), plan[0].TargetLSN)
	for _, applied := range []int64{5, 6, 50} {
		require.Equal(t, Lost, TokenVerdict(s.History, 0, x2, applied, 2), "a token covering x=2 never reads 1")
	}
	require.Equal(t, Serve, TokenVerdict(s.History, 0, x1, 5, 2))
}

// FO-F2: when A returns, x=2 does not reappear silently; it is removed and
// accounted for (conflict feed), and its token keeps failing.
func TestFOF2ReturningRegionDoesNotResurrect(t *testing.T) {
	s := newABC(t)
	x2 := session.Token{Version: 1, GlobalLSN: 6}
	// A is reachable again but deposed and has not adopted the fence (its
	// progress is of epoch 1): its report is ignored. (Had it reported at
	// the fenced epoch before the promotion, it would have been a catch-up
	// source and x=2 would have survived: TestDeposedBackBeforePromotion.)
	_, plan := failOver(t, s, "A", map[string]RegionProgress{"A": prog(1, 1, 0, 6), "B": prog(2, 1, 0, 5), "C": prog(2, 1, 0, 5)})
	require.NotEqual(t, "A", plan[0].Source)
	require.Equal(t, int64(5), plan[0].TargetLSN)

	// A, back with x=2 at LSN 6 (epoch 1), serves nothing before it rolls back.
	require.Equal(t, Diverged, TokenVerdict(s.History, 0, x2, 6, 1))
	require.Equal(t, Diverged, TokenVerdict(s.History, 0, session.Token{}, 6, 1))
	from, to, ok := Divergence(s.History, 0, 1, 6)
	require.True(t, ok)
	require.Equal(t, [2]int64{6, 6}, [2]int64{from, to})

	_, err := s.Apply(SetRegionStatus{Region: "A", Status: StatusHealthy})
	requireIs(t, err, ErrTransition)
	mustApply(t, s, Rejoin{Region: "A", Epoch: 2, Truncated: map[uint64]LSNRange{0: {from, to}}, At: at(60)})
	require.Equal(t, int64(1), s.Past[0].LostWrites())
	_, err = s.Apply(Rejoin{Region: "A", Epoch: 2, Truncated: map[uint64]LSNRange{0: {from, to}}})
	requireIs(t, err, ErrTransition) // published once

	// Rolled back and following B: x=2's token is still rejected.
	require.Equal(t, Lost, TokenVerdict(s.History, 0, x2, 5, 2))
	require.Equal(t, Lost, TokenVerdict(s.History, 0, x2, 7, 2))
}

// FO-F3: after the failover to B, A never accepts writes again in any
// epoch it could claim.
func TestFOF3NoSplitBrain(t *testing.T) {
	s := newABC(t)
	res := mustApply(t, s, Fence{Epoch: 2, Deposed: "A", At: at(1)})
	mustApply(t, s, Plan{Epoch: 2, Target: "B", Partitions: map[uint64]PartPlan{0: {5, "B"}}, At: at(2)})
	// B may not start writing while A's lease may still be live.
	_, err := s.Apply(Promote{Epoch: 2, Target: "B", StartLSN: map[uint64]int64{0: 6}, At: res.SafeAt.Add(-1)})
	requireIs(t, err, ErrUnsafe)
	mustApply(t, s, Promote{Epoch: 2, Target: "B", StartLSN: map[uint64]int64{0: 6}, At: res.SafeAt})
	w, _ := s.Writer(2)
	require.Equal(t, "B", w)
	// A cannot be promoted, re-fence its way back, or take epoch 2.
	for _, c := range []Command{
		Promote{Epoch: 2, Target: "A", StartLSN: map[uint64]int64{0: 6}, At: at(99)},
		Promote{Epoch: 3, Target: "A", StartLSN: map[uint64]int64{0: 6}, At: at(99)},
		Fence{Epoch: 2, Deposed: "B", At: at(99)},
		Fence{Epoch: 3, Deposed: "A", At: at(99)},
		ManualFailover{Target: "A", At: at(99)}, // A is fenced out: not every region is healthy
		SetRegionStatus{Region: "A", Status: StatusHealthy},
	} {
		_, err := s.Apply(c)
		require.Error(t, err, "%T %+v", c, c)
	}
	// Even through a later failover, A is never a candidate until it rejoins.
	mustApply(t, s, Fence{Epoch: 3, Deposed: "B", At: at(100)})
	target, _, err := ChooseTarget(s, map[string]RegionProgress{"A": prog(3, 1, 0, 9), "C": prog(3, 2, 0, 7)}, false)
	require.NoError(t, err)
	require.Equal(t, "C", target)
}

// FO-F4: Strong: a write is acknowledged only once every region holds it
// durably, so after losing any one region the plan keeps every
// acknowledged write.
func TestFOF4StrongKeepsAcknowledgedWrites(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	names := []string{"A", "B", "C", "D", "E"}
	for i := range 1000 {
		var specs []RegionSpec
		for j, n := range names {
			specs = append(specs, RegionSpec{Name: n, ID: uint32(j + 1), Priority: j})
		}
		s, err := New(Config{Regions: specs, Consistency: ConsistencyPolicy{Level: "Strong"}, Lease: lease, At: t0})
		require.NoError(t, err)
		acked := int64(rng.IntN(50)) // the last acknowledged LSN
		head := acked + int64(rng.IntN(3))
		lost := names[rng.IntN(len(names))]
		if lost != "A" {
			// Losing a read region needs no failover; lose A afterwards.
			mustApply(t, s, SetRegionStatus{Region: lost, Status: StatusSuspected})
		}
		mustApply(t, s, Fence{Epoch: 2, Deposed: "A"})
		surv := map[string]RegionProgress{}
		for _, n := range names[1:] {
			// Every region has every acknowledged write, plus maybe some
			// of the in-flight ones.
			surv[n] = prog(2, 1, 0, acked+int64(rng.IntN(int(head-acked)+1)))
		}
		_, plan, err := ChooseTarget(s, surv, false)
		require.NoError(t, err, fmt.Sprintf("case %d", i))
		require.GreaterOrEqual(t, plan[0].TargetLSN, acked)
	}
}

// FO-A3: a planned manual failover with every region healthy loses
// nothing, at any level.
func TestFOA3ManualFailoverLosesNothing(t *testing.T) {
	for _, lvl := range []string{"Strong", "BoundedStaleness", "Session", "ConsistentPrefix", "Eventual"} {
		t.Run(lvl, func(t *testing.T) {
			s := newABC(t)
			mustApply(t, s, SetConsistency{Policy: ConsistencyPolicy{Level: lvl, MaxStalenessPrefix: 10, MaxIntervalSeconds: 5}})
			mustApply(t, s, ManualFailover{Target: "B", At: at(1)})
			require.Equal(t, "A", s.WriteRegion, "A writes until the fence")
			res := mustApply(t, s, Fence{Epoch: 2, Deposed: "A", Planned: true, At: at(2)})
			// A adopted epoch 2 and reports its final heads: 20 and 3.
			target, plan, err := DrainPlan(s, prog(2, 1, 0, 20, 1, 3))
			require.NoError(t, err)
			require.Equal(t, "B", target)
			mustApply(t, s, Plan{Epoch: 2, Target: target, Partitions: plan, Drained: true, At: at(3)})
			// No lease wait: A acknowledged the fence.
			mustApply(t, s, Promote{Epoch: 2, Target: "B", StartLSN: map[uint64]int64{0: 21, 1: 4}, At: res.SafeAt.Add(-5 * 1e9)})
			require.Equal(t, "B", s.WriteRegion)
			for l := int64(1); l <= 20; l++ {
				require.NotEqual(t, Lost, TokenVerdict(s.History, 0, session.Token{Version: 1, GlobalLSN: l}, 20, 2))
			}
			a, _ := s.Region("A")
			require.Equal(t, StatusHealthy, a.Status, "A stays a healthy read region")
			require.Zero(t, s.Past[0].LostWrites())
			// Manual failover while a region is unreachable is refused.
			mustApply(t, s, SetRegionStatus{Region: "C", Status: StatusSuspected})
			_, err = s.Apply(ManualFailover{Target: "A"})
			requireIs(t, err, ErrUnsafe)
		})
	}
}

// A deposed region that comes back during the fenced failover and reports
// at the fenced epoch (it restarted, so it stopped writing) is a catch-up
// source: its writes no survivor had are kept, and nothing is lost.
func TestDeposedBackBeforePromotion(t *testing.T) {
	s := newABC(t)
	res := mustApply(t, s, Fence{Epoch: 2, Deposed: "A", Reason: "A destroyed", At: at(1)})
	surv := map[string]RegionProgress{"A": prog(2, 1, 0, 6), "B": prog(2, 1, 0, 0), "C": prog(2, 1, 0, 0)}
	for name, rp := range surv {
		mustApply(t, s, Report{Region: name, Progress: rp, At: at(2)})
	}
	target, plan, err := ChooseTarget(s, s.Failover.Reports, false)
	require.NoError(t, err)
	require.Equal(t, "B", target, "the deposed region is never the target")
	require.Equal(t, PartPlan{TargetLSN: 6, Source: "A"}, plan[0])
	mustApply(t, s, Plan{Epoch: 2, Target: target, Partitions: plan, At: at(3)})
	mustApply(t, s, Promote{Epoch: 2, Target: target, StartLSN: map[uint64]int64{0: 7}, At: res.SafeAt})
	_, _, diverged := Divergence(s.History, 0, 1, 6)
	require.False(t, diverged, "A holds nothing the failover removed")

	// Without its report at the fenced epoch it cannot be a source.
	s = newABC(t)
	mustApply(t, s, Fence{Epoch: 2, Deposed: "A", At: at(1)})
	_, err = s.Apply(Plan{Epoch: 2, Target: "B", Partitions: map[uint64]PartPlan{0: {6, "A"}}, At: at(3)})
	requireIs(t, err, ErrUnsafe)
}

// Every other region fenced out by earlier failovers: no failover of the
// write region could promote anyone, so the driver must not start one.
func TestNoTakeoverWhenEveryOtherRegionIsFencedOut(t *testing.T) {
	s := newABC(t)
	require.True(t, HasTakeover(s))
	failOver(t, s, "A", map[string]RegionProgress{"B": prog(2, 1, 0, 5), "C": prog(2, 1, 0, 5)})
	require.Equal(t, "B", s.WriteRegion)
	require.True(t, HasTakeover(s), "C is healthy")
	failOver(t, s, "B", map[string]RegionProgress{"C": prog(3, 1, 0, 5)})
	require.Equal(t, "C", s.WriteRegion)
	require.False(t, HasTakeover(s), "A and B are fenced out and have not rejoined")
}
