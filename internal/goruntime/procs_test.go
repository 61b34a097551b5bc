package goruntime

import (
	"os"
	"runtime"
	"testing"
)

func TestOversubscribeProcs(t *testing.T) {
	orig := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(orig)
	want := 2 * orig
	if _, set := os.LookupEnv("GOMAXPROCS"); set {
		want = orig // the operator's setting wins
	}
	if got := OversubscribeProcs(); got != want || runtime.GOMAXPROCS(0) != want {
		t.Fatalf("OversubscribeProcs() = %d, GOMAXPROCS %d; want %d", got, runtime.GOMAXPROCS(0), want)
	}
	runtime.GOMAXPROCS(orig)
	t.Setenv("GOMAXPROCS", "3")
	if got := OversubscribeProcs(); got != orig {
		t.Fatalf("with GOMAXPROCS set: %d Ps, want the unchanged %d", got, orig)
	}
}
