package checker

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestConvergence(t *testing.T) {
	h := hist(wr(1, "x", "1", 0, 10, 1), wr(1, "x", "2", 20, 30, 2), wr(2, "y", "1", 0, 10, 3))
	same := State{"x": {Value: "2", LSN: 2}, "y": {Value: "1", LSN: 3}}
	mustPass(t, CheckConvergence(h, ConvergenceOptions{Dumps: map[string]State{"A": same, "B": same, "C": same}}))

	// Raw items equal up to field order, and up to ignored fields.
	ra := State{"x": {Value: "2", Raw: json.RawMessage(`{"id":"x","v":2,"_ts":1}`)}}
	rb := State{"x": {Value: "2", Raw: json.RawMessage(`{"v":2, "id":"x","_ts":1}`)}}
	rc := State{"x": {Value: "2", Raw: json.RawMessage(`{"v":2, "id":"x","_ts":9}`)}}
	mustPass(t, CheckConvergence(h, ConvergenceOptions{Dumps: map[string]State{"A": ra, "B": rb}}))
	mustFail(t, CheckConvergence(h, ConvergenceOptions{Dumps: map[string]State{"A": ra, "C": rc}}), KindDiverged)
	mustPass(t, CheckConvergence(h, ConvergenceOptions{Dumps: map[string]State{"A": ra, "C": rc}, IgnoreFields: []string{"_ts"}}))

	// Divergent regions: a stale value, a missing key, an LSN mismatch.
	r := CheckConvergence(h, ConvergenceOptions{Dumps: map[string]State{
		"A": same,
		"B": {"x": {Value: "1", LSN: 1}, "y": {Value: "1", LSN: 3}},
		"C": {"x": {Value: "2", LSN: 2}},
	}})
	mustFail(t, r, KindDiverged)
	var keys []string
	for _, v := range r.Violations {
		keys = append(keys, v.Key)
	}
	if !slices.Equal(keys, []string{"x", "y"}) {
		t.Fatalf("differing keys %v, want [x y]:\n%s", keys, r)
	}
	if !slices.Equal(r.Violations[0].Ops, []int{1, 0}) {
		t.Fatalf("ops of x %v, want the writes of 2 and 1", r.Violations[0].Ops)
	}
	mustFail(t, CheckConvergence(h, ConvergenceOptions{Dumps: map[string]State{"A": same, "B": {"x": {Value: "2", LSN: 5}, "y": {Value: "1", LSN: 3}}}}), KindDiverged)
	mustPass(t, CheckConvergence(h, ConvergenceOptions{IgnoreLSN: true, Dumps: map[string]State{"A": same, "B": {"x": {Value: "2", LSN: 5}, "y": {Value: "1", LSN: 3}}}}))

	// A value no write wrote, identical everywhere.
	rogue := State{"x": {Value: "7"}}
	mustFail(t, CheckConvergence(h, ConvergenceOptions{Dumps: map[string]State{"A": rogue, "B": rogue}}), KindPhantom)
	// Without a history only equality is checked.
	mustPass(t, CheckConvergence(History{}, ConvergenceOptions{Dumps: map[string]State{"A": rogue, "B": rogue}}))
}
