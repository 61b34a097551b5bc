package checker

// PrefixOptions configures CheckPrefix.
type PrefixOptions struct {
	// Levels are the levels of the reads checked (default: every level;
	// these rules hold at every level).
	Levels []string
	// StrictFailed makes a read of a value whose write was reported as
	// failed (Result Fail) a violation. Off by default: a harness may
	// classify an ambiguous error as Fail, and a write reported failed can
	// still become durable (DurableDirtyRead, consistency-semantics §1.5).
	StrictFailed  bool
	MaxViolations int
}

// CheckPrefix checks the safety rules that hold at every level, down to
// Eventual (C16, C17): every value read was written, and no query sees part
// of a transactional batch. See the package documentation for the exact
// rules. Per-region monotonic reads are not required (CP-A1, EV-A1).
func CheckPrefix(h History, opts PrefixOptions) Report {
	rp := newReporter("prefix", h, opts.MaxViolations)
	ix := newIndex(h)
	for i, o := range h.Ops {
		if !o.Kind.reads() || o.Result != OK || (len(opts.Levels) > 0 && !levelIn(o.Level, opts.Levels)) {
			continue
		}
		rp.r.Stats["reads"]++
		obs := o.observed()
		for _, kv := range obs {
			if kv.Value == "" {
				continue
			}
			w := ix.writeOf(kv.Key, kv.Value)
			switch {
			case w == nil:
				rp.violate(KindPhantom, kv.Key, []int{i}, "read op %d in %s returned %s=%q, which no write wrote", i, o.Region, kv.Key, kv.Value)
			case w.call > o.Return:
				rp.violate(KindPhantom, kv.Key, []int{i, w.op},
					"read op %d in %s returned %s=%q at %d, but its write (op %d) was invoked only at %d", i, o.Region, kv.Key, kv.Value, o.Return, w.op, w.call)
			case w.res == Fail:
				rp.r.Stats["reads_of_failed_writes"]++
				if opts.StrictFailed {
					rp.violate(KindPhantom, kv.Key, []int{i, w.op}, "read op %d returned %s=%q, written by op %d which was reported as failed", i, kv.Key, kv.Value, w.op)
				}
			}
		}
		if o.Kind == Query && len(obs) > 1 {
			checkTorn(rp, ix, i, obs)
		}
	}
	return rp.done()
}

// checkTorn checks one query result for batch atomicity (C17, CP-F1): if
// the query saw a batch's value for one key, then for every other key of
// that batch it saw, it saw that batch's value or a newer version, never
// an older one.
func checkTorn(rp *reporter, ix *index, i int, obs []KV) {
	seen := map[string]string{}
	for _, kv := range obs {
		seen[kv.Key] = kv.Value
	}
	done := map[int]bool{}
	for _, kv := range obs {
		b := ix.writeOf(kv.Key, kv.Value)
		if b == nil || !b.batch || b.res == Fail || done[b.op] {
			continue
		}
		done[b.op] = true
		batchOp := ix.h.Ops[b.op]
		for _, item := range batchOp.BatchKeys {
			got, ok := seen[item.Key]
			if !ok || item.Key == kv.Key || got == item.Value {
				continue
			}
			var bw *wref // the batch's write of item.Key
			for _, w := range ix.writes[item.Key] {
				if w.op == b.op {
					bw = w
					break
				}
			}
			if bw == nil {
				continue
			}
			older := false
			if got == "" {
				older = true
				for _, d := range ix.writes[item.Key] {
					if d.del() && d.res != Fail && d.op != b.op && !d.before(bw) {
						older = false // a delete may have followed the batch
						break
					}
				}
			} else if w := ix.writeOf(item.Key, got); w != nil && w.before(bw) {
				older = true
			}
			if older {
				rp.violate(KindTornBatch, item.Key, []int{i, b.op},
					"torn batch: query op %d saw %s=%s from batch op %d, but %s=%s, older than the batch's %s=%s",
					i, kv.Key, showValue(kv.Value), b.op, item.Key, showValue(got), item.Key, showValue(item.Value))
			}
		}
	}
}
