package geo_test

import (
	"flag"
	"os"
	"testing"

	"github.com/meridiandb/meridian/internal/goruntime"
)

// TestMain runs the regions with the heap floor the meridian binary uses,
// and, when benchmarks run, with its Ps too, so that the benchmarks measure
// what a deployment would see. (Tests keep the default Ps.)
func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f != nil && f.Value.String() != "" {
		goruntime.OversubscribeProcs()
	}
	stop := goruntime.HeapFloor(goruntime.DefaultHeapFloor)
	code := m.Run()
	stop()
	os.Exit(code)
}
