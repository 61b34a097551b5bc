package httpapi

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzSplitPath checks that path splitting never panics and that ids
// escaped as the Go SDK escapes them (url.PathEscape per segment) come back
// unchanged, whatever they contain.
func FuzzSplitPath(f *testing.F) {
	f.Add("a b+é:@", "c%2Fd")
	f.Add("", "/")
	f.Add("%", "%zz")
	f.Add("x/y?#%z", "..")
	f.Fuzz(func(t *testing.T, a, b string) {
		_, _ = splitPath(a)
		_, _ = splitPath("/" + a + "/" + b + "/")
		if a == "" || b == "" {
			return
		}
		segs, err := splitPath("/dbs/" + url.PathEscape(a) + "/colls/" + url.PathEscape(b) + "/")
		if err != nil {
			t.Fatalf("escaped ids %q %q: %v", a, b, err)
		}
		if len(segs) != 4 || segs[1] != a || segs[3] != b {
			t.Fatalf("escaped ids %q %q split as %q", a, b, segs)
		}
		rt, link := authTarget(segs)
		if rt != "colls" || link != strings.Join([]string{"dbs", a, "colls", b}, "/") {
			t.Fatalf("authTarget %q %q", rt, link)
		}
	})
}
