package checker

import (
	"slices"
	"testing"
)

// Test-history builders. Times are in the units the test picks (ns).

func wr(c int, k, v string, call, ret, lsn int64) Op {
	return Op{Client: c, Region: "A", Level: "Strong", Kind: Write, Key: k, Value: v, Call: call, Return: ret, Result: OK, LSN: lsn}
}

func del(c int, k string, call, ret, lsn int64) Op {
	return Op{Client: c, Region: "A", Level: "Strong", Kind: Delete, Key: k, Call: call, Return: ret, Result: OK, LSN: lsn}
}

func rd(c int, region, level, k, v string, call, ret int64) Op {
	return Op{Client: c, Region: region, Level: level, Kind: Read, Key: k, Value: v, Call: call, Return: ret, Result: OK}
}

func batch(c int, call, ret, lsn int64, kvs ...KV) Op {
	return Op{Client: c, Region: "A", Level: "Session", Kind: Batch, Call: call, Return: ret, Result: OK, LSN: lsn, BatchKeys: kvs}
}

func query(c int, region string, call, ret int64, kvs ...KV) Op {
	return Op{Client: c, Region: region, Level: "Eventual", Kind: Query, Call: call, Return: ret, Result: OK, BatchKeys: kvs}
}

func with(o Op, f func(*Op)) Op { f(&o); return o }

func unknown(o Op) Op { return with(o, func(o *Op) { o.Result = Unknown; o.LSN = 0 }) }
func failed(o Op) Op  { return with(o, func(o *Op) { o.Result = Fail; o.LSN = 0 }) }
func tokIn(o Op, t string) Op {
	return with(o, func(o *Op) { o.TokenIn = t })
}
func tokOut(o Op, t string) Op {
	return with(o, func(o *Op) { o.TokenOut = t })
}

func hist(ops ...Op) History { return History{Ops: ops} }

// mustPass fails the test unless r is OK.
func mustPass(t *testing.T, r Report) {
	t.Helper()
	if !r.OK {
		t.Fatalf("expected a pass, got:\n%s", r)
	}
}

// mustFail fails the test unless r failed with a violation of kind (and
// every violation is of one of the kinds listed).
func mustFail(t *testing.T, r Report, kind string, also ...string) {
	t.Helper()
	if r.OK {
		t.Fatalf("expected a %s violation, the check passed:\n%s", kind, r)
	}
	if !slices.Contains(r.Kinds(), kind) {
		t.Fatalf("expected a %s violation, got kinds %v:\n%s", kind, r.Kinds(), r)
	}
	for _, k := range r.Kinds() {
		if k != kind && !slices.Contains(also, k) {
			t.Fatalf("unexpected violation kind %s (expected %s):\n%s", k, kind, r)
		}
	}
}
