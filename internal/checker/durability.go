package checker

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
)

// Version is one item in a final state dump.
type Version struct {
	Value string `json:"value"`
	LSN   int64  `json:"lsn,omitempty"` // 0 = unknown
	// Raw is the item as stored, for convergence checks (optional).
	Raw json.RawMessage `json:"raw,omitempty"`
}

// State is a final state: key -> version; a missing key is not found.
type State map[string]Version

// ItemFields says how StateFromItems reads items.
type ItemFields struct {
	// Key returns an item's key as the history names it (default: "id").
	Key func(item map[string]any) (string, bool)
	// Value is the field holding the unique value (default "v"); numbers
	// are written in decimal.
	Value string
	// LSN is the field holding the item's LSN, if any (default "_lsn").
	LSN string
}

// StateFromItems builds a State from raw items (a region's dump, e.g.
// SELECT * FROM c). Raw keeps each item as given.
func StateFromItems(items []json.RawMessage, f ItemFields) (State, error) {
	if f.Value == "" {
		f.Value = "v"
	}
	if f.LSN == "" {
		f.LSN = "_lsn"
	}
	if f.Key == nil {
		f.Key = func(m map[string]any) (string, bool) { s, ok := m["id"].(string); return s, ok }
	}
	st := State{}
	for n, raw := range items {
		var m map[string]any
		if err := unmarshalNumber(raw, &m); err != nil {
			return nil, fmt.Errorf("item %d: %w", n, err)
		}
		k, ok := f.Key(m)
		if !ok {
			return nil, fmt.Errorf("item %d has no key", n)
		}
		if _, dup := st[k]; dup {
			return nil, fmt.Errorf("item %d: key %q twice", n, k)
		}
		v := Version{Raw: slices.Clone(raw)}
		switch x := m[f.Value].(type) {
		case string:
			v.Value = x
		case json.Number:
			v.Value = x.String()
		case nil:
		default:
			b, _ := json.Marshal(x)
			v.Value = string(b)
		}
		if x, ok := m[f.LSN].(json.Number); ok {
			v.LSN, _ = strconv.ParseInt(x.String(), 10, 64)
		}
		st[k] = v
	}
	return st, nil
}

// DurabilityOptions configures CheckDurability.
type DurabilityOptions struct {
	// Final is the state after quiescence (one region's dump, or the
	// converged state).
	Final State
	// AllowLost marks acknowledged writes that may be lost (RPO mode: the
	// unsynced writes of a failed region at a weak level). They are counted
	// in Stats["lost_allowed"], not reported as violations.
	AllowLost func(i int, op Op) bool
	// MaxAllowedLost, if > 0, bounds the allowed losses (e.g. K for
	// Bounded Staleness, C25): more is a DUR-RPO violation.
	MaxAllowedLost int
	MaxViolations  int
}

// CheckDurability checks that no acknowledged write was lost (C24, C25):
// see the package documentation for the exact rule.
func CheckDurability(h History, opts DurabilityOptions) Report {
	rp := newReporter("durability", h, opts.MaxViolations)
	ix := newIndex(h)
	keys := make([]string, 0, len(ix.writes))
	for k := range ix.writes {
		keys = append(keys, k)
	}
	for k := range opts.Final {
		if _, ok := ix.writes[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var lostAllowed []int
	for _, k := range keys {
		f, present := opts.Final[k]
		var fw *wref // the write that produced the final value
		if present && f.Value != "" {
			fw = ix.writeOf(k, f.Value)
			if fw == nil {
				rp.violate(KindFinalRogue, k, nil, "the final state holds %s=%q, which no write wrote", k, f.Value)
				continue
			}
			if fw.res == Fail {
				rp.r.Stats["final_from_failed_write"]++
			}
			if f.LSN > 0 && fw.lsn > 0 && f.LSN != fw.lsn {
				rp.note("key %s: the final LSN %d differs from the LSN %d its write (op %d) was acknowledged with", k, f.LSN, fw.lsn, fw.op)
			}
		}
		for _, w := range ix.writes[k] {
			if w.res != OK {
				continue
			}
			rp.r.Stats["acked_writes"]++
			if w == fw || (!present && w.del()) {
				rp.r.Stats["acked_present"]++
				continue
			}
			if superseded(ix, k, w, fw, f, present) {
				rp.r.Stats["acked_superseded"]++
				continue
			}
			if opts.AllowLost != nil && opts.AllowLost(w.op, h.Ops[w.op]) {
				lostAllowed = append(lostAllowed, w.op)
				continue
			}
			final := "not found"
			if present {
				final = fmt.Sprintf("%s (LSN %d)", showValue(f.Value), f.LSN)
			}
			ops := []int{w.op}
			if fw != nil {
				ops = append(ops, fw.op)
			}
			rp.violate(KindLostWrite, k, ops,
				"acknowledged write %s=%s (op %d, client %d, LSN %d, returned at %d) is lost: the final state has %s, and no later write of %s explains it",
				k, showValue(w.val), w.op, w.client, w.lsn, w.ret, final, k)
		}
	}
	rp.r.Stats["lost_allowed"] = int64(len(lostAllowed))
	if opts.MaxAllowedLost > 0 && len(lostAllowed) > opts.MaxAllowedLost {
		rp.violate(KindRPO, "", lostAllowed, "%d acknowledged writes were lost, more than the allowed %d", len(lostAllowed), opts.MaxAllowedLost)
	}
	return rp.done()
}

// superseded reports whether acknowledged write w of key may have been
// overwritten by what the final state holds: the final version's write (or,
// for a not-found, a delete) is later than w by LSN when both are known,
// else not certainly earlier in real time.
func superseded(ix *index, key string, w, fw *wref, f Version, present bool) bool {
	later := func(x *wref, xLSN int64) bool {
		if xLSN > 0 && w.lsn > 0 && x.part == w.part {
			if x.epoch != w.epoch && xLSN == w.lsn {
				return x.epoch > w.epoch
			}
			return xLSN > w.lsn
		}
		return !(x.ret < w.call)
	}
	if present {
		if fw == nil {
			return false
		}
		lsn := fw.lsn
		if f.LSN > 0 {
			lsn = f.LSN
		}
		return later(fw, lsn)
	}
	for _, d := range ix.writes[key] {
		if d.del() && d.res != Fail && d != w && later(d, d.lsn) {
			return true
		}
	}
	return false
}

func unmarshalNumber(b []byte, v any) error {
	dec := json.NewDecoder(bytesReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}
