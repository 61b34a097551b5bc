package goruntime

import (
	"os"
	"runtime"
	"testing"
)

// TestOversubscribeProcs: the first call doubles the Ps (unless GOMAXPROCS
// is set), and later calls leave them alone.
func TestOversubscribeProcs(t *testing.T) {
	orig := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(orig)
	want := 2 * orig
	if _, set := os.LookupEnv("GOMAXPROCS"); set {
		want = orig // the operator's setting wins
	}
	for range 5 {
		if got := OversubscribeProcs(); got != want || runtime.GOMAXPROCS(0) != want {
			t.Fatalf("OversubscribeProcs() = %d, GOMAXPROCS %d; want %d every time", got, runtime.GOMAXPROCS(0), want)
		}
	}
}
