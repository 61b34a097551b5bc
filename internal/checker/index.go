package checker

import (
	"math"
	"strconv"
	"strings"
)

// Token is the part of a session token the checkers use: the version
// (epoch) and global LSN of one partition key range.
type Token struct {
	Epoch, LSN int64
}

// ParseToken extracts partition's token from a session token header value:
// "0:1#42", "0:1#42#1=40#2=38" (vector form; regional LSNs are ignored),
// the legacy "0:42" (epoch -1), a bare "1#42", or a comma-separated list of
// ranges. partition "" picks the only range of a single-range header. ok is
// false for "" and for anything malformed.
func ParseToken(header, partition string) (Token, bool) {
	if header == "" {
		return Token{}, false
	}
	segs := strings.Split(header, ",")
	for _, seg := range segs {
		seg = strings.TrimSpace(seg)
		rng, rest, hasRange := strings.Cut(seg, ":")
		if !hasRange {
			rng, rest = "", seg
		}
		if partition != "" && rng != partition {
			continue
		}
		if partition == "" && len(segs) > 1 {
			return Token{}, false
		}
		f := strings.Split(rest, "#")
		switch {
		case len(f) == 1 && hasRange:
			lsn, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return Token{}, false
			}
			return Token{Epoch: -1, LSN: lsn}, true
		case len(f) >= 2:
			ep, err1 := strconv.ParseInt(f[0], 10, 64)
			lsn, err2 := strconv.ParseInt(f[1], 10, 64)
			if err1 != nil || err2 != nil {
				return Token{}, false
			}
			return Token{Epoch: ep, LSN: lsn}, true
		}
		return Token{}, false
	}
	return Token{}, false
}

// VectorToken reports whether partition's token in a session token header
// has per-region components ("0:1#12#1=5#2=4#3=3"), the form a
// multi-write account's regions return (consistency-semantics.md §3.1;
// single-write regions return "0:1#12").
func VectorToken(header, partition string) bool {
	for _, seg := range strings.Split(header, ",") {
		rng, rest, hasRange := strings.Cut(strings.TrimSpace(seg), ":")
		if !hasRange {
			rest = rng
		} else if partition != "" && rng != partition {
			continue
		}
		return strings.Count(rest, "#") >= 2 && strings.Contains(rest, "=")
	}
	return false
}

// writeLSN is the LSN and epoch an acknowledged write got: Op.LSN/Epoch if
// set, else its returned session token's. The token of a multi-write
// account (a vector token, see VectorToken) names no write: its global LSN
// is the sum of per-region LSNs, which concurrent writes in different
// regions can share and which orders nothing, so such a write has no LSN.
func writeLSN(o Op) (lsn, epoch int64, ok bool) {
	lsn, epoch = o.LSN, o.Epoch
	if lsn <= 0 && o.Result == OK && !VectorToken(o.TokenOut, o.Partition) {
		if t, tok := ParseToken(o.TokenOut, o.Partition); tok {
			lsn = t.LSN
			if epoch == 0 {
				epoch = t.Epoch
			}
		}
	}
	return lsn, epoch, lsn > 0
}

// never is the return time of a write whose outcome is unknown: it may take
// effect at any time after its call.
const never = math.MaxInt64

// wref is one key's write by one op (a batch op gives several).
type wref struct {
	op     int
	client int
	part   string
	key    string
	val    string // "" = delete
	lsn    int64  // 0 = unknown
	epoch  int64
	call   int64
	ret    int64 // never for Unknown
	res    Result
	batch  bool
}

func (w *wref) del() bool { return w.val == "" }

// before reports whether w certainly took effect before o did: by LSN when
// both are known (same partition), else by real time (w returned before o
// was called).
func (w *wref) before(o *wref) bool {
	if w.lsn > 0 && o.lsn > 0 && w.part == o.part {
		if w.epoch != o.epoch && w.lsn == o.lsn {
			return w.epoch < o.epoch
		}
		return w.lsn < o.lsn
	}
	return w.ret < o.call
}

// index is what the checkers share: every attempted write per key, and the
// write of each (key, value).
type index struct {
	h       History
	writes  map[string][]*wref          // key -> writes, in op order
	byValue map[string]map[string]*wref // key -> value -> write
	epochs  map[string]map[int64]int64  // partition -> epoch -> smallest LSN written in it
}

func newIndex(h History) *index {
	ix := &index{h: h, writes: map[string][]*wref{}, byValue: map[string]map[string]*wref{}, epochs: map[string]map[int64]int64{}}
	for i, o := range h.Ops {
		if !o.Kind.writes() || !o.Result.valid() {
			continue
		}
		var lsn, ep int64
		if o.Result == OK {
			lsn, ep, _ = writeLSN(o)
		} else if o.LSN > 0 {
			lsn, ep = o.LSN, o.Epoch
		}
		if lsn > 0 && o.Result != Fail {
			m := ix.epochs[o.Partition]
			if m == nil {
				m = map[int64]int64{}
				ix.epochs[o.Partition] = m
			}
			if cur, ok := m[ep]; !ok || lsn < cur {
				m[ep] = lsn
			}
		}
		ret := o.Return
		if o.Result == Unknown {
			ret = never
		}
		for _, kv := range o.written() {
			w := &wref{op: i, client: o.Client, part: o.Partition, key: kv.Key, val: kv.Value, lsn: lsn, epoch: ep,
				call: o.Call, ret: ret, res: o.Result, batch: o.Kind == Batch}
			ix.writes[kv.Key] = append(ix.writes[kv.Key], w)
			if kv.Value != "" {
				m := ix.byValue[kv.Key]
				if m == nil {
					m = map[string]*wref{}
					ix.byValue[kv.Key] = m
				}
				if _, dup := m[kv.Value]; !dup {
					m[kv.Value] = w
				}
			}
		}
	}
	return ix
}

// writeOf returns the write of key=value, or nil.
func (ix *index) writeOf(key, value string) *wref {
	if value == "" {
		return nil
	}
	return ix.byValue[key][value]
}

// servedLSN is the LSN of the version a read of key returned: that of the
// write of the (unique) value when known, else the LSN the read reported.
// Not-found results have none (see missingWitness).
func (ix *index) servedLSN(key, value string, reported int64) (int64, bool) {
	if value == "" {
		return 0, false
	}
	if w := ix.writeOf(key, value); w != nil && w.lsn > 0 {
		return w.lsn, true
	}
	return reported, reported > 0
}

// witnesses finds the acknowledged writes of key that a read must have
// seen, because their LSN is at most bound, but did not: for a value read
// with LSN s, the writes with s < LSN ≤ bound; for a not-found read, the
// writes of a value with LSN ≤ bound that no delete (with a larger or
// unknown LSN) may have removed. Writes for which skip is true (allowed
// losses) are left out. A value read whose LSN is unknown has none.
func (ix *index) witnesses(key, value string, reported, bound int64, skip func(*wref) bool) []*wref {
	var out []*wref
	if value != "" {
		s, ok := ix.servedLSN(key, value, reported)
		if !ok {
			return nil
		}
		for _, w := range ix.writes[key] {
			if w.res == OK && w.lsn > s && w.lsn <= bound && (skip == nil || !skip(w)) {
				out = append(out, w)
			}
		}
		return out
	}
	for _, w := range ix.writes[key] {
		if w.res != OK || w.del() || w.lsn <= 0 || w.lsn > bound || (skip != nil && skip(w)) {
			continue
		}
		removed := false
		for _, d := range ix.writes[key] {
			if d.del() && d.res != Fail && (d.lsn == 0 || d.lsn > w.lsn) {
				removed = true // the not-found may be that delete
				break
			}
		}
		if !removed {
			out = append(out, w)
		}
	}
	return out
}

// maxLSN returns the write with the largest LSN.
func maxLSN(ws []*wref) *wref {
	var best *wref
	for _, w := range ws {
		if best == nil || w.lsn > best.lsn {
			best = w
		}
	}
	return best
}

// hasDeletes reports whether key was ever (maybe) deleted.
func (ix *index) hasDeletes(key string) bool {
	for _, w := range ix.writes[key] {
		if w.del() && w.res != Fail {
			return true
		}
	}
	return false
}

// levelIn reports whether level is one of levels (case-insensitive;
// "Bounded" = "BoundedStaleness").
func levelIn(level string, levels []string) bool {
	n := normLevel(level)
	for _, l := range levels {
		if normLevel(l) == n {
			return true
		}
	}
	return false
}

func normLevel(l string) string {
	l = strings.ToLower(strings.TrimSpace(l))
	switch l {
	case "bounded", "boundedstaleness", "bounded_staleness", "bounded-staleness":
		return "boundedstaleness"
	case "prefix", "consistentprefix", "consistent_prefix", "consistent-prefix":
		return "consistentprefix"
	}
	return l
}
