package checker

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Checkers of multi-region-write accounts (consistency-semantics.md §4;
// testing.md §3.2 F9, F11, F12): every region accepts writes, concurrent
// versions of an item are resolved by the container's conflict resolution
// policy, and session tokens are vectors. LSNs order nothing across
// regions there, so these checkers order writes by causality, which the
// history records: a client's token covers its acknowledged writes and
// what its reads returned, and a write carrying a token is applied only
// after what the token covers (writes follow reads). See the package
// documentation ("Multi-region writes") for the rules.

// ConflictRecord is one record of a container's conflicts feed as a region
// served it (GET .../colls/{c}/conflicts).
type ConflictRecord struct {
	ID            string `json:"id"`
	ResourceID    string `json:"resourceId"`
	OperationType string `json:"operationType"`
	// Content is the losing document as a JSON string ("" for a delete).
	Content string `json:"content"`
	// Raw is the record as served, compared across regions.
	Raw json.RawMessage `json:"-"`
}

// ParseConflictRecords reads the records of a conflicts feed page body
// ({"Conflicts":[...]}) or a bare JSON array of records.
func ParseConflictRecords(b []byte) ([]ConflictRecord, error) {
	var raws []json.RawMessage
	if t := strings.TrimSpace(string(b)); strings.HasPrefix(t, "[") {
		if err := json.Unmarshal(b, &raws); err != nil {
			return nil, err
		}
	} else {
		var page struct {
			Conflicts []json.RawMessage `json:"Conflicts"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			return nil, err
		}
		raws = page.Conflicts
	}
	out := make([]ConflictRecord, 0, len(raws))
	for i, raw := range raws {
		var r ConflictRecord
		if err := json.Unmarshal(raw, &r); err != nil {
			return nil, fmt.Errorf("conflict record %d: %w", i, err)
		}
		r.Raw = slices.Clone(raw)
		out = append(out, r)
	}
	return out, nil
}

// How a client came to know a version (for labelling violations).
const (
	learnOwn  = iota // its own acknowledged write
	learnRead        // one of its reads returned it
	learnVia         // the causal past of a version one of its reads returned
)

type learned struct {
	how int
	op  int // the op it was learned through: the write (own) or the read
}

// past is what a client's token covers, as far as the history shows: key
// -> write op -> how it was learned.
type past map[string]map[int]learned

// causality is the causal past of every write: pre[op] is what its
// writer's token covered when it was invoked (immutable). Only the history
// is used: a client's token covers its acknowledged writes (that returned
// a token) and the versions its ok reads (that returned a token) returned,
// together with their own causal past (the region that served them had
// applied it, since a write carrying a token waits until its region has
// what the token covers). Anything else is left out, which can only miss a
// violation.
type causality struct {
	ix  *index
	pre map[int]past
}

// causalState is one client's knowledge while walking the history.
type causalState struct {
	known past
	// superseded: key -> write op -> the known write (op) whose causal
	// past holds it: a version the token rules out.
	superseded map[string]map[int]int
}

func (s *causalState) add(c *causality, key string, op int, l learned) {
	if _, ok := s.known[key][op]; ok {
		return
	}
	if s.known[key] == nil {
		s.known[key] = map[int]learned{}
	}
	s.known[key][op] = l
	for y := range c.pre[op][key] {
		if s.superseded[key] == nil {
			s.superseded[key] = map[int]int{}
		}
		if _, dup := s.superseded[key][y]; !dup {
			s.superseded[key][y] = op
		}
	}
}

// mwEvent is a call (of a write) or a return (of any op) in time order.
type mwEvent struct {
	t    int64
	ret  bool
	op   int
	call bool
}

// walkCausal walks the history in time order and calls visit for every ok
// read before the reader learns from it, with the reader's state; it
// returns the causal past of every write. scope names the token a key's
// ops carry (a client keeps one session token per container): a write's
// causal past holds only keys of its own scope (nil: one scope).
func walkCausal(h History, ix *index, scope func(key string) string, visit func(i int, st *causalState)) *causality {
	if scope == nil {
		scope = func(string) string { return "" }
	}
	c := &causality{ix: ix, pre: map[int]past{}}
	var evs []mwEvent
	for i, o := range h.Ops {
		if !o.Kind.valid() || !o.Result.valid() {
			continue
		}
		if o.Kind == Write || o.Kind == Delete {
			evs = append(evs, mwEvent{t: o.Call, op: i, call: true})
		}
		evs = append(evs, mwEvent{t: o.Return, op: i, ret: true})
	}
	// Returns before calls at the same instant: a client's next op starts
	// after its previous one returned.
	slices.SortStableFunc(evs, func(a, b mwEvent) int {
		if a.t != b.t {
			return cmp.Compare(a.t, b.t)
		}
		if a.ret != b.ret {
			if a.ret {
				return -1
			}
			return 1
		}
		return a.op - b.op
	})
	states := map[int]*causalState{}
	state := func(client int) *causalState {
		s := states[client]
		if s == nil {
			s = &causalState{known: past{}, superseded: map[string]map[int]int{}}
			states[client] = s
		}
		return s
	}
	for _, e := range evs {
		o := h.Ops[e.op]
		st := state(o.Client)
		if e.call {
			sc := scope(o.Key)
			p := past{}
			for k, m := range st.known {
				if scope(k) == sc {
					p[k] = maps.Clone(m)
				}
			}
			c.pre[e.op] = p
			continue
		}
		switch {
		case o.Result != OK:
		case o.Kind == Write || o.Kind == Delete:
			if o.TokenOut != "" {
				st.add(c, o.Key, e.op, learned{how: learnOwn, op: e.op})
			}
		case o.Kind == Read:
			if visit != nil {
				visit(e.op, st)
			}
			w := ix.writeOf(o.Key, o.Value)
			if o.TokenOut == "" || w == nil || w.batch {
				continue
			}
			for k, m := range c.pre[w.op] {
				for y := range m {
					st.add(c, k, y, learned{how: learnVia, op: e.op})
				}
			}
			st.add(c, o.Key, w.op, learned{how: learnRead, op: e.op})
		}
	}
	return c
}

// deletedBefore reports whether a delete of key that may have taken effect
// was invoked before t.
func (ix *index) deletedBefore(key string, t int64) bool {
	for _, w := range ix.writes[key] {
		if w.del() && w.res != Fail && w.call < t {
			return true
		}
	}
	return false
}

// CausalOptions configures CheckCausalSession.
type CausalOptions struct {
	// Levels are the levels of the reads checked (default {"Session"});
	// only reads that carried a token are checked.
	Levels []string
	// Scope names the session token that covers a key, e.g. its container
	// (a client keeps one token per container, and a write waits only for
	// its own container's token); nil: one token covers every key.
	Scope         func(key string) string
	MaxViolations int
}

// CheckCausalSession checks the session guarantees of a multi-write
// account (C10-C12 under concurrent writers and clock skew) without LSNs:
// a read carrying its client's token never returns a version that the
// token's causal past rules out — one its own acknowledged write
// overwrote (SE-F1), one a version it had read overwrote (SE-F2), or one
// that the causal past of a version it had read overwrote (SE-F4 when both
// versions are one client's writes observed out of order, SE-F5 otherwise)
// — never a live version once it knows a delete of the item, and never
// not-found while it knows a live version and no delete of the item was
// invoked. It relies on the resolution rule that a version always beats
// the versions its writer had seen (conflict.Successor) within one life of
// an item (no Create after a delete of the same key in the history).
func CheckCausalSession(h History, opts CausalOptions) Report {
	if len(opts.Levels) == 0 {
		opts.Levels = []string{"Session"}
	}
	rp := newReporter("causal-session", h, opts.MaxViolations)
	ix := newIndex(h)
	walkCausal(h, ix, opts.Scope, func(i int, st *causalState) {
		o := h.Ops[i]
		if o.TokenIn == "" || !levelIn(o.Level, opts.Levels) {
			return
		}
		rp.r.Stats["session_reads"]++
		known := st.known[o.Key]
		label := func(x int) (string, string) {
			l := known[x]
			switch l.how {
			case learnOwn:
				return KindRYW, fmt.Sprintf("its own acknowledged write (op %d)", x)
			case learnRead:
				return KindMonotonic, fmt.Sprintf("version op %d wrote, which its read op %d returned", x, l.op)
			}
			return "", fmt.Sprintf("version op %d wrote, in the causal past of what its read op %d returned", x, l.op)
		}
		if o.Value == "" {
			if ix.deletedBefore(o.Key, o.Return) {
				return
			}
			for _, x := range slices.Sorted(maps.Keys(known)) {
				if h.Ops[x].Kind == Delete {
					continue
				}
				kind, what := label(x)
				if kind == "" {
					kind = KindWFR
				}
				rp.violate(kind, o.Key, []int{i, x},
					"read op %d by client %d in %s carried token %q yet found %s absent, though the token covers %s and no delete of %s was invoked",
					i, o.Client, o.Region, o.TokenIn, o.Key, what, o.Key)
				return
			}
			return
		}
		w := ix.writeOf(o.Key, o.Value)
		if w == nil {
			return // a phantom: CheckPrefix
		}
		for _, x := range slices.Sorted(maps.Keys(known)) {
			if h.Ops[x].Kind != Delete {
				continue
			}
			kind, what := label(x)
			if kind == "" {
				kind = KindWFR
			}
			rp.violate(kind, o.Key, []int{i, x, w.op},
				"read op %d by client %d in %s carried token %q yet returned %s=%s (op %d), a live version after the delete %s covered by its token: a delete always wins over the versions of its item",
				i, o.Client, o.Region, o.TokenIn, o.Key, showValue(o.Value), w.op, what)
			return
		}
		x, ok := st.superseded[o.Key][w.op]
		if !ok {
			return
		}
		kind, what := label(x)
		if kind == "" {
			kind = KindWFR
			if h.Ops[x].Client == w.client {
				kind = KindMW
			}
		}
		rp.violate(kind, o.Key, []int{i, x, w.op},
			"read op %d by client %d in %s carried token %q yet returned %s=%s (op %d, client %d), which %s had already overwritten (its writer's token covered it)",
			i, o.Client, o.Region, o.TokenIn, o.Key, showValue(o.Value), w.op, w.client, what)
	})
	return rp.done()
}

// MWDurabilityOptions configures CheckMultiWriteDurability.
type MWDurabilityOptions struct {
	// Dumps is each region's final state after quiescence.
	Dumps map[string]State
	// DeleteKeys are the keys deleted in the run (CheckDeletes judges
	// them); nil: every key that has a delete in the history.
	DeleteKeys func(key string) bool
	// Scope: see CausalOptions.
	Scope         func(key string) string
	MaxViolations int
}

// CheckMultiWriteDurability checks that no acknowledged write is lost in a
// multi-write account (C21, C25 with RPO 0 for what a region
// acknowledged, even if it was then killed): in every region's final
// state, an item written by an acknowledged write exists (unless a delete
// of it may have taken effect), holds a value some write wrote (else
// DUR-PHANTOM), and that value is not one an acknowledged write had
// overwritten — i.e. in the causal past of an acknowledged write of the
// same item (DUR-LOST). A concurrent version may win (that is a conflict,
// not a loss), except that on a key only one client writes, a version it
// wrote before its last acknowledged write cannot win over it (SE-F4,
// monotonic writes: the client's writes are applied in order, whatever
// became of the earlier one).
func CheckMultiWriteDurability(h History, opts MWDurabilityOptions) Report {
	rp := newReporter("mw-durability", h, opts.MaxViolations)
	ix := newIndex(h)
	c := walkCausal(h, ix, opts.Scope, nil)
	isDel := opts.DeleteKeys
	if isDel == nil {
		isDel = ix.hasDeletes
	}
	regions := slices.Sorted(maps.Keys(opts.Dumps))
	keys := map[string]bool{}
	for k := range ix.writes {
		keys[k] = true
	}
	for _, r := range regions {
		for k := range opts.Dumps[r] {
			keys[k] = true
		}
	}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		var acked []*wref // ok writes of k, in call order
		writers := map[int]bool{}
		for _, w := range ix.writes[k] {
			if w.res != Fail && !w.batch {
				writers[w.client] = true
			}
			if w.res == OK {
				acked = append(acked, w)
			}
		}
		slices.SortStableFunc(acked, func(a, b *wref) int { return cmp.Compare(a.call, b.call) })
		rp.r.Stats["acked_writes"] += int64(len(acked))
		// Group regions by what they hold, to report each outcome once.
		type outcome struct {
			present bool
			value   string
		}
		by := map[outcome][]string{}
		var order []outcome
		for _, r := range regions {
			v, ok := opts.Dumps[r][k]
			oc := outcome{ok, v.Value}
			if _, seen := by[oc]; !seen {
				order = append(order, oc)
			}
			by[oc] = append(by[oc], r)
		}
		for _, oc := range order {
			where := strings.Join(by[oc], ", ")
			if !oc.present {
				if isDel(k) || ix.hasDeletes(k) {
					continue // CheckDeletes
				}
				for i := len(acked) - 1; i >= 0; i-- {
					if !acked[i].del() {
						a := acked[i]
						rp.violate(KindLostWrite, k, []int{a.op},
							"%s: %s is absent, but op %d (client %d) wrote %s=%s and was acknowledged, and %s was never deleted",
							where, k, a.op, a.client, k, showValue(a.val), k)
						break
					}
				}
				continue
			}
			fw := ix.writeOf(k, oc.value)
			if fw == nil {
				rp.violate(KindFinalRogue, k, nil, "%s: the final state holds %s=%q, which no write wrote", where, k, oc.value)
				continue
			}
			if fw.res == Fail {
				rp.r.Stats["final_from_failed_write"]++
			}
			lost := false
			for _, a := range acked {
				if a.del() || a == fw {
					continue
				}
				if _, before := c.pre[a.op][k][fw.op]; before {
					rp.violate(KindLostWrite, k, []int{a.op, fw.op},
						"%s: acknowledged write %s=%s (op %d, client %d) is lost: the final value %s (op %d, client %d) is one its writer had already seen, so it can never win over it",
						where, k, showValue(a.val), a.op, a.client, showValue(fw.val), fw.op, fw.client)
					lost = true
					break
				}
			}
			if lost || len(writers) != 1 {
				continue
			}
			// One writer: its last acknowledged write, or a later write of
			// its own, is the final value.
			for i := len(acked) - 1; i >= 0; i-- {
				a := acked[i]
				if a.del() {
					break
				}
				if fw.call < a.call {
					rp.violate(KindMW, k, []int{a.op, fw.op},
						"%s: %s=%s, an earlier write (op %d, %s) of client %d, the only writer of %s, won over its later acknowledged write %s (op %d): the client's writes are not applied in order",
						where, k, showValue(fw.val), fw.op, fw.res, fw.client, k, showValue(a.val), a.op)
				}
				break
			}
		}
	}
	return rp.done()
}

// DeletesOptions configures CheckDeletes.
type DeletesOptions struct {
	// Dumps is each region's final state after quiescence.
	Dumps map[string]State
	// DeleteKeys are the keys the rule applies to: created once before
	// the faults and afterwards only replaced or deleted, never created or
	// upserted again (nil: every key with a delete in the history).
	DeleteKeys    func(key string) bool
	MaxViolations int
}

// CheckDeletes checks that deletes stay deleted (C20, MW-A4): on a key
// created once and afterwards only replaced or deleted, an acknowledged
// delete leaves the key absent in every region after quiescence, whatever
// replaces ran concurrently and in whatever order the regions received
// them (DEL-F).
func CheckDeletes(h History, opts DeletesOptions) Report {
	rp := newReporter("deletes", h, opts.MaxViolations)
	ix := newIndex(h)
	isDel := opts.DeleteKeys
	if isDel == nil {
		isDel = ix.hasDeletes
	}
	regions := slices.Sorted(maps.Keys(opts.Dumps))
	for _, k := range slices.Sorted(maps.Keys(ix.writes)) {
		if !isDel(k) {
			continue
		}
		rp.r.Stats["keys"]++
		var d *wref
		for _, w := range ix.writes[k] {
			if w.del() && w.res == OK && (d == nil || w.ret < d.ret) {
				d = w
			}
		}
		if d == nil {
			continue
		}
		rp.r.Stats["deleted_keys"]++
		for _, r := range regions {
			v, ok := opts.Dumps[r][k]
			if !ok {
				continue
			}
			ops := []int{d.op}
			by := "no write"
			if w := ix.writeOf(k, v.Value); w != nil {
				ops = append(ops, w.op)
				by = fmt.Sprintf("op %d, client %d, %s", w.op, w.client, w.res)
			}
			rp.violate(KindResurrected, k, ops,
				"region %s holds %s=%s (%s) after quiescence, but the delete op %d (client %d) of %s was acknowledged: a deleted item came back",
				r, k, showValue(v.Value), by, d.op, d.client, k)
		}
	}
	return rp.done()
}

// ConflictsOptions configures CheckConflicts.
type ConflictsOptions struct {
	// Feeds is each region's conflicts feed per container, read after
	// quiescence: region -> container -> records.
	Feeds map[string]map[string][]ConflictRecord
	// Dumps is each region's final state (every container; keys unique).
	Dumps map[string]State
	// ContainerOf names the container of a history key.
	ContainerOf func(key string) string
	// Custom lists the containers whose policy is Custom (the others are
	// LastWriterWins: their feed must stay empty).
	Custom map[string]bool
	// ValueField is the document field holding the unique value (default
	// "v").
	ValueField    string
	MaxViolations int
}

// CheckConflicts checks the conflicts feeds of a multi-write account
// (C21, MW-F2, D-9): every region serves the same feed (CONF-DIVERGED);
// ids are unique and each losing version appears once (CONF-DUP); every
// record names a key of its container and holds a version some write of
// that key wrote — a delete for operationType "delete" (CONF-PHANTOM);
// the final value of an item is never also in the feed (CONF-WINNER);
// LastWriterWins containers feed nothing (CONF-LWW); and in a Custom
// container an acknowledged version that no other write could have seen
// (none of the item's other writes was still running or started after it
// was invoked) is the final value or in the feed (CONF-MISSING: a loser
// neither kept nor fed).
func CheckConflicts(h History, opts ConflictsOptions) Report {
	rp := newReporter("conflicts", h, opts.MaxViolations)
	ix := newIndex(h)
	if opts.ValueField == "" {
		opts.ValueField = "v"
	}
	containerOf := opts.ContainerOf
	if containerOf == nil {
		containerOf = func(string) string { return "" }
	}
	regions := slices.Sorted(maps.Keys(opts.Feeds))
	containers := map[string]bool{}
	for _, r := range regions {
		for c := range opts.Feeds[r] {
			containers[c] = true
		}
	}
	for c := range opts.Custom {
		containers[c] = true
	}
	valueOf := func(rec ConflictRecord) (string, error) {
		var m map[string]any
		if err := unmarshalNumber([]byte(rec.Content), &m); err != nil {
			return "", err
		}
		switch x := m[opts.ValueField].(type) {
		case string:
			return x, nil
		case json.Number:
			return x.String(), nil
		}
		return "", fmt.Errorf("no %q field", opts.ValueField)
	}
	for _, cname := range slices.Sorted(maps.Keys(containers)) {
		// Feed convergence: the same ids with the same bytes everywhere.
		canon := map[string]map[string]string{} // region -> id -> canonical record
		for _, r := range regions {
			canon[r] = map[string]string{}
			for _, rec := range opts.Feeds[r][cname] {
				s := string(rec.Raw)
				if len(rec.Raw) > 0 {
					if cj, err := canonicalJSON(rec.Raw, nil); err == nil {
						s = cj
					}
				} else {
					b, _ := json.Marshal(rec)
					s = string(b)
				}
				if _, dup := canon[r][rec.ID]; dup {
					rp.violate(KindFeedDup, rec.ResourceID, nil, "region %s: container %s's feed holds id %q twice", r, cname, rec.ID)
				}
				canon[r][rec.ID] = s
			}
		}
		ids := map[string]bool{}
		for _, r := range regions {
			for id := range canon[r] {
				ids[id] = true
			}
		}
		for _, id := range slices.Sorted(maps.Keys(ids)) {
			var parts []string
			same := true
			var ref string
			for n, r := range regions {
				s, ok := canon[r][id]
				if !ok {
					s = "(absent)"
				}
				if n == 0 {
					ref = s
				} else if s != ref {
					same = false
				}
				parts = append(parts, r+": "+showValue(s))
			}
			if !same {
				rp.violate(KindFeedDiverged, "", nil, "container %s: regions serve different conflicts feeds for record %q: %s", cname, id, strings.Join(parts, "; "))
			}
		}
		if len(regions) == 0 {
			continue
		}
		ref := regions[0]
		feed := opts.Feeds[ref][cname]
		rp.r.Stats["records"] += int64(len(feed))
		if !opts.Custom[cname] {
			for _, rec := range feed {
				rp.violate(KindFeedLWW, rec.ResourceID, nil,
					"container %s resolves conflicts by LastWriterWins, yet its feed in %s holds record %q (%s of %s): LWW losers are only counted (MW-F2)",
					cname, ref, rec.ID, rec.OperationType, rec.ResourceID)
			}
			continue
		}
		type loser struct{ key, value string }
		fed := map[loser]string{} // -> record id
		for _, rec := range feed {
			k := rec.ResourceID
			if k == "" || containerOf(k) != cname {
				rp.violate(KindFeedPhantom, k, nil, "region %s: container %s's record %q names item %q, not an item of the container", ref, cname, rec.ID, k)
				continue
			}
			if rec.OperationType == "delete" || rec.Content == "" {
				if rec.OperationType != "delete" || rec.Content != "" {
					rp.violate(KindFeedMalformed, k, nil, "region %s: record %q is a %q with content %q", ref, rec.ID, rec.OperationType, showValue(rec.Content))
					continue
				}
				if !ix.hasDeletes(k) {
					rp.violate(KindFeedPhantom, k, nil, "region %s: record %q is a losing delete of %s, but no delete of %s was invoked", ref, rec.ID, k, k)
				}
				rp.r.Stats["records_delete"]++
				continue
			}
			v, err := valueOf(rec)
			if err != nil {
				rp.violate(KindFeedMalformed, k, nil, "region %s: record %q of %s: content %s: %v", ref, rec.ID, k, showValue(rec.Content), err)
				continue
			}
			w := ix.writeOf(k, v)
			if w == nil || w.del() {
				rp.violate(KindFeedPhantom, k, nil, "region %s: record %q holds %s=%q, which no write of %s wrote", ref, rec.ID, k, v, k)
				continue
			}
			if w.res == Fail {
				rp.r.Stats["records_of_failed_writes"]++
			}
			if id, dup := fed[loser{k, v}]; dup {
				rp.violate(KindFeedDup, k, []int{w.op}, "region %s: the losing version %s=%s (op %d) is in the feed twice, as %q and %q", ref, k, showValue(v), w.op, id, rec.ID)
				continue
			}
			fed[loser{k, v}] = rec.ID
			for _, r := range regions {
				if f, ok := opts.Dumps[r][k]; ok && f.Value == v {
					rp.violate(KindFeedWinner, k, []int{w.op},
						"%s=%s (op %d) is the final value in %s and also a loser in the conflicts feed (record %q)", k, showValue(v), w.op, r, rec.ID)
					break
				}
			}
		}
		// Every version no other write could have seen is kept or fed.
		for _, k := range slices.Sorted(maps.Keys(ix.writes)) {
			if containerOf(k) != cname {
				continue
			}
			for _, w := range ix.writes[k] {
				if w.res != OK || w.del() || w.batch {
					continue
				}
				if _, ok := fed[loser{k, w.val}]; ok {
					continue
				}
				if f, ok := opts.Dumps[ref][k]; ok && f.Value == w.val {
					continue
				}
				seeable := false
				for _, y := range ix.writes[k] {
					if y != w && y.res != Fail && y.ret > w.call {
						seeable = true
						break
					}
				}
				if seeable {
					continue
				}
				rp.r.Stats["unseeable_losers"]++
				final := "absent"
				if f, ok := opts.Dumps[ref][k]; ok {
					final = showValue(f.Value)
				}
				rp.violate(KindFeedMissing, k, []int{w.op},
					"container %s (Custom): acknowledged %s=%s (op %d, client %d) lost (the final value in %s is %s) though no other write of %s could have seen it, and it is not in the conflicts feed",
					cname, k, showValue(w.val), w.op, w.client, ref, final, k)
			}
		}
	}
	return rp.done()
}
