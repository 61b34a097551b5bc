package geo_test

import (
	"os"
	"testing"

	"github.com/meridiandb/meridian/internal/heapfloor"
)

// TestMain runs the regions with the heap floor the meridian binary uses,
// so that the benchmarks here measure what a deployment would see.
func TestMain(m *testing.M) {
	stop := heapfloor.Start(heapfloor.DefaultFloor)
	code := m.Run()
	stop()
	os.Exit(code)
}
