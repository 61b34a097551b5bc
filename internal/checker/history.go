package checker

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// Kind is the kind of an operation.
type Kind string

// Operation kinds. On decoding, "put" and "upsert" are read as Write, "get"
// as Read and "del" as Delete (the names of testing.md §3.1).
const (
	Write  Kind = "write"  // write Key = Value (create, replace, upsert)
	Read   Kind = "read"   // point read of Key; Value "" = not found
	Delete Kind = "delete" // delete Key (Value is "")
	Query  Kind = "query"  // a multi-item read; what it saw is in BatchKeys
	Batch  Kind = "batch"  // a transactional batch; its writes are in BatchKeys
)

// UnmarshalJSON reads a kind, accepting the aliases.
func (k *Kind) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	switch strings.ToLower(s) {
	case "write", "put", "upsert":
		*k = Write
	case "read", "get":
		*k = Read
	case "delete", "del":
		*k = Delete
	case "query":
		*k = Query
	case "batch":
		*k = Batch
	case "changefeed":
		*k = ChangeFeed
	default:
		return fmt.Errorf("unknown op kind %q", s)
	}
	return nil
}

func (k Kind) valid() bool {
	switch k {
	case Write, Read, Delete, Query, Batch, ChangeFeed:
		return true
	}
	return false
}

func (k Kind) writes() bool { return k == Write || k == Delete || k == Batch }
func (k Kind) reads() bool  { return k == Read || k == Query }

// Result is the outcome of an operation as the client saw it.
type Result string

// Results.
const (
	// OK: the operation took effect (a write was acknowledged, a read
	// returned a value or a plain not-found).
	OK Result = "ok"
	// Fail: the operation certainly did not take effect (a write refused
	// before it was applied, e.g. 400, 409, 412, 429; a read that returned
	// an error such as 404/1002 or 503). Failed reads are ignored.
	Fail Result = "fail"
	// Unknown: a write whose outcome is unknown (a timeout such as
	// 408/20001, a 503 after the request was sent, a lost connection). It
	// may take effect at any time after its Call, or never.
	Unknown Result = "unknown"
)

// UnmarshalJSON reads a result.
func (r *Result) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	switch strings.ToLower(s) {
	case "ok":
		*r = OK
	case "fail":
		*r = Fail
	case "unknown", "info":
		*r = Unknown
	default:
		return fmt.Errorf("unknown result %q", s)
	}
	return nil
}

func (r Result) valid() bool { return r == OK || r == Fail || r == Unknown }

// KV is one item of a batch (written) or of a query result (observed).
type KV struct {
	Key   string `json:"key"`
	Value string `json:"value,omitempty"` // "" = delete (batch) or not found (query)
	// LSN of the version, when the server reports it (optional).
	LSN int64 `json:"lsn,omitempty"`
}

// Op is one client operation. See the package documentation for the
// meaning of each field.
type Op struct {
	Client int    `json:"client"`
	Region string `json:"region,omitempty"`
	Level  string `json:"level,omitempty"`
	Kind   Kind   `json:"op"`
	// Partition is the partition key range id, as in the session token
	// ("0" in "0:1#42"); "" when the account has a single range.
	Partition string `json:"partition,omitempty"`
	Key       string `json:"key,omitempty"`
	Value     string `json:"value,omitempty"`
	Call      int64  `json:"call_ns"`
	Return    int64  `json:"return_ns"`
	Result    Result `json:"result"`
	Err       string `json:"err,omitempty"`
	// LSN and Epoch of the version written (for a write: the LSN and
	// version of the session token it returned) or returned (for a read,
	// only if the server reports the item's LSN; otherwise 0).
	LSN   int64 `json:"lsn,omitempty"`
	Epoch int64 `json:"epoch,omitempty"`
	// Applied is the serving replica's applied LSN (x-meridian-lsn);
	// informational, no checker relies on it.
	Applied   int64  `json:"applied_lsn,omitempty"`
	TokenIn   string `json:"token_in,omitempty"`
	TokenOut  string `json:"token_out,omitempty"`
	ServedBy  string `json:"served_by,omitempty"`
	BatchKeys []KV   `json:"batch,omitempty"`
}

// observed returns what a read or query saw, as (key, value, lsn).
func (o Op) observed() []KV {
	switch o.Kind {
	case Read:
		return []KV{{Key: o.Key, Value: o.Value, LSN: o.LSN}}
	case Query:
		return o.BatchKeys
	}
	return nil
}

// written returns the (key, value) pairs a write op wrote.
func (o Op) written() []KV {
	switch o.Kind {
	case Write:
		return []KV{{Key: o.Key, Value: o.Value}}
	case Delete:
		return []KV{{Key: o.Key}}
	case Batch:
		return o.BatchKeys
	}
	return nil
}

// Event is a nemesis or harness event (a partition, a kill), shown on the
// linearizability visualization.
type Event struct {
	Tag   string `json:"tag,omitempty"` // e.g. "nemesis"; default "nemesis"
	Text  string `json:"event"`
	Start int64  `json:"start_ns"`
	End   int64  `json:"end_ns,omitempty"` // 0 = a point in time
}

// History is a recorded run: operations and events. Violations name
// operations by their index in Ops.
type History struct {
	Ops    []Op
	Events []Event
}

// MaxLine is the longest JSON line Decode accepts.
const MaxLine = 4 << 20

// Encode writes h as JSON lines: one line per op in order, then one line
// per event. The output decodes back to an equal History.
func (h History) Encode(w io.Writer) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for _, o := range h.Ops {
		if err := enc.Encode(o); err != nil {
			return err
		}
	}
	for _, e := range h.Events {
		if err := enc.Encode(e); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// line is the union of an op line and an event line.
type line struct {
	Op
	Tag   string  `json:"tag"`
	Text  *string `json:"event"`
	Start int64   `json:"start_ns"`
	End   int64   `json:"end_ns"`
}

// Decode reads a history written by Encode (or by a harness following
// testing.md §3.1). Blank lines are skipped and unknown fields ignored (so
// that newer writers stay readable); a malformed line, an unknown op kind
// or result, or a line longer than MaxLine is an error naming the line.
// Decode never panics; Validate checks the history's shape.
func Decode(r io.Reader) (History, error) {
	var h History
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLine)
	n := 0
	for sc.Scan() {
		n++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var l line
		if err := json.Unmarshal(b, &l); err != nil {
			return History{}, fmt.Errorf("history line %d: %w", n, err)
		}
		if l.Text != nil {
			h.Events = append(h.Events, Event{Tag: l.Tag, Text: *l.Text, Start: l.Start, End: l.End})
			continue
		}
		if !l.Kind.valid() {
			return History{}, fmt.Errorf("history line %d: missing op kind", n)
		}
		if !l.Result.valid() {
			return History{}, fmt.Errorf("history line %d: missing result", n)
		}
		h.Ops = append(h.Ops, l.Op)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return History{}, fmt.Errorf("history line %d: longer than %d bytes", n+1, MaxLine)
		}
		return History{}, err
	}
	return h, nil
}

// Validate checks the shape of a history, the assumptions every checker
// relies on (testing.md §6 pitfall 10): known kinds and results; a key on
// every point op and items on every batch; Call ≤ Return; one outstanding
// op per client; write values unique per key; deletes without a value;
// distinct LSNs for distinct acknowledged writes of a partition and epoch.
// Every checker reports these violations (kind "H-…") first.
func Validate(h History) []Violation {
	var out []Violation
	add := func(kind, explain string, ops ...int) {
		out = append(out, Violation{Kind: kind, Ops: ops, Explain: explain})
	}
	type pv struct {
		part, key, value string
	}
	values := map[pv]int{}
	type pl struct {
		part       string
		epoch, lsn int64
	}
	lsns := map[pl]int{}
	byClient := map[int][]int{}
	for i, o := range h.Ops {
		if !o.Kind.valid() {
			add(KindHistory, fmt.Sprintf("op %d: unknown kind %q", i, o.Kind), i)
			continue
		}
		if !o.Result.valid() {
			add(KindHistory, fmt.Sprintf("op %d: unknown result %q", i, o.Result), i)
			continue
		}
		if o.Return < o.Call {
			add(KindHistory, fmt.Sprintf("op %d returns (%d) before it is called (%d)", i, o.Return, o.Call), i)
		}
		switch o.Kind {
		case Batch:
			if len(o.BatchKeys) == 0 {
				add(KindHistory, fmt.Sprintf("op %d: a batch without items", i), i)
			}
			keys := map[string]bool{}
			for _, kv := range o.BatchKeys {
				if kv.Key == "" || keys[kv.Key] {
					add(KindHistory, fmt.Sprintf("op %d: a batch item with an empty or repeated key %q", i, kv.Key), i)
					break
				}
				keys[kv.Key] = true
			}
		case Query, ChangeFeed:
		default:
			if o.Key == "" {
				add(KindHistory, fmt.Sprintf("op %d: a %s without a key", i, o.Kind), i)
			}
		}
		if o.Kind == Delete && o.Value != "" {
			add(KindHistory, fmt.Sprintf("op %d: a delete with value %q", i, o.Value), i)
		}
		byClient[o.Client] = append(byClient[o.Client], i)
		if !o.Kind.writes() {
			continue
		}
		for _, kv := range o.written() {
			if kv.Value == "" {
				continue
			}
			k := pv{o.Partition, kv.Key, kv.Value}
			if j, dup := values[k]; dup && j != i {
				add(KindHistory, fmt.Sprintf("ops %d and %d both write %s=%q: write values must be unique per key", j, i, kv.Key, kv.Value), j, i)
			} else {
				values[k] = i
			}
		}
		if o.Result == OK {
			if lsn, ep, ok := writeLSN(o); ok {
				k := pl{o.Partition, ep, lsn}
				if j, dup := lsns[k]; dup {
					add(KindHistory, fmt.Sprintf("ops %d and %d are distinct acknowledged writes with the same LSN %d (epoch %d); "+
						"is the harness recording the applied LSN (x-meridian-lsn) instead of the write's own LSN?", j, i, lsn, ep), j, i)
				} else {
					lsns[k] = i
				}
			}
		}
	}
	clients := make([]int, 0, len(byClient))
	for c := range byClient {
		clients = append(clients, c)
	}
	slices.Sort(clients)
	for _, c := range clients {
		ops := byClient[c]
		slices.SortStableFunc(ops, func(a, b int) int { return cmp.Compare(h.Ops[a].Call, h.Ops[b].Call) })
		for j := 1; j < len(ops); j++ {
			p, o := h.Ops[ops[j-1]], h.Ops[ops[j]]
			if o.Call < p.Return && p.Return != math.MaxInt64 {
				add(KindHistory, fmt.Sprintf("client %d has two outstanding ops: %d [%d,%d] and %d [%d,%d]",
					c, ops[j-1], p.Call, p.Return, ops[j], o.Call, o.Return), ops[j-1], ops[j])
			}
		}
	}
	return out
}
