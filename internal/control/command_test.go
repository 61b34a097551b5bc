package control

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type cmdCase struct {
	name  string
	setup func(testing.TB) *State
	cmds  []Command // all but the last must succeed
	err   error     // sentinel the last command's error wraps; nil = success
	check func(t *testing.T, s *State, res Result)
}

func runCases(t *testing.T, cases []cmdCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.setup(t)
			for _, c := range tc.cmds[:len(tc.cmds)-1] {
				mustApply(t, s, c)
			}
			before := snap(t, s)
			res, err := s.Apply(tc.cmds[len(tc.cmds)-1])
			if tc.err != nil {
				requireIs(t, err, tc.err)
				require.Equal(t, before, snap(t, s), "a refused command must leave the state unchanged")
				return
			}
			require.NoError(t, err)
			require.NoError(t, s.CheckInvariants())
			if tc.check != nil {
				tc.check(t, s, res)
			}
		})
	}
}

func one(c ...Command) []Command { return c }

func TestFence(t *testing.T) {
	runCases(t, []cmdCase{
		{name: "deposes the write region", setup: newABC, cmds: one(Fence{Epoch: 2, Deposed: "A", Reason: "lost", At: at(1)}),
			check: func(t *testing.T, s *State, res Result) {
				require.Equal(t, int64(2), s.Epoch)
				require.Equal(t, "", s.WriteRegion)
				require.Equal(t, Result{Kind: KindFence, Epoch: 2, Phase: PhaseFenced, SafeAt: at(12)}, res)
				r, _ := s.Region("A")
				require.Equal(t, StatusFencedOut, r.Status)
				require.Equal(t, &Failover{Kind: Automatic, Phase: PhaseFenced, Epoch: 2, Deposed: "A", Reason: "lost", FencedAt: at(1), SafeAt: at(12)}, s.Failover)
			}},
		{name: "region names compare canonically", setup: newABC, cmds: one(Fence{Epoch: 2, Deposed: " a ", At: at(1)}),
			check: func(t *testing.T, s *State, _ Result) { require.Equal(t, "A", s.Failover.Deposed) }},
		{name: "same epoch as current", setup: newABC, cmds: one(Fence{Epoch: 1, Deposed: "A"}), err: ErrStaleEpoch},
		{name: "skips an epoch", setup: newABC, cmds: one(Fence{Epoch: 3, Deposed: "A"}), err: ErrStaleEpoch},
		{name: "second of two racing fences", setup: newABC, cmds: one(Fence{Epoch: 2, Deposed: "A", Reason: "detector 1"}, Fence{Epoch: 2, Deposed: "A", Reason: "detector 2"}), err: ErrStaleEpoch},
		{name: "deposed is not the write region", setup: newABC, cmds: one(Fence{Epoch: 2, Deposed: "B"}), err: ErrStaleEpoch},
		{name: "unknown region", setup: newABC, cmds: one(Fence{Epoch: 2, Deposed: "Z"}), err: ErrInvalid},
		{name: "during a fenced failover", setup: fenced, cmds: one(Fence{Epoch: 3, Deposed: "A"}), err: ErrTransition},
		{name: "planned without a manual request", setup: newABC, cmds: one(Fence{Epoch: 2, Deposed: "A", Planned: true}), err: ErrTransition},
		{name: "planned fence of a manual failover keeps the old region healthy", setup: manualRequested, cmds: one(Fence{Epoch: 2, Deposed: "A", Planned: true, At: at(2)}),
			check: func(t *testing.T, s *State, _ Result) {
				r, _ := s.Region("A")
				require.Equal(t, StatusHealthy, r.Status)
				require.Equal(t, Manual, s.Failover.Kind)
				require.Equal(t, "C", s.Failover.Target)
				require.Equal(t, at(1), s.Failover.RequestedAt)
			}},
		{name: "write region lost during a manual request: becomes automatic", setup: manualRequested, cmds: one(Fence{Epoch: 2, Deposed: "A", At: at(2)}),
			check: func(t *testing.T, s *State, _ Result) {
				require.Equal(t, Automatic, s.Failover.Kind)
				require.Equal(t, "C", s.Failover.Superseded)
				require.Equal(t, "", s.Failover.Target)
				r, _ := s.Region("A")
				require.Equal(t, StatusFencedOut, r.Status)
			}},
		{name: "after a completed failover, fences the new write region", setup: failedOver, cmds: one(Fence{Epoch: 3, Deposed: "B", At: at(20)}),
			check: func(t *testing.T, s *State, _ Result) { require.Equal(t, "B", s.Failover.Deposed) }},
		{name: "after a completed failover, a stale fence of the old region", setup: failedOver, cmds: one(Fence{Epoch: 3, Deposed: "A"}), err: ErrStaleEpoch},
		{name: "multi-write account", setup: func(t testing.TB) *State {
			s, err := New(Config{Regions: []RegionSpec{{"A", 1, 0}, {"B", 2, 1}}, MultiWrite: true, Consistency: ConsistencyPolicy{Level: "Session"}, Lease: lease})
			require.NoError(t, err)
			return s
		}, cmds: one(Fence{Epoch: 2, Deposed: "A"}), err: ErrTransition},
	})
}

func TestPlan(t *testing.T) {
	p := func(pp map[uint64]PartPlan) Plan { return Plan{Epoch: 2, Target: "B", Partitions: pp, At: at(2)} }
	runCases(t, []cmdCase{
		{name: "records the plan", setup: fenced, cmds: one(p(map[uint64]PartPlan{0: {15, "C"}})),
			check: func(t *testing.T, s *State, res Result) {
				require.Equal(t, PhaseCatchingUp, res.Phase)
				require.Equal(t, "B", s.Failover.Target)
				require.Equal(t, map[uint64]PartPlan{0: {15, "C"}}, s.Failover.Plan)
				require.Equal(t, at(2), s.Failover.PlannedAt)
			}},
		{name: "without a fence", setup: newABC, cmds: one(p(map[uint64]PartPlan{0: {15, "B"}})), err: ErrTransition},
		{name: "during a requested (unfenced) manual failover", setup: manualRequested, cmds: one(p(map[uint64]PartPlan{0: {15, "A"}})), err: ErrTransition},
		{name: "wrong epoch", setup: fenced, cmds: one(Plan{Epoch: 3, Target: "B", Partitions: map[uint64]PartPlan{0: {15, "B"}}}), err: ErrStaleEpoch},
		{name: "target is the deposed region", setup: fenced, cmds: one(Plan{Epoch: 2, Target: "A", Partitions: map[uint64]PartPlan{0: {15, "B"}}}), err: ErrUnsafe},
		{name: "target is not healthy", setup: fenced, cmds: one(SetRegionStatus{Region: "B", Status: StatusSuspected}, p(map[uint64]PartPlan{0: {15, "B"}})), err: ErrUnsafe},
		{name: "unknown target", setup: fenced, cmds: one(Plan{Epoch: 2, Target: "Z", Partitions: map[uint64]PartPlan{0: {15, "B"}}}), err: ErrInvalid},
		{name: "unknown source", setup: fenced, cmds: one(p(map[uint64]PartPlan{0: {15, "Z"}})), err: ErrInvalid},
		{name: "deposed region as source of an automatic failover", setup: fenced, cmds: one(p(map[uint64]PartPlan{0: {15, "A"}})), err: ErrUnsafe},
		{name: "negative target LSN", setup: fenced, cmds: one(p(map[uint64]PartPlan{0: {-1, "B"}})), err: ErrInvalid},
		{name: "no partitions (no containers) is a valid plan", setup: fenced, cmds: one(p(nil))},
		{name: "drained plan of an automatic failover", setup: fenced, cmds: one(Plan{Epoch: 2, Target: "B", Drained: true, Partitions: map[uint64]PartPlan{0: {15, "A"}}}), err: ErrTransition},
		{name: "forced without naming what it gave up", setup: fenced, cmds: one(Plan{Epoch: 2, Target: "B", Forced: true, Partitions: map[uint64]PartPlan{0: {15, "B"}}}), err: ErrInvalid},
		{name: "forced names unknown region", setup: fenced, cmds: one(Plan{Epoch: 2, Target: "B", Forced: true, Unreported: []string{"Z"}, Partitions: map[uint64]PartPlan{0: {15, "B"}}}), err: ErrInvalid},
		{name: "forced is recorded", setup: fenced, cmds: one(Plan{Epoch: 2, Target: "B", Forced: true, Unreported: []string{"c"}, Partitions: map[uint64]PartPlan{0: {15, "B"}}}),
			check: func(t *testing.T, s *State, _ Result) {
				require.True(t, s.Failover.Forced)
				require.Equal(t, []string{"C"}, s.Failover.Unreported)
			}},
		{name: "re-plan with the same commit points", setup: planned, cmds: one(Plan{Epoch: 2, Target: "C", Partitions: map[uint64]PartPlan{0: {15, "B"}, 1: {7, "C"}}}),
			check: func(t *testing.T, s *State, _ Result) {
				require.Equal(t, 1, s.Failover.Replans)
				require.Equal(t, "C", s.Failover.Target)
			}},
		{name: "re-plan lowers a commit point", setup: planned, cmds: one(Plan{Epoch: 2, Target: "C", Partitions: map[uint64]PartPlan{0: {14, "C"}, 1: {7, "C"}}}), err: ErrUnsafe},
		{name: "re-plan drops a partition", setup: planned, cmds: one(Plan{Epoch: 2, Target: "C", Partitions: map[uint64]PartPlan{0: {15, "B"}}}), err: ErrUnsafe},
		{name: "below the commit point of an earlier failover", setup: failedOver,
			cmds: one(Fence{Epoch: 3, Deposed: "B"}, Plan{Epoch: 3, Target: "C", Partitions: map[uint64]PartPlan{0: {14, "C"}, 1: {7, "C"}}}), err: ErrUnsafe},
		{name: "forced below an earlier commit point is accounted", setup: failedOver,
			cmds: one(Fence{Epoch: 3, Deposed: "B"}, Plan{Epoch: 3, Target: "C", Forced: true, Unreported: []string{"B"}, Partitions: map[uint64]PartPlan{0: {12, "C"}, 1: {7, "C"}}}),
			check: func(t *testing.T, s *State, _ Result) {
				require.Equal(t, map[uint64]LSNRange{0: {13, 15}}, s.Failover.BelowCommit)
				require.Equal(t, int64(3), s.Failover.LostWrites())
			}},
	})
}

func TestPromote(t *testing.T) {
	start := map[uint64]int64{0: 16, 1: 8}
	runCases(t, []cmdCase{
		{name: "promotes the planned target", setup: planned, cmds: one(Promote{Epoch: 2, Target: "B", StartLSN: start, At: at(12)}),
			check: func(t *testing.T, s *State, res Result) {
				require.Equal(t, Result{Kind: KindPromote, Epoch: 2, WriteRegion: "B", Phase: PhasePromoted}, res)
				require.Nil(t, s.Failover)
				require.Equal(t, History{0: {{2, 16}}, 1: {{2, 8}}}, s.History)
				require.Equal(t, []Term{{1, "A", t0}, {2, "B", at(12)}}, s.Terms)
				require.Len(t, s.Past, 1)
				require.Equal(t, PhasePromoted, s.Past[0].Phase)
				require.Equal(t, at(12), s.Past[0].PromotedAt)
				a, _ := s.Region("A")
				require.Equal(t, StatusFencedOut, a.Status)
			}},
		{name: "without any fence", setup: newABC, cmds: one(Promote{Epoch: 2, Target: "B", StartLSN: start, At: at(12)}), err: ErrTransition},
		{name: "of an epoch that was not fenced", setup: planned, cmds: one(Promote{Epoch: 3, Target: "B", StartLSN: start, At: at(12)}), err: ErrStaleEpoch},
		{name: "fenced but not planned", setup: fenced, cmds: one(Promote{Epoch: 2, Target: "B", StartLSN: start, At: at(12)}), err: ErrTransition},
		{name: "of the deposed region", setup: planned, cmds: one(Promote{Epoch: 2, Target: "A", StartLSN: start, At: at(12)}), err: ErrUnsafe},
		{name: "of another region than the plan's", setup: planned, cmds: one(Promote{Epoch: 2, Target: "C", StartLSN: start, At: at(12)}), err: ErrUnsafe},
		{name: "start below the commit point", setup: planned, cmds: one(Promote{Epoch: 2, Target: "B", StartLSN: map[uint64]int64{0: 15, 1: 8}, At: at(12)}), err: ErrUnsafe},
		{name: "start above the commit point", setup: planned, cmds: one(Promote{Epoch: 2, Target: "B", StartLSN: map[uint64]int64{0: 17, 1: 8}, At: at(12)}), err: ErrUnsafe},
		{name: "missing partition", setup: planned, cmds: one(Promote{Epoch: 2, Target: "B", StartLSN: map[uint64]int64{0: 16}, At: at(12)}), err: ErrInvalid},
		{name: "extra partition", setup: planned, cmds: one(Promote{Epoch: 2, Target: "B", StartLSN: map[uint64]int64{0: 16, 2: 1}, At: at(12)}), err: ErrInvalid},
		{name: "before the deposed region's lease certainly expired", setup: planned, cmds: one(Promote{Epoch: 2, Target: "B", StartLSN: start, At: at(12).Add(-time.Nanosecond)}), err: ErrUnsafe},
		{name: "target turned suspect after the plan", setup: planned, cmds: one(SetRegionStatus{Region: "B", Status: StatusSuspected}, Promote{Epoch: 2, Target: "B", StartLSN: start, At: at(12)}), err: ErrUnsafe},
		{name: "a second promote of the same epoch", setup: failedOver, cmds: one(Promote{Epoch: 2, Target: "C", StartLSN: start, At: at(12)}), err: ErrTransition},
		{name: "drained manual failover needs no lease wait and keeps the old region healthy", setup: manualRequested,
			cmds: one(Fence{Epoch: 2, Deposed: "A", Planned: true, At: at(2)},
				Plan{Epoch: 2, Target: "C", Drained: true, Partitions: map[uint64]PartPlan{0: {20, "A"}}, At: at(2)},
				Promote{Epoch: 2, Target: "C", StartLSN: map[uint64]int64{0: 21}, At: at(3)}),
			check: func(t *testing.T, s *State, _ Result) {
				require.Equal(t, "C", s.WriteRegion)
				a, _ := s.Region("A")
				require.Equal(t, StatusHealthy, a.Status)
				require.Equal(t, Manual, s.Past[0].Kind)
				require.Zero(t, s.Past[0].LostWrites())
			}},
		{name: "undrained manual failover fences the old region out", setup: manualRequested,
			cmds: one(Fence{Epoch: 2, Deposed: "A", Planned: true, At: at(2)},
				Plan{Epoch: 2, Target: "C", Partitions: map[uint64]PartPlan{0: {20, "B"}}, At: at(2)},
				Promote{Epoch: 2, Target: "C", StartLSN: map[uint64]int64{0: 21}, At: at(13)}),
			check: func(t *testing.T, s *State, _ Result) {
				a, _ := s.Region("A")
				require.Equal(t, StatusFencedOut, a.Status)
			}},
	})
}

func TestManualAndCancel(t *testing.T) {
	runCases(t, []cmdCase{
		{name: "records intent; the write region keeps writing", setup: newABC, cmds: one(ManualFailover{Target: "c", At: at(1)}),
			check: func(t *testing.T, s *State, res Result) {
				require.Equal(t, "A", s.WriteRegion)
				require.Equal(t, PhaseRequested, res.Phase)
				require.Equal(t, &Failover{Kind: Manual, Phase: PhaseRequested, Deposed: "A", Target: "C", RequestedAt: at(1), Reason: "manual failover to C"}, s.Failover)
			}},
		{name: "to the write region", setup: newABC, cmds: one(ManualFailover{Target: "A"}), err: ErrInvalid},
		{name: "to an unknown region", setup: newABC, cmds: one(ManualFailover{Target: "Z"}), err: ErrInvalid},
		{name: "with a region unreachable", setup: newABC, cmds: one(SetRegionStatus{Region: "B", Status: StatusSuspected}, ManualFailover{Target: "C"}), err: ErrUnsafe},
		{name: "while another is in progress", setup: manualRequested, cmds: one(ManualFailover{Target: "B"}), err: ErrTransition},
		{name: "during an automatic failover", setup: fenced, cmds: one(ManualFailover{Target: "B"}), err: ErrTransition},
		{name: "cancel a requested failover", setup: manualRequested, cmds: one(CancelFailover{Reason: "changed my mind", At: at(2)}),
			check: func(t *testing.T, s *State, _ Result) {
				require.Nil(t, s.Failover)
				require.Equal(t, "A", s.WriteRegion)
				require.Equal(t, PhaseCancelled, s.Past[0].Phase)
				require.Equal(t, int64(1), s.Epoch)
			}},
		{name: "cancel after the fence", setup: fenced, cmds: one(CancelFailover{}), err: ErrTransition},
		{name: "cancel with nothing in progress", setup: newABC, cmds: one(CancelFailover{}), err: ErrTransition},
	})
}

func TestSetRegionStatus(t *testing.T) {
	runCases(t, []cmdCase{
		{name: "suspect a read region", setup: newABC, cmds: one(SetRegionStatus{Region: "B", Status: StatusSuspected, At: at(3)}),
			check: func(t *testing.T, s *State, _ Result) {
				r, _ := s.Region("B")
				require.Equal(t, Region{Name: "B", ID: 2, Priority: 10, Status: StatusSuspected, Since: at(3)}, r)
			}},
		{name: "suspect the write region", setup: newABC, cmds: one(SetRegionStatus{Region: "A", Status: StatusSuspected})},
		{name: "drill of a read region", setup: newABC, cmds: one(SetRegionStatus{Region: "C", Status: StatusOfflineDrill})},
		{name: "drill of the write region", setup: newABC, cmds: one(SetRegionStatus{Region: "A", Status: StatusOfflineDrill}), err: ErrTransition},
		{name: "drill of the failover target", setup: planned, cmds: one(SetRegionStatus{Region: "B", Status: StatusOfflineDrill}), err: ErrTransition},
		{name: "fence out by status", setup: newABC, cmds: one(SetRegionStatus{Region: "B", Status: StatusFencedOut}), err: ErrTransition},
		{name: "heal a fenced-out region without rejoin", setup: failedOver, cmds: one(SetRegionStatus{Region: "A", Status: StatusHealthy}), err: ErrTransition},
		{name: "unknown status", setup: newABC, cmds: one(SetRegionStatus{Region: "B", Status: "Sleepy"}), err: ErrInvalid},
		{name: "unknown region", setup: newABC, cmds: one(SetRegionStatus{Region: "Z", Status: StatusHealthy}), err: ErrInvalid},
	})
}

func TestRejoin(t *testing.T) {
	runCases(t, []cmdCase{
		{name: "records the truncated suffix and heals", setup: failedOver, cmds: one(Rejoin{Region: "A", Epoch: 2, Truncated: map[uint64]LSNRange{0: {16, 20}}, At: at(30)}),
			check: func(t *testing.T, s *State, _ Result) {
				r, _ := s.Region("A")
				require.Equal(t, StatusHealthy, r.Status)
				require.Equal(t, map[uint64]LSNRange{0: {16, 20}}, s.Past[0].Truncated)
				require.Equal(t, int64(5), s.Past[0].LostWrites())
				require.Equal(t, at(30), s.Past[0].RejoinedAt)
			}},
		{name: "nothing to truncate", setup: failedOver, cmds: one(Rejoin{Region: "A", Epoch: 2})},
		{name: "a second rejoin (publication happens once)", setup: failedOver, cmds: one(Rejoin{Region: "A", Epoch: 2, Truncated: map[uint64]LSNRange{0: {16, 20}}}, Rejoin{Region: "A", Epoch: 2, Truncated: map[uint64]LSNRange{0: {16, 20}}}), err: ErrTransition},
		{name: "before adopting the current epoch", setup: failedOver, cmds: one(Rejoin{Region: "A", Epoch: 1}), err: ErrStaleEpoch},
		{name: "a region that is not fenced out", setup: failedOver, cmds: one(Rejoin{Region: "C", Epoch: 2}), err: ErrTransition},
		{name: "suffix does not start after the commit point", setup: failedOver, cmds: one(Rejoin{Region: "A", Epoch: 2, Truncated: map[uint64]LSNRange{0: {15, 20}}}), err: ErrInvalid},
		{name: "empty range", setup: failedOver, cmds: one(Rejoin{Region: "A", Epoch: 2, Truncated: map[uint64]LSNRange{0: {16, 15}}}), err: ErrInvalid},
		{name: "during the next failover", setup: failedOver, cmds: one(Fence{Epoch: 3, Deposed: "B"}, Rejoin{Region: "A", Epoch: 3}), err: ErrTransition},
		{name: "during fencing itself (not yet promoted)", setup: fenced, cmds: one(Rejoin{Region: "A", Epoch: 2}), err: ErrTransition},
	})
}

func TestSetConsistency(t *testing.T) {
	multi := func(t testing.TB) *State {
		s, err := New(Config{Regions: []RegionSpec{{"A", 1, 0}, {"B", 2, 1}}, MultiWrite: true, Consistency: ConsistencyPolicy{Level: "Session"}, Lease: lease})
		require.NoError(t, err)
		return s
	}
	runCases(t, []cmdCase{
		{name: "strong (canonical name)", setup: newABC, cmds: one(SetConsistency{Policy: ConsistencyPolicy{Level: "strong", MaxStalenessPrefix: 5}}),
			check: func(t *testing.T, s *State, _ Result) {
				require.Equal(t, ConsistencyPolicy{Level: "Strong"}, s.Consistency)
			}},
		{name: "bounded staleness with K and T", setup: newABC, cmds: one(SetConsistency{Policy: ConsistencyPolicy{Level: "BoundedStaleness", MaxStalenessPrefix: 100, MaxIntervalSeconds: 5}}),
			check: func(t *testing.T, s *State, _ Result) {
				require.Equal(t, ConsistencyPolicy{"BoundedStaleness", 100, 5}, s.Consistency)
			}},
		{name: "bounded staleness without K", setup: newABC, cmds: one(SetConsistency{Policy: ConsistencyPolicy{Level: "BoundedStaleness", MaxIntervalSeconds: 5}}), err: ErrInvalid},
		{name: "bounded staleness without T", setup: newABC, cmds: one(SetConsistency{Policy: ConsistencyPolicy{Level: "BoundedStaleness", MaxStalenessPrefix: 5}}), err: ErrInvalid},
		{name: "unknown level", setup: newABC, cmds: one(SetConsistency{Policy: ConsistencyPolicy{Level: "Linearizable"}}), err: ErrInvalid},
		{name: "empty level", setup: newABC, cmds: one(SetConsistency{}), err: ErrInvalid},
		{name: "strong on a multi-write account", setup: multi, cmds: one(SetConsistency{Policy: ConsistencyPolicy{Level: "Strong"}}), err: ErrInvalid},
		{name: "eventual on a multi-write account", setup: multi, cmds: one(SetConsistency{Policy: ConsistencyPolicy{Level: "Eventual"}})},
		{name: "during a failover", setup: fenced, cmds: one(SetConsistency{Policy: ConsistencyPolicy{Level: "Eventual"}}), err: ErrTransition},
	})
}

func TestAddRemoveRegion(t *testing.T) {
	runCases(t, []cmdCase{
		{name: "add keeps priority order", setup: newABC, cmds: one(AddRegion{Region: RegionSpec{Name: "D", ID: 4, Priority: 5}, At: at(1)}),
			check: func(t *testing.T, s *State, _ Result) {
				var names []string
				for _, r := range s.Regions {
					names = append(names, r.Name)
				}
				require.Equal(t, []string{"A", "D", "B", "C"}, names)
			}},
		{name: "duplicate name (canonical)", setup: newABC, cmds: one(AddRegion{Region: RegionSpec{Name: " b", ID: 4, Priority: 5}}), err: ErrInvalid},
		{name: "duplicate id", setup: newABC, cmds: one(AddRegion{Region: RegionSpec{Name: "D", ID: 2, Priority: 5}}), err: ErrInvalid},
		{name: "duplicate priority", setup: newABC, cmds: one(AddRegion{Region: RegionSpec{Name: "D", ID: 4, Priority: 10}}), err: ErrInvalid},
		{name: "id 0", setup: newABC, cmds: one(AddRegion{Region: RegionSpec{Name: "D", ID: 0, Priority: 5}}), err: ErrInvalid},
		{name: "id 256", setup: newABC, cmds: one(AddRegion{Region: RegionSpec{Name: "D", ID: 256, Priority: 5}}), err: ErrInvalid},
		{name: "negative priority", setup: newABC, cmds: one(AddRegion{Region: RegionSpec{Name: "D", ID: 4, Priority: -1}}), err: ErrInvalid},
		{name: "empty name", setup: newABC, cmds: one(AddRegion{Region: RegionSpec{Name: "  ", ID: 4, Priority: 5}}), err: ErrInvalid},
		{name: "add during a failover", setup: fenced, cmds: one(AddRegion{Region: RegionSpec{Name: "D", ID: 4, Priority: 5}}), err: ErrTransition},
		{name: "remove a read region", setup: newABC, cmds: one(RemoveRegion{Region: "b"}),
			check: func(t *testing.T, s *State, _ Result) {
				_, ok := s.Region("B")
				require.False(t, ok)
				require.Len(t, s.Regions, 2)
			}},
		{name: "remove the write region", setup: newABC, cmds: one(RemoveRegion{Region: "A"}), err: ErrTransition},
		{name: "remove an unknown region", setup: newABC, cmds: one(RemoveRegion{Region: "Z"}), err: ErrInvalid},
		{name: "remove during a failover", setup: fenced, cmds: one(RemoveRegion{Region: "C"}), err: ErrTransition},
	})
}

func TestApplyNilAndUnknown(t *testing.T) {
	s := newABC(t)
	_, err := s.Apply(nil)
	requireIs(t, err, ErrInvalid)
	type bogus struct{ Command }
	_, err = s.Apply(bogus{})
	requireIs(t, err, ErrInvalid)
	require.Equal(t, uint64(0), s.Applied)
	// Pointers work as well as values.
	mustApply(t, s, &SetRegionStatus{Region: "B", Status: StatusSuspected})
	require.Equal(t, uint64(1), s.Applied)
}

func TestNew(t *testing.T) {
	good := Config{Regions: []RegionSpec{{"B", 2, 10}, {"A", 1, 0}}, Consistency: ConsistencyPolicy{Level: "Session"}, Lease: lease, At: t0}
	s, err := New(good)
	require.NoError(t, err)
	require.Equal(t, "A", s.WriteRegion, "defaults to the highest priority")
	require.Equal(t, "A", s.Regions[0].Name)
	require.Equal(t, int64(1), s.Epoch)

	for name, mut := range map[string]func(*Config){
		"no regions":         func(c *Config) { c.Regions = nil },
		"no lease":           func(c *Config) { c.Lease = Lease{} },
		"negative skew":      func(c *Config) { c.Lease.MaxClockSkew = -1 },
		"unknown writer":     func(c *Config) { c.WriteRegion = "Z" },
		"duplicate id":       func(c *Config) { c.Regions = []RegionSpec{{"A", 1, 0}, {"B", 1, 1}} },
		"bad level":          func(c *Config) { c.Consistency.Level = "x" },
		"multi-write strong": func(c *Config) { c.MultiWrite, c.Consistency.Level = true, "Strong" },
		"multi-write writer": func(c *Config) { c.MultiWrite, c.WriteRegion = true, "A" },
	} {
		t.Run(name, func(t *testing.T) {
			c := good
			mut(&c)
			_, err := New(c)
			requireIs(t, err, ErrInvalid)
		})
	}
}

func TestReportDuringFailover(t *testing.T) {
	s := newABC(t)
	at := t0.Add(time.Minute)
	prog := RegionProgress{Epoch: 2, Partitions: map[uint64]PartProgress{1: {Durable: 7, LastEpoch: 1}}}
	if _, err := s.Apply(Report{Region: "B", Progress: prog, At: at}); !errors.Is(err, ErrTransition) {
		t.Fatalf("a report without a failover: %v", err)
	}
	mustApply(t, s, Fence{Epoch: 2, Deposed: "A", At: at})
	if _, err := s.Apply(Report{Region: "B", Progress: RegionProgress{Epoch: 1, Partitions: prog.Partitions}, At: at}); !errors.Is(err, ErrStaleEpoch) {
		t.Fatalf("a report at the old epoch: %v", err)
	}
	if _, err := s.Apply(Report{Region: "B", Progress: RegionProgress{Epoch: 2, Partitions: map[uint64]PartProgress{1: {Durable: 7}}}, At: at}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a report with an LSN but no epoch: %v", err)
	}
	if _, err := s.Apply(Report{Region: "Mars", Progress: prog, At: at}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a report from an unknown region: %v", err)
	}
	mustApply(t, s, Report{Region: "B", Progress: prog, At: at})
	if got := s.Failover.Reports["B"].Partitions[1].Durable; got != 7 {
		t.Fatalf("report not recorded: %+v", s.Failover.Reports)
	}
	if u := Unreported(s, s.Failover.Reports); len(u) != 1 || u[0] != "C" {
		t.Fatalf("unreported %v", u)
	}
	// Encoded and decoded like every command.
	b, err := Encode(Report{Region: "C", Progress: prog, At: at})
	if err != nil {
		t.Fatal(err)
	}
	cmd, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	mustApply(t, s, cmd)
	if u := Unreported(s, s.Failover.Reports); len(u) != 0 {
		t.Fatalf("unreported %v", u)
	}
}
