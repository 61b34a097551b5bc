package control

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestChooseTarget(t *testing.T) {
	type want struct {
		target string
		plan   map[uint64]PartPlan
		err    error
		msg    string
	}
	cases := []struct {
		name  string
		setup func(testing.TB) *State
		surv  map[string]RegionProgress
		force bool
		want  want
	}{
		{name: "highest priority survivor already at the max", setup: fenced,
			surv: map[string]RegionProgress{"B": prog(2, 1, 0, 15, 1, 7), "C": prog(2, 1, 0, 12, 1, 7)},
			want: want{target: "B", plan: map[uint64]PartPlan{0: {15, "B"}, 1: {7, "B"}}}},
		{name: "lagging target catches up from the max holder", setup: fenced,
			surv: map[string]RegionProgress{"B": prog(2, 1, 0, 3, 1, 9), "C": prog(2, 1, 0, 5, 1, 9)},
			want: want{target: "B", plan: map[uint64]PartPlan{0: {5, "C"}, 1: {9, "B"}}}},
		{name: "a partition only one survivor has", setup: fenced,
			surv: map[string]RegionProgress{"B": prog(2, 1, 0, 3), "C": prog(2, 1, 0, 3, 4, 2)},
			want: want{target: "B", plan: map[uint64]PartPlan{0: {3, "B"}, 4: {2, "C"}}}},
		{name: "unreported region refuses", setup: fenced,
			surv: map[string]RegionProgress{"B": prog(2, 1, 0, 3)},
			want: want{err: ErrUnsafe, msg: `cannot fail over safely: region "C" has not reported`}},
		{name: "unreported region, forced", setup: fenced, force: true,
			surv: map[string]RegionProgress{"B": prog(2, 1, 0, 3)},
			want: want{target: "B", plan: map[uint64]PartPlan{0: {3, "B"}}}},
		{name: "report from before the fence is not final", setup: fenced,
			surv: map[string]RegionProgress{"B": prog(2, 1, 0, 3), "C": prog(1, 1, 0, 5)},
			want: want{err: ErrUnsafe, msg: `region "C" has not reported at epoch 2`}},
		{name: "forced: a report from before the fence is ignored, not used as a lower bound", setup: fenced, force: true,
			surv: map[string]RegionProgress{"B": prog(2, 1, 0, 3), "C": prog(1, 1, 0, 5)},
			want: want{target: "B", plan: map[uint64]PartPlan{0: {3, "B"}}}},
		{name: "report from an epoch not yet fenced", setup: fenced,
			surv: map[string]RegionProgress{"B": prog(2, 1, 0, 3), "C": prog(3, 1, 0, 5)},
			want: want{err: ErrInvalid}},
		{name: "entry of the fenced epoch before its promote", setup: fenced,
			surv: map[string]RegionProgress{"B": prog(2, 2, 0, 3), "C": prog(2, 1, 0, 5)},
			want: want{err: ErrInvalid}},
		{name: "negative durable LSN", setup: fenced,
			surv: map[string]RegionProgress{"B": prog(2, 1, 0, -3), "C": prog(2, 1, 0, 5)},
			want: want{err: ErrInvalid}},
		{name: "the deposed region's report at an older epoch is ignored", setup: fenced,
			surv: map[string]RegionProgress{"A": prog(1, 1, 0, 99), "B": prog(2, 1, 0, 3), "C": prog(2, 1, 0, 5)},
			want: want{target: "B", plan: map[uint64]PartPlan{0: {5, "C"}}}},
		{name: "the deposed region back before the promotion is a source, never the target", setup: fenced,
			surv: map[string]RegionProgress{"A": prog(2, 1, 0, 99), "B": prog(2, 1, 0, 3), "C": prog(2, 1, 0, 5)},
			want: want{target: "B", plan: map[uint64]PartPlan{0: {99, "A"}}}},
		{name: "suspected survivor must report but is not a candidate", setup: func(t testing.TB) *State {
			s := newABC(t)
			mustApply(t, s, SetRegionStatus{Region: "B", Status: StatusSuspected})
			mustApply(t, s, Fence{Epoch: 2, Deposed: "A"})
			return s
		}, surv: map[string]RegionProgress{"B": prog(2, 1, 0, 9), "C": prog(2, 1, 0, 5)},
			want: want{target: "C", plan: map[uint64]PartPlan{0: {9, "B"}}}},
		{name: "suspected survivor unreported", setup: func(t testing.TB) *State {
			s := newABC(t)
			mustApply(t, s, SetRegionStatus{Region: "B", Status: StatusSuspected})
			mustApply(t, s, Fence{Epoch: 2, Deposed: "A"})
			return s
		}, surv: map[string]RegionProgress{"C": prog(2, 1, 0, 5)}, want: want{err: ErrUnsafe, msg: `region "B" has not reported`}},
		{name: "offline-drill region must report (it may have acked sync reads before)", setup: func(t testing.TB) *State {
			s := newABC(t)
			mustApply(t, s, SetRegionStatus{Region: "C", Status: StatusOfflineDrill})
			mustApply(t, s, Fence{Epoch: 2, Deposed: "A"})
			return s
		}, surv: map[string]RegionProgress{"B": prog(2, 1, 0, 5)}, want: want{err: ErrUnsafe, msg: `region "C" has not reported`}},
		{name: "no healthy survivor", setup: func(t testing.TB) *State {
			s := newABC(t)
			mustApply(t, s, SetRegionStatus{Region: "B", Status: StatusSuspected})
			mustApply(t, s, SetRegionStatus{Region: "C", Status: StatusOfflineDrill})
			mustApply(t, s, Fence{Epoch: 2, Deposed: "A"})
			return s
		}, surv: map[string]RegionProgress{"B": prog(2, 1, 0, 5), "C": prog(2, 1, 0, 5)}, want: want{err: ErrUnsafe, msg: "no healthy region"}},
		{name: "source prefers healthy over a higher-priority suspect", setup: func(t testing.TB) *State {
			s := fourRegions(t)
			mustApply(t, s, SetRegionStatus{Region: "C", Status: StatusSuspected})
			mustApply(t, s, Fence{Epoch: 2, Deposed: "A"})
			return s
		}, surv: map[string]RegionProgress{"B": prog(2, 1, 0, 3), "C": prog(2, 1, 0, 8), "D": prog(2, 1, 0, 8)},
			want: want{target: "B", plan: map[uint64]PartPlan{0: {8, "D"}}}},
		{name: "source is the highest priority holder of the max", setup: func(t testing.TB) *State {
			s := fourRegions(t)
			mustApply(t, s, Fence{Epoch: 2, Deposed: "A"})
			return s
		}, surv: map[string]RegionProgress{"B": prog(2, 1, 0, 3), "C": prog(2, 1, 0, 8), "D": prog(2, 1, 0, 8)},
			want: want{target: "B", plan: map[uint64]PartPlan{0: {8, "C"}}}},
		{name: "unknown region", setup: fenced, surv: map[string]RegionProgress{"Z": prog(2, 1, 0, 1)}, want: want{err: ErrInvalid}},
		{name: "the same region twice under two spellings", setup: fenced,
			surv: map[string]RegionProgress{"B": prog(2, 1, 0, 1), "b": prog(2, 1, 0, 2), "C": prog(2, 1, 0, 1)}, want: want{err: ErrInvalid}},
		{name: "not fenced", setup: newABC, surv: map[string]RegionProgress{"B": prog(1, 1, 0, 1)}, want: want{err: ErrTransition}},
		{name: "manual request not yet fenced", setup: manualRequested, surv: map[string]RegionProgress{"B": prog(1, 1, 0, 1)}, want: want{err: ErrTransition}},
		// No containers: nothing to catch up, the target is still chosen.
		{name: "nothing reported at all", setup: fenced, surv: map[string]RegionProgress{"B": {Epoch: 2}, "C": {Epoch: 2}}, want: want{target: "B", plan: map[uint64]PartPlan{}}},
		// Second failover: B (writer of epoch 2, from 16) is lost; A is
		// fenced out and still holds 16..20 of epoch 1, which epoch 2
		// truncated. It must not count, even if it reports.
		{name: "a fenced-out region's truncated suffix never counts", setup: func(t testing.TB) *State {
			s := failedOver(t)
			mustApply(t, s, Fence{Epoch: 3, Deposed: "B"})
			return s
		}, surv: map[string]RegionProgress{"A": prog(3, 1, 0, 20, 1, 7), "C": prog(3, 2, 0, 17, 1, 8)},
			want: want{target: "C", plan: map[uint64]PartPlan{0: {17, "C"}, 1: {8, "C"}}}},
		{name: "a fenced-out region's valid prefix may be a source", setup: func(t testing.TB) *State {
			s := failedOver(t)
			mustApply(t, s, Fence{Epoch: 3, Deposed: "B"})
			return s
		}, surv: map[string]RegionProgress{"A": prog(3, 1, 0, 20, 1, 7), "C": prog(3, 1, 0, 15, 1, 7)},
			want: want{target: "C", plan: map[uint64]PartPlan{0: {15, "C"}, 1: {7, "C"}}}},
		{name: "fenced-out regions need not report", setup: func(t testing.TB) *State {
			s := failedOver(t)
			mustApply(t, s, Fence{Epoch: 3, Deposed: "B"})
			return s
		}, surv: map[string]RegionProgress{"C": prog(3, 2, 0, 16, 1, 7)},
			want: want{target: "C", plan: map[uint64]PartPlan{0: {16, "C"}, 1: {7, "C"}}}},
		{name: "survivors below an earlier commit point", setup: func(t testing.TB) *State {
			s := failedOver(t)
			mustApply(t, s, Fence{Epoch: 3, Deposed: "B"})
			return s
		}, surv: map[string]RegionProgress{"C": prog(3, 1, 0, 12, 1, 7)}, want: want{err: ErrUnsafe, msg: "an earlier failover committed up to 15"}},
		{name: "survivors below an earlier commit point, forced", setup: func(t testing.TB) *State {
			s := failedOver(t)
			mustApply(t, s, Fence{Epoch: 3, Deposed: "B"})
			return s
		}, surv: map[string]RegionProgress{"C": prog(3, 1, 0, 12, 1, 7)}, force: true,
			want: want{target: "C", plan: map[uint64]PartPlan{0: {12, "C"}, 1: {7, "C"}}}},
		{name: "a partition of the history nobody reported", setup: func(t testing.TB) *State {
			s := failedOver(t)
			mustApply(t, s, Fence{Epoch: 3, Deposed: "B"})
			return s
		}, surv: map[string]RegionProgress{"C": prog(3, 2, 0, 16)}, want: want{err: ErrUnsafe, msg: "partition 1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.setup(t)
			before := snap(t, s)
			for range 20 { // map order must not matter
				target, plan, err := ChooseTarget(s, tc.surv, tc.force)
				if tc.want.err != nil {
					requireIs(t, err, tc.want.err)
					require.Contains(t, err.Error(), tc.want.msg)
					continue
				}
				require.NoError(t, err)
				require.Equal(t, tc.want.target, target)
				require.Equal(t, tc.want.plan, plan)
			}
			require.Equal(t, before, snap(t, s), "planning is pure")
		})
	}
}

// fourRegions: A (write), B, C, D by priority.
func fourRegions(t testing.TB) *State {
	s, err := New(Config{Regions: []RegionSpec{{"A", 1, 0}, {"B", 2, 1}, {"C", 3, 2}, {"D", 4, 3}}, Consistency: ConsistencyPolicy{Level: "Session"}, Lease: lease, At: t0})
	require.NoError(t, err)
	return s
}

func TestChooseTargetPlanIsAccepted(t *testing.T) {
	s := fenced(t)
	surv := map[string]RegionProgress{"B": prog(2, 1, 0, 3, 1, 9), "C": prog(2, 1, 0, 5, 1, 9)}
	target, plan, err := ChooseTarget(s, surv, false)
	require.NoError(t, err)
	mustApply(t, s, Plan{Epoch: 2, Target: target, Partitions: plan, At: at(2)})
	mustApply(t, s, Promote{Epoch: 2, Target: target, StartLSN: map[uint64]int64{0: 6, 1: 10}, At: s.Failover.SafeAt})
	require.Equal(t, "B", s.WriteRegion)
}

func TestUnreported(t *testing.T) {
	require.Nil(t, Unreported(newABC(t), nil))
	s := fenced(t)
	require.Equal(t, []string{"B", "C"}, Unreported(s, nil))
	require.Equal(t, []string{"C"}, Unreported(s, map[string]RegionProgress{"b": {Epoch: 2}, "C": {Epoch: 1}}))
	require.Empty(t, Unreported(s, map[string]RegionProgress{"B": {Epoch: 2}, "C": {Epoch: 2}}))
}

func TestDrainPlan(t *testing.T) {
	manualFenced := func(t testing.TB) *State {
		s := manualRequested(t)
		mustApply(t, s, Fence{Epoch: 2, Deposed: "A", Planned: true, At: at(2)})
		return s
	}
	t.Run("target catches up to the old write region's heads", func(t *testing.T) {
		s := manualFenced(t)
		target, plan, err := DrainPlan(s, prog(2, 1, 0, 20, 1, 3))
		require.NoError(t, err)
		require.Equal(t, "C", target)
		require.Equal(t, map[uint64]PartPlan{0: {20, "A"}, 1: {3, "A"}}, plan)
	})
	t.Run("automatic failover", func(t *testing.T) {
		_, _, err := DrainPlan(fenced(t), prog(2, 1, 0, 20))
		requireIs(t, err, ErrTransition)
	})
	t.Run("not fenced yet", func(t *testing.T) {
		_, _, err := DrainPlan(manualRequested(t), prog(1, 1, 0, 20))
		requireIs(t, err, ErrTransition)
	})
	t.Run("heads from before the fence are not final", func(t *testing.T) {
		_, _, err := DrainPlan(manualFenced(t), prog(1, 1, 0, 20))
		requireIs(t, err, ErrUnsafe)
	})
	t.Run("a region became unreachable", func(t *testing.T) {
		s := manualFenced(t)
		mustApply(t, s, SetRegionStatus{Region: "B", Status: StatusSuspected})
		_, _, err := DrainPlan(s, prog(2, 1, 0, 20))
		requireIs(t, err, ErrUnsafe)
	})
	t.Run("missing a partition of the history", func(t *testing.T) {
		s := failedOver(t)
		mustApply(t, s, Rejoin{Region: "A", Epoch: 2})
		mustApply(t, s, ManualFailover{Target: "C"})
		mustApply(t, s, Fence{Epoch: 3, Deposed: "B", Planned: true})
		_, _, err := DrainPlan(s, prog(3, 2, 0, 30))
		requireIs(t, err, ErrUnsafe)
		_, _, err = DrainPlan(s, prog(3, 2, 0, 30, 1, 5))
		requireIs(t, err, ErrUnsafe) // 5 < commit point 7
		_, plan, err := DrainPlan(s, prog(3, 2, 0, 30, 1, 7))
		require.NoError(t, err)
		require.Equal(t, map[uint64]PartPlan{0: {30, "B"}, 1: {7, "B"}}, plan)
	})
	t.Run("nothing reported", func(t *testing.T) {
		// An account without containers drains nothing.
		target, plan, err := DrainPlan(manualFenced(t), RegionProgress{Epoch: 2})
		require.NoError(t, err)
		require.NotEmpty(t, target)
		require.Empty(t, plan)
	})
}
