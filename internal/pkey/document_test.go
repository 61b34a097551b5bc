package pkey

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/meridiandb/meridian/internal/resource"
	"github.com/stretchr/testify/require"
)

func decodeDoc(t *testing.T, s string) map[string]any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var m map[string]any
	require.NoError(t, d.Decode(&m))
	return m
}

func def(paths ...string) resource.PartitionKeyDefinition {
	return resource.PartitionKeyDefinition{Paths: paths}
}

func TestFromDocument(t *testing.T) {
	tests := []struct {
		doc  string
		def  resource.PartitionKeyDefinition
		want Key
	}{
		{`{"id":"1","pk":"p1"}`, def("/pk"), Key{"p1"}},
		{`{"pk":5}`, def("/pk"), Key{5.0}},
		{`{"pk":5.0}`, def("/pk"), Key{5.0}},
		{`{"pk":-0}`, def("/pk"), Key{0.0}},
		{`{"pk":12345678901234567890}`, def("/pk"), Key{12345678901234567890.0}},
		{`{"pk":true}`, def("/pk"), Key{true}},
		{`{"pk":null}`, def("/pk"), Key{nil}},
		{`{"id":"1"}`, def("/pk"), Key{Undefined{}}},
		{`{"a":{"b":"x"}}`, def("/a/b"), Key{"x"}},
		{`{"a":{"c":"x"}}`, def("/a/b"), Key{Undefined{}}},
		{`{"a":"str"}`, def("/a/b"), Key{Undefined{}}},
		{`{"a":[{"b":1}]}`, def("/a/b"), Key{Undefined{}}},
		{`{"a":null}`, def("/a/b"), Key{Undefined{}}},
		{`{"t":"t1","u":"u1","s":"s1"}`, def("/t", "/u", "/s"), Key{"t1", "u1", "s1"}},
		{`{"t":"t1","s":2}`, def("/t", "/u", "/s"), Key{"t1", Undefined{}, 2.0}},
		{`{"a/b":{"c":"q"}}`, def(`/"a/b"/c`), Key{"q"}},
		{`{"a b":"sp"}`, def(`/"a b"`), Key{"sp"}},
		{`{"é":"u"}`, def(`/é`), Key{"u"}},
	}
	for _, tt := range tests {
		t.Run(tt.doc, func(t *testing.T) {
			got, err := FromDocument(decodeDoc(t, tt.doc), tt.def)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			require.NoError(t, got.Validate(tt.def))
		})
	}
	// float64 values (a document decoded without UseNumber) work too.
	got, err := FromDocument(map[string]any{"pk": 2.5}, def("/pk"))
	require.NoError(t, err)
	require.Equal(t, Key{2.5}, got)
	got, err = FromDocument(nil, def("/pk"))
	require.NoError(t, err)
	require.Equal(t, Key{Undefined{}}, got)
}

func TestFromDocumentErrors(t *testing.T) {
	tests := []struct {
		doc  string
		def  resource.PartitionKeyDefinition
		want string
	}{
		{`{"pk":{"a":1}}`, def("/pk"), "is an object"},
		{`{"pk":{}}`, def("/pk"), "is an object"},
		{`{"pk":[1]}`, def("/pk"), "is an array"},
		{`{"pk":1e400}`, def("/pk"), "out of range"},
		{`{"pk":"` + strings.Repeat("x", MaxValueBytes+1) + `"}`, def("/pk"), "too large"},
		{`{"pk":1}`, def("pk"), "is invalid"},
		{`{"pk":1}`, def(`/"pk`), "is invalid"},
		{`{"pk":1}`, def(`/"pk"x`), "is invalid"},
		{`{"pk":1}`, def(), "at least one path"},
	}
	for _, tt := range tests {
		t.Run(tt.doc, func(t *testing.T) {
			k, err := FromDocument(decodeDoc(t, tt.doc), tt.def)
			require.Error(t, err)
			require.Nil(t, k)
			require.Equal(t, resource.KindBadRequest, resource.KindOf(err))
			require.Contains(t, err.Error(), tt.want)
		})
	}
	_, err := FromDocument(map[string]any{"pk": struct{}{}}, def("/pk"))
	require.Equal(t, resource.KindBadRequest, resource.KindOf(err))
}

func TestSplitPath(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"/a", []string{"a"}},
		{"/a/b/c", []string{"a", "b", "c"}},
		{`/"a/b"/c`, []string{"a/b", "c"}},
		{`/"a\"b"`, []string{`a"b`}},
		{`/c/"d"`, []string{"c", "d"}},
	}
	for _, tt := range tests {
		got, err := splitPath(tt.in)
		require.NoError(t, err, tt.in)
		require.Equal(t, tt.want, got)
	}
	for _, in := range []string{"", "/", "a", "/a/", "//a", "/a//b", `/"a`, `/"a"b`, `/"\q"`} {
		_, err := splitPath(in)
		require.Error(t, err, in)
	}
}

// A document's key and the header the SDK sends for the same value match.
func TestDocumentMatchesHeader(t *testing.T) {
	for _, v := range []any{"p1", "😀", 5, 5.5, true, nil} {
		raw, err := json.Marshal(map[string]any{"pk": v})
		require.NoError(t, err)
		dk, err := FromDocument(decodeDoc(t, string(raw)), def("/pk"))
		require.NoError(t, err)
		hk, err := ParseHeader(sdkHeader(v))
		require.NoError(t, err)
		require.True(t, dk.Equal(hk), "%v vs %v", dk, hk)
		require.True(t, dk.Matches(hk))
		require.Equal(t, dk.Encode(), hk.Encode())
		e1, _ := EPK(dk, def("/pk"))
		e2, _ := EPK(hk, def("/pk"))
		require.Equal(t, e1, e2)
	}
}
