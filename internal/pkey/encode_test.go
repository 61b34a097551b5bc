package pkey

import (
	"bytes"
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/meridiandb/meridian/internal/resource"
	"github.com/stretchr/testify/require"
)

func TestEncodeDecode(t *testing.T) {
	tests := []struct {
		k    Key
		want []byte
	}{
		{Key{}, []byte{0x00}},
		{nil, []byte{0x00}},
		{Key{Undefined{}}, []byte{0x01, 0x00}},
		{Key{nil}, []byte{0x02, 0x00}},
		{Key{false}, []byte{0x03, 0x00}},
		{Key{true}, []byte{0x04, 0x00}},
		{Key{0.0}, []byte{0x05, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x00}},
		{Key{negZero()}, []byte{0x05, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x00}},
		{Key{1}, []byte{0x05, 0xBF, 0xF0, 0, 0, 0, 0, 0, 0, 0x00}},
		{Key{""}, []byte{0x06, 0x00, 0x01, 0x00}},
		{Key{"a\x00b"}, []byte{0x06, 'a', 0x00, 0xFF, 'b', 0x00, 0x01, 0x00}},
		{Key{"a", 2.0, nil}, []byte{0x06, 'a', 0x00, 0x01, 0x05, 0xC0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x00}},
	}
	for _, tt := range tests {
		got := tt.k.Encode()
		require.Equal(t, tt.want, got, "%#v", tt.k)
		back, err := Decode(got)
		require.NoError(t, err)
		require.NotNil(t, back)
		require.True(t, back.Equal(tt.k))
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, b := range [][]byte{
		nil,
		{},
		{0x06, 'a'},
		{0x06, 'a', 0x00},
		{0x06, 'a', 0x00, 0x02, 0x00},
		{0x05, 0x80, 0, 0},
		{0x05, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00}, // -0
		{0x07, 'i', 'n', 't', 0x00, 0x01, 0x00},
		{0x42, 0x00},
		{0x00, 0x00},
		{0x01},
	} {
		_, err := Decode(b)
		require.Error(t, err, "%x", b)
		require.Equal(t, resource.KindInternal, resource.KindOf(err))
	}
	_, err := Decode(Key{struct{}{}}.Encode())
	require.Error(t, err)
}

// randKey returns a random key over a small alphabet, so that collisions and
// shared prefixes are frequent.
func randKey(r *rand.Rand) Key {
	n := r.IntN(4)
	k := make(Key, n)
	for i := range k {
		switch r.IntN(7) {
		case 0:
			k[i] = Undefined{}
		case 1:
			k[i] = nil
		case 2:
			k[i] = r.IntN(2) == 0
		case 3:
			k[i] = float64(r.IntN(5) - 2)
		case 4:
			k[i] = []float64{math.Inf(-1), -1e300, -0.5, 0.25, 1e-300, math.MaxFloat64, math.SmallestNonzeroFloat64}[r.IntN(7)]
		default:
			b := make([]byte, r.IntN(3))
			for j := range b {
				b[j] = "\x00\x01a\xff"[r.IntN(4)]
			}
			k[i] = string(b)
		}
	}
	return k
}

// compareKeys is the reference order: by component, type order then value,
// a prefix first.
func compareKeys(a, b Key) int {
	rank := func(v any) int {
		switch x := v.(type) {
		case Undefined:
			return 0
		case nil:
			return 1
		case bool:
			if x {
				return 3
			}
			return 2
		case float64:
			return 4
		}
		return 5
	}
	for i := 0; i < len(a) && i < len(b); i++ {
		ra, rb := rank(a[i]), rank(b[i])
		if ra != rb {
			return ra - rb
		}
		switch x := a[i].(type) {
		case float64:
			y := b[i].(float64)
			if x < y {
				return -1
			} else if x > y {
				return 1
			}
		case string:
			if c := bytes.Compare([]byte(x), []byte(b[i].(string))); c != 0 {
				return c
			}
		}
	}
	return len(a) - len(b)
}

func TestEncodeProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	keys := make([]Key, 3000)
	for i := range keys {
		keys[i] = randKey(r)
	}
	for i := 0; i < len(keys); i++ {
		a := keys[i]
		ea := a.Encode()
		back, err := Decode(ea)
		require.NoError(t, err)
		require.True(t, back.Equal(a))
		for j := i; j < i+30 && j < len(keys); j++ {
			b := keys[j]
			eb := b.Encode()
			require.Equal(t, a.Equal(b), bytes.Equal(ea, eb), "%v %v", a, b)
			if !a.Equal(b) {
				require.False(t, bytes.HasPrefix(ea, eb), "%v is a prefix of %v", b, a)
				require.False(t, bytes.HasPrefix(eb, ea), "%v is a prefix of %v", a, b)
			}
			c := compareKeys(a, b)
			require.Equal(t, sign(c), bytes.Compare(ea, eb), "order of %v and %v", a, b)
			// AppendPrefix serves prefix scans.
			require.Equal(t, a.Matches(b), bytes.HasPrefix(ea, b.AppendPrefix(nil)), "%v Matches %v", a, b)
		}
	}
	sorted := append([]Key(nil), keys...)
	sort.Slice(sorted, func(i, j int) bool { return bytes.Compare(sorted[i].Encode(), sorted[j].Encode()) < 0 })
	for i := 1; i < len(sorted); i++ {
		require.LessOrEqual(t, compareKeys(sorted[i-1], sorted[i]), 0)
	}
}

func sign(c int) int {
	switch {
	case c < 0:
		return -1
	case c > 0:
		return 1
	}
	return 0
}
