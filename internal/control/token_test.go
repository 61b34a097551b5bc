package control

import (
	"testing"

	"github.com/meridiandb/meridian/internal/session"
	"github.com/stretchr/testify/require"
)

func TestHistory(t *testing.T) {
	// Partition 0: epoch 2 from 16, epoch 3 from 19, epoch 5 from 30
	// (epoch 4 was fenced and promoted only for partition 1).
	h := History{0: {{2, 16}, {3, 19}, {5, 30}}, 1: {{4, 3}}}
	for _, tc := range []struct {
		p     uint64
		epoch int64
		cp    int64
		ok    bool
	}{
		{0, 1, 15, true}, {0, 2, 18, true}, {0, 3, 29, true}, {0, 4, 29, true}, {0, 5, 0, false},
		{1, 1, 2, true}, {1, 3, 2, true}, {1, 4, 0, false}, {7, 1, 0, false},
	} {
		cp, ok := h.CommitPoint(tc.p, tc.epoch)
		require.Equal(t, tc.ok, ok, "p%d e%d", tc.p, tc.epoch)
		require.Equal(t, tc.cp, cp, "p%d e%d", tc.p, tc.epoch)
	}
	// A forced failover may start an epoch below an earlier start: every
	// earlier epoch's commit point drops with it.
	hf := History{0: {{2, 16}, {3, 12}}}
	cp, _ := hf.CommitPoint(0, 1)
	require.Equal(t, int64(11), cp)
	require.Equal(t, int64(11), hf.Committed(0))

	st, ok := h.StartOf(0, 1)
	require.True(t, ok)
	require.Equal(t, int64(1), st)
	st, ok = h.StartOf(0, 3)
	require.True(t, ok)
	require.Equal(t, int64(19), st)
	_, ok = h.StartOf(0, 4)
	require.False(t, ok)
	require.Equal(t, int64(29), h.Committed(0))
	require.Equal(t, int64(0), h.Committed(9))
}

func TestTokenVerdict(t *testing.T) {
	// Epoch 1 committed up to 15 (epoch 2 from 16), epoch 2 committed up
	// to 18 (epoch 3 from 19).
	h := History{0: {{2, 16}, {3, 19}}}
	tok := func(v, l int64) session.Token { return session.Token{Version: v, GlobalLSN: l} }
	for _, tc := range []struct {
		name       string
		tok        session.Token
		applied    int64
		epoch      int64
		want       Verdict
		partition  uint64
		historyOff bool
	}{
		{name: "null token", tok: session.Token{}, applied: 0, epoch: 3, want: Serve},
		{name: "token covering nothing", tok: tok(3, 0), applied: 0, epoch: 1, want: Serve},
		{name: "current epoch, applied", tok: tok(3, 25), applied: 25, epoch: 3, want: Serve},
		{name: "current epoch, not yet applied", tok: tok(3, 25), applied: 24, epoch: 3, want: Wait},
		{name: "older version, LSN within its commit point: still valid", tok: tok(1, 15), applied: 20, epoch: 3, want: Serve},
		{name: "older version, valid, region behind", tok: tok(1, 15), applied: 10, epoch: 3, want: Wait},
		{name: "older version, LSN beyond its commit point: lost", tok: tok(1, 16), applied: 30, epoch: 3, want: Lost},
		{name: "lost even where nothing is applied", tok: tok(1, 16), applied: 0, epoch: 3, want: Lost},
		{name: "epoch 2 token within its commit point", tok: tok(2, 18), applied: 18, epoch: 3, want: Serve},
		{name: "epoch 2 token beyond its commit point", tok: tok(2, 19), applied: 19, epoch: 3, want: Lost},
		{name: "lost is decided before future", tok: tok(2, 19), applied: 0, epoch: 1, want: Lost},
		{name: "version this region has not adopted", tok: tok(3, 17), applied: 18, epoch: 2, want: Future},
		{name: "version beyond any epoch", tok: tok(9, 5), applied: 100, epoch: 3, want: Future},
		{name: "legacy version -1 read as epoch 1: valid", tok: tok(-1, 15), applied: 15, epoch: 3, want: Serve},
		{name: "legacy version -1 read as epoch 1: lost", tok: tok(-1, 16), applied: 30, epoch: 3, want: Lost},
		{name: "region still holds a truncated suffix (deposed, not rolled back)", tok: tok(1, 10), applied: 20, epoch: 1, want: Diverged},
		{name: "diverged region refuses even the null token", tok: session.Token{}, applied: 16, epoch: 1, want: Diverged},
		{name: "deposed region within the commit point may serve", tok: tok(1, 10), applied: 15, epoch: 1, want: Serve},
		{name: "epoch-2 region beyond epoch 2's commit point", tok: tok(2, 17), applied: 19, epoch: 2, want: Diverged},
		{name: "another partition has no history: LSN rules only", tok: tok(1, 100), applied: 100, epoch: 3, partition: 7, want: Serve},
		{name: "another partition, old version of a region", tok: tok(3, 5), applied: 100, epoch: 2, partition: 7, want: Future},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, TokenVerdict(h, tc.partition, tc.tok, tc.applied, tc.epoch))
		})
	}
	require.Equal(t, "Serve", Serve.String())
	require.Equal(t, "Diverged", Diverged.String())
	require.Equal(t, "Unknown", Verdict(0).String())
}

func TestDivergence(t *testing.T) {
	h := History{0: {{2, 16}, {3, 19}}}
	for _, tc := range []struct {
		name            string
		p               uint64
		lastEpoch, appl int64
		from, to        int64
		ok              bool
	}{
		{"deposed writer of epoch 1 with an unreplicated suffix", 0, 1, 20, 16, 20, true},
		{"deposed writer of epoch 1 exactly at the commit point", 0, 1, 15, 0, 0, false},
		{"behind the commit point", 0, 1, 9, 0, 0, false},
		{"writer of epoch 2 deposed with a suffix", 0, 2, 21, 19, 21, true},
		{"last entry of the current epoch", 0, 3, 40, 0, 0, false},
		{"empty log", 0, 0, 0, 0, 0, false},
		{"no history for the partition", 5, 1, 40, 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from, to, ok := Divergence(h, tc.p, tc.lastEpoch, tc.appl)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.from, from)
			require.Equal(t, tc.to, to)
		})
	}
}
