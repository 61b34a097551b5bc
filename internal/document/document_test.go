package document

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/meridiandb/meridian/internal/resource"
	"github.com/stretchr/testify/require"
)

func TestParseRenderKeepsOrderAndNumbers(t *testing.T) {
	d, err := Parse([]byte(`{ "z": 1.50, "id": "a\u0001b", "_etag": "x", "n": 12345678901234567890, "o": {"k": [1, 2]} }`))
	require.NoError(t, err)
	require.Equal(t, "a\x01b", d.ID)
	out := d.Render(System{RID: "r", Self: "s", ETag: `"e"`, TS: 7})
	require.True(t, json.Valid(out), string(out))
	require.Equal(t, `{"z":1.50,"id":"a\u0001b","n":12345678901234567890,"o":{"k":[1,2]},"_rid":"r","_self":"s","_etag":"\"e\"","_attachments":"attachments/","_ts":7}`, string(out))
}

func TestParseRejects(t *testing.T) {
	for name, body := range map[string]string{
		"not json":   `{"id":`,
		"array":      `[1]`,
		"no id":      `{"a":1}`,
		"id number":  `{"id":5}`,
		"bad id":     `{"id":"a/b"}`,
		"dup":        `{"id":"a","id":"b"}`,
		"empty id":   `{"id":""}`,
		"trailing":   `{"id":"a"} x`,
		"deep":       `{"id":"a","x":` + nest(200) + `}`,
		"ttl zero":   `{"id":"a","ttl":0}`,
		"ttl string": `{"id":"a","ttl":"5"}`,
	} {
		t.Run(name, func(t *testing.T) {
			d, err := Parse([]byte(body))
			if err == nil {
				_, _, err = d.TTL()
			}
			require.Error(t, err)
			require.Equal(t, resource.KindBadRequest, resource.KindOf(err))
		})
	}
}

func nest(n int) string {
	s := "1"
	for i := 0; i < n; i++ {
		s = "[" + s + "]"
	}
	return s
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"id":"a","pk":"p","n":1.5,"o":{"x":[true,null]}}`))
	f.Add([]byte(`{"id":"\u00e9","_rid":"x"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := Parse(body)
		if err != nil {
			return
		}
		// Differential check: the member split agrees with encoding/json.
		var ref map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(body, &ref), "Parse accepted what encoding/json rejects: %q", body)
		got := 0
		for _, m := range d.Members {
			want, ok := ref[m.Key]
			require.True(t, ok, "member %q not in encoding/json's view of %q", m.Key, body)
			var a, b bytes.Buffer
			require.NoError(t, json.Compact(&a, want))
			require.NoError(t, json.Compact(&b, m.Raw))
			require.Equal(t, a.String(), b.String(), "value of %q", m.Key)
			got++
		}
		for k := range ref {
			if !systemProps[k] {
				got--
			}
		}
		require.Zero(t, got, "member count differs from encoding/json for %q", body)
		out := d.Render(System{RID: "r", Self: "s", ETag: `"e"`, TS: 1})
		if !json.Valid(out) {
			t.Fatalf("render produced invalid JSON %q from %q", out, body)
		}
		d2, err := Parse(out)
		require.NoError(t, err)
		require.Equal(t, d.ID, d2.ID)
	})
}

// FuzzDecodeValue holds DecodeValue's fast path for scalars to the
// json.Decoder it stands in for: the same value, or both an error.
func FuzzDecodeValue(f *testing.F) {
	for _, s := range []string{`"p0000001"`, `"é\u00e9"`, `"a\"b"`, `""`, `"`, `"\x01"`, `"\xff"`, `-0`, `01`, `1.5e3`,
		`12 `, ` 12`, `1 2`, `-`, `true`, `false`, `null`, `nul`, `{"a":1}`, `[1,"x"]`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, err := DecodeValue(raw)
		want, werr := decodeValueSlow(raw)
		if (err == nil) != (werr == nil) {
			t.Fatalf("%q: error %v, the decoder's %v", raw, err, werr)
		}
		require.Equal(t, want, got, "%q", raw)
	})
}
