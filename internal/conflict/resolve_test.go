package conflict

import (
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

const sec = int64(1e9)

// Region ids used in the tables: A < B < C, so D-7 prefers C, then B.
const (
	rA uint32 = 1
	rB uint32 = 2
	rC uint32 = 3
)

func mustPolicy(t testing.TB, js string) Policy {
	t.Helper()
	p, err := ParsePolicy([]byte(js))
	require.NoError(t, err)
	return p
}

var (
	lwwTS  = DefaultPolicy()
	custom = CustomPolicy()
)

// write builds a write of region origin (LSN lsn, wall clock wall) on top
// of base with Successor; body "" is a delete. seen is what the region had
// applied.
func write(t testing.TB, p Policy, base *Version, origin uint32, lsn, wall int64, seen Vector, body string) Version {
	t.Helper()
	w := Version{Origin: origin, LSN: lsn, TS: HLC{Wall: wall}, Seen: seen, Deleted: body == ""}
	if body != "" {
		w.Doc = []byte(body)
	}
	v, err := Successor(p, base, w)
	require.NoError(t, err)
	return v
}

// decide runs Resolve both ways and checks they agree: the same winner,
// mirrored Newer/Stale, the same conflict verdict.
func decide(t *testing.T, p Policy, local, incoming Version) Decision {
	t.Helper()
	d := Resolve(p, local, incoming)
	r := Resolve(p, incoming, local)
	if !sameWrite(local, incoming) {
		require.NotEqual(t, d.Take, r.Take, "Resolve is not commutative")
	}
	mirror := map[Outcome]Outcome{Duplicate: Duplicate, Newer: Stale, Stale: Newer, Conflicted: Conflicted}
	require.Equal(t, mirror[d.Outcome], r.Outcome)
	require.Equal(t, d.Type, r.Type)
	require.Equal(t, d.Feed, r.Feed)
	require.Equal(t, d.Inverted, r.Inverted)
	if d.Take {
		require.Equal(t, local, d.Loser)
	} else {
		require.Equal(t, incoming, d.Loser)
	}
	return d
}

func TestResolveTable(t *testing.T) {
	prio := mustPolicy(t, `{"mode":"LastWriterWins","conflictResolutionPath":"/prio"}`)
	nested := mustPolicy(t, `{"conflictResolutionPath":"/meta/rank"}`)

	// A shared base, created in A and replicated everywhere.
	base := func(p Policy, body string) Version { return write(t, p, nil, rA, 1, 10*sec, nil, body) }
	seenBase := Vector{rA: 1}

	type want struct {
		winner  string // "local" or "incoming"
		outcome Outcome
		typ     ConflictType
		feed    bool
	}
	for _, tc := range []struct {
		name            string
		p               Policy
		local, incoming func() Version
		want            want
	}{
		{
			name: "MW-A2 insert/insert: the higher _ts wins",
			p:    lwwTS,
			local: func() Version {
				return write(t, lwwTS, nil, rA, 1, 100*sec, nil, `{"id":"k","v":"a"}`)
			},
			incoming: func() Version {
				return write(t, lwwTS, nil, rB, 1, 101*sec, nil, `{"id":"k","v":"b"}`)
			},
			want: want{"incoming", Conflicted, InsertInsert, false},
		},
		{
			name:     "MW-F1 guard: the lower _ts never wins, whichever arrives first",
			p:        lwwTS,
			local:    func() Version { return write(t, lwwTS, nil, rB, 1, 101*sec, nil, `{"id":"k","v":"b"}`) },
			incoming: func() Version { return write(t, lwwTS, nil, rA, 1, 100*sec, nil, `{"id":"k","v":"a"}`) },
			want:     want{"local", Conflicted, InsertInsert, false},
		},
		{
			name:     "D-7: equal timestamps, the higher region id wins",
			p:        lwwTS,
			local:    func() Version { return write(t, lwwTS, nil, rC, 1, 100*sec, nil, `{"id":"k","v":"c"}`) },
			incoming: func() Version { return write(t, lwwTS, nil, rA, 9, 100*sec, nil, `{"id":"k","v":"a"}`) },
			want:     want{"local", Conflicted, InsertInsert, false},
		},
		{
			name: "D-7: the HLC's logical part orders writes within a second",
			p:    lwwTS,
			local: func() Version {
				v := write(t, lwwTS, nil, rC, 1, 100*sec, nil, `{"id":"k","v":"c"}`)
				return v
			},
			incoming: func() Version {
				w, err := Successor(lwwTS, nil, Version{Origin: rA, LSN: 1, TS: HLC{Wall: 100 * sec, Logical: 1}, Doc: []byte(`{"id":"k"}`)})
				require.NoError(t, err)
				return w
			},
			want: want{"incoming", Conflicted, InsertInsert, false},
		},
		{
			name: "replace/replace: both replaced the same base, the later wins",
			p:    lwwTS,
			local: func() Version {
				b := base(lwwTS, `{"id":"k"}`)
				return write(t, lwwTS, &b, rA, 2, 20*sec, seenBase, `{"id":"k","v":"a2"}`)
			},
			incoming: func() Version {
				b := base(lwwTS, `{"id":"k"}`)
				return write(t, lwwTS, &b, rB, 1, 21*sec, seenBase, `{"id":"k","v":"b1"}`)
			},
			want: want{"incoming", Conflicted, ReplaceReplace, false},
		},
		{
			name:     "MW-A3: custom path, the higher value wins even with the earlier _ts",
			p:        prio,
			local:    func() Version { return write(t, prio, nil, rA, 1, 1*sec, nil, `{"id":"k","prio":5}`) },
			incoming: func() Version { return write(t, prio, nil, rB, 1, 2*sec, nil, `{"id":"k","prio":3}`) },
			want:     want{"local", Conflicted, InsertInsert, false},
		},
		{
			name:     "custom path: doubles compare as numbers",
			p:        prio,
			local:    func() Version { return write(t, prio, nil, rC, 1, 1*sec, nil, `{"prio":2.5}`) },
			incoming: func() Version { return write(t, prio, nil, rA, 1, 1*sec, nil, `{"prio":1e1}`) },
			want:     want{"incoming", Conflicted, InsertInsert, false},
		},
		{
			name:     "D-8: a missing path is −∞, below any number",
			p:        prio,
			local:    func() Version { return write(t, prio, nil, rC, 1, 9*sec, nil, `{"id":"k"}`) },
			incoming: func() Version { return write(t, prio, nil, rA, 1, 1*sec, nil, `{"id":"k","prio":-1e300}`) },
			want:     want{"incoming", Conflicted, InsertInsert, false},
		},
		{
			name:     "D-8: a non-numeric value is −∞ too (a string of digits, null, bool)",
			p:        prio,
			local:    func() Version { return write(t, prio, nil, rC, 1, 9*sec, nil, `{"prio":"99"}`) },
			incoming: func() Version { return write(t, prio, nil, rA, 1, 1*sec, nil, `{"prio":0}`) },
			want:     want{"incoming", Conflicted, InsertInsert, false},
		},
		{
			name:     "D-8 + D-7: missing against non-numeric ties, the higher region wins",
			p:        prio,
			local:    func() Version { return write(t, prio, nil, rC, 1, 1*sec, nil, `{"prio":true}`) },
			incoming: func() Version { return write(t, prio, nil, rB, 1, 9*sec, nil, `{"other":1}`) },
			want:     want{"local", Conflicted, InsertInsert, false},
		},
		{
			name:     "nested path",
			p:        nested,
			local:    func() Version { return write(t, nested, nil, rC, 1, 1*sec, nil, `{"meta":{"rank":1}}`) },
			incoming: func() Version { return write(t, nested, nil, rA, 1, 1*sec, nil, `{"meta":{"rank":2,"x":[1]}}`) },
			want:     want{"incoming", Conflicted, InsertInsert, false},
		},
		{
			name:     "nested path through a non-object is missing",
			p:        nested,
			local:    func() Version { return write(t, nested, nil, rA, 1, 1*sec, nil, `{"meta":[{"rank":9}]}`) },
			incoming: func() Version { return write(t, nested, nil, rB, 1, 1*sec, nil, `{"meta":{"rank":-5}}`) },
			want:     want{"incoming", Conflicted, InsertInsert, false},
		},
		{
			name: "MW-A4: a delete beats a concurrent replace, whatever the path value",
			p:    prio,
			local: func() Version {
				b := base(prio, `{"id":"k","prio":1}`)
				return write(t, prio, &b, rA, 2, 20*sec, seenBase, "")
			},
			incoming: func() Version {
				b := base(prio, `{"id":"k","prio":1}`)
				return write(t, prio, &b, rB, 1, 30*sec, seenBase, `{"id":"k","prio":999}`)
			},
			want: want{"local", Conflicted, ReplaceDelete, false},
		},
		{
			name: "MW-A4 on _ts: a delete beats a concurrent, later replace",
			p:    lwwTS,
			local: func() Version {
				b := base(lwwTS, `{"id":"k"}`)
				return write(t, lwwTS, &b, rB, 1, 40*sec, seenBase, `{"id":"k","v":2}`)
			},
			incoming: func() Version {
				b := base(lwwTS, `{"id":"k"}`)
				return write(t, lwwTS, &b, rA, 2, 20*sec, seenBase, "")
			},
			want: want{"incoming", Conflicted, ReplaceDelete, false},
		},
		{
			name: "an older update delivered after its tombstone is stale, not a conflict",
			p:    lwwTS,
			local: func() Version {
				b := base(lwwTS, `{"id":"k"}`)
				u := write(t, lwwTS, &b, rB, 1, 20*sec, seenBase, `{"id":"k","v":"u"}`)
				return write(t, lwwTS, &u, rC, 1, 30*sec, Vector{rA: 1, rB: 1}, "")
			},
			incoming: func() Version {
				b := base(lwwTS, `{"id":"k"}`)
				return write(t, lwwTS, &b, rB, 1, 20*sec, seenBase, `{"id":"k","v":"u"}`)
			},
			want: want{"local", Stale, NoConflict, false},
		},
		{
			name: "a create issued after the delete was seen starts a new incarnation: newer",
			p:    lwwTS,
			local: func() Version {
				b := base(lwwTS, `{"id":"k"}`)
				return write(t, lwwTS, &b, rA, 2, 20*sec, seenBase, "")
			},
			incoming: func() Version {
				b := base(lwwTS, `{"id":"k"}`)
				d := write(t, lwwTS, &b, rA, 2, 20*sec, seenBase, "")
				// B's clock reads 15 s, behind the delete's 20 s; its HLC has applied the delete.
				w, err := Successor(lwwTS, &d, Version{Origin: rB, LSN: 1, TS: d.TS.Next(15 * sec), Seen: Vector{rA: 2}, Doc: []byte(`{"id":"k","v":"again"}`)})
				require.NoError(t, err)
				return w
			},
			want: want{"incoming", Newer, NoConflict, false},
		},
		{
			name: "a re-create beats a concurrent delete of the earlier life",
			p:    custom,
			local: func() Version { // B deleted the first life
				b := base(custom, `{"id":"k"}`)
				return write(t, custom, &b, rB, 1, 90*sec, seenBase, "")
			},
			incoming: func() Version { // A deleted it too, then created it again
				b := base(custom, `{"id":"k"}`)
				d := write(t, custom, &b, rA, 2, 20*sec, seenBase, "")
				return write(t, custom, &d, rA, 3, 21*sec, Vector{rA: 2}, `{"id":"k","v":"again"}`)
			},
			want: want{"incoming", Conflicted, ReplaceDelete, true},
		},
		{
			name: "delete/delete: counted, never fed",
			p:    custom,
			local: func() Version {
				b := base(custom, `{"id":"k"}`)
				return write(t, custom, &b, rA, 2, 20*sec, seenBase, "")
			},
			incoming: func() Version {
				b := base(custom, `{"id":"k"}`)
				return write(t, custom, &b, rB, 1, 21*sec, seenBase, "")
			},
			want: want{"incoming", Conflicted, DeleteDelete, false},
		},
		{
			name:     "Custom: the loser of insert/insert goes to the feed",
			p:        custom,
			local:    func() Version { return write(t, custom, nil, rA, 1, 100*sec, nil, `{"id":"k","v":"a"}`) },
			incoming: func() Version { return write(t, custom, nil, rB, 1, 101*sec, nil, `{"id":"k","v":"b"}`) },
			want:     want{"incoming", Conflicted, InsertInsert, true},
		},
		{
			name: "Custom: the update that lost to a delete goes to the feed",
			p:    custom,
			local: func() Version {
				b := base(custom, `{"id":"k"}`)
				return write(t, custom, &b, rB, 1, 40*sec, seenBase, `{"id":"k","v":2}`)
			},
			incoming: func() Version {
				b := base(custom, `{"id":"k"}`)
				return write(t, custom, &b, rA, 2, 20*sec, seenBase, "")
			},
			want: want{"incoming", Conflicted, ReplaceDelete, true},
		},
		{
			name: "Custom: a causal overwrite is not a conflict",
			p:    custom,
			local: func() Version {
				return base(custom, `{"id":"k"}`)
			},
			incoming: func() Version {
				b := base(custom, `{"id":"k"}`)
				return write(t, custom, &b, rB, 1, 11*sec, seenBase, `{"id":"k","v":2}`)
			},
			want: want{"incoming", Newer, NoConflict, false},
		},
		{
			name: "custom path: a replace that lowers the value still overwrites its base (Floor)",
			p:    prio,
			local: func() Version {
				return base(prio, `{"id":"k","prio":50}`)
			},
			incoming: func() Version {
				b := base(prio, `{"id":"k","prio":50}`)
				return write(t, prio, &b, rC, 1, 11*sec, seenBase, `{"id":"k","prio":1}`)
			},
			want: want{"incoming", Newer, NoConflict, false},
		},
		{
			name: "custom path: equal values, the deeper version is the newer one",
			p:    prio,
			local: func() Version {
				return base(prio, `{"id":"k","prio":7}`)
			},
			incoming: func() Version {
				b := base(prio, `{"id":"k","prio":7}`)
				return write(t, prio, &b, rA, 2, 11*sec, seenBase, `{"id":"k","prio":7,"v":2}`)
			},
			want: want{"incoming", Newer, NoConflict, false},
		},
		{
			name: "clock skew: B's clock is 5 s behind, its write after reading A's still wins",
			p:    lwwTS,
			local: func() Version {
				return write(t, lwwTS, nil, rA, 1, 100*sec, nil, `{"id":"k","v":"a"}`)
			},
			incoming: func() Version {
				a := write(t, lwwTS, nil, rA, 1, 100*sec, nil, `{"id":"k","v":"a"}`)
				ts := a.TS.Max(HLC{}).Next(95 * sec) // the HLC has applied a
				w, err := Successor(lwwTS, &a, Version{Origin: rB, LSN: 1, TS: ts, Seen: Vector{rA: 1}, Doc: []byte(`{"id":"k","v":"b"}`)})
				require.NoError(t, err)
				return w
			},
			want: want{"incoming", Newer, NoConflict, false},
		},
		{
			name:     "duplicate delivery",
			p:        custom,
			local:    func() Version { return base(custom, `{"id":"k"}`) },
			incoming: func() Version { return base(custom, `{"id":"k"}`) },
			want:     want{"local", Duplicate, NoConflict, false},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			local, incoming := tc.local(), tc.incoming()
			d := decide(t, tc.p, local, incoming)
			require.Equal(t, tc.want.winner == "incoming", d.Take, "winner")
			require.Equal(t, tc.want.outcome, d.Outcome, "outcome")
			require.Equal(t, tc.want.typ, d.Type, "type")
			require.Equal(t, tc.want.feed, d.Feed, "feed")
			require.False(t, d.Inverted)
			if d.Outcome == Conflicted {
				require.True(t, Concurrent(local, incoming))
			} else if d.Outcome != Duplicate {
				require.False(t, Concurrent(local, incoming))
			}
			w, _ := Winner(tc.p, local, incoming)
			if d.Take {
				require.Equal(t, incoming, w)
			} else {
				require.Equal(t, local, w)
			}
		})
	}
}

func TestLWWNeverFeeds(t *testing.T) {
	prio := mustPolicy(t, `{"conflictResolutionPath":"/prio"}`)
	for _, p := range []Policy{lwwTS, prio} {
		a := write(t, p, nil, rA, 1, 1*sec, nil, `{"prio":1}`)
		b := write(t, p, nil, rB, 1, 2*sec, nil, `{"prio":2}`)
		d := decide(t, p, a, b)
		require.Equal(t, Conflicted, d.Outcome)
		require.False(t, d.Feed, "MW-F2: an LWW conflict never reaches the feed")
	}
}

func TestD7TieBreakOrder(t *testing.T) {
	// Hand-built versions with everything equal up to the D-7 fields.
	v := func(origin uint32, lsn int64, index int) Version {
		return Version{Origin: origin, LSN: lsn, Index: index, TS: HLC{Wall: 5 * sec}, Doc: []byte(`{}`), Depth: 1}
	}
	prio := mustPolicy(t, `{"conflictResolutionPath":"/prio"}`)
	for _, p := range []Policy{lwwTS, prio, custom} {
		require.Equal(t, 1, compare(p, v(2, 1, 0), v(1, 9, 0)), "region id first")
		require.Equal(t, 1, compare(p, v(1, 2, 0), v(1, 1, 5)), "then LSN")
		require.Equal(t, 1, compare(p, v(1, 1, 1), v(1, 1, 0)), "then index")
		require.Equal(t, 0, compare(p, v(1, 1, 0), v(1, 1, 0)))
	}
}

func TestInverted(t *testing.T) {
	// A version that had seen the other but ranks below it: only a corrupt
	// or hand-made version can do that. The order still decides, and the
	// loser is reported as a conflict loser.
	old := Version{Origin: rA, LSN: 1, TS: HLC{Wall: 50 * sec}, Doc: []byte(`{}`), Depth: 1}
	bad := Version{Origin: rB, LSN: 1, TS: HLC{Wall: 10 * sec}, Seen: Vector{rA: 1}, Doc: []byte(`{}`), Depth: 2}
	d := decide(t, custom, old, bad)
	require.False(t, d.Take)
	require.Equal(t, Conflicted, d.Outcome)
	require.True(t, d.Inverted)
	require.True(t, d.Feed)
}

func TestCorruptDuplicateStillConverges(t *testing.T) {
	a := Version{Origin: rA, LSN: 1, TS: HLC{Wall: 1}, Doc: []byte(`{"v":1}`), Depth: 1}
	b := a
	b.Doc = []byte(`{"v":2}`)
	require.True(t, Resolve(lwwTS, a, b).Take)
	require.False(t, Resolve(lwwTS, b, a).Take)
	require.Equal(t, Duplicate, Resolve(lwwTS, a, b).Outcome)
	nan := a
	nan.Depth, nan.Floor = 2, math.NaN()
	p := mustPolicy(t, `{"conflictResolutionPath":"/v"}`)
	require.Equal(t, -compare(p, a, nan), compare(p, nan, a))
}

func TestSuccessor(t *testing.T) {
	prio := mustPolicy(t, `{"conflictResolutionPath":"/prio"}`)
	c := write(t, prio, nil, rA, 1, 10*sec, nil, `{"prio":8}`)
	require.Equal(t, uint64(0), c.Incarnation)
	require.Equal(t, uint64(1), c.Depth)
	require.Equal(t, "create", c.Operation())

	r := write(t, prio, &c, rA, 2, 11*sec, Vector{rA: 1}, `{"prio":3}`)
	require.Equal(t, uint64(2), r.Depth)
	require.Equal(t, 8.0, r.Floor)
	require.Equal(t, 8.0, prio.rank(r), "the floor keeps a replace above its base")
	require.Equal(t, "replace", r.Operation())

	r2 := write(t, prio, &r, rB, 1, 12*sec, Vector{rA: 2}, `{"prio":9}`)
	require.Equal(t, 9.0, prio.rank(r2))
	require.Equal(t, 8.0, r2.Floor)

	d := write(t, prio, &r2, rC, 1, 13*sec, Vector{rA: 2, rB: 1}, "")
	require.Equal(t, "delete", d.Operation())
	require.Equal(t, uint64(0), d.Incarnation)
	require.Equal(t, uint64(4), d.Depth)

	again := write(t, prio, &d, rA, 3, 14*sec, Vector{rA: 2, rB: 1, rC: 1}, `{"prio":0}`)
	require.Equal(t, uint64(1), again.Incarnation)
	require.Equal(t, uint64(1), again.Depth)
	require.Equal(t, "create", again.Operation())
	require.Equal(t, 0.0, prio.rank(again), "a new life does not inherit the floor")

	// Same entry: a batch that writes the item twice.
	first := write(t, lwwTS, nil, rA, 7, 10*sec, Vector{rA: 6}, `{}`)
	second, err := Successor(lwwTS, &first, Version{Origin: rA, LSN: 7, Index: 1, TS: HLC{Wall: 10 * sec, Logical: 1}, Seen: Vector{rA: 6}, Doc: []byte(`{"v":2}`)})
	require.NoError(t, err)
	require.True(t, second.Saw(first))
	require.Equal(t, Newer, Resolve(lwwTS, first, second).Outcome)

	for _, tc := range []struct {
		name string
		base *Version
		w    Version
		want error
	}{
		{"delete of nothing", nil, Version{Origin: rA, LSN: 1, Deleted: true}, ErrDeleteMissing},
		{"delete of a tombstone", &d, Version{Origin: rA, LSN: 4, TS: HLC{Wall: 99 * sec}, Seen: Vector{rC: 1}, Deleted: true}, ErrDeleteMissing},
		{"not after its base", &c, Version{Origin: rB, LSN: 1, TS: c.TS, Seen: Vector{rA: 1}, Doc: []byte(`{}`)}, ErrNotAfterBase},
		{"base not seen", &c, Version{Origin: rB, LSN: 1, TS: HLC{Wall: 99 * sec}, Doc: []byte(`{}`)}, ErrMalformed},
		{"sees itself", nil, Version{Origin: rB, LSN: 1, Seen: Vector{rB: 1}, Doc: []byte(`{}`)}, ErrMalformed},
		{"LSN 0", nil, Version{Origin: rB, Doc: []byte(`{}`)}, ErrMalformed},
		{"tombstone with a document", &c, Version{Origin: rB, LSN: 1, TS: HLC{Wall: 99 * sec}, Seen: Vector{rA: 1}, Deleted: true, Doc: []byte(`{}`)}, ErrMalformed},
		{"live version without one", nil, Version{Origin: rB, LSN: 1}, ErrMalformed},
	} {
		_, err := Successor(prio, tc.base, tc.w)
		require.True(t, errors.Is(err, tc.want), "%s: %v", tc.name, err)
	}
}

func TestHLC(t *testing.T) {
	h := HLC{Wall: 10}
	require.Equal(t, HLC{Wall: 20}, h.Next(20))
	require.Equal(t, HLC{Wall: 10, Logical: 1}, h.Next(5), "a clock behind never moves the HLC back")
	require.Equal(t, HLC{Wall: 11}, HLC{Wall: 10, Logical: math.MaxUint32}.Next(3))
	require.Equal(t, 1, h.Next(5).Compare(h))
	require.Equal(t, HLC{Wall: 10, Logical: 2}, HLC{Wall: 10, Logical: 2}.Max(h))
	require.Equal(t, int64(1), HLC{Wall: 1999999999}.Seconds())
	require.Equal(t, int64(-1), HLC{Wall: -1}.Seconds())
	require.Equal(t, "10.0", h.String())
}

func TestPathValue(t *testing.T) {
	segs := []string{"a", "b"}
	inf := math.Inf(-1)
	for doc, want := range map[string]float64{
		`{"a":{"b":3}}`:           3,
		`{"a":{"b":-0.5}}`:        -0.5,
		`{"a":{"b": 7 }}`:         7,
		`{"a":{"b":1e400}}`:       math.Inf(1),
		`{"a":{"b":"3"}}`:         inf,
		`{"a":{"b":null}}`:        inf,
		`{"a":{"b":[3]}}`:         inf,
		`{"a":{"b":{"c":3}}}`:     inf,
		`{"a":{"c":3}}`:           inf,
		`{"a":null}`:              inf,
		`{"a":3}`:                 inf,
		`[1]`:                     inf,
		`not json`:                inf,
		``:                        inf,
		`{"a":{"b":1,"b":2}}`:     2, // duplicate names: the last, as encoding/json
		`{"a":{"b":-1e400}}`:      inf,
		`{"a":{"b":12345678901}}`: 12345678901,
	} {
		require.Equal(t, want, pathValue([]byte(doc), segs), doc)
	}
}
