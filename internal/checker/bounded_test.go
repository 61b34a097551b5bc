package checker

import (
	"testing"
	"time"
)

const ms = int64(time.Millisecond)

func bsRead(c int, region, k, v string, call, ret int64) Op {
	return rd(c, region, "BoundedStaleness", k, v, call, ret)
}

// K = 2 and T = 5 s, as in consistency-semantics §2.2.
var bsOpts = BoundedOptions{K: 2, T: 5 * time.Second, Epsilon: 50 * time.Millisecond}

func TestBoundedAllowed(t *testing.T) {
	for name, h := range map[string]History{
		// BS-A1: lag 2 ≤ K.
		"BS-A1": hist(wr(1, "x", "1", 0, 2*ms, 1), wr(1, "x", "2", 3*ms, 5*ms, 2), wr(1, "x", "3", 6*ms, 10*ms, 3),
			bsRead(2, "B", "x", "1", 11*ms, 12*ms)),
		// Within T: a read 4 s after the only write may miss it.
		"within-T": hist(wr(1, "x", "1", 0, 1*ms, 1), bsRead(2, "B", "x", "", 4000*ms, 4001*ms)),
		// ε absorbs jitter at the T boundary.
		"epsilon": hist(wr(1, "x", "1", 0, 1*ms, 1), bsRead(2, "B", "x", "", 5030*ms, 5031*ms)),
		// Writes to other keys of the partition: x's only version is current.
		"other-keys": hist(wr(1, "x", "1", 0, 1*ms, 1), wr(1, "y", "1", 2*ms, 3*ms, 2), wr(1, "y", "2", 4*ms, 5*ms, 3),
			wr(1, "y", "3", 6*ms, 7*ms, 4), wr(1, "y", "4", 8*ms, 9*ms, 5), bsRead(2, "B", "x", "1", 10*ms, 11*ms)),
		// BS-A2: a dirty read of a write the failover lost (allowed loss).
		"BS-A2": hist(wr(1, "x", "1", 0, 1*ms, 1), bsRead(2, "A", "x", "1", 2*ms, 3*ms), bsRead(3, "B", "x", "", 9000*ms, 9001*ms)),
		// Different regions may differ (monotonicity is per region).
		"regions": hist(wr(1, "x", "1", 0, 1*ms, 1), wr(1, "x", "2", 2*ms, 3*ms, 2),
			bsRead(2, "B", "x", "2", 4*ms, 5*ms), bsRead(3, "C", "x", "1", 6*ms, 7*ms)),
	} {
		t.Run(name, func(t *testing.T) {
			opts := bsOpts
			if name == "BS-A2" {
				opts.AllowLost = func(i int, _ Op) bool { return i == 0 }
			}
			mustPass(t, CheckBoundedStaleness(h, opts))
		})
	}
}

func TestBoundedForbidden(t *testing.T) {
	cases := []struct {
		name string
		h    History
		opts BoundedOptions
		kind string
	}{
		// BS-F1: Wr(x,1..4) acknowledged; a read returns 1 (lag 3 > K).
		{"BS-F1", hist(wr(1, "x", "1", 0, 1*ms, 1), wr(1, "x", "2", 2*ms, 3*ms, 2), wr(1, "x", "3", 4*ms, 5*ms, 3),
			wr(1, "x", "4", 6*ms, 10*ms, 4), bsRead(2, "B", "x", "1", 11*ms, 12*ms)), bsOpts, KindBSVersions},
		// BS-F1 by partition versions: x=1 then 4 writes of y; ⊥ for x.
		{"BS-F1-partition", hist(wr(1, "x", "1", 0, 1*ms, 1), wr(1, "y", "1", 2*ms, 3*ms, 2), wr(1, "y", "2", 4*ms, 5*ms, 3),
			wr(1, "y", "3", 6*ms, 7*ms, 4), bsRead(2, "B", "x", "", 10*ms, 11*ms)), bsOpts, KindBSVersions},
		// BS-F2: one write at t=0, a read at 6 s returns ⊥.
		{"BS-F2", hist(wr(1, "x", "1", 0, 1*ms, 1), bsRead(2, "B", "x", "", 6000*ms, 6001*ms)), bsOpts, KindBSTime},
		// BS-F2 with an older value.
		{"BS-F2-older", hist(wr(1, "x", "1", 0, 1*ms, 1), wr(1, "x", "2", 2*ms, 3*ms, 2), bsRead(2, "B", "x", "1", 6000*ms, 6001*ms)), bsOpts, KindBSTime},
		// BS-F3: reads in one region go back.
		{"BS-F3", hist(wr(1, "x", "1", 0, 1*ms, 1), wr(1, "x", "2", 2*ms, 3*ms, 2),
			bsRead(2, "B", "x", "2", 4*ms, 5*ms), bsRead(3, "B", "x", "1", 6*ms, 7*ms)), bsOpts, KindBSRegion},
		// PerKey: K counts the item's versions (LSNs 1, 5, 9, 13: the read
		// must return 5, 9 or 13).
		{"per-key", hist(wr(1, "x", "1", 0, 1*ms, 1), wr(1, "x", "2", 2*ms, 3*ms, 5), wr(1, "x", "3", 4*ms, 5*ms, 9), wr(1, "x", "4", 6*ms, 7*ms, 13),
			bsRead(2, "B", "x", "1", 10*ms, 11*ms)), BoundedOptions{K: 2, PerKey: true}, KindBSVersions},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mustFail(t, CheckBoundedStaleness(c.h, c.opts), c.kind)
		})
	}
	// The region check can be turned off.
	h := cases[4].h
	mustPass(t, CheckBoundedStaleness(h, BoundedOptions{K: 2, NoRegionMonotonic: true}))
	// A read of 2 (LSN 5) is within K item versions, but not within K
	// partition versions (the replica must be at LSN ≥ 13-2 = 11, which
	// holds x=3 at LSN 9); a read of 3 (LSN 9) passes both ways.
	two := History{Ops: append(append([]Op(nil), cases[5].h.Ops[:4]...), bsRead(2, "B", "x", "2", 10*ms, 11*ms))}
	mustPass(t, CheckBoundedStaleness(two, BoundedOptions{K: 2, PerKey: true}))
	mustFail(t, CheckBoundedStaleness(two, BoundedOptions{K: 2}), KindBSVersions)
	ok := History{Ops: append(append([]Op(nil), cases[5].h.Ops[:4]...), bsRead(2, "B", "x", "3", 10*ms, 11*ms))}
	mustPass(t, CheckBoundedStaleness(ok, BoundedOptions{K: 2, PerKey: true}))
	mustPass(t, CheckBoundedStaleness(ok, BoundedOptions{K: 2}))
	// Per item, with other keys' writes between: x's version 1 of 2 is
	// within K=1 of the item, but far behind the partition.
	mixed := hist(wr(1, "x", "1", 0, 1*ms, 1), wr(1, "y", "1", 2*ms, 3*ms, 2), wr(1, "y", "2", 4*ms, 5*ms, 3),
		wr(1, "x", "2", 6*ms, 7*ms, 4), wr(1, "y", "3", 8*ms, 9*ms, 5), bsRead(2, "B", "x", "1", 10*ms, 11*ms))
	mustPass(t, CheckBoundedStaleness(mixed, BoundedOptions{K: 1, PerKey: true}))
	mustFail(t, CheckBoundedStaleness(mixed, BoundedOptions{K: 1}), KindBSVersions)
	// Bounds disabled: nothing to check.
	mustPass(t, CheckBoundedStaleness(cases[0].h, BoundedOptions{NoRegionMonotonic: true}))
}
