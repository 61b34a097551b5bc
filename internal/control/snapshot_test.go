package control

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/meridiandb/meridian/internal/topology"
	"github.com/stretchr/testify/require"
)

// richState has every field set: a past failover with loss accounting, a
// forced re-planned failover in progress.
func richState(t testing.TB) *State {
	s := failedOver(t)
	mustApply(t, s, Rejoin{Region: "A", Epoch: 2, Truncated: map[uint64]LSNRange{0: {16, 20}}, At: at(30)})
	mustApply(t, s, SetConsistency{Policy: ConsistencyPolicy{Level: "BoundedStaleness", MaxStalenessPrefix: 100, MaxIntervalSeconds: 5}, At: at(31)})
	mustApply(t, s, AddRegion{Region: RegionSpec{Name: "North Europe", ID: 9, Priority: 5}, At: at(32)})
	mustApply(t, s, SetRegionStatus{Region: "C", Status: StatusOfflineDrill, At: at(33)})
	mustApply(t, s, Fence{Epoch: 3, Deposed: "B", Reason: "B lost", At: at(40)})
	mustApply(t, s, Plan{Epoch: 3, Target: "A", Forced: true, Unreported: []string{"C"}, Partitions: map[uint64]PartPlan{0: {14, "A"}, 1: {9, "North Europe"}}, At: at(41)})
	mustApply(t, s, Plan{Epoch: 3, Target: "North Europe", Forced: true, Unreported: []string{"C"}, Partitions: map[uint64]PartPlan{0: {14, "A"}, 1: {9, "North Europe"}}, At: at(42)})
	return s
}

func TestSnapshotRoundTrip(t *testing.T) {
	for name, s := range map[string]*State{"initial": newABC(t), "fenced": fenced(t), "failed over": failedOver(t), "rich": richState(t)} {
		t.Run(name, func(t *testing.T) {
			b, err := s.Snapshot()
			require.NoError(t, err)
			r, err := Restore(b)
			require.NoError(t, err)
			require.Equal(t, s, r)
			b2, err := r.Snapshot()
			require.NoError(t, err)
			require.JSONEq(t, string(b), string(b2))
			require.Equal(t, s, s.Clone())
			// The restored state keeps working identically.
			c1, c2 := s.Clone(), r
			for _, cmd := range []Command{SetRegionStatus{Region: "B", Status: StatusSuspected, At: at(50)}, CancelFailover{At: at(51)}} {
				r1, e1 := c1.Apply(cmd)
				r2, e2 := c2.Apply(cmd)
				require.Equal(t, r1, r2)
				require.Equal(t, e1 == nil, e2 == nil)
			}
			require.Equal(t, snap(t, c1), snap(t, c2))
		})
	}
	s := richState(t)
	require.Equal(t, 1, s.Failover.Replans)
	require.Equal(t, map[uint64]LSNRange{0: {15, 15}}, s.Failover.BelowCommit)
	// Times are normalized to UTC so that snapshots compare equal.
	loc := time.FixedZone("X", 3600)
	s2 := newABC(t)
	mustApply(t, s2, SetRegionStatus{Region: "B", Status: StatusSuspected, At: at(5).In(loc)})
	b, _ := s2.Snapshot()
	r2, err := Restore(b)
	require.NoError(t, err)
	require.Equal(t, s2, r2)
}

func TestRestoreRejectsBrokenStates(t *testing.T) {
	good := snap(t, richState(t))
	_, err := Restore([]byte(good))
	require.NoError(t, err)
	for name, mut := range map[string]func(s *State){
		"no regions":             func(s *State) { s.Regions = nil },
		"duplicate region":       func(s *State) { s.Regions = append(s.Regions, s.Regions[0]) },
		"unsorted regions":       func(s *State) { s.Regions[0], s.Regions[1] = s.Regions[1], s.Regions[0] },
		"bad status":             func(s *State) { s.Regions[0].Status = "Zombie" },
		"epoch 0":                func(s *State) { s.Epoch = 0 },
		"term beyond epoch":      func(s *State) { s.Terms = append(s.Terms, Term{Epoch: 9, Writer: "A"}) },
		"two writers for epoch":  func(s *State) { s.Terms = append(s.Terms, Term{Epoch: 2, Writer: "A"}) },
		"write region mid-fence": func(s *State) { s.WriteRegion = "B" },
		"history beyond epoch":   func(s *State) { s.History[0] = append(s.History[0], EpochStart{Epoch: 9, Start: 30}) },
		"history epoch 1":        func(s *State) { s.History[5] = []EpochStart{{Epoch: 1, Start: 1}} },
		"failover epoch":         func(s *State) { s.Failover.Epoch = 2 },
		"failover phase":         func(s *State) { s.Failover.Phase = PhasePromoted },
		"no failover, no writer": func(s *State) { s.Failover = nil },
	} {
		t.Run(name, func(t *testing.T) {
			s, err := Restore([]byte(good))
			require.NoError(t, err)
			mut(s)
			b, err := json.Marshal(s)
			require.NoError(t, err)
			_, err = Restore(b)
			requireIs(t, err, ErrInvalid)
		})
	}
	_, err = Restore([]byte("{"))
	require.Error(t, err)
	// A writer that is not the epoch's writer.
	s := failedOver(t)
	s.WriteRegion = "C"
	requireIs(t, s.CheckInvariants(), ErrInvalid)
	// Requested failovers are manual and unfenced.
	s = manualRequested(t)
	s.Failover.Kind = Automatic
	requireIs(t, s.CheckInvariants(), ErrInvalid)
}

func TestApplyDoesNotAliasPastRecords(t *testing.T) {
	s := failedOver(t)
	prev := s.cloneForApply() // shares Past records, as Apply's copy does
	mustApply(t, s, Rejoin{Region: "A", Epoch: 2, Truncated: map[uint64]LSNRange{0: {16, 20}}, At: at(30)})
	require.Nil(t, prev.Past[0].Truncated)
	require.NotNil(t, s.Past[0].Truncated)
}

func TestEncodeDecode(t *testing.T) {
	cmds := []Command{
		Fence{Epoch: 2, Deposed: "A", Reason: "r", Planned: true, At: at(1)},
		Plan{Epoch: 2, Target: "B", Partitions: map[uint64]PartPlan{0: {5, "B"}, 18446744073709551615: {7, "C"}}, Drained: true, Forced: true, Unreported: []string{"C"}, At: at(2)},
		Promote{Epoch: 2, Target: "B", StartLSN: map[uint64]int64{0: 6}, At: at(3)},
		ManualFailover{Target: "B", At: at(4)},
		CancelFailover{Reason: "x", At: at(5)},
		SetRegionStatus{Region: "B", Status: StatusSuspected, At: at(6)},
		Rejoin{Region: "A", Epoch: 2, Truncated: map[uint64]LSNRange{0: {6, 9}}, At: at(7)},
		SetConsistency{Policy: ConsistencyPolicy{Level: "BoundedStaleness", MaxStalenessPrefix: 1, MaxIntervalSeconds: 2}, At: at(8)},
		AddRegion{Region: RegionSpec{Name: "D", ID: 4, Priority: 30}, At: at(9)},
		RemoveRegion{Region: "D", At: at(10)},
	}
	for _, c := range cmds {
		t.Run(string(c.Kind()), func(t *testing.T) {
			b, err := Encode(c)
			require.NoError(t, err)
			require.True(t, strings.HasPrefix(string(b), `{"kind":"`+string(c.Kind())+`"`), string(b))
			d, err := Decode(b)
			require.NoError(t, err)
			require.Equal(t, c, d)
		})
	}
	b1, _ := Encode(Fence{Epoch: 2, Deposed: "A"})
	b2, err := Encode(&Fence{Epoch: 2, Deposed: "A"}) // pointers encode the same
	require.NoError(t, err)
	require.Equal(t, string(b1), string(b2))
	_, err = Encode(nil)
	requireIs(t, err, ErrInvalid)
	for _, bad := range []string{`{`, `{"kind":"Reboot","cmd":{}}`, `{"kind":"Fence","cmd":{"epoch":"two"}}`} {
		_, err := Decode([]byte(bad))
		requireIs(t, err, ErrInvalid)
	}
}

func TestFromTopology(t *testing.T) {
	s, err := FromTopology(topology.Dev(8081, "localhost"), lease, t0)
	require.NoError(t, err)
	require.Equal(t, "West US", s.WriteRegion)
	require.Equal(t, []string{"West US", "East US", "North Europe"}, []string{s.Regions[0].Name, s.Regions[1].Name, s.Regions[2].Name})
	require.Equal(t, ConsistencyPolicy{Level: "Session"}, s.Consistency)
	require.Equal(t, lease, s.Lease)
	require.Equal(t, []Term{{1, "West US", t0}}, s.Terms)
}
