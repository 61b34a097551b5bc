package auth

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzParseAuthHeader checks that ParseAuthHeader never panics, that what it
// accepts is a master/1.0 header, and that Sign's output always parses back
// to the signature it carries.
func FuzzParseAuthHeader(f *testing.F) {
	f.Add("type%3Dmaster%26ver%3D1.0%26sig%3Dxzm4oUIsmTaNRU%2Be3xyyLVFm%2FCi4UDeRUcg9oPqFWHY%3D")
	f.Add("type=master&ver=1.0&sig=ab+c/d==")
	f.Add("type=aad&ver=1.0&sig=eyJ0eXAi")
	f.Add("")
	f.Add("%")
	f.Add("sig=&type=&ver=")
	f.Fuzz(func(t *testing.T, h string) {
		got, err := ParseAuthHeader(h)
		if err == nil {
			if !strings.EqualFold(got.Type, "master") || got.Version != "1.0" || got.Signature == "" {
				t.Fatalf("accepted %q as %+v", h, got)
			}
		}
		signed := Sign([]byte(h), "GET", "docs", h, "date")
		p, err := ParseAuthHeader(signed)
		if err != nil {
			t.Fatalf("Sign output %q does not parse: %v", signed, err)
		}
		raw, _ := url.QueryUnescape(signed)
		if "type=master&ver=1.0&sig="+p.Signature != raw {
			t.Fatalf("round trip: %q vs %q", p.Signature, raw)
		}
	})
}
