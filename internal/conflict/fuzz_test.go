package conflict

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/meridiandb/meridian/internal/resource"
)

// FuzzParsePolicy checks that ParsePolicy never panics, refuses only with a
// 400, and that an accepted policy survives the JSON round trip and has a
// well-formed path; a path that parses can also be looked up in any
// document without panicking.
func FuzzParsePolicy(f *testing.F) {
	for _, s := range []string{
		``, `null`, `{}`, `[]`, `"x"`, `{"mode":1}`,
		`{"mode":"LastWriterWins","conflictResolutionPath":"/_ts","conflictResolutionProcedure":""}`,
		`{"mode":"LastWriterWins","conflictResolutionPath":"/priority"}`,
		`{"mode":"lastwriterwins","conflictResolutionPath":"/a/b/c"}`,
		`{"conflictResolutionPath":"/\"a/b\"/c"}`,
		`{"conflictResolutionPath":"/\"x \\\" y\""}`,
		`{"mode":"Custom"}`,
		`{"mode":"Custom","conflictResolutionProcedure":"dbs/db/colls/c/sprocs/resolver"}`,
		`{"mode":"Custom","conflictResolutionPath":"/p"}`,
		`{"mode":"LastWriterWins","conflictResolutionProcedure":"p"}`,
		`{"mode":"Newest"}`,
		`{"conflictResolutionPath":"priority"}`,
		`{"conflictResolutionPath":"/"}`,
		`{"conflictResolutionPath":"/a//b"}`,
		`{"conflictResolutionPath":"/a/*"}`,
		`{"conflictResolutionPath":"/tags/[]"}`,
		`{"conflictResolutionPath":"/\"abc"}`,
		`{"conflictResolutionPath":"/\"\\u00e9\"/\"\""}`,
		`{"MODE":"custom","Extra":{"a":[1,2]}}`,
		`{"mode":"Custom"} trailing`,
	} {
		f.Add([]byte(s))
	}
	docs := [][]byte{
		[]byte(`{"priority":1,"a":{"b":{"c":2.5}},"a/b":{"c":3},"x \" y":-1,"_ts":5}`),
		[]byte(`[1,2]`), []byte(`{"a":"b"}`), nil,
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePolicy(b)
		if err != nil {
			if resource.KindOf(err) != resource.KindBadRequest {
				t.Fatalf("ParsePolicy(%q): error kind %v, want 400: %v", b, resource.KindOf(err), err)
			}
			if !strings.Contains(err.Error(), "conflictResolutionPolicy") {
				t.Fatalf("ParsePolicy(%q): the message does not name the policy: %v", b, err)
			}
			return
		}
		out, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("Marshal(%q): %v", b, err)
		}
		p2, err := ParsePolicy(out)
		if err != nil || !p2.Equal(p) {
			t.Fatalf("round trip of %q via %s: %v, %v", b, out, p2, err)
		}
		out2, _ := json.Marshal(p2)
		if string(out2) != string(out) {
			t.Fatalf("round trip of %q: %s then %s", b, out, out2)
		}
		switch p.Mode() {
		case Custom:
			if p.Path() != "" || !p.byTS() {
				t.Fatalf("%q: Custom with path %q", b, p.Path())
			}
		case LastWriterWins:
			path := p.Path()
			if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, "*?") {
				t.Fatalf("%q: accepted path %q", b, path)
			}
			segs, err := parsePath(path)
			if err != nil {
				t.Fatalf("%q: accepted path %q does not parse: %v", b, path, err)
			}
			if p.byTS() != (len(segs) == 1 && segs[0] == "_ts") {
				t.Fatalf("%q: path %q, byTS %v", b, path, p.byTS())
			}
			for _, s := range p.segs {
				if s == "" || s == "[]" {
					t.Fatalf("%q: segment %q in %q", b, s, path)
				}
			}
			for _, d := range docs {
				_ = p.rank(Version{Doc: d, Depth: 1})
			}
		default:
			t.Fatalf("%q: mode %v", b, p.Mode())
		}
	})
}
