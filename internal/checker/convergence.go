package checker

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
)

// ConvergenceOptions configures CheckConvergence.
type ConvergenceOptions struct {
	// Dumps is each region's (or replica's) final state after quiescence.
	Dumps map[string]State
	// IgnoreFields are top-level item fields left out when comparing Raw
	// items (e.g. "_ts" if regions stamp it locally).
	IgnoreFields []string
	// IgnoreLSN compares values (and raw items) only, not LSNs.
	IgnoreLSN     bool
	MaxViolations int
}

// CheckConvergence checks that every region holds the same state after
// quiescence (C18): see the package documentation for the exact rule. The
// history is used to name the writes of differing values and to report
// values no write wrote; it may be empty.
func CheckConvergence(h History, opts ConvergenceOptions) Report {
	rp := newReporter("convergence", h, opts.MaxViolations)
	ix := newIndex(h)
	regions := make([]string, 0, len(opts.Dumps))
	union := map[string]bool{}
	for r, st := range opts.Dumps {
		regions = append(regions, r)
		for k := range st {
			union[k] = true
		}
	}
	slices.Sort(regions)
	keys := make([]string, 0, len(union))
	for k := range union {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	rp.r.Stats["regions"] = int64(len(regions))
	rp.r.Stats["keys"] = int64(len(keys))

	canon := map[string]map[string]string{} // region -> key -> canonical raw
	for _, r := range regions {
		canon[r] = map[string]string{}
		hs := fnv.New64a()
		for _, k := range keys {
			v, ok := opts.Dumps[r][k]
			if !ok {
				continue
			}
			c := ""
			if len(v.Raw) > 0 {
				var err error
				if c, err = canonicalJSON(v.Raw, opts.IgnoreFields); err != nil {
					rp.note("region %s key %s: raw item is not JSON (%v); compared byte for byte", r, k, err)
					c = string(v.Raw)
				}
			}
			canon[r][k] = c
			lsn := v.LSN
			if opts.IgnoreLSN {
				lsn = 0
			}
			fmt.Fprintf(hs, "%q=%q@%d|%s\n", k, v.Value, lsn, c)
			if v.Value != "" && len(h.Ops) > 0 && ix.writeOf(k, v.Value) == nil {
				rp.violate(KindPhantom, k, nil, "region %s holds %s=%q, which no write wrote", r, k, v.Value)
			}
		}
		rp.note("region %s: %d items, state hash %016x", r, len(opts.Dumps[r]), hs.Sum64())
	}
	for _, k := range keys {
		same := true
		var ref Version
		var refOK bool
		var refCanon string
		for n, r := range regions {
			v, ok := opts.Dumps[r][k]
			if n == 0 {
				ref, refOK, refCanon = v, ok, canon[r][k]
				continue
			}
			switch {
			case ok != refOK, v.Value != ref.Value:
				same = false
			case !opts.IgnoreLSN && v.LSN > 0 && ref.LSN > 0 && v.LSN != ref.LSN:
				same = false
			case canon[r][k] != "" && refCanon != "" && canon[r][k] != refCanon:
				same = false
			}
		}
		if same {
			continue
		}
		var parts []string
		var ops []int
		for _, r := range regions {
			v, ok := opts.Dumps[r][k]
			if !ok {
				parts = append(parts, r+": not found")
				continue
			}
			parts = append(parts, fmt.Sprintf("%s: %s (LSN %d)", r, showValue(v.Value), v.LSN))
			if w := ix.writeOf(k, v.Value); w != nil && !slices.Contains(ops, w.op) {
				ops = append(ops, w.op)
			}
		}
		rp.violate(KindDiverged, k, ops, "regions differ on %s: %s", k, strings.Join(parts, "; "))
	}
	return rp.done()
}

// canonicalJSON re-encodes an item with sorted fields, without ignored
// top-level fields.
func canonicalJSON(raw []byte, ignore []string) (string, error) {
	var v any
	if err := unmarshalNumber(raw, &v); err != nil {
		return "", err
	}
	if m, ok := v.(map[string]any); ok {
		for _, f := range ignore {
			delete(m, f)
		}
	}
	b, err := json.Marshal(v)
	return string(b), err
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
