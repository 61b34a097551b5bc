package pkey

import (
	"testing"

	"github.com/meridiandb/meridian/internal/resource"
	"github.com/stretchr/testify/require"
)

var (
	defV2    = resource.PartitionKeyDefinition{Paths: []string{"/pk"}, Kind: "Hash", Version: 2}
	defV1    = resource.PartitionKeyDefinition{Paths: []string{"/pk"}, Kind: "Hash", Version: 1}
	defMulti = resource.PartitionKeyDefinition{Paths: []string{"/a", "/b", "/c"}, Kind: "MultiHash", Version: 2}
)

// Vectors from cosmos-wire-protocol-node.md §5.3, computed with the Node.js
// SDK's own functions (several equal the Java/.NET test vectors).
func TestEPKVectors(t *testing.T) {
	tests := []struct {
		name string
		k    Key
		def  resource.PartitionKeyDefinition
		want string
	}{
		{"redmond V2", Key{"redmond"}, defV2, "22E342F38A486A088463DFF7838A5963"},
		{"p1 V2", Key{"p1"}, defV2, "062B23DEC15212F01B9A85F4E93A940C"},
		{"5 V2", Key{5.0}, defV2, "19C08621B135968252FB34B4CF66F811"},
		{"true V2", Key{true}, defV2, "0E711127C5B5A8E4726AC6DD306A3E59"},
		{"null V2", Key{nil}, defV2, "378867E4430E67857ACE5C908374FE16"},
		{"undefined V2", Key{Undefined{}}, defV2, "11622DAA78F835834610ABE56EFF5CB5"},
		{"redmond V1", Key{"redmond"}, defV1, "05C1EFE313830C087366656E706F6500"},
		{"p1 V1", Key{"p1"}, defV1, "05C1CFEDCF076008713200"},
		{"5 V1", Key{5.0}, defV1, "05C1D9C1C5517C05C014"},
		{"MultiHash x,2", Key{"x", 2.0}, defMulti, "11E3F358618BE9AA5BAFF4C7C74F071611BEC098BB8A08943F0A144281ACC26C"},
		// Defaults: no kind and no version mean Hash V2.
		{"default def", Key{"p1"}, resource.PartitionKeyDefinition{Paths: []string{"/pk"}}, "062B23DEC15212F01B9A85F4E93A940C"},
		{"int component", Key{5}, defV2, "19C08621B135968252FB34B4CF66F811"},
		{"empty key", Key{}, defV2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := EPK(tt.k, tt.def)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestEPKMultiHashPrefix(t *testing.T) {
	full, err := EPK(Key{"x", 2.0, "z"}, defMulti)
	require.NoError(t, err)
	prefix, err := EPK(Key{"x"}, defMulti)
	require.NoError(t, err)
	require.Len(t, full, 96)
	require.Equal(t, "11E3F358618BE9AA5BAFF4C7C74F0716", prefix)
	require.True(t, full >= prefix && full < prefix+"FF")
}

func TestEPKProperties(t *testing.T) {
	for _, k := range []Key{{"a"}, {""}, {-1.5}, {0.0}, {false}, {"é😀"}, {string(make([]byte, 300))}} {
		v2, err := EPK(k, defV2)
		require.NoError(t, err)
		require.Len(t, v2, 32)
		require.LessOrEqual(t, v2[:1], "3", "byte 0 is masked with 0x3F")
		_, err = EPK(k, defV1)
		require.NoError(t, err)
	}
	// -0 and 0 are equal keys and must route equally.
	a, _ := EPK(Key{0.0}, defV2)
	b, _ := EPK(Key{negZero()}, defV2)
	require.Equal(t, a, b)
}

func TestEPKV1LongStrings(t *testing.T) {
	long := make([]byte, 150)
	for i := range long {
		long[i] = 'a'
	}
	// 150 chars hash and encode as the first 100.
	a, err := EPK(Key{string(long)}, defV1)
	require.NoError(t, err)
	b, err := EPK(Key{string(long[:100])}, defV1)
	require.NoError(t, err)
	require.Equal(t, b, a)
	// Truncation counts UTF-16 code units: 99 'a' and a surrogate pair cut in
	// half become 99 'a' and U+FFFD.
	c, err := EPK(Key{string(long[:99]) + "😀"}, defV1)
	require.NoError(t, err)
	d, err := EPK(Key{string(long[:99]) + "\uFFFD"}, defV1)
	require.NoError(t, err)
	require.Equal(t, d, c)
	require.Equal(t, "a", truncateUTF16("ab", 1))
	require.Equal(t, "😀", truncateUTF16("😀x", 2))
	require.Equal(t, "\uFFFD", truncateUTF16("😀x", 1))
}

func TestBinaryNumber(t *testing.T) {
	// The encoding of 5 appears at the end of the V1 vector for 5.
	require.Equal(t, []byte{0x05, 0xC0, 0x14}, appendBinaryNumber(nil, 5))
	// Negative numbers sort before positive ones.
	neg := appendBinaryNumber(nil, -5)
	require.Less(t, neg[1], byte(0x80))
}

func TestEPKErrors(t *testing.T) {
	_, err := EPK(Key{"a"}, resource.PartitionKeyDefinition{Paths: []string{"/pk"}, Kind: "Range"})
	require.Equal(t, resource.KindBadRequest, resource.KindOf(err))
	_, err = EPK(Key{"a"}, resource.PartitionKeyDefinition{Paths: []string{"/pk"}, Version: 3})
	require.Equal(t, resource.KindBadRequest, resource.KindOf(err))
	_, err = EPK(Key{nanF()}, defV2)
	require.Equal(t, resource.KindBadRequest, resource.KindOf(err))
	_, err = EPK(Key{struct{}{}}, defV2)
	require.Equal(t, resource.KindBadRequest, resource.KindOf(err))
}
