package pkey

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/meridiandb/meridian/internal/resource"
)

// FuzzParseHeader checks that ParseHeader never panics, fails only with a
// 400, agrees with encoding/json on valid JSON, and that JSON is its inverse.
func FuzzParseHeader(f *testing.F) {
	for _, s := range []string{`["p1"]`, `[5]`, `[true]`, `[null]`, `[{}]`, `["a","b",3]`, `[]`, `["\U0001f600"]`, `["\ud83d\ude00"]`, `[-1.5e-3]`, `["\x07"]`, `[{"a":1}]`, `[[1]]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		k, err := ParseHeader(h)
		if err != nil {
			if resource.KindOf(err) != resource.KindBadRequest {
				t.Fatalf("ParseHeader(%q): error kind %v, want 400: %v", h, resource.KindOf(err), err)
			}
			return
		}
		if k == nil {
			t.Fatalf("ParseHeader(%q) returned a nil Key", h)
		}
		js := k.JSON()
		if !json.Valid([]byte(js)) {
			t.Fatalf("JSON() of %q = %q is not valid JSON", h, js)
		}
		k2, err := ParseHeader(js)
		if err != nil || !k2.Equal(k) || k2.JSON() != js {
			t.Fatalf("round trip of %q via %q: %v %v", h, js, k2, err)
		}
		if err := k.validateComponents(); err != nil {
			t.Fatalf("ParseHeader(%q) gave an invalid component: %v", h, err)
		}
		// Agreement with encoding/json on strict JSON input.
		if utf8.ValidString(h) && json.Valid([]byte(h)) {
			var std []any
			if json.Unmarshal([]byte(h), &std) == nil {
				if len(std) != len(k) {
					t.Fatalf("%q: %d components, encoding/json says %d", h, len(k), len(std))
				}
				for i, v := range std {
					if m, ok := v.(map[string]any); ok && len(m) == 0 {
						v = Undefined{}
					}
					if !componentEqual(k[i], v) {
						t.Fatalf("%q: component %d is %#v, encoding/json says %#v", h, i, k[i], v)
					}
				}
			}
		}
	})
}

// FuzzEncodeDecode checks that Decode never panics, that it accepts only
// canonical encodings, and that Encode and Decode are inverse.
func FuzzEncodeDecode(f *testing.F) {
	for _, k := range []Key{{}, {"p1"}, {5.0}, {-2.5}, {true}, {false}, {nil}, {Undefined{}}, {"a\x00b", 1.0, nil}} {
		f.Add(k.Encode())
	}
	f.Add([]byte{0x06, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := Decode(b)
		if err != nil {
			var re *resource.Error
			if !errors.As(err, &re) || re.Kind != resource.KindInternal {
				t.Fatalf("Decode(%x): error %v, want an internal *resource.Error", b, err)
			}
		} else {
			if got := k.Encode(); !bytes.Equal(got, b) {
				t.Fatalf("Encode(Decode(%x)) = %x", b, got)
			}
		}
		// Split (an item key: encoded partition key, then the id) agrees:
		// the key it finds re-encodes to exactly the prefix it consumed.
		if k, rest, err := Split(b); err == nil {
			enc := k.Encode()
			if !bytes.Equal(append(enc, rest...), b) {
				t.Fatalf("Split(%x) = %v + %x, which does not rebuild the input", b, k, rest)
			}
		}
		// Use the input as a header too, to build arbitrary keys.
		if k, err := ParseHeader(string(b)); err == nil {
			enc := k.Encode()
			k2, err := Decode(enc)
			if err != nil || !k2.Equal(k) {
				t.Fatalf("Decode(Encode(%v)) = %v, %v", k, k2, err)
			}
		}
	})
}
