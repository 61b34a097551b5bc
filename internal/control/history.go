package control

import "slices"

// EpochStart records that writes of Epoch began, for one partition, at LSN
// Start: the commit point of the failover that opened the epoch plus one.
type EpochStart struct {
	Epoch int64 `json:"epoch"`
	Start int64 `json:"start"`
}

// History is the per-partition epoch history: for every partition, the
// epochs opened by a Promote, each with its first LSN, in increasing epoch
// order. Epoch 1 starts at LSN 1 and is implicit (not stored).
//
// A Promote of epoch e with start S truncates, for good, every entry at
// LSN >= S written in an epoch < e. The history is append-only, so the
// commit point of an epoch (CommitPoint) can only go down as it grows, and
// a verdict of Lost, once given, is given forever (TokenVerdict).
type History map[uint64][]EpochStart

// CommitPoint returns the last LSN of partition p whose entry written in
// epoch `epoch` (or earlier) survives: the smallest start among the epochs
// promoted after `epoch`, minus one. ok is false when no epoch after `epoch`
// was promoted for p: nothing written in `epoch` has been truncated (yet).
func (h History) CommitPoint(p uint64, epoch int64) (cp int64, ok bool) {
	for _, es := range h[p] {
		if es.Epoch > epoch && (!ok || es.Start-1 < cp) {
			cp, ok = es.Start-1, true
		}
	}
	return cp, ok
}

// StartOf returns the first LSN of epoch `epoch` for partition p: 1 for
// epoch 1, the recorded start for a promoted epoch. ok is false for an
// epoch that was never opened for p.
func (h History) StartOf(p uint64, epoch int64) (int64, bool) {
	if epoch == 1 {
		return 1, true
	}
	for _, es := range h[p] {
		if es.Epoch == epoch {
			return es.Start, true
		}
	}
	return 0, false
}

// Committed returns the commit point the latest failover established for
// p (the start of p's latest epoch minus one; 0 before any failover). No
// later failover may plan below it without Force.
func (h History) Committed(p uint64) int64 {
	if es := h[p]; len(es) > 0 {
		return es[len(es)-1].Start - 1
	}
	return 0
}

func (h History) clone() History {
	if h == nil {
		return History{}
	}
	out := make(History, len(h))
	for p, es := range h {
		out[p] = slices.Clone(es)
	}
	return out
}
