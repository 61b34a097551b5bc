package control

import "github.com/meridiandb/meridian/internal/session"

// Verdict is what a region does with a read that carries a session token.
type Verdict int

// Verdicts.
const (
	// Serve: the region's applied LSN satisfies the token.
	Serve Verdict = iota + 1
	// Wait: the token is valid but the region has not applied it yet
	// (bounded server-side wait, then 404/1002; never older data, D-5).
	Wait
	// Lost: a failover truncated a write the token covers. Answer 404/1002
	// (or a distinct "session lost" error) at once, never data; waiting
	// cannot help and the token never becomes valid again (C13).
	Lost
	// Future: the token's version is an epoch this region has not adopted
	// yet; wait for the fence to reach it (like Wait).
	Future
	// Diverged: this region's own log holds entries a failover truncated
	// (a deposed region that has not rolled back). It must not serve any
	// read, with or without a token, until Divergence's suffix is removed.
	Diverged
)

func (v Verdict) String() string {
	switch v {
	case Serve:
		return "Serve"
	case Wait:
		return "Wait"
	case Lost:
		return "Lost"
	case Future:
		return "Future"
	case Diverged:
		return "Diverged"
	}
	return "Unknown"
}

// TokenVerdict applies D-6 to a read of partition p carrying tok, in a
// region whose partition has applied `applied` and adopted epoch
// regionEpoch. A token (v, L) names the log prefix 1..L as it was at
// version v; a failover that opened epoch e > v at start S truncated every
// entry at LSN >= S of epochs < e. So:
//
//  1. Diverged if the region itself holds a truncated entry: applied >
//     CommitPoint(p, regionEpoch). (Precondition: a region adopts an epoch
//     only when its log is on that epoch's timeline — survivors when they
//     adopt the fence, a deposed region only after removing Divergence's
//     suffix — so regionEpoch bounds the epochs of its entries.)
//  2. Serve a token that covers nothing (GlobalLSN <= 0; the null token is
//     always valid).
//  3. Lost if L > CommitPoint(p, v): the token covers a truncated entry.
//     Versions < 1 (legacy and single-region tokens, -1) are read as epoch
//     1, the earliest, which can only err towards Lost, never towards
//     serving a lost write.
//  4. Future if v > regionEpoch.
//  5. Serve if applied >= L, else Wait.
//
// A token whose version is older than the region's but whose LSN is <= its
// epoch's commit point stays valid (rule 3 does not fire; rule 5 decides).
// Since History only grows and CommitPoint only decreases as it grows, a
// token judged Lost is judged Lost under every later history.
// Multi-write region LSNs (tok.Regions) are not considered: this is the
// single-write protocol.
func TokenVerdict(h History, p uint64, tok session.Token, applied, regionEpoch int64) Verdict {
	if cp, ok := h.CommitPoint(p, regionEpoch); ok && applied > cp {
		return Diverged
	}
	if tok.GlobalLSN <= 0 {
		return Serve
	}
	if cp, ok := h.CommitPoint(p, max(tok.Version, 1)); ok && tok.GlobalLSN > cp {
		return Lost
	}
	if tok.Version > regionEpoch {
		return Future
	}
	if applied >= tok.GlobalLSN {
		return Serve
	}
	return Wait
}

// Divergence returns, for a returning deposed region, the LSN range of its
// log of partition p that no survivor had and the failover truncated:
// from the commit point of the epoch of its last entry (lastEpoch) + 1 up
// to its applied LSN. That suffix must be removed and published once to the
// conflict feed, never replayed silently (FO-F2); then the region adopts
// the current epoch and follows the write region (Rejoin). ok is false when
// nothing needs removing: its log is a prefix of the surviving one.
//
// By log matching (one writer per epoch, in-order replication), entries at
// or below that commit point are identical to the surviving log's.
func Divergence(h History, p uint64, lastEpoch, applied int64) (from, to int64, ok bool) {
	cp, has := h.CommitPoint(p, lastEpoch)
	if !has || applied <= cp {
		return 0, 0, false
	}
	return cp + 1, applied, true
}
