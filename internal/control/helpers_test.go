package control

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var (
	t0    = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	lease = Lease{Timeout: 10 * time.Second, MaxClockSkew: time.Second}
)

func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

// newABC: A (write, priority 0), B (10), C (20); Session.
func newABC(t testing.TB) *State {
	t.Helper()
	s, err := New(Config{
		Regions:     []RegionSpec{{Name: "A", ID: 1, Priority: 0}, {Name: "B", ID: 2, Priority: 10}, {Name: "C", ID: 3, Priority: 20}},
		Consistency: ConsistencyPolicy{Level: "Session"},
		Lease:       lease,
		At:          t0,
	})
	require.NoError(t, err)
	return s
}

func mustApply(t testing.TB, s *State, cmd Command) Result {
	t.Helper()
	res, err := s.Apply(cmd)
	require.NoError(t, err)
	return res
}

// prog builds a report at epoch with every partition's last entry at
// lastEpoch: prog(2, 1, 0, 15, 1, 7) = partitions 0 -> 15, 1 -> 7.
func prog(epoch, lastEpoch int64, pairs ...int64) RegionProgress {
	rp := RegionProgress{Epoch: epoch, Partitions: map[uint64]PartProgress{}}
	for i := 0; i < len(pairs); i += 2 {
		le := lastEpoch
		if pairs[i+1] == 0 {
			le = 0
		}
		rp.Partitions[uint64(pairs[i])] = PartProgress{Durable: pairs[i+1], LastEpoch: le}
	}
	return rp
}

// fenced: newABC with A fenced (epoch 2) at t0+1s.
func fenced(t testing.TB) *State {
	s := newABC(t)
	mustApply(t, s, Fence{Epoch: 2, Deposed: "A", Reason: "A lost", At: at(1)})
	return s
}

// planned: fenced, plan B <- B: partition 0 up to 15, partition 1 up to 7.
func planned(t testing.TB) *State {
	s := fenced(t)
	mustApply(t, s, Plan{Epoch: 2, Target: "B", Partitions: map[uint64]PartPlan{0: {15, "B"}, 1: {7, "C"}}, At: at(2)})
	return s
}

// failedOver: planned and promoted at SafeAt: B writes epoch 2 from 16 / 8.
func failedOver(t testing.TB) *State {
	s := planned(t)
	mustApply(t, s, Promote{Epoch: 2, Target: "B", StartLSN: map[uint64]int64{0: 16, 1: 8}, At: at(12)})
	return s
}

// manualRequested: newABC with a manual failover to C requested.
func manualRequested(t testing.TB) *State {
	s := newABC(t)
	mustApply(t, s, ManualFailover{Target: "C", At: at(1)})
	return s
}

func snap(t testing.TB, s *State) string {
	t.Helper()
	b, err := s.Snapshot()
	require.NoError(t, err)
	return string(b)
}

func requireIs(t testing.TB, err, want error) {
	t.Helper()
	require.Error(t, err)
	require.True(t, errors.Is(err, want), "error %q is not %q", err, want)
}
