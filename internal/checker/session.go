package checker

import (
	"cmp"
	"slices"
)

// SessionOptions configures CheckSession.
type SessionOptions struct {
	// Levels are the levels of the reads checked (default {"Session"}).
	// Reads without a token are not checked (C15: eventual only).
	Levels []string
	// AllowLost marks acknowledged writes that a failover may have lost
	// (the unsynced suffix): reads need not see them.
	AllowLost func(i int, op Op) bool
	// EpochFirstLSN gives, per partition and epoch, the first LSN written in
	// the epoch (the control plane's History: TargetLSN+1). Without it the
	// checker uses the smallest LSN of a write observed in the epoch, which
	// can only miss SE-F3 violations, never invent one.
	EpochFirstLSN map[string]map[int64]int64
	// ApplyOrder is, per region, the writes in the order the region applied
	// them (its change feed or apply log, read after quiescence). With it
	// the checker checks monotonic writes and writes-follow-reads (C12).
	ApplyOrder map[string][]KV
	// ApplyOrderComplete says ApplyOrder lists every applied version (an
	// apply log), not only the latest version of each item (a latest-version
	// change feed): then a missing predecessor is a violation too.
	ApplyOrderComplete bool
	MaxViolations      int
}

// CheckSession checks the session guarantees per client token chain
// (C10-C13): see the package documentation for the exact rules.
func CheckSession(h History, opts SessionOptions) Report {
	if len(opts.Levels) == 0 {
		opts.Levels = []string{"Session"}
	}
	rp := newReporter("session", h, opts.MaxViolations)
	ix := newIndex(h)
	skip := func(w *wref) bool { return opts.AllowLost != nil && opts.AllowLost(w.op, h.Ops[w.op]) }

	firstLSN := func(part string, epoch int64) (int64, bool) {
		v, ok := ix.epochs[part][epoch]
		if o, set := opts.EpochFirstLSN[part][epoch]; set && (!ok || o < v) {
			v, ok = o, true
		}
		return v, ok
	}
	epochsOf := func(part string) []int64 {
		var e []int64
		for ep := range ix.epochs[part] {
			e = append(e, ep)
		}
		for ep := range opts.EpochFirstLSN[part] {
			if !slices.Contains(e, ep) {
				e = append(e, ep)
			}
		}
		slices.Sort(e)
		return e
	}

	// Position of each (key, value) in each region's apply order.
	type kvk struct{ key, value string }
	pos := map[string]map[kvk]int{}
	regions := make([]string, 0, len(opts.ApplyOrder))
	for r, order := range opts.ApplyOrder {
		regions = append(regions, r)
		m := map[kvk]int{}
		for i, kv := range order {
			if kv.Value == "" {
				continue
			}
			if _, dup := m[kvk{kv.Key, kv.Value}]; !dup {
				m[kvk{kv.Key, kv.Value}] = i
			}
		}
		pos[r] = m
	}
	slices.Sort(regions)

	byClient := map[int][]int{}
	for i, o := range h.Ops {
		if o.Kind.valid() && o.Result.valid() {
			byClient[o.Client] = append(byClient[o.Client], i)
		}
	}
	clients := make([]int, 0, len(byClient))
	for c := range byClient {
		clients = append(clients, c)
	}
	slices.Sort(clients)

	for _, c := range clients {
		chain := byClient[c]
		slices.SortStableFunc(chain, func(a, b int) int { return cmp.Compare(h.Ops[a].Call, h.Ops[b].Call) })
		var own []*wref  // this client's acknowledged writes so far
		var seen []*wref // writes observed by this client's earlier reads
		isOwn := map[*wref]bool{}
		isSeen := map[*wref]bool{}
		for _, i := range chain {
			o := h.Ops[i]
			tokIn, hasTok := ParseToken(o.TokenIn, o.Partition)
			tokOut, hasOut := ParseToken(o.TokenOut, o.Partition)
			if o.Kind.writes() {
				if o.Result == OK && hasOut && o.LSN > 0 && tokOut.LSN < o.LSN {
					rp.violate(KindTokenOut, o.Key, []int{i}, "write op %d got LSN %d but its session token %q does not cover it", i, o.LSN, o.TokenOut)
				}
				if len(opts.ApplyOrder) > 0 && hasTok {
					checkApplyOrder(rp, h, i, tokIn, own, seen, isOwn, regions, func(r, key, value string) (int, bool) {
						p, ok := pos[r][kvk{key, value}]
						return p, ok
					}, opts.ApplyOrderComplete, skip)
				}
				if o.Result == OK {
					for _, kv := range o.written() {
						for _, w := range ix.writes[kv.Key] {
							if w.op == i && !isOwn[w] {
								own = append(own, w)
								isOwn[w] = true
							}
						}
					}
				}
				continue
			}
			if !o.Kind.reads() || o.Result != OK || !levelIn(o.Level, opts.Levels) {
				continue
			}
			rp.r.Stats["session_reads"]++
			if !hasTok {
				rp.r.Stats["session_reads_without_token"]++
			}
			// SE-F3 (C13): a token of an older epoch that covers entries the
			// failover truncated must give an error, never a result.
			served := o.Epoch
			if hasOut {
				served = tokOut.Epoch
			}
			if hasTok && tokIn.Epoch >= 0 && served > tokIn.Epoch {
				for _, f := range epochsOf(o.Partition) {
					if f <= tokIn.Epoch || f > served {
						continue
					}
					if first, ok := firstLSN(o.Partition, f); ok && tokIn.LSN >= first {
						rp.violate(KindEpochToken, o.Key, []int{i},
							"read op %d carried token %q (epoch %d, LSN %d) and was served in epoch %d, but epoch %d starts at LSN %d: the token covers truncated writes and must be rejected (404/1002), not answered",
							i, o.TokenIn, tokIn.Epoch, tokIn.LSN, served, f, first)
						break
					}
				}
			}
			for _, kv := range o.observed() {
				if hasTok {
					for _, w := range own {
						if w.key == kv.Key && w.lsn > tokIn.LSN && !skip(w) {
							rp.r.Stats["reads_token_behind_own_write"]++
							break
						}
					}
					// A write of a later epoch than the token's is not
					// covered by it, whatever its LSN: a failover renumbers
					// from its commit point, below LSNs the old epoch used.
					tokSkip := func(w *wref) bool {
						return skip(w) || (tokIn.Epoch > 0 && w.epoch > tokIn.Epoch)
					}
					ws := ix.witnesses(kv.Key, kv.Value, kv.LSN, tokIn.LSN, tokSkip)
					if len(ws) > 0 {
						reportFloor(rp, i, o, kv, tokIn, ws, isOwn, isSeen)
					}
				}
				if s, ok := ix.servedLSN(kv.Key, kv.Value, kv.LSN); ok && hasOut && tokOut.LSN < s {
					rp.violate(KindTokenOut, kv.Key, []int{i},
						"read op %d returned %s=%s (LSN %d) with session token %q, which does not cover it: monotonic reads break for the next read",
						i, kv.Key, kv.Value, s, o.TokenOut)
				}
				if w := ix.writeOf(kv.Key, kv.Value); w != nil && !isSeen[w] {
					seen = append(seen, w)
					isSeen[w] = true
				}
			}
		}
	}
	return rp.done()
}

// reportFloor reports a read that returned a version older than its token
// covers, labelled by the most specific guarantee: read-your-writes if one
// of the missed writes is the client's own, monotonic reads if the client
// had read one of them, else the token floor.
func reportFloor(rp *reporter, i int, o Op, kv KV, tok Token, ws []*wref, isOwn, isSeen map[*wref]bool) {
	kind, w := KindFloor, maxLSN(ws)
	for _, x := range ws {
		if isSeen[x] && !isOwn[x] {
			kind, w = KindMonotonic, x
		}
	}
	for _, x := range ws {
		if isOwn[x] {
			kind, w = KindRYW, x
		}
	}
	what := map[string]string{
		KindRYW:       "its own write",
		KindMonotonic: "a version it had already read",
		KindFloor:     "write",
	}[kind]
	rp.violate(kind, kv.Key, []int{i, w.op},
		"read op %d by client %d in %s carried token %q (LSN %d) yet returned %s=%s, older than %s %s (op %d, LSN %d) that the token covers",
		i, o.Client, o.Region, o.TokenIn, tok.LSN, kv.Key, showValue(kv.Value), what, showValue(w.val), w.op, w.lsn)
}

// checkApplyOrder checks write op i against each region's apply order:
// every session predecessor covered by its token (the client's earlier
// acknowledged writes: MW; writes its earlier reads returned: WFR) must be
// applied before it.
func checkApplyOrder(rp *reporter, h History, i int, tok Token, own, seen []*wref, isOwn map[*wref]bool,
	regions []string, pos func(r, key, value string) (int, bool), complete bool, skip func(*wref) bool) {
	o := h.Ops[i]
	preds := append(slices.Clone(own), seen...)
	for _, kv := range o.written() {
		if kv.Value == "" {
			continue
		}
		for _, r := range regions {
			p2, ok := pos(r, kv.Key, kv.Value)
			if !ok {
				continue
			}
			for _, pw := range preds {
				if pw.val == "" || (pw.lsn > 0 && pw.lsn > tok.LSN) || skip(pw) || pw.op == i {
					continue
				}
				kind, what := KindWFR, "a write its earlier read returned"
				if isOwn[pw] {
					kind, what = KindMW, "its earlier write"
				}
				p1, ok := pos(r, pw.key, pw.val)
				switch {
				case ok && p1 > p2:
					rp.violate(kind, kv.Key, []int{i, pw.op},
						"region %s applied %s=%s (op %d, client %d) at position %d, before %s %s=%s (op %d) at position %d",
						r, kv.Key, kv.Value, i, o.Client, p2, what, pw.key, pw.val, pw.op, p1)
				case !ok && complete:
					rp.violate(kind, kv.Key, []int{i, pw.op},
						"region %s applied %s=%s (op %d, client %d) but never %s %s=%s (op %d)",
						r, kv.Key, kv.Value, i, o.Client, what, pw.key, pw.val, pw.op)
				}
			}
		}
	}
}
