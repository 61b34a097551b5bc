package checker

import (
	"strconv"
	"testing"
)

// Session histories of consistency-semantics §2.3. Tokens are "0:<epoch>#<lsn>".

func sw(c int, k, v string, call, ret, lsn int64) Op {
	return tokOut(with(wr(c, k, v, call, ret, 0), func(o *Op) { o.Level = "Session" }), "0:1#"+itoa(lsn))
}

func sr(c int, region, k, v string, call, ret int64, in, out string) Op {
	return tokOut(tokIn(rd(c, region, "Session", k, v, call, ret), in), out)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestSessionAllowed(t *testing.T) {
	for name, h := range map[string]History{
		// SE-A1: another session, no token.
		"SE-A1": hist(sw(1, "x", "1", 0, 10, 1), sr(2, "B", "x", "", 20, 30, "", "0:1#0")),
		// SE-A2: own token, the write is returned.
		"SE-A2": hist(sw(1, "x", "1", 0, 10, 1), sr(1, "B", "x", "1", 20, 30, "0:1#1", "0:1#1")),
		// SE-A3: the token is a minimum; a newer value is fine.
		"SE-A3": hist(sw(1, "x", "1", 0, 10, 1), sw(9, "x", "2", 11, 12, 2), sr(1, "B", "x", "2", 20, 30, "0:1#1", "0:1#2")),
		// SE-A4: 404/1002 is an error, not a stale value.
		"SE-A4": hist(sw(1, "x", "1", 0, 10, 1), with(failed(sr(1, "B", "x", "", 20, 30, "0:1#1", "")), func(o *Op) { o.Err = "404/1002" })),
		// A token that does not cover the write (the harness did not merge
		// it): no guarantee.
		"token-behind": hist(sw(1, "x", "1", 0, 10, 5), sr(1, "B", "x", "", 20, 30, "0:1#4", "0:1#4")),
		// Deleted after the own write: ⊥ is the newer version.
		"deleted": hist(sw(1, "x", "1", 0, 10, 1), tokOut(del(9, "x", 11, 12, 0), "0:1#2"), sr(1, "B", "x", "", 20, 30, "0:1#1", "0:1#2")),
		// A write of a later epoch renumbered below the token's LSN (the
		// failover truncated the token's epoch at LSN 30): the epoch-1 token
		// LSN 33 does not cover the epoch-2 write at LSN 31.
		"later-epoch-not-covered": hist(sw(1, "x", "1", 0, 10, 20),
			sr(1, "A", "x", "1", 20, 30, "0:1#33", "0:1#33"),
			tokOut(with(wr(2, "x", "2", 40, 50, 0), func(o *Op) { o.Level = "Session" }), "0:2#31")),
		// A failover that lost nothing: the old-epoch token stays valid.
		"epoch-valid": hist(sw(1, "x", "1", 0, 10, 3), tokOut(wr(2, "x", "2", 20, 30, 0), "0:2#4"),
			sr(1, "B", "x", "2", 40, 50, "0:1#3", "0:2#4")),
	} {
		t.Run(name, func(t *testing.T) {
			r := CheckSession(h, SessionOptions{})
			mustPass(t, r)
		})
	}
}

func TestSessionForbidden(t *testing.T) {
	cases := []struct {
		name string
		h    History
		opts SessionOptions
		kind string
	}{
		// SE-F1: read-your-writes.
		{"SE-F1", hist(sw(1, "x", "1", 0, 10, 1), sr(1, "B", "x", "", 20, 30, "0:1#1", "0:1#1")), SessionOptions{}, KindRYW},
		// SE-F1 with an older value.
		{"SE-F1-older", hist(sw(9, "x", "0", 0, 5, 1), sw(1, "x", "1", 6, 10, 2), sr(1, "B", "x", "0", 20, 30, "0:1#2", "0:1#2")), SessionOptions{}, KindRYW},
		// SE-F2: monotonic reads.
		{"SE-F2", hist(sw(9, "x", "1", 0, 5, 1), sw(9, "x", "2", 6, 10, 2),
			sr(1, "B", "x", "2", 20, 30, "", "0:1#2"), sr(1, "C", "x", "1", 40, 50, "0:1#2", "0:1#2")), SessionOptions{}, KindMonotonic},
		// A token obtained elsewhere (custom synchronization) is a floor too.
		{"floor", hist(sw(9, "x", "1", 0, 5, 1), sw(9, "x", "2", 6, 10, 2), sr(1, "B", "x", "1", 20, 30, "0:1#2", "0:1#2")), SessionOptions{}, KindFloor},
		// SE-F3: epoch 1 wrote LSN 5; the failover kept LSN ≤ 3 and epoch 2
		// starts at 4; a token 1#5 must be rejected.
		{"SE-F3", hist(sw(1, "x", "1", 0, 10, 5), tokOut(wr(2, "x", "2", 20, 30, 0), "0:2#4"),
			sr(1, "B", "x", "2", 40, 50, "0:1#5", "0:2#4")),
			SessionOptions{AllowLost: func(i int, _ Op) bool { return i == 0 }}, KindEpochToken},
		// SE-F3 with the epoch start given by the control plane (no epoch-2
		// write in the history).
		{"SE-F3-given", hist(sw(1, "x", "1", 0, 10, 5), sr(1, "B", "x", "", 40, 50, "0:1#5", "0:2#3")),
			SessionOptions{AllowLost: func(i int, _ Op) bool { return i == 0 }, EpochFirstLSN: map[string]map[int64]int64{"": {2: 4}}}, KindEpochToken},
		// The token returned with a read must cover what it returned.
		{"SE-TOKEN", hist(sw(9, "x", "1", 0, 5, 1), sw(9, "x", "2", 6, 10, 2), sr(1, "B", "x", "2", 20, 30, "", "0:1#1")), SessionOptions{}, KindTokenOut},
		// SE-F4: monotonic writes, region B applied y before x.
		{"SE-F4", hist(sw(1, "x", "1", 0, 10, 1), tokIn(sw(1, "y", "2", 20, 30, 2), "0:1#1")),
			SessionOptions{ApplyOrder: map[string][]KV{"A": {{Key: "x", Value: "1"}, {Key: "y", Value: "2"}}, "B": {{Key: "y", Value: "2"}, {Key: "x", Value: "1"}}}}, KindMW},
		// SE-F4: region C exposes y=2 without x=1 (a complete apply log).
		{"SE-F4-missing", hist(sw(1, "x", "1", 0, 10, 1), tokIn(sw(1, "y", "2", 20, 30, 2), "0:1#1")),
			SessionOptions{ApplyOrder: map[string][]KV{"C": {{Key: "y", Value: "2"}}}, ApplyOrderComplete: true}, KindMW},
		// SE-F5: writes-follow-reads.
		{"SE-F5", hist(sw(9, "x", "1", 0, 10, 1), sr(1, "B", "x", "1", 20, 30, "", "0:1#1"), tokIn(sw(1, "y", "1", 40, 50, 2), "0:1#1")),
			SessionOptions{ApplyOrder: map[string][]KV{"A": {{Key: "y", Value: "1"}, {Key: "x", Value: "1"}}}}, KindWFR},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mustFail(t, CheckSession(c.h, c.opts), c.kind)
		})
	}
}

func TestSessionApplyOrderGood(t *testing.T) {
	h := hist(sw(9, "x", "1", 0, 10, 1), sr(1, "B", "x", "1", 20, 30, "", "0:1#1"), tokIn(sw(1, "y", "1", 40, 50, 2), "0:1#1"),
		tokIn(sw(1, "z", "1", 60, 70, 3), "0:1#2"))
	order := []KV{{Key: "x", Value: "1"}, {Key: "y", Value: "1"}, {Key: "z", Value: "1"}}
	mustPass(t, CheckSession(h, SessionOptions{ApplyOrder: map[string][]KV{"A": order, "B": order}, ApplyOrderComplete: true}))
	// A latest-version feed that lost x (overwritten later) cannot judge.
	mustPass(t, CheckSession(h, SessionOptions{ApplyOrder: map[string][]KV{"A": order[1:]}}))
}

func TestParseToken(t *testing.T) {
	for _, c := range []struct {
		in, part string
		want     Token
		ok       bool
	}{
		{"0:1#42", "", Token{1, 42}, true},
		{"0:-1#42", "0", Token{-1, 42}, true},
		{"0:42", "", Token{-1, 42}, true},
		{"1#42", "", Token{1, 42}, true},
		{"0:3#100#1=20#2=30", "", Token{3, 100}, true},
		{"0:1#5,1:2#7", "1", Token{2, 7}, true},
		{"0:1#5,1:2#7", "", Token{}, false},
		{"0:1#5", "2", Token{}, false},
		{"", "", Token{}, false},
		{"0:x#1", "", Token{}, false},
		{"garbage", "", Token{}, false},
	} {
		got, ok := ParseToken(c.in, c.part)
		if got != c.want || ok != c.ok {
			t.Errorf("ParseToken(%q, %q) = %v, %v; want %v, %v", c.in, c.part, got, ok, c.want, c.ok)
		}
	}
}
