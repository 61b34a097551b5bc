package checker

import (
	"encoding/json"
	"testing"
)

func TestDurabilityAllowed(t *testing.T) {
	h := hist(
		wr(1, "x", "1", 0, 10, 1),
		wr(1, "x", "2", 20, 30, 2), // supersedes x=1
		wr(2, "y", "1", 0, 10, 3),
		del(2, "y", 40, 50, 4),             // y deleted
		unknown(wr(3, "z", "1", 0, 10, 0)), // may be lost
		wr(4, "w", "1", 0, 10, 0),          // no LSN
		wr(5, "w", "2", 5, 15, 0),          // concurrent with w=1: either may win
		batch(3, 60, 70, 5, KV{Key: "b1", Value: "1"}, KV{Key: "b2", Value: "1"}),
	)
	final := State{"x": {Value: "2", LSN: 2}, "w": {Value: "1"}, "b1": {Value: "1", LSN: 5}, "b2": {Value: "1", LSN: 5}}
	r := CheckDurability(h, DurabilityOptions{Final: final})
	mustPass(t, r)
	if r.Stats["acked_writes"] != 8 || r.Stats["acked_present"] != 5 || r.Stats["acked_superseded"] != 3 {
		t.Fatalf("stats %v", r.Stats)
	}
}

func TestDurabilityForbidden(t *testing.T) {
	cases := []struct {
		name  string
		h     History
		final State
		opts  DurabilityOptions
		kind  string
	}{
		// An acknowledged write is gone: an older version is back.
		{"lost-older", hist(wr(1, "x", "1", 0, 10, 1), wr(1, "x", "2", 20, 30, 2)), State{"x": {Value: "1", LSN: 1}}, DurabilityOptions{}, KindLostWrite},
		// An acknowledged write is gone: the item is not found.
		{"lost-missing", hist(wr(1, "x", "1", 0, 10, 1)), State{}, DurabilityOptions{}, KindLostWrite},
		// A delete is lost: the item came back.
		{"lost-delete", hist(wr(1, "x", "1", 0, 10, 1), del(1, "x", 20, 30, 2)), State{"x": {Value: "1", LSN: 1}}, DurabilityOptions{}, KindLostWrite},
		// Without LSNs, by real time.
		{"lost-realtime", hist(wr(1, "x", "1", 0, 10, 0), wr(1, "x", "2", 20, 30, 0)), State{"x": {Value: "1"}}, DurabilityOptions{}, KindLostWrite},
		// More than the allowed RPO.
		{"rpo", hist(wr(1, "x", "1", 0, 10, 1), wr(1, "y", "1", 20, 30, 2), wr(1, "z", "1", 40, 50, 3)), State{"x": {Value: "1", LSN: 1}},
			DurabilityOptions{AllowLost: func(i int, o Op) bool { return o.LSN > 1 }, MaxAllowedLost: 1}, KindRPO},
		// A value nobody wrote.
		{"phantom", hist(wr(1, "x", "1", 0, 10, 1)), State{"x": {Value: "9"}}, DurabilityOptions{}, KindFinalRogue},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.opts.Final = c.final
			mustFail(t, CheckDurability(c.h, c.opts), c.kind)
		})
	}
}

// TestDurabilityRPO: the unsynced suffix of a failed region may be lost at
// weak levels (C25); it is counted, and anything else lost still fails.
func TestDurabilityRPO(t *testing.T) {
	h := hist(wr(1, "x", "1", 0, 10, 1), wr(1, "y", "1", 20, 30, 2), wr(1, "z", "1", 40, 50, 3))
	synced := int64(1)
	opts := DurabilityOptions{Final: State{"x": {Value: "1", LSN: 1}}, AllowLost: func(_ int, o Op) bool { return o.LSN > synced }}
	r := CheckDurability(h, opts)
	mustPass(t, r)
	if r.Stats["lost_allowed"] != 2 {
		t.Fatalf("lost_allowed %d, want 2", r.Stats["lost_allowed"])
	}
	synced = 2
	mustFail(t, CheckDurability(h, opts), KindLostWrite)
}

func TestStateFromItems(t *testing.T) {
	items := []json.RawMessage{
		json.RawMessage(`{"id":"x","pk":"p","v":3,"_lsn":7,"_ts":1}`),
		json.RawMessage(`{"id":"y","pk":"p","v":"a:1"}`),
	}
	st, err := StateFromItems(items, ItemFields{})
	if err != nil {
		t.Fatal(err)
	}
	if st["x"].Value != "3" || st["x"].LSN != 7 || st["y"].Value != "a:1" || len(st["y"].Raw) == 0 {
		t.Fatalf("state %+v", st)
	}
	if _, err := StateFromItems([]json.RawMessage{json.RawMessage(`{"v":1}`)}, ItemFields{}); err == nil {
		t.Fatal("an item without id was accepted")
	}
	if _, err := StateFromItems([]json.RawMessage{json.RawMessage(`nope`)}, ItemFields{}); err == nil {
		t.Fatal("a malformed item was accepted")
	}
}
