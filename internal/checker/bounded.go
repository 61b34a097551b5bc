package checker

import (
	"cmp"
	"slices"
	"sort"
	"time"
)

// BoundedOptions configures CheckBoundedStaleness.
type BoundedOptions struct {
	// K is the version bound (maxStalenessPrefix); ≤ 0 disables it.
	K int64
	// T is the time bound (maxIntervalInSeconds); ≤ 0 disables it.
	T time.Duration
	// Epsilon is the tolerance added to T for scheduling jitter and clock
	// error (D-2, pitfall 20; 10-50 ms on a loaded 2-core box). State it in
	// the test.
	Epsilon time.Duration
	// Levels are the levels of the reads checked (default
	// {"BoundedStaleness"}).
	Levels []string
	// PerKey counts the K versions per item (a read must return one of
	// the K+1 newest acknowledged versions of the key) and the T bound per
	// item, instead of per partition (the default, as Cosmos DB does: K
	// counts writes to the physical partition, Op.Partition, and a read
	// must reflect the partition's log up to newest acknowledged LSN − K).
	PerKey bool
	// NoRegionMonotonic disables the per-region monotonic-read check (C9).
	NoRegionMonotonic bool
	// AllowLost marks acknowledged writes a failover may have lost (BS-A2):
	// they neither count as acknowledged nor must be seen.
	AllowLost     func(i int, op Op) bool
	MaxViolations int
}

// ackPoint is an acknowledged write: when it returned, and its LSN.
type ackPoint struct {
	ret, lsn int64
}

// ackCurve answers maxAckedLSN(t) for one scope (partition or key).
type ackCurve struct {
	ret    []int64 // sorted
	lsn    []int64 // the LSN acknowledged at ret[i]
	maxLSN []int64 // prefix max
}

func newAckCurve(pts []ackPoint) ackCurve {
	slices.SortFunc(pts, func(a, b ackPoint) int { return cmp.Compare(a.ret, b.ret) })
	c := ackCurve{ret: make([]int64, len(pts)), lsn: make([]int64, len(pts)), maxLSN: make([]int64, len(pts))}
	var m int64
	for i, p := range pts {
		m = max(m, p.lsn)
		c.ret[i], c.lsn[i], c.maxLSN[i] = p.ret, p.lsn, m
	}
	return c
}

// at is the largest LSN of a write acknowledged at or before t (0 if none).
func (c ackCurve) at(t int64) int64 {
	n := sort.Search(len(c.ret), func(i int) bool { return c.ret[i] > t })
	if n == 0 {
		return 0
	}
	return c.maxLSN[n-1]
}

// kthAt is the LSN of the version k behind the newest acknowledged at or
// before t (0 if there are not that many): with versions counted per item,
// a read must return it or a newer one.
func (c ackCurve) kthAt(t, k int64) int64 {
	n := sort.Search(len(c.ret), func(i int) bool { return c.ret[i] > t })
	lsns := slices.Clone(c.lsn[:n])
	slices.Sort(lsns)
	lsns = slices.Compact(lsns)
	if int64(len(lsns)) <= k {
		return 0
	}
	return lsns[int64(len(lsns))-1-k]
}

// CheckBoundedStaleness checks the version and time bounds of Bounded
// Staleness reads (C6, C7) and per-region monotonic reads (C9): see the
// package documentation for the exact rule.
func CheckBoundedStaleness(h History, opts BoundedOptions) Report {
	if len(opts.Levels) == 0 {
		opts.Levels = []string{"BoundedStaleness"}
	}
	rp := newReporter("bounded-staleness", h, opts.MaxViolations)
	ix := newIndex(h)
	skip := func(w *wref) bool { return opts.AllowLost != nil && opts.AllowLost(w.op, h.Ops[w.op]) }
	scope := func(part, key string) string {
		if opts.PerKey {
			return part + "\x00" + key
		}
		return part
	}
	pts := map[string][]ackPoint{}
	for _, ws := range ix.writes {
		for _, w := range ws {
			if w.res == OK && w.lsn > 0 && !skip(w) {
				s := scope(w.part, w.key)
				pts[s] = append(pts[s], ackPoint{w.ret, w.lsn})
			}
		}
	}
	// A batch op appears once per key: with a partition scope its LSN is
	// counted once per key, which does not change a maximum.
	curves := map[string]ackCurve{}
	for s, p := range pts {
		curves[s] = newAckCurve(p)
	}

	type sread struct {
		op        int
		call, ret int64
		lsn       int64
		value     string
	}
	byRegionKey := map[[2]string][]sread{}
	for i, o := range h.Ops {
		if !o.Kind.reads() || o.Result != OK || !levelIn(o.Level, opts.Levels) {
			continue
		}
		rp.r.Stats["bs_reads"]++
		for _, kv := range o.observed() {
			cur := curves[scope(o.Partition, kv.Key)]
			var boundK, boundT int64
			if opts.K > 0 {
				if opts.PerKey {
					boundK = cur.kthAt(o.Call, opts.K)
				} else {
					boundK = cur.at(o.Call) - opts.K
				}
			}
			if opts.T > 0 {
				boundT = cur.at(o.Call - int64(opts.T) - int64(opts.Epsilon))
			}
			bound := max(boundK, boundT)
			if bound > 0 {
				if ws := ix.witnesses(kv.Key, kv.Value, kv.LSN, bound, skip); len(ws) > 0 {
					w := maxLSN(ws)
					if w.lsn <= boundK {
						rp.violate(KindBSVersions, kv.Key, []int{i, w.op},
							"read op %d in %s (invoked at %d) returned %s=%s, but write %s (op %d, LSN %d) is at most K=%d versions behind the newest acknowledged LSN %d: the lag exceeds K",
							i, o.Region, o.Call, kv.Key, showValue(kv.Value), showValue(w.val), w.op, w.lsn, opts.K, boundK+opts.K)
					} else {
						rp.violate(KindBSTime, kv.Key, []int{i, w.op},
							"read op %d in %s (invoked at %d) returned %s=%s, but write %s (op %d, LSN %d) is covered by LSN %d, acknowledged before %d = invoke - T(%v) - ε(%v): the read is older than T",
							i, o.Region, o.Call, kv.Key, showValue(kv.Value), showValue(w.val), w.op, w.lsn, boundT, o.Call-int64(opts.T)-int64(opts.Epsilon), opts.T, opts.Epsilon)
					}
				}
			} else {
				rp.r.Stats["bs_reads_no_bound_yet"]++
			}
			if s, ok := ix.servedLSN(kv.Key, kv.Value, kv.LSN); ok {
				byRegionKey[[2]string{o.Region, kv.Key}] = append(byRegionKey[[2]string{o.Region, kv.Key}], sread{i, o.Call, o.Return, s, kv.Value})
			} else if kv.Value == "" && !ix.hasDeletes(kv.Key) {
				byRegionKey[[2]string{o.Region, kv.Key}] = append(byRegionKey[[2]string{o.Region, kv.Key}], sread{i, o.Call, o.Return, 0, ""})
			} else {
				rp.r.Stats["bs_reads_lsn_unknown"]++
			}
		}
	}
	if opts.NoRegionMonotonic {
		return rp.done()
	}
	// C9 / BS-F3: within a region, a read invoked after another returned
	// never returns an older version.
	keys := make([][2]string, 0, len(byRegionKey))
	for k := range byRegionKey {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int {
		if a[0] != b[0] {
			return cmp.Compare(a[0], b[0])
		}
		return cmp.Compare(a[1], b[1])
	})
	for _, rk := range keys {
		reads := byRegionKey[rk]
		byRet := slices.Clone(reads)
		slices.SortFunc(byRet, func(a, b sread) int { return cmp.Compare(a.ret, b.ret) })
		best := make([]int, len(byRet)) // index in byRet of the max LSN among byRet[:i+1]
		for i := range byRet {
			best[i] = i
			if i > 0 && byRet[best[i-1]].lsn >= byRet[i].lsn {
				best[i] = best[i-1]
			}
		}
		for _, r := range reads {
			n := sort.Search(len(byRet), func(i int) bool { return byRet[i].ret >= r.call })
			if n == 0 {
				continue
			}
			if p := byRet[best[n-1]]; p.lsn > r.lsn {
				rp.violate(KindBSRegion, rk[1], []int{p.op, r.op},
					"reads in region %s went back: op %d returned %s=%s (LSN %d) at %d; op %d invoked later at %d returned %s (LSN %d)",
					rk[0], p.op, rk[1], showValue(p.value), p.lsn, p.ret, r.op, r.call, showValue(r.value), r.lsn)
			}
		}
	}
	return rp.done()
}
