package server

import (
	"os"
	"testing"

	"github.com/meridiandb/meridian/internal/goruntime"
)

// TestMain runs the package with the heap floor and, for benchmarks, the Ps
// of the meridian binary, so that BenchmarkPoint* measure what a deployment runs.
func TestMain(m *testing.M) { os.Exit(goruntime.RunLikeServer(m)) }
