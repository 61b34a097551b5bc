package conflict

import (
	"bytes"
	"cmp"
	"math"
)

// Outcome classifies what an incoming version was to the local one.
type Outcome uint8

const (
	// Duplicate: the same write (same origin, LSN and index) delivered again.
	Duplicate Outcome = iota
	// Newer: the incoming version's writer had seen the local one; it
	// replaces it. Not a conflict.
	Newer
	// Stale: the local version's writer had seen the incoming one (an older
	// version delivered late, e.g. an update behind a tombstone); it is
	// dropped. Not a conflict.
	Stale
	// Conflicted: the versions are concurrent (or, see Decision.Inverted,
	// their order contradicts their history); the policy picked the winner
	// and the loser is a conflict loser: counted, and fed in Custom mode.
	Conflicted
)

func (o Outcome) String() string {
	return [...]string{"duplicate", "newer", "stale", "conflict"}[o]
}

// ConflictType is the kind of a conflict (consistency-semantics.md §4.2).
type ConflictType uint8

const (
	// NoConflict is the type of a decision that is not Conflicted.
	NoConflict ConflictType = iota
	// InsertInsert: two concurrent creates of the same id.
	InsertInsert
	// ReplaceReplace: two concurrent non-delete writes, at least one of
	// them a replace.
	ReplaceReplace
	// ReplaceDelete: a delete concurrent with a create or replace.
	ReplaceDelete
	// DeleteDelete: two concurrent deletes. Nothing is lost: counted, never
	// fed.
	DeleteDelete
)

func (t ConflictType) String() string {
	return [...]string{"none", "insert/insert", "replace/replace", "replace/delete", "delete/delete"}[t]
}

// Decision is Resolve's verdict.
type Decision struct {
	// Take: store the incoming version; otherwise keep the local one.
	Take    bool
	Outcome Outcome
	// Type is the conflict's type when Outcome is Conflicted.
	Type ConflictType
	// Feed: publish the loser to the conflicts feed (NewConflictRecord).
	// Only in Custom mode, for every Conflicted outcome except DeleteDelete.
	// In LastWriterWins mode a Conflicted loser is only counted.
	Feed bool
	// Loser is the version not kept: local when Take, else incoming.
	Loser Version
	// Inverted: the winner's writer had not seen the loser but the loser's
	// writer had seen the winner. Successor never produces this; it means a
	// version was built by hand or its metadata is corrupt. The policy's
	// order still decides (so regions converge) and the loser is treated as
	// a conflict loser, so it is not lost silently.
	Inverted bool
}

// Resolve decides between the version a region holds for an item (local,
// live or tombstone) and one that replication delivers (incoming). An item
// the region never held needs no decision: store the incoming version.
//
// The winner is the greater of the two in one total order over versions,
// the same in every region, so every region that applies the same set of
// versions, in any order and any grouping, keeps the same one: its
// maximum. The order compares, in turn:
//
//  1. Incarnation: a create issued after its writer saw a tombstone
//     belongs to a later life of the item and beats every version of the
//     earlier ones;
//  2. tombstone over live version, within an incarnation: a delete beats
//     every create or replace of the life it ended, concurrent or older,
//     so a deleted item never comes back except through a new create;
//  3. the policy's value: LastWriterWins on /_ts and Custom mode compare
//     TS (the HLC; _ts is its seconds); LastWriterWins on a custom path
//     compares the number at the path — missing or non-numeric is −∞
//     (D-8) — raised to the version's Floor, then Depth;
//  4. origin region id, then origin LSN (D-7), then the change's index.
//
// Every write made with Successor ranks above the version it replaced, so
// the order agrees with causality: a version's causal successors always
// beat it, and the policy only ever settles concurrent versions.
func Resolve(p Policy, local, incoming Version) Decision {
	c := compare(p, incoming, local)
	d := Decision{Take: c > 0}
	win, lose := local, incoming
	if d.Take {
		win, lose = incoming, local
	}
	d.Loser = lose
	switch {
	case sameWrite(local, incoming):
		d.Outcome = Duplicate
	case win.Saw(lose):
		d.Outcome = Stale
		if d.Take {
			d.Outcome = Newer
		}
	default:
		d.Outcome = Conflicted
		d.Inverted = lose.Saw(win)
		d.Type = conflictType(win, lose)
		d.Feed = p.mode == Custom && d.Type != DeleteDelete
	}
	return d
}

func conflictType(a, b Version) ConflictType {
	switch {
	case a.Deleted && b.Deleted:
		return DeleteDelete
	case a.Deleted || b.Deleted:
		return ReplaceDelete
	case a.Depth == 1 && b.Depth == 1:
		return InsertInsert
	}
	return ReplaceReplace
}

// Winner returns the version every region keeps among vs (the maximum of
// Resolve's order), and false if vs is empty. It is Resolve folded over vs.
func Winner(p Policy, vs ...Version) (Version, bool) {
	if len(vs) == 0 {
		return Version{}, false
	}
	w := vs[0]
	for _, v := range vs[1:] {
		if compare(p, v, w) > 0 {
			w = v
		}
	}
	return w, true
}

// compare is Resolve's total order: -1, 0 or +1 as a ranks below, equal
// to or above b.
func compare(p Policy, a, b Version) int {
	if c := cmp.Compare(a.Incarnation, b.Incarnation); c != 0 {
		return c
	}
	if a.Deleted != b.Deleted {
		if a.Deleted {
			return 1
		}
		return -1
	}
	if p.byTS() {
		if c := a.TS.Compare(b.TS); c != 0 {
			return c
		}
	} else {
		if c := cmpFloat(p.rank(a), p.rank(b)); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Depth, b.Depth); c != 0 {
			return c
		}
	}
	if c := cmp.Compare(a.Origin, b.Origin); c != 0 {
		return c
	}
	if c := cmp.Compare(a.LSN, b.LSN); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Index, b.Index); c != 0 {
		return c
	}
	// The same write: equal unless a copy is corrupt; order the copies
	// anyway, so even then every region keeps the same one.
	if c := bytes.Compare(a.Doc, b.Doc); c != 0 {
		return c
	}
	if c := a.TS.Compare(b.TS); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Depth, b.Depth); c != 0 {
		return c
	}
	return cmpFloat(a.Floor, b.Floor)
}

// cmpFloat orders floats with NaN as −∞ (no JSON number is NaN; a corrupt
// Floor must not break the order's totality).
func cmpFloat(a, b float64) int {
	if math.IsNaN(a) {
		a = math.Inf(-1)
	}
	if math.IsNaN(b) {
		b = math.Inf(-1)
	}
	return cmp.Compare(a, b)
}
