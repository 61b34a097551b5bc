package session

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/meridiandb/meridian/internal/resource"
	"github.com/stretchr/testify/require"
)

func regions(kv ...int64) map[uint32]int64 {
	m := map[uint32]int64{}
	for i := 0; i < len(kv); i += 2 {
		m[uint32(kv[i])] = kv[i+1]
	}
	return m
}

func TestParseHeader(t *testing.T) {
	tests := []struct {
		in   string
		want map[string]Token
	}{
		{"", map[string]Token{}},
		{"  ", map[string]Token{}},
		{"0:1#42", map[string]Token{"0": {Version: 1, GlobalLSN: 42}}},
		{"0:-1#106944", map[string]Token{"0": {Version: -1, GlobalLSN: 106944}}},
		{"0:42", map[string]Token{"0": {Version: -1, GlobalLSN: 42}}},
		{"0:1#100#1=20#2=30", map[string]Token{"0": {Version: 1, GlobalLSN: 100, Regions: regions(1, 20, 2, 30)}}},
		{"0:1#100#2=30#1=20", map[string]Token{"0": {Version: 1, GlobalLSN: 100, Regions: regions(1, 20, 2, 30)}}},
		{"7:-1#1,0:-1#2,1:-1#102", map[string]Token{"7": {-1, 1, nil}, "0": {-1, 2, nil}, "1": {-1, 102, nil}}},
		{" 0:-1#2 , 1:5 ,", map[string]Token{"0": {-1, 2, nil}, "1": {-1, 5, nil}}},
		{"0:-1#2,0:-1#7", map[string]Token{"0": {-1, 7, nil}}},
		{"0:2#20#1=6#2=7,0:3#30#1=5", map[string]Token{"0": {3, 30, regions(1, 6)}}},
		{"abc-range:4#5#4294967295=9223372036854775807", map[string]Token{"abc-range": {4, 5, regions(4294967295, math.MaxInt64)}}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseHeader(tt.in)
			require.NoError(t, err)
			require.Len(t, got, len(tt.want))
			for id, w := range tt.want {
				require.True(t, w.Equal(got[id]), "range %s: got %v want %v", id, got[id], w)
			}
		})
	}
}

func TestParseHeaderErrors(t *testing.T) {
	tests := []struct{ in, msg string }{
		{"-1#5", "must be <partition key range id>:<token>"},
		{":1#5", "must be <partition key range id>:<token>"},
		{"0:", "expected <version>#<globalLSN>"},
		{"0:abc", "expected <version>#<globalLSN>"},
		{"0:+5", "expected <version>#<globalLSN>"},
		{"0:1:2", "expected <version>#<globalLSN>"},
		{"0:1#", "global LSN"},
		{"0:#5", "version"},
		{"0:1#NaN", "global LSN"},
		{"0:6#NaN", "global LSN"},
		{"0:1#2#", "must be <regionId>=<localLSN>"},
		{"0:1#2#3", "must be <regionId>=<localLSN>"},
		{"0:1#2#=3", "region id"},
		{"0:1#2#-1=3", "region id"},
		{"0:1#2#4294967296=3", "out of range"},
		{"0:1#2#1=", "local LSN"},
		{"0:1#2#1=x", "local LSN"},
		{"0:1#2#1=3#1=4", "appears twice"},
		{"0:99999999999999999999#1", "version"},
		{"0:1#5#1=2,0:1#6", "conflicts"},
		{"0 1:1#5", "must be <partition key range id>:<token>"},
		{"0:1#2,junk", "must be <partition key range id>:<token>"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseHeader(tt.in)
			require.Error(t, err)
			require.Nil(t, got)
			require.Equal(t, resource.KindBadRequest, resource.KindOf(err))
			require.Contains(t, err.Error(), tt.msg)
			require.Contains(t, err.Error(), HeaderName)
		})
	}
}

func TestStringAndFormat(t *testing.T) {
	tests := []struct {
		t    Token
		want string
	}{
		{Token{Version: 1, GlobalLSN: 42}, "1#42"},
		{Token{Version: -1, GlobalLSN: 5, Regions: map[uint32]int64{}}, "-1#5"},
		{Token{Version: 1, GlobalLSN: 100, Regions: regions(2, 30, 1, 20)}, "1#100#1=20#2=30"},
		{Token{Version: 1, GlobalLSN: 100, Regions: regions(10, 1, 9, 2)}, "1#100#9=2#10=1"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, tt.t.String())
		require.Equal(t, "0:"+tt.want, Format("0", tt.t))
	}
	require.Equal(t, "", FormatHeader(nil))
	require.Equal(t, "0:-1#2,1:-1#102,7:-1#1", FormatHeader(map[string]Token{"7": {-1, 1, nil}, "0": {-1, 2, nil}, "1": {-1, 102, nil}}))
	// A legacy token is written back in vector form.
	m, err := ParseHeader("0:42")
	require.NoError(t, err)
	require.Equal(t, "0:-1#42", FormatHeader(m))
}

// genHistory returns a token generator for one valid history: the region set
// is a function of the version, and a region that leaves never comes back
// (each region is present for a contiguous interval of versions).
func genHistory(r *rand.Rand) func() Token {
	type span struct{ from, to int64 }
	spans := map[uint32]span{}
	for id := uint32(0); id < 4; id++ {
		if r.IntN(3) == 0 {
			continue
		}
		a, b := int64(r.IntN(5))-1, int64(r.IntN(5))-1
		spans[id] = span{min(a, b), max(a, b)}
	}
	return func() Token {
		v := int64(r.IntN(5)) - 1
		t := Token{Version: v, GlobalLSN: int64(r.IntN(6))}
		for id, s := range spans {
			if s.from <= v && v <= s.to {
				if t.Regions == nil {
					t.Regions = map[uint32]int64{}
				}
				t.Regions[id] = int64(r.IntN(6))
			}
		}
		return t
	}
}

func mustMerge(t *testing.T, a, b Token) Token {
	t.Helper()
	m, err := Merge(a, b)
	require.NoError(t, err, "Merge(%v, %v)", a, b)
	return m
}

func TestMergeProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for i := 0; i < 2000; i++ {
		gen := genHistory(r)
		for j := 0; j < 10; j++ {
			a, b, c := gen(), gen(), gen()
			ab := mustMerge(t, a, b)
			require.True(t, ab.Equal(mustMerge(t, b, a)), "commutative: %v %v", a, b)
			require.True(t, mustMerge(t, ab, c).Equal(mustMerge(t, a, mustMerge(t, b, c))), "associative: %v %v %v", a, b, c)
			require.True(t, mustMerge(t, a, a).Equal(a), "idempotent: %v", a)
			// The merge is an upper bound.
			require.True(t, ab.Satisfies(a) && ab.Satisfies(b), "upper bound: %v %v -> %v", a, b, ab)
			// Satisfies is monotonic under Merge: progress that satisfies a
			// request still does after advancing, and a request made
			// stricter by merging is satisfied only by progress that
			// satisfies both parts.
			p := gen()
			if p.Satisfies(a) {
				require.True(t, mustMerge(t, p, c).Satisfies(a), "advance: %v %v %v", p, a, c)
			}
			if p.Satisfies(ab) {
				require.True(t, p.Satisfies(a) && p.Satisfies(b), "stricter: %v %v %v", p, a, b)
			}
			require.True(t, a.Satisfies(a))
			// Round trip through the header.
			m, err := ParseHeader(Format("0", a) + "," + Format("1", b))
			require.NoError(t, err)
			require.True(t, m["0"].Equal(a) && m["1"].Equal(b))
		}
	}
}

func TestMerge(t *testing.T) {
	// From cosmos-wire-protocol-node.md §3.3: regions only in the
	// lower-version token are dropped.
	got := mustMerge(t, Token{2, 20, regions(1, 6, 2, 7)}, Token{3, 30, regions(1, 5)})
	require.Equal(t, "3#30#1=6", got.String())
	got = mustMerge(t, Token{1, 100, regions(1, 20, 2, 30)}, Token{1, 90, regions(1, 25, 2, 10)})
	require.Equal(t, "1#100#1=25#2=30", got.String())
	got = mustMerge(t, Token{-1, 5, nil}, Token{-1, 9, map[uint32]int64{}})
	require.Equal(t, "-1#9", got.String())
	require.Nil(t, got.Regions)
	// The result does not alias its inputs.
	a := Token{1, 1, regions(1, 1)}
	m := mustMerge(t, a, a)
	m.Regions[1] = 99
	require.Equal(t, int64(1), a.Regions[1])

	for _, tc := range [][2]Token{
		{{1, 1, regions(1, 1)}, {1, 1, nil}},
		{{1, 1, regions(1, 1)}, {1, 1, regions(2, 1)}},
		{{1, 1, regions(1, 1, 2, 2)}, {1, 1, regions(1, 1)}},
	} {
		_, err := Merge(tc[0], tc[1])
		require.Error(t, err)
		require.Equal(t, resource.KindBadRequest, resource.KindOf(err))
		_, err = Merge(tc[1], tc[0])
		require.Error(t, err)
	}
}

// Merge follows the SDKs, which are not associative when a region leaves the
// set and later comes back: the dropped LSN cannot reappear.
func TestMergeRegionReadded(t *testing.T) {
	a, b, c := Token{1, 0, regions(1, 5)}, Token{2, 0, regions(2, 1)}, Token{3, 0, regions(1, 1)}
	left := mustMerge(t, mustMerge(t, a, b), c)
	right := mustMerge(t, a, mustMerge(t, b, c))
	require.Equal(t, "3#0#1=1", left.String())
	require.Equal(t, "3#0#1=5", right.String())
}

func TestSatisfies(t *testing.T) {
	tests := []struct {
		p, r Token
		want bool
	}{
		{Token{-1, 5, nil}, Token{-1, 5, nil}, true},
		{Token{-1, 5, nil}, Token{-1, 6, nil}, false},
		{Token{0, 5, nil}, Token{-1, 5, nil}, true},
		{Token{-1, 9, nil}, Token{0, 5, nil}, false},
		{Token{1, 100, regions(1, 20, 2, 30)}, Token{1, 100, regions(1, 20, 2, 30)}, true},
		{Token{1, 100, regions(1, 20, 2, 30)}, Token{1, 100, regions(1, 21, 2, 30)}, false},
		{Token{1, 100, regions(1, 20, 2, 30)}, Token{1, 50, regions(1, 10)}, true},
		{Token{2, 100, regions(1, 20)}, Token{1, 50, regions(2, 99)}, true}, // region only in r
		{Token{1, 100, regions(3, 1)}, Token{1, 50, nil}, true},
		{Token{-1, 42, nil}, Token{-1, 42, nil}, true}, // legacy "0:42"
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, tt.p.Satisfies(tt.r), "%v satisfies %v", tt.p, tt.r)
	}
}

func FuzzParseHeader(f *testing.F) {
	for _, s := range []string{"0:1#42", "0:42", "0:1#100#1=20#2=30", "7:-1#1,0:-1#2,1:-1#102", "-1#5", "0:6#NaN", "0:1#2#1=3#1=4", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		m, err := ParseHeader(h)
		if err != nil {
			if resource.KindOf(err) != resource.KindBadRequest {
				t.Fatalf("ParseHeader(%q): error kind %v: %v", h, resource.KindOf(err), err)
			}
			return
		}
		out := FormatHeader(m)
		m2, err := ParseHeader(out)
		if err != nil || len(m2) != len(m) {
			t.Fatalf("round trip of %q via %q: %v %v", h, out, m2, err)
		}
		for id, tok := range m {
			if strings.ContainsAny(id, ",") || !tok.Equal(m2[id]) {
				t.Fatalf("round trip of %q via %q: range %q %v != %v", h, out, id, tok, m2[id])
			}
			if mm, err := Merge(tok, tok); err != nil || !mm.Equal(tok) || !tok.Satisfies(tok) {
				t.Fatalf("%v: Merge with itself %v %v", tok, mm, err)
			}
		}
		if FormatHeader(m2) != out {
			t.Fatalf("FormatHeader is not stable for %q", h)
		}
	})
}
