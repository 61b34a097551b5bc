package control

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestShouldFailover(t *testing.T) {
	now := at(100)
	d := 10 * time.Second
	for _, tc := range []struct {
		name    string
		contact map[string]time.Time
		writer  string
		timeout time.Duration
		want    bool
		reason  string
	}{
		{"write region silent, others fresh", map[string]time.Time{"A": at(89), "B": at(99)}, "A", d, true, `write region "A" silent for 11s (timeout 10s) while "B" is reachable`},
		{"exactly at the timeout", map[string]time.Time{"A": at(90), "B": at(99)}, "A", d, true, "silent for 10s"},
		{"just inside the timeout", map[string]time.Time{"A": at(90).Add(time.Nanosecond), "B": at(99)}, "A", d, false, "heard from"},
		{"canonical names", map[string]time.Time{"West US": at(50), "East US": at(99)}, "westus", d, true, "silent for 50s"},
		{"contact from the future counts as fresh", map[string]time.Time{"A": at(200), "B": at(99)}, "A", d, false, "heard from"},
		{"every region silent: the control plane is isolated", map[string]time.Time{"A": at(10), "B": at(10), "C": at(80)}, "A", d, false, "may be partitioned"},
		{"single-region account", map[string]time.Time{"A": at(10)}, "A", d, false, "may be partitioned"},
		{"no contact recorded", map[string]time.Time{"B": at(99)}, "A", d, false, "no contact"},
		{"failover in progress", map[string]time.Time{"A": at(10), "B": at(99)}, "", d, false, "already in progress"},
		{"detection disabled", map[string]time.Time{"A": at(10), "B": at(99)}, "A", 0, false, "disabled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, why := ShouldFailover(now, tc.contact, tc.writer, tc.timeout)
			require.Equal(t, tc.want, got, why)
			require.Contains(t, why, tc.reason)
		})
	}
}

func TestFenceSafeAt(t *testing.T) {
	require.Equal(t, at(11), FenceSafeAt(t0, 10*time.Second, time.Second))
	require.Equal(t, at(10), FenceSafeAt(t0, 10*time.Second, -time.Second), "negative skew counts as zero")
	require.Equal(t, t0, FenceSafeAt(t0, -1, 0))
	// The fence records it and Promote enforces it.
	s := newABC(t)
	res := mustApply(t, s, Fence{Epoch: 2, Deposed: "A", At: at(5)})
	require.Equal(t, FenceSafeAt(at(5), lease.Timeout, lease.MaxClockSkew), res.SafeAt)
}
