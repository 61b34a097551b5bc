package checker

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/anishathalye/porcupine"
)

// StrongOptions configures CheckLinearizable.
type StrongOptions struct {
	// Timeout bounds the porcupine search (default 60 s; testing.md §3.3
	// suggests 60 s in CI and 5 min in soak). A timeout is a failure
	// (S-UNKNOWN), never a pass. Negative: no limit.
	Timeout time.Duration
	// ReadLevels are the levels of the reads that are checked (default
	// {"Strong"}). Reads at weaker levels must not be checked for
	// linearizability (pitfall 10). Every write is used whatever its level.
	ReadLevels []string
	// ReportDir, if set, receives the porcupine visualization when the
	// check does not pass: <ReportDir>/<Name>-linearizability.html.
	ReportDir string
	// Name prefixes the report files (default "strong").
	Name          string
	MaxViolations int
}

// regInput is a porcupine register operation on one key.
type regInput struct {
	key     string
	write   bool
	value   string // written ("" = delete)
	unknown bool   // a write of unknown outcome
}

// RegisterModel is the porcupine model CheckLinearizable uses: one register
// per key (Partition by key), initially "" (not found); a write (or delete,
// which writes "") always succeeds; a read must return the current value.
var RegisterModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(regInput).key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		slices.Sort(keys)
		out := make([][]porcupine.Operation, len(keys))
		for i, k := range keys {
			out[i] = byKey[k]
		}
		return out
	},
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		in := input.(regInput)
		if in.write {
			return true, in.value
		}
		return output.(string) == state.(string), state
	},
	Hash: func(state any) uint64 {
		h := fnv.New64a()
		h.Write([]byte(state.(string)))
		return h.Sum64()
	},
	DescribeOperation: func(input, output any) string {
		in := input.(regInput)
		switch {
		case in.write && in.value == "":
			return fmt.Sprintf("delete(%s)%s", in.key, unknownTag(in.unknown))
		case in.write:
			return fmt.Sprintf("put(%s, %s)%s", in.key, in.value, unknownTag(in.unknown))
		}
		return fmt.Sprintf("get(%s) -> %s", in.key, showValue(output.(string)))
	},
	DescribeState: func(state any) string { return showValue(state.(string)) },
	DescribeOperationMetadata: func(m any) string {
		if m == nil {
			return ""
		}
		return m.(string)
	},
}

func unknownTag(u bool) string {
	if u {
		return " (unknown outcome)"
	}
	return ""
}

func showValue(v string) string {
	if v == "" {
		return "⊥"
	}
	return v
}

// regOp is one per-key operation fed to porcupine, with the history op it
// came from.
type regOp struct {
	op   int
	in   regInput
	out  string
	call int64
	ret  int64
}

// CheckLinearizable checks that the Strong operations of h are
// linearizable, per key, with porcupine (C1-C3): see the package
// documentation for the exact rule. On a failure or a timeout it writes the
// porcupine visualization to opts.ReportDir (if set) and names it in
// Report.Files.
func CheckLinearizable(h History, opts StrongOptions) Report {
	switch {
	case opts.Timeout == 0:
		opts.Timeout = 60 * time.Second
	case opts.Timeout < 0:
		opts.Timeout = 0 // porcupine: unlimited
	}
	if len(opts.ReadLevels) == 0 {
		opts.ReadLevels = []string{"Strong"}
	}
	if opts.Name == "" {
		opts.Name = "strong"
	}
	rp := newReporter(opts.Name, h, opts.MaxViolations)

	clients := map[int]int{}
	clientID := func(c int) int {
		id, ok := clients[c]
		if !ok {
			id = len(clients)
			clients[c] = id
		}
		return id
	}
	var ops []porcupine.Operation
	byKey := map[string][]regOp{}
	for i, o := range h.Ops {
		if !o.Kind.valid() || !o.Result.valid() {
			continue
		}
		meta := fmt.Sprintf("op %d client %d %s %s %s", i, o.Client, o.Region, o.ServedBy, o.Result)
		switch {
		case o.Kind.writes():
			if o.Result == Fail {
				rp.r.Stats["writes_failed_dropped"]++
				continue
			}
			ret := o.Return
			if o.Result == Unknown {
				ret = never
				rp.r.Stats["writes_unknown"]++
			}
			for _, kv := range o.written() {
				in := regInput{key: kv.Key, write: true, value: kv.Value, unknown: o.Result == Unknown}
				ops = append(ops, porcupine.Operation{ClientId: clientID(o.Client), Input: in, Call: o.Call, Output: "", Return: ret, Metadata: meta})
				byKey[kv.Key] = append(byKey[kv.Key], regOp{op: i, in: in, call: o.Call, ret: ret})
			}
			rp.r.Stats["writes"]++
		case o.Kind.reads():
			if !levelIn(o.Level, opts.ReadLevels) {
				rp.r.Stats["reads_other_levels"]++
				continue
			}
			if o.Result != OK {
				rp.r.Stats["reads_failed_dropped"]++
				continue
			}
			for _, kv := range o.observed() {
				in := regInput{key: kv.Key}
				ops = append(ops, porcupine.Operation{ClientId: clientID(o.Client), Input: in, Call: o.Call, Output: kv.Value, Return: o.Return, Metadata: meta})
				byKey[kv.Key] = append(byKey[kv.Key], regOp{op: i, in: in, out: kv.Value, call: o.Call, ret: o.Return})
			}
			rp.r.Stats["reads"]++
		}
	}
	rp.r.Stats["keys"] = int64(len(byKey))
	if rp.r.Stats["reads"] == 0 && rp.r.Stats["reads_other_levels"] > 0 {
		rp.note("no read was at levels %v: nothing was checked for linearizability (is Op.Level set?)", opts.ReadLevels)
	}
	if len(ops) == 0 {
		return rp.done()
	}
	start := time.Now()
	res, info := porcupine.CheckOperationsVerbose(RegisterModel, ops, opts.Timeout)
	rp.r.Stats["porcupine_ms"] = time.Since(start).Milliseconds()
	if res == porcupine.Ok {
		return rp.done()
	}

	// Which keys failed: a partition linearized completely has a partial
	// linearization covering all its operations.
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	slices.Sort(keys) // the order of RegisterModel.Partition
	partials := info.PartialLinearizations()
	for p, k := range keys {
		kops := byKey[k]
		longest := []int(nil)
		if p < len(partials) {
			for _, l := range partials[p] {
				if len(l) > len(longest) {
					longest = l
				}
			}
		}
		if len(longest) == len(kops) {
			continue
		}
		if res == porcupine.Unknown {
			rp.violate(KindStrongUnknown, k, nil,
				"the linearizability check of key %s (%d operations) timed out after %v: this is not a pass; shrink the history (fewer ops per key) or raise the timeout, and investigate",
				k, len(kops), opts.Timeout)
			continue
		}
		rp.r.Stats["keys_illegal"]++
		if !diagnoseStrong(rp, k, kops) {
			stuck := stuckOp(kops, longest)
			var last []int
			if len(longest) > 0 {
				last = append(last, kops[longest[len(longest)-1]].op)
			}
			rp.violate(KindNonLinear, k, append([]int{kops[stuck].op}, last...),
				"key %s is not linearizable: the longest linearizable prefix has %d of %d operations and op %d (%s) cannot follow it; see the visualization",
				k, len(longest), len(kops), kops[stuck].op, RegisterModel.DescribeOperation(kops[stuck].in, kops[stuck].out))
		}
	}
	if opts.ReportDir != "" {
		for _, e := range h.Events {
			tag := e.Tag
			if tag == "" {
				tag = "nemesis"
			}
			info.AddAnnotations([]porcupine.Annotation{{Tag: tag, Start: e.Start, End: e.End, Description: e.Text}})
		}
		path := filepath.Join(opts.ReportDir, opts.Name+"-linearizability.html")
		if err := os.MkdirAll(opts.ReportDir, 0o755); err != nil {
			rp.note("could not create %s: %v", opts.ReportDir, err)
		} else if err := porcupine.VisualizePath(RegisterModel, info, path); err != nil {
			rp.note("could not write the visualization %s: %v", path, err)
		} else {
			rp.r.Files = append(rp.r.Files, path)
		}
	}
	if res == porcupine.Unknown && rp.r.Stats["violations"] == 0 {
		rp.violate(KindStrongUnknown, "", nil, "the linearizability check timed out after %v: this is not a pass", opts.Timeout)
	}
	return rp.done()
}

// stuckOp is the operation of a key that returns first among those outside
// the longest linearizable prefix: the point where linearization failed.
func stuckOp(kops []regOp, longest []int) int {
	in := make([]bool, len(kops))
	for _, id := range longest {
		if id >= 0 && id < len(kops) {
			in[id] = true
		}
	}
	best := -1
	for i := range kops {
		if !in[i] && (best < 0 || kops[i].ret < kops[best].ret) {
			best = i
		}
	}
	if best < 0 {
		best = 0
	}
	return best
}

// diagnoseStrong looks for the simple patterns that explain why a key is
// not linearizable; it runs only on keys porcupine found illegal. It
// reports whether it found any.
func diagnoseStrong(rp *reporter, key string, kops []regOp) bool {
	var writes, reads []regOp
	for _, o := range kops {
		if o.in.write {
			writes = append(writes, o)
		} else {
			reads = append(reads, o)
		}
	}
	// candidates(v): the writes a read returning v may have seen; nil
	// entries stand for the initial ⊥.
	candidates := func(v string) []*regOp {
		var c []*regOp
		for i := range writes {
			if writes[i].in.value == v {
				c = append(c, &writes[i])
			}
		}
		if v == "" {
			c = append(c, nil)
		}
		return c
	}
	// precedes: a certainly took effect before b was invoked (nil = the
	// initial state, which precedes everything).
	precedes := func(a *regOp, bCall int64) bool { return a == nil || a.ret < bCall }
	found := false
	for _, r := range reads {
		c := candidates(r.out)
		if len(c) == 0 {
			rp.violate(KindPhantom, key, []int{r.op}, "Strong read (op %d) of %s returned %q, which no operation wrote", r.op, key, r.out)
			found = true
			continue
		}
		future := true
		for _, w := range c {
			if w == nil || w.call <= r.ret {
				future = false
			}
		}
		if future {
			rp.violate(KindPhantom, key, []int{r.op, c[0].op}, "Strong read (op %d) of %s returned %q, written by op %d invoked only after the read returned", r.op, key, r.out, c[0].op)
			found = true
			continue
		}
		// S-F1: every write r may have seen was overwritten, before r
		// began, by an acknowledged write.
		var stale *regOp
		for i := range writes {
			w := &writes[i]
			if w.ret >= r.call || w.in.value == r.out {
				continue
			}
			all := true
			for _, cw := range c {
				if !precedes(cw, w.call) {
					all = false
					break
				}
			}
			if all {
				stale = w
				break
			}
		}
		if stale != nil {
			ops := []int{r.op, stale.op}
			if c[0] != nil {
				ops = append(ops, c[0].op)
			}
			rp.violate(KindStaleRead, key, ops,
				"stale read: write %s (op %d) was acknowledged at %d, after the write of %s had taken effect; Strong read op %d invoked at %d returned %s",
				showValue(stale.in.value), stale.op, stale.ret, showValue(r.out), r.op, r.call, showValue(r.out))
			found = true
		}
	}
	// S-F2: r1 returned before r2 began, and every write r2 may have seen
	// took effect before the write r1 saw was invoked.
	byRet := slices.Clone(reads)
	slices.SortFunc(byRet, func(a, b regOp) int { return cmp.Compare(a.ret, b.ret) })
	for _, r2 := range reads {
		c2 := candidates(r2.out)
		if len(c2) == 0 {
			continue
		}
		for _, r1 := range byRet {
			if r1.ret >= r2.call {
				break
			}
			c1 := candidates(r1.out)
			if len(c1) != 1 || c1[0] == nil || r1.out == r2.out {
				continue
			}
			older := true
			for _, w := range c2 {
				if !precedes(w, c1[0].call) {
					older = false
					break
				}
			}
			if older {
				rp.violate(KindInversion, key, []int{r1.op, r2.op},
					"new-then-old: Strong read op %d returned %s at %d; Strong read op %d, invoked later at %d, returned the older %s",
					r1.op, showValue(r1.out), r1.ret, r2.op, r2.call, showValue(r2.out))
				found = true
				break
			}
		}
	}
	return found
}
