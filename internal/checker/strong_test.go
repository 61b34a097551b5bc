package checker

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStrongAllowed(t *testing.T) {
	for name, h := range map[string]History{
		// S-A1: c3's read overlaps the write and may miss it.
		"S-A1": hist(wr(1, "x", "1", 0, 10, 1), rd(2, "B", "Strong", "x", "1", 12, 14), rd(3, "C", "Strong", "x", "", 5, 8)),
		// S-A2: a write that timed out became durable (DurableDirtyRead).
		"S-A2": hist(unknown(wr(1, "x", "1", 0, 10, 0)), rd(2, "B", "Strong", "x", "1", 20, 21)),
		// An unknown write that never took effect.
		"unknown-never": hist(unknown(wr(1, "x", "1", 0, 10, 0)), rd(2, "B", "Strong", "x", "", 20, 21)),
		// Failed reads are dropped; weaker-level reads are not checked.
		"dropped": hist(wr(1, "x", "1", 0, 10, 1), failed(rd(2, "B", "Strong", "x", "", 12, 14)), rd(3, "B", "Session", "x", "", 12, 14)),
		// Deletes, batches and queries.
		"delete-batch-query": hist(
			wr(1, "x", "1", 0, 10, 1),
			del(1, "x", 20, 30, 2),
			rd(2, "B", "Strong", "x", "", 31, 32),
			with(batch(1, 40, 50, 3, KV{Key: "x", Value: "b"}, KV{Key: "y", Value: "b"}), func(o *Op) { o.Level = "Strong" }),
			with(query(2, "B", 51, 52, KV{Key: "x", Value: "b"}, KV{Key: "y", Value: "b"}), func(o *Op) { o.Level = "Strong" }),
		),
	} {
		t.Run(name, func(t *testing.T) {
			mustPass(t, CheckLinearizable(h, StrongOptions{ReportDir: t.TempDir()}))
		})
	}
}

// randomLinearizable simulates a linearizable register store: each op
// takes effect at a random instant inside its interval.
func randomLinearizable(seed uint64, clients, keys, opsPerClient int) (History, State) {
	rng := rand.New(rand.NewPCG(seed, 1))
	var ops []Op
	now := make([]int64, clients)
	for c := 0; c < clients; c++ {
		for n := 0; n < opsPerClient; n++ {
			call := now[c] + rng.Int64N(5)
			ret := call + 1 + rng.Int64N(40)
			now[c] = ret + 1
			k := fmt.Sprintf("k%d", rng.IntN(keys))
			if rng.IntN(2) == 0 {
				ops = append(ops, Op{Client: c, Level: "Strong", Kind: Write, Key: k, Value: fmt.Sprintf("%d:%d", c, n), Call: call, Return: ret, Result: OK})
			} else {
				ops = append(ops, Op{Client: c, Level: "Strong", Kind: Read, Key: k, Call: call, Return: ret, Result: OK})
			}
		}
	}
	// Linearization points, applied in time order.
	at := make([]int64, len(ops))
	order := make([]int, len(ops))
	for i, o := range ops {
		at[i] = o.Call + rng.Int64N(o.Return-o.Call+1)
		order[i] = i
	}
	sortBy(order, func(i int) int64 { return at[i] })
	state := map[string]string{}
	final := State{}
	lsn := int64(0)
	for _, i := range order {
		o := &ops[i]
		if o.Kind == Write {
			lsn++
			o.LSN = lsn
			state[o.Key] = o.Value
			final[o.Key] = Version{Value: o.Value, LSN: lsn}
		} else {
			o.Value = state[o.Key]
		}
		// The session token a server would return: its progress.
		o.TokenOut = fmt.Sprintf("0:1#%d", lsn)
	}
	// Each client carries its merged token.
	seen := make([]int64, clients)
	for i := range ops {
		o := &ops[i]
		if seen[o.Client] > 0 {
			o.TokenIn = fmt.Sprintf("0:1#%d", seen[o.Client])
		}
		t, _ := ParseToken(o.TokenOut, "")
		seen[o.Client] = max(seen[o.Client], t.LSN)
	}
	// Some writes time out (their effect already happened).
	for i := range ops {
		if ops[i].Kind == Write && rng.IntN(10) == 0 {
			ops[i].Result, ops[i].LSN, ops[i].TokenOut = Unknown, 0, ""
		}
	}
	return History{Ops: ops}, final
}

// TestAllCheckersPassLinearizable: a linearizable run, with carried
// session tokens, passes every checker at every level (no false positives,
// the F0 baseline).
func TestAllCheckersPassLinearizable(t *testing.T) {
	for seed := uint64(10); seed < 14; seed++ {
		h, st := randomLinearizable(seed, 6, 4, 60)
		for _, level := range []string{"Strong", "BoundedStaleness", "Session", "Eventual"} {
			for i := range h.Ops {
				h.Ops[i].Level = level
			}
			mustPass(t, CheckLinearizable(h, StrongOptions{ReadLevels: []string{level}}))
			mustPass(t, CheckSession(h, SessionOptions{Levels: []string{level}}))
			mustPass(t, CheckBoundedStaleness(h, BoundedOptions{K: 1, T: 1, Levels: []string{level}}))
			mustPass(t, CheckPrefix(h, PrefixOptions{}))
		}
		mustPass(t, CheckDurability(h, DurabilityOptions{Final: st}))
		mustPass(t, CheckConvergence(h, ConvergenceOptions{Dumps: map[string]State{"A": st, "B": st}}))
	}
}

func sortBy(idx []int, key func(int) int64) {
	for i := 1; i < len(idx); i++ {
		for j := i; j > 0 && key(idx[j]) < key(idx[j-1]); j-- {
			idx[j], idx[j-1] = idx[j-1], idx[j]
		}
	}
}

func TestStrongRandomLinearizable(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		h, _ := randomLinearizable(seed, 6, 3, 40)
		r := CheckLinearizable(h, StrongOptions{})
		mustPass(t, r)
		if r.Stats["reads"] == 0 || r.Stats["writes"] == 0 {
			t.Fatalf("no ops checked: %v", r.Stats)
		}
		// Breaking one read makes it fail: a read returns a value of its
		// key written by a write invoked after the read returned.
		for i, o := range h.Ops {
			if o.Kind != Read {
				continue
			}
			for _, w := range h.Ops {
				if w.Kind == Write && w.Key == o.Key && w.Call > o.Return {
					bad := History{Ops: append([]Op(nil), h.Ops...)}
					bad.Ops[i].Value = w.Value
					if r := CheckLinearizable(bad, StrongOptions{}); r.OK {
						t.Fatalf("seed %d: a read of a future value passed", seed)
					}
					goto next
				}
			}
		}
	next:
	}
}

func TestStrongForbidden(t *testing.T) {
	cases := []struct {
		name string
		h    History
		kind string
	}{
		// S-F1: stale read after an acknowledged write.
		{"S-F1", hist(wr(1, "x", "1", 0, 10, 1), rd(2, "B", "Strong", "x", "", 12, 14)), KindStaleRead},
		// S-F1 with an older value rather than ⊥.
		{"S-F1-older", hist(wr(1, "x", "1", 0, 10, 1), wr(1, "x", "2", 20, 30, 2), rd(2, "B", "Strong", "x", "1", 40, 41)), KindStaleRead},
		// S-F2: new-then-old inversion around a pending write.
		{"S-F2", hist(unknown(wr(1, "x", "1", 0, 100, 0)), rd(2, "B", "Strong", "x", "1", 10, 20), rd(3, "C", "Strong", "x", "", 30, 40)), KindInversion},
		// A value nobody wrote.
		{"phantom", hist(wr(1, "x", "1", 0, 10, 1), rd(2, "B", "Strong", "x", "7", 12, 14)), KindPhantom},
		// A value read before its write was invoked.
		{"future", hist(rd(2, "B", "Strong", "x", "1", 0, 5), wr(1, "x", "1", 10, 20, 1)), KindPhantom},
		// Two reads after two concurrent writes disagree forever: no
		// simple pattern, porcupine's verdict alone.
		{"S-NL", hist(wr(1, "x", "1", 0, 10, 1), wr(2, "x", "2", 0, 10, 2), rd(3, "B", "Strong", "x", "1", 20, 30), rd(4, "C", "Strong", "x", "2", 20, 30)), KindNonLinear},
		// A query (multi-key read) that misses a write.
		{"query", hist(wr(1, "x", "1", 0, 10, 1), with(query(2, "B", 20, 30, KV{Key: "x"}), func(o *Op) { o.Level = "Strong" })), KindStaleRead},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			r := CheckLinearizable(c.h, StrongOptions{ReportDir: dir, Name: c.name})
			mustFail(t, r, c.kind)
			// The visualization is written and named in the report.
			want := filepath.Join(dir, c.name+"-linearizability.html")
			if len(r.Files) != 1 || r.Files[0] != want {
				t.Fatalf("files %v, want %s", r.Files, want)
			}
			b, err := os.ReadFile(want)
			if err != nil || len(b) < 1000 || !strings.Contains(string(b), "<html") {
				t.Fatalf("visualization %s: %d bytes, %v", want, len(b), err)
			}
		})
	}
}

func TestStrongAnnotationsAndNoDir(t *testing.T) {
	h := hist(wr(1, "x", "1", 0, 10, 1), rd(2, "B", "Strong", "x", "", 12, 14))
	h.Events = []Event{{Text: "partition A|B", Start: 5, End: 13}}
	dir := t.TempDir()
	r := CheckLinearizable(h, StrongOptions{ReportDir: dir})
	mustFail(t, r, KindStaleRead)
	b, err := os.ReadFile(r.Files[0])
	if err != nil || !strings.Contains(string(b), "partition A|B") {
		t.Fatalf("annotation missing from the visualization (%v)", err)
	}
	// Without a directory nothing is written, and it still fails.
	r = CheckLinearizable(h, StrongOptions{})
	mustFail(t, r, KindStaleRead)
	if len(r.Files) != 0 {
		t.Fatalf("files written without a ReportDir: %v", r.Files)
	}
}

// TestStrongTimeoutIsFailure: a search cut by the timeout is reported as a
// failure to investigate, never a pass.
func TestStrongTimeoutIsFailure(t *testing.T) {
	h, _ := randomLinearizable(7, 8, 1, 800)
	dir := t.TempDir()
	r := CheckLinearizable(h, StrongOptions{Timeout: time.Nanosecond, ReportDir: dir})
	mustFail(t, r, KindStrongUnknown)
	if len(r.Files) != 1 {
		t.Fatalf("no visualization for a timed-out check: %v", r.Files)
	}
}

// TestStrongHistoryShape: a malformed history fails even if linearizable.
func TestStrongHistoryShape(t *testing.T) {
	h := hist(wr(1, "x", "1", 0, 10, 1), wr(1, "x", "1", 20, 30, 2), rd(2, "B", "Strong", "x", "1", 40, 50))
	mustFail(t, CheckLinearizable(h, StrongOptions{}), KindHistory)
}
