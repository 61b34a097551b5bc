package torture

import "testing"

func TestMergeToken(t *testing.T) {
	for _, c := range []struct{ a, b, want string }{
		{"", "", ""},
		{"", "0:1#5", "0:1#5"},
		{"0:1#5", "", "0:1#5"},
		{"0:1#5", "0:1#3", "0:1#5"},
		{"0:1#5", "0:2#3", "0:2#5"},
		{"0:1#5#1=4", "0:1#7", "0:1#7"},
	} {
		if got := mergeToken(c.a, c.b); got != c.want {
			t.Errorf("mergeToken(%q, %q) = %q, want %q", c.a, c.b, got, c.want)
		}
	}
}
