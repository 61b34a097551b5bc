package conflict

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// HLC is a hybrid-logical-clock timestamp: a physical part (Unix
// nanoseconds, possibly skewed) and a logical counter that orders events
// sharing a physical reading. A region keeps the highest HLC it has issued
// or applied and stamps every write with Next of it, so a write is always
// stamped above every version its writer had seen, whatever the clock skew
// (consistency-semantics.md §3.6: writes-follow-reads, monotonic writes).
type HLC struct {
	Wall    int64  // physical part, Unix nanoseconds
	Logical uint32 // logical counter within Wall
}

// Compare returns -1, 0 or +1 as h is before, equal to or after o.
func (h HLC) Compare(o HLC) int {
	switch {
	case h.Wall < o.Wall:
		return -1
	case h.Wall > o.Wall:
		return 1
	case h.Logical < o.Logical:
		return -1
	case h.Logical > o.Logical:
		return 1
	}
	return 0
}

// Max returns the later of h and o.
func (h HLC) Max(o HLC) HLC {
	if h.Compare(o) >= 0 {
		return h
	}
	return o
}

// Next returns the stamp of the next local event after h, given the
// physical clock reading wall: wall itself if it is ahead of h, else h with
// the logical counter advanced. The result is always after h.
func (h HLC) Next(wall int64) HLC {
	switch {
	case wall > h.Wall:
		return HLC{Wall: wall}
	case h.Logical < math.MaxUint32:
		return HLC{Wall: h.Wall, Logical: h.Logical + 1}
	default:
		return HLC{Wall: h.Wall + 1}
	}
}

// Seconds returns the physical part in Unix seconds (rounded down): the
// value of _ts.
func (h HLC) Seconds() int64 {
	s := h.Wall / 1e9
	if h.Wall%1e9 < 0 {
		s--
	}
	return s
}

func (h HLC) String() string {
	return strconv.FormatInt(h.Wall, 10) + "." + strconv.FormatUint(uint64(h.Logical), 10)
}

// Vector is a region's progress in the multi-write session-token form
// (consistency-semantics.md §3.1: {regionId}={localLSN}): for each origin
// region, the highest of its local LSNs applied, every lower one included
// (each origin's log is applied in order). It converts from and to
// session.Token.Regions.
type Vector map[uint32]int64

// Covers reports whether v includes the write (origin, lsn).
func (v Vector) Covers(origin uint32, lsn int64) bool { return v[origin] >= lsn }

// Clone returns a copy of v.
func (v Vector) Clone() Vector {
	out := make(Vector, len(v))
	for r, l := range v {
		out[r] = l
	}
	return out
}

// Version is one replicated version of an item, as the resolver sees it.
//
// Identity: (Origin, LSN, Index) — the write region, its local LSN, and the
// change's position in that log entry (a transactional batch writes several
// changes under one LSN). It is unique and the same in every region.
//
// Causality: Seen is the vector of what the writer's region had applied
// when it wrote this version (its own earlier writes included, this one
// excluded). Version w has seen v (w.Saw(v)) when w.Seen covers v's
// (Origin, LSN); two versions are concurrent when neither has seen the
// other. Seen only classifies an outcome (a causal overwrite is not a
// conflict); the winner itself is decided by a total order (see Resolve).
//
// Incarnation, Depth and Floor place the version in the item's history and
// are set by Successor from the version the write replaced; the resolver's
// order relies on them.
type Version struct {
	Origin uint32 // region that wrote this version
	LSN    int64  // the origin's local LSN of the write (≥ 1)
	Index  int    // position of this change in its log entry
	TS     HLC    // write timestamp; _ts is TS.Seconds()
	Seen   Vector // what the writer had applied (excluding this write)

	Deleted bool   // a tombstone
	Doc     []byte // the item JSON; nil for a tombstone

	// Incarnation counts the lives of the item: a create on top of a
	// tombstone starts Incarnation+1; every other write keeps its base's.
	Incarnation uint64
	// Depth is the number of writes in this incarnation up to and including
	// this one: 1 for a create.
	Depth uint64
	// Floor (custom-path LWW only, Depth > 1) is the highest path value of
	// this version's ancestors in its incarnation: a write never ranks below
	// the version it replaced, even if it lowers the path value.
	Floor float64
}

// Saw reports whether v's writer had seen w.
func (v Version) Saw(w Version) bool {
	if v.Origin == w.Origin && v.LSN == w.LSN {
		return w.Index < v.Index // earlier in the same log entry
	}
	return v.Seen.Covers(w.Origin, w.LSN)
}

// Concurrent reports whether neither of a and b had seen the other: the
// definition of a conflict.
func Concurrent(a, b Version) bool {
	return !sameWrite(a, b) && !a.Saw(b) && !b.Saw(a)
}

func sameWrite(a, b Version) bool {
	return a.Origin == b.Origin && a.LSN == b.LSN && a.Index == b.Index
}

// Operation returns the Cosmos operation type of the write: "create" (the
// first write of an incarnation), "replace" or "delete".
func (v Version) Operation() string {
	switch {
	case v.Deleted:
		return "delete"
	case v.Depth == 1:
		return "create"
	}
	return "replace"
}

func (v Version) String() string {
	return fmt.Sprintf("%s r%d/%d.%d ts=%s inc=%d depth=%d", v.Operation(), v.Origin, v.LSN, v.Index, v.TS, v.Incarnation, v.Depth)
}

// Successor errors: the write cannot follow its base. They are bugs of the
// caller (the server answers 404 before a delete of a missing item), not
// client errors.
var (
	ErrDeleteMissing = errors.New("conflict: a delete needs a live item to delete")
	ErrNotAfterBase  = errors.New("conflict: a write must be stamped after the version it replaces")
	ErrMalformed     = errors.New("conflict: malformed version")
)

// Successor completes the resolver metadata of a new local write w on top of
// base, the version the writer's region held (nil: the item never existed).
// The caller sets w's Origin, LSN, Index, TS, Seen, Deleted and Doc;
// Successor sets Incarnation, Depth and Floor:
//
//   - a write on a live base keeps its incarnation, Depth+1;
//   - a create on a tombstone starts a new incarnation (Depth 1), so it
//     beats everything of the incarnation the tombstone ended;
//   - a create on nothing is incarnation 0, Depth 1.
//
// It refuses a delete with no live base, a write not stamped after its base
// (w.TS must be > base.TS: the region's HLC has applied base), a write whose
// Seen does not cover its base or covers the write itself, and a tombstone
// with a document (or a live version without one). The result always ranks
// above base in Resolve's order, which is what makes every region converge.
func Successor(p Policy, base *Version, w Version) (Version, error) {
	if w.LSN < 1 || w.Index < 0 || w.Seen.Covers(w.Origin, w.LSN) {
		return Version{}, fmt.Errorf("%w: LSN %d index %d seen %v", ErrMalformed, w.LSN, w.Index, w.Seen)
	}
	if w.Deleted != (w.Doc == nil) {
		return Version{}, fmt.Errorf("%w: a tombstone has no document and a live version has one", ErrMalformed)
	}
	if w.Deleted && (base == nil || base.Deleted) {
		return Version{}, ErrDeleteMissing
	}
	w.Floor = 0
	switch {
	case base == nil:
		w.Incarnation, w.Depth = 0, 1
		return w, nil
	case w.TS.Compare(base.TS) <= 0:
		return Version{}, fmt.Errorf("%w: %s is not after %s", ErrNotAfterBase, w.TS, base.TS)
	case !w.Saw(*base):
		return Version{}, fmt.Errorf("%w: its Seen %v does not cover its base r%d/%d", ErrMalformed, w.Seen, base.Origin, base.LSN)
	case base.Deleted:
		w.Incarnation, w.Depth = base.Incarnation+1, 1
	default:
		w.Incarnation, w.Depth = base.Incarnation, base.Depth+1
		if !p.byTS() {
			w.Floor = p.rank(*base)
		}
	}
	return w, nil
}

// rank is the value a custom-path LWW policy compares: the number at the
// path (missing, non-numeric or a tombstone: −∞, D-8), raised to Floor for
// a version that is not its incarnation's first.
func (p Policy) rank(v Version) float64 {
	r := math.Inf(-1)
	if !v.Deleted {
		r = pathValue(v.Doc, p.segs)
	}
	if v.Depth > 1 && v.Floor > r {
		r = v.Floor
	}
	return r
}

// pathValue returns the JSON number at segs in doc, or −∞ if the path is
// missing, does not end at a number, or doc is not a JSON object (D-8).
// Numbers are IEEE doubles as in Cosmos DB; one too large is ±Inf.
func pathValue(doc []byte, segs []string) float64 {
	cur := json.RawMessage(doc)
	for _, s := range segs {
		var obj map[string]json.RawMessage
		if json.Unmarshal(cur, &obj) != nil {
			return math.Inf(-1)
		}
		next, ok := obj[s]
		if !ok {
			return math.Inf(-1)
		}
		cur = next
	}
	cur = bytes.TrimSpace(cur)
	if len(cur) == 0 || (cur[0] != '-' && (cur[0] < '0' || cur[0] > '9')) {
		return math.Inf(-1) // a string holding digits is not a number
	}
	var n json.Number
	if json.Unmarshal(cur, &n) != nil {
		return math.Inf(-1)
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return math.Inf(-1)
	}
	return f
}
