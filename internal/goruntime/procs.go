package goruntime

import (
	"flag"
	"os"
	"runtime"
	"sync"
)

// OversubscribeProcs gives the process twice as many Ps as the runtime's
// default (the CPUs, or the container's CPU limit) unless the operator set
// GOMAXPROCS, and returns the number of Ps. Only the first call changes
// anything: later calls (a test that starts servers again and again) return
// the same value instead of doubling it again.
//
// Pebble's flushes and compactions are CPU-bound goroutines that the Go
// scheduler preempts only every 10 ms. With one P per CPU a flush and a
// compaction can hold every P while requests wait their turn; with more Ps
// than CPUs the requests' goroutines run on the spare Ps and the kernel
// shares the CPUs at a finer grain. On the 2-core machine (PERFORMANCE.md),
// YCSB A at 5,000 ops/s: update p99 9-18 ms with 2 Ps, 5-10 ms with 4, in
// four alternating pairs; replication lag p99 at 1,000 writes/s 35.7-36.0
// ms with 2, 33.8-33.9 ms with 4.
func OversubscribeProcs() int {
	procsOnce.Do(func() {
		if _, set := os.LookupEnv("GOMAXPROCS"); !set {
			runtime.GOMAXPROCS(2 * runtime.GOMAXPROCS(0))
		}
	})
	return runtime.GOMAXPROCS(0)
}

var procsOnce sync.Once

// RunLikeServer runs m (a *testing.M) with a server process's settings: the
// heap floor, and, when benchmarks run (-test.bench), the spare Ps. It is
// the TestMain of the packages whose benchmarks measure servers in process,
// so that they measure what a deployment runs; their tests keep the
// default Ps.
func RunLikeServer(m interface{ Run() int }) int {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f != nil && f.Value.String() != "" {
		OversubscribeProcs()
	}
	stop := HeapFloor(DefaultHeapFloor(TotalRAM()))
	defer stop()
	return m.Run()
}
