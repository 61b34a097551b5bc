package checker

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// Multi-write history builders: every op carries a vector token (the sum
// is the same for every op on purpose: it must not be read as an LSN).

const vtok = "0:1#3#1=1#2=1#3=1"

func mwOp(o Op) Op {
	o.Level, o.Partition, o.TokenIn, o.TokenOut = "Session", "0", vtok, vtok
	if o.Result != OK {
		o.TokenOut = ""
	}
	return o
}

func mwWr(c int, region, k, v string, call, ret int64) Op {
	return mwOp(Op{Client: c, Region: region, Kind: Write, Key: k, Value: v, Call: call, Return: ret, Result: OK})
}

func mwDel(c int, region, k string, call, ret int64) Op {
	return mwOp(Op{Client: c, Region: region, Kind: Delete, Key: k, Call: call, Return: ret, Result: OK})
}

func mwRd(c int, region, k, v string, call, ret int64) Op {
	return mwOp(Op{Client: c, Region: region, Kind: Read, Key: k, Value: v, Call: call, Return: ret, Result: OK})
}

func TestVectorTokensAreNotLSNs(t *testing.T) {
	for _, c := range []struct {
		h, part string
		want    bool
	}{
		{"0:1#3#1=1#2=1#3=1", "0", true},
		{"0:1#3#1=1#2=1#3=1", "", true},
		{"0:1#3", "0", false},
		{"1#3#1=2", "", true},
		{"1:1#3#1=2,0:1#4", "0", false},
		{"", "0", false},
	} {
		if got := VectorToken(c.h, c.part); got != c.want {
			t.Errorf("VectorToken(%q, %q) = %v, want %v", c.h, c.part, got, c.want)
		}
	}
	// Two concurrent acknowledged writes whose tokens have the same sum
	// are not "two writes with one LSN".
	h := hist(mwWr(1, "r1", "x", "1:1", 0, 10), mwWr(2, "r2", "x", "2:1", 0, 10))
	if v := Validate(h); len(v) != 0 {
		t.Fatalf("Validate: %v", v)
	}
	if lsn, _, ok := writeLSN(h.Ops[0]); ok {
		t.Fatalf("writeLSN of a vector-token write = %d, want none", lsn)
	}
	// Single-write tokens still name the write's LSN.
	if lsn, _, ok := writeLSN(tokOut(wr(1, "x", "1", 0, 1, 0), "0:1#7")); !ok || lsn != 7 {
		t.Fatalf("writeLSN = %d, %v", lsn, ok)
	}
}

func TestCausalSessionAllowed(t *testing.T) {
	h := hist(
		mwWr(0, "r1", "d", "0:1", 0, 5),                // 0: setup create of a deleted key
		mwWr(1, "r1", "p", "1:1", 10, 20),              // 1
		mwRd(1, "r2", "p", "1:1", 30, 40),              // 2: RYW in another region
		mwWr(2, "r2", "h", "2:1", 10, 20),              // 3: hot key, concurrent with 4
		mwWr(1, "r1", "h", "1:2", 50, 60),              // 4
		mwRd(1, "r1", "h", "2:1", 70, 80),              // 5: a concurrent version may win
		mwRd(2, "r2", "h", "1:2", 70, 80),              // 6
		mwDel(3, "r3", "d", 10, 20),                    // 7
		mwRd(3, "r1", "d", "", 30, 40),                 // 8: its delete is seen
		mwRd(1, "r1", "d", "0:1", 90, 95),              // 9: client 1 knows no delete
		mwWr(1, "r1", "p", "1:3", 100, 110),            // 10
		mwRd(2, "r2", "p", "1:3", 120, 130),            // 11
		mwRd(2, "r2", "p", "1:3", 140, 150),            // 12
		mwRd(4, "r3", "p", "", 0, 1),                   // 13: before any write
		tokIn(mwRd(5, "r3", "p", "1:1", 200, 210), ""), // 14: no token: not checked
	)
	r := CheckCausalSession(h, CausalOptions{})
	mustPass(t, r)
	if r.Stats["session_reads"] != 8 {
		t.Fatalf("stats %v", r.Stats)
	}
}

func TestCausalSessionForbidden(t *testing.T) {
	cases := []struct {
		name string
		h    History
		kind string
	}{
		{"read-your-writes in another region", hist(
			mwWr(1, "r1", "p", "1:1", 0, 10),
			mwWr(1, "r1", "p", "1:2", 20, 30),
			mwRd(1, "r2", "p", "1:1", 40, 50),
		), KindRYW},
		{"own write not found", hist(
			mwWr(1, "r1", "p", "1:1", 0, 10),
			mwRd(1, "r2", "p", "", 40, 50),
		), KindRYW},
		{"monotonic reads", hist(
			mwWr(1, "r1", "p", "1:1", 0, 10),
			mwWr(1, "r1", "p", "1:2", 20, 30),
			mwRd(2, "r1", "p", "1:2", 40, 50),
			mwRd(2, "r3", "p", "1:1", 60, 70),
		), KindMonotonic},
		{"monotonic writes observed out of order", hist(
			mwWr(1, "r1", "a", "1:1", 0, 10),
			mwWr(1, "r1", "a", "1:2", 20, 30),
			mwWr(1, "r1", "b", "1:3", 40, 50),
			mwRd(2, "r2", "b", "1:3", 60, 70),
			mwRd(2, "r2", "a", "1:1", 80, 90),
		), KindMW},
		{"a version outside the causal past may be read", hist(
			mwWr(1, "r1", "a", "1:1", 0, 10),
			mwWr(2, "r2", "a", "2:1", 20, 30),
			mwRd(3, "r2", "a", "2:1", 40, 50),
			mwWr(3, "r2", "b", "3:1", 60, 70),
			mwRd(4, "r3", "b", "3:1", 80, 90),
			mwRd(4, "r3", "a", "1:1", 100, 110), // 2:1 is concurrent with 1:1
		), ""},
		{"a replace resurrects an own delete", hist(
			mwWr(0, "r1", "d", "0:1", 0, 5),
			mwDel(1, "r1", "d", 10, 20),
			mwWr(2, "r2", "d", "2:1", 10, 20),
			mwRd(1, "r2", "d", "2:1", 30, 40),
		), KindRYW},
		{"a delete in the causal past of a read version", hist(
			mwWr(0, "r1", "d", "0:1", 0, 5),
			mwDel(1, "r1", "d", 10, 20),
			mwWr(1, "r1", "x", "1:2", 30, 40),
			mwRd(2, "r2", "x", "1:2", 50, 60),
			mwRd(2, "r2", "d", "0:1", 70, 80),
		), KindWFR},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := CheckCausalSession(c.h, CausalOptions{})
			if c.kind == "" {
				mustPass(t, r)
				return
			}
			mustFail(t, r, c.kind)
		})
	}
	// Writes follow reads: client 3 read 2:1, then wrote b; a reader of b
	// must not see a version 2:1 had overwritten after client 2 read it.
	h := hist(
		mwWr(1, "r1", "a", "1:1", 0, 10),
		mwRd(2, "r1", "a", "1:1", 20, 30),
		mwWr(2, "r1", "a", "2:1", 40, 50), // overwrites 1:1, which client 2 had read
		mwRd(3, "r1", "a", "2:1", 60, 70),
		mwWr(3, "r1", "b", "3:1", 80, 90),
		mwRd(4, "r3", "b", "3:1", 100, 110),
		mwRd(4, "r3", "a", "1:1", 120, 130),
	)
	mustFail(t, CheckCausalSession(h, CausalOptions{}), KindWFR)
}

func TestMultiWriteDurability(t *testing.T) {
	h := hist(
		mwWr(1, "r1", "p", "1:1", 0, 10),           // 0
		mwWr(1, "r1", "p", "1:2", 20, 30),          // 1
		unknown(mwWr(1, "r1", "p", "1:3", 40, 50)), // 2
		mwWr(2, "r2", "h", "2:1", 0, 10),           // 3
		mwWr(3, "r3", "h", "3:1", 5, 15),           // 4: concurrent with 3
		mwWr(0, "r1", "d", "0:1", 0, 1),            // 5
		unknown(mwDel(2, "r2", "d", 20, 30)),       // 6
		unknown(mwWr(4, "r1", "q", "4:1", 0, 10)),  // 7
		mwWr(4, "r1", "q", "4:2", 20, 30),          // 8
		failed(mwWr(5, "r1", "n", "5:1", 0, 10)),   // 9
		mwWr(2, "r2", "k1", "2:2", 31, 35),         // 10
		mwRd(3, "r3", "k1", "2:2", 40, 50),         // 11
		mwWr(3, "r3", "k1", "3:2", 60, 70),         // 12: follows 10
	)
	ok := State{"p": {Value: "1:3"}, "h": {Value: "2:1"}, "q": {Value: "4:2"}, "k1": {Value: "3:2"}}
	ok2 := State{"p": {Value: "1:2"}, "h": {Value: "3:1"}, "d": {Value: "0:1"}, "q": {Value: "4:2"}, "k1": {Value: "3:2"}}
	r := CheckMultiWriteDurability(h, MWDurabilityOptions{Dumps: map[string]State{"r1": ok, "r2": ok2}})
	mustPass(t, r)

	for _, c := range []struct {
		name  string
		final State
		kind  string
	}{
		{"superseded own write", State{"p": {Value: "1:1"}, "h": {Value: "2:1"}, "q": {Value: "4:2"}, "k1": {Value: "3:2"}}, KindLostWrite},
		{"absent", State{"h": {Value: "2:1"}, "q": {Value: "4:2"}, "k1": {Value: "3:2"}}, KindLostWrite},
		{"causally older version won", State{"p": {Value: "1:2"}, "h": {Value: "2:1"}, "q": {Value: "4:2"}, "k1": {Value: "2:2"}}, KindLostWrite},
		{"earlier unknown write of the only writer won", State{"p": {Value: "1:2"}, "h": {Value: "2:1"}, "q": {Value: "4:1"}, "k1": {Value: "3:2"}}, KindMW},
		{"phantom", State{"p": {Value: "1:2"}, "h": {Value: "9:9"}, "q": {Value: "4:2"}, "k1": {Value: "3:2"}}, KindFinalRogue},
	} {
		t.Run(c.name, func(t *testing.T) {
			mustFail(t, CheckMultiWriteDurability(h, MWDurabilityOptions{Dumps: map[string]State{"r1": ok, "r2": c.final}}), c.kind)
		})
	}
}

func TestDeletes(t *testing.T) {
	h := hist(
		mwWr(0, "r1", "d1", "0:1", 0, 1),
		mwWr(0, "r1", "d2", "0:2", 2, 3),
		mwWr(1, "r1", "d1", "1:1", 10, 20), // a replace
		mwDel(2, "r2", "d1", 10, 20),       // concurrent with it: the delete wins
		mwWr(3, "r3", "d1", "3:1", 30, 40), // a late replace (it may have failed or lost)
		unknown(mwDel(1, "r1", "d2", 30, 40)),
	)
	isDel := func(k string) bool { return strings.HasPrefix(k, "d") }
	gone := State{"d2": {Value: "0:2"}}
	mustPass(t, CheckDeletes(h, DeletesOptions{Dumps: map[string]State{"r1": gone, "r2": {}}, DeleteKeys: isDel}))
	for _, v := range []string{"1:1", "3:1", "0:1"} {
		back := State{"d1": {Value: v}}
		mustFail(t, CheckDeletes(h, DeletesOptions{Dumps: map[string]State{"r1": gone, "r2": back}, DeleteKeys: isDel}), KindResurrected)
	}
}

func rec(id, key, op, v string) ConflictRecord {
	content := ""
	if v != "" {
		content = fmt.Sprintf(`{"id":%q,"pk":"p","v":%q}`, key, v)
	}
	r := ConflictRecord{ID: id, ResourceID: key, OperationType: op, Content: content}
	r.Raw, _ = json.Marshal(map[string]string{"id": id, "resourceId": key, "operationType": op, "content": content})
	return r
}

func TestConflicts(t *testing.T) {
	h := hist(
		mwWr(1, "r1", "cus-h", "1:1", 0, 10),  // 0: loses to 1
		mwWr(2, "r2", "cus-h", "2:1", 0, 10),  // 1: the final value
		mwWr(3, "r3", "cus-h", "3:1", 20, 30), // 2: overwrote 1 in r3, then lost: fed
		mwWr(0, "r1", "cus-d", "0:1", 0, 1),   // 3
		mwDel(1, "r1", "cus-d", 40, 50),       // 4
		mwDel(2, "r2", "cus-d", 40, 50),       // 5
		mwWr(1, "r1", "lww-h", "1:2", 11, 15),
		mwWr(2, "r2", "lww-h", "2:2", 11, 15),
	)
	feed := []ConflictRecord{rec("mw-1-1-0", "cus-h", "replace", "1:1"), rec("mw-3-1-0", "cus-h", "replace", "3:1"), rec("mw-2-2-0", "cus-d", "delete", "")}
	final := State{"cus-h": {Value: "2:1"}, "lww-h": {Value: "2:2"}}
	opts := func(mut func(o *ConflictsOptions)) ConflictsOptions {
		o := ConflictsOptions{
			Feeds: map[string]map[string][]ConflictRecord{
				"r1": {"cus": feed, "lww": nil},
				"r2": {"cus": feed, "lww": nil},
			},
			Dumps:       map[string]State{"r1": final, "r2": final},
			ContainerOf: func(k string) string { c, _, _ := strings.Cut(k, "-"); return c },
			Custom:      map[string]bool{"cus": true},
		}
		if mut != nil {
			mut(&o)
		}
		return o
	}
	r := CheckConflicts(h, opts(nil))
	mustPass(t, r)
	if r.Stats["records"] != 3 {
		t.Fatalf("stats %v", r.Stats)
	}
	for _, c := range []struct {
		name string
		mut  func(o *ConflictsOptions)
		kind string
	}{
		{"regions differ", func(o *ConflictsOptions) { o.Feeds["r2"]["cus"] = feed[:2] }, KindFeedDiverged},
		{"same bytes required", func(o *ConflictsOptions) {
			f := append([]ConflictRecord(nil), feed...)
			f[0].Raw = json.RawMessage(`{"id":"mw-1-1-0","resourceId":"cus-h","operationType":"create","content":"x"}`)
			o.Feeds["r2"]["cus"] = f
		}, KindFeedDiverged},
		{"duplicate id", func(o *ConflictsOptions) {
			f := append(append([]ConflictRecord(nil), feed...), feed[0])
			o.Feeds["r1"]["cus"], o.Feeds["r2"]["cus"] = f, f
		}, KindFeedDup},
		{"one loser twice", func(o *ConflictsOptions) {
			f := append(append([]ConflictRecord(nil), feed...), rec("mw-1-9-0", "cus-h", "replace", "1:1"))
			o.Feeds["r1"]["cus"], o.Feeds["r2"]["cus"] = f, f
		}, KindFeedDup},
		{"phantom content", func(o *ConflictsOptions) {
			f := append(append([]ConflictRecord(nil), feed...), rec("mw-1-9-0", "cus-h", "replace", "7:7"))
			o.Feeds["r1"]["cus"], o.Feeds["r2"]["cus"] = f, f
		}, KindFeedPhantom},
		{"phantom delete", func(o *ConflictsOptions) {
			f := append(append([]ConflictRecord(nil), feed...), rec("mw-1-9-0", "cus-h", "delete", ""))
			o.Feeds["r1"]["cus"], o.Feeds["r2"]["cus"] = f, f
		}, KindFeedPhantom},
		{"the winner fed", func(o *ConflictsOptions) {
			f := append(append([]ConflictRecord(nil), feed...), rec("mw-2-1-0", "cus-h", "create", "2:1"))
			o.Feeds["r1"]["cus"], o.Feeds["r2"]["cus"] = f, f
		}, KindFeedWinner},
		{"LWW feeds", func(o *ConflictsOptions) {
			f := []ConflictRecord{rec("mw-1-2-0", "lww-h", "create", "1:2")}
			o.Feeds["r1"]["lww"], o.Feeds["r2"]["lww"] = f, f
		}, KindFeedLWW},
		{"a loser neither kept nor fed", func(o *ConflictsOptions) {
			f := []ConflictRecord{feed[0], feed[2]}
			o.Feeds["r1"]["cus"], o.Feeds["r2"]["cus"] = f, f
		}, KindFeedMissing},
		{"malformed content", func(o *ConflictsOptions) {
			bad := rec("mw-1-9-0", "cus-h", "replace", "1:1")
			bad.Content = "{"
			f := []ConflictRecord{bad, feed[1], feed[2]}
			o.Feeds["r1"]["cus"], o.Feeds["r2"]["cus"] = f, f
		}, KindFeedMalformed},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := CheckConflicts(h, opts(c.mut))
			if c.kind == KindFeedMalformed {
				mustFail(t, r, c.kind, KindFeedMissing)
				return
			}
			mustFail(t, r, c.kind)
		})
	}
}

func TestParseConflictRecords(t *testing.T) {
	body := `{"_rid":"x","Conflicts":[{"id":"mw-1-2-0","resourceId":"k","operationType":"replace","content":"{\"id\":\"k\",\"v\":\"1:2\"}","_ts":5}],"_count":1}`
	recs, err := ParseConflictRecords([]byte(body))
	if err != nil || len(recs) != 1 {
		t.Fatalf("%v %v", recs, err)
	}
	if r := recs[0]; r.ID != "mw-1-2-0" || r.ResourceID != "k" || r.OperationType != "replace" || !strings.Contains(r.Content, `"1:2"`) || len(r.Raw) == 0 {
		t.Fatalf("%+v", r)
	}
	if _, err := ParseConflictRecords([]byte(`{"Conflicts":[1]}`)); err == nil {
		t.Fatal("a malformed record parsed")
	}
}
