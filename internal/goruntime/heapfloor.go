// Package goruntime holds the Go runtime settings a Meridian server process
// runs with: a floor under the GC's heap goal (HeapFloor) and more Ps than
// CPUs (OversubscribeProcs). The meridian binary applies both to serve and
// dev; the in-process benchmarks apply them too, so that they measure what a
// deployment runs.
package goruntime

// The heap floor.
//
// A Meridian region keeps its data in Pebble, whose block cache and
// memtables live outside the Go heap, so the Go heap itself is small: a few
// MiB while serving 10,000 point reads a second. With GOGC=100 the runtime
// then starts a collection every time the heap doubles, about every 25 ms
// at that rate, and each cycle's stop-the-world phases, mark assists and
// background marking land in the tail of request latency (PERFORMANCE.md:
// read p99 at 10 k/s 4-5.5 ms before, under 2 ms after).
//
// HeapFloor raises the GC percent after each cycle so that the next goal is at
// least the floor while the live heap is small, and gives the runtime back
// its own GOGC once the live heap alone reaches half the floor, so memory
// grows with the data as usual. It changes nothing when GOGC=off. A
// GOMEMLIMIT set by the operator still applies: the runtime collects early
// when it would otherwise exceed the limit.

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// The heap floor the meridian binary uses is a 64th of the machine's
// memory, within [MinHeapFloor, MaxHeapFloor] (DefaultHeapFloor).
//
// At 64 MiB a region serving 10,000 reads a second collected about once a
// second, and at 2,500 writes a second twice a second; on the 2-core
// machine a few of those cycles' stop-the-world pauses took over 0.9 ms
// each (with more Ps than CPUs, stopping the world waits for threads the
// kernel has descheduled). At 256 MiB there are a quarter as many cycles,
// and in ten alternating pairs of runs (YCSB A and B, writes at 2,500/s)
// the update p99 was lower in eight (PERFORMANCE.md). The price is the
// garbage the runtime lets pile up: a region holding 1 million items peaks
// at about 400 MB resident instead of 175 MB, so a small machine gets a
// smaller floor.
const (
	MinHeapFloor = 64 << 20
	MaxHeapFloor = 256 << 20
)

// DefaultHeapFloor returns the heap floor for a machine with totalRAM
// bytes of memory (0: unknown, which gets MinHeapFloor).
func DefaultHeapFloor(totalRAM uint64) uint64 {
	return min(max(totalRAM/64, MinHeapFloor), MaxHeapFloor)
}

// maxPercent bounds the GC percent HeapFloor sets (a 1 MiB live heap with a
// 64 MiB floor asks for 6,300).
const maxPercent = 100_000

// heapMinimum is the runtime's least heap goal at GOGC=100; it scales
// with the GC percent (runtime/mgcpacer.go, defaultHeapMinimum).
const heapMinimum = 4 << 20

// Percent returns the least GC percent that makes the heap goal at least
// floor, and never less than base (the operator's GOGC). The runtime's goal
// is the larger of live + (live + roots) × percent / 100, where live is the
// heap marked live by the last cycle and roots are the scannable stacks and
// globals, and 4 MiB × percent / 100.
func Percent(live, roots, floor uint64, base int) int {
	scan := live + roots
	if base < 0 || live == 0 || max(live+scan*uint64(base)/100, heapMinimum*uint64(base)/100) >= floor {
		return base
	}
	p := ((floor-live)*100 + scan - 1) / scan
	p = min(p, (floor*100+heapMinimum-1)/heapMinimum)
	return int(min(p, maxPercent))
}

// tuner is the state shared by the cycle hooks of one HeapFloor.
type tuner struct {
	floor   uint64
	base    int
	stopped atomic.Bool
	mu      sync.Mutex // serializes adjust with stop
	current int
	sample  []metrics.Sample
}

// sentinel is garbage whose finalizer runs once after each GC cycle.
type sentinel struct{ t *tuner }

var running atomic.Bool

// HeapFloor keeps the heap goal at or above floor bytes until the returned
// function is called, which restores the GC percent found at start. Only
// one HeapFloor may be active in a process; a second returns a no-op.
func HeapFloor(floor uint64) (stop func()) {
	base := debug.SetGCPercent(100)
	debug.SetGCPercent(base)
	if base < 0 || floor == 0 || !running.CompareAndSwap(false, true) {
		return func() {}
	}
	t := &tuner{floor: floor, base: base, current: base,
		sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"}}}
	t.adjust()
	t.arm()
	return func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.stopped.Swap(true) {
			return
		}
		debug.SetGCPercent(t.base)
		running.Store(false)
	}
}

// arm registers the hook for the next GC cycle.
func (t *tuner) arm() {
	s := &sentinel{t: t}
	runtime.SetFinalizer(s, func(s *sentinel) {
		if s.t.stopped.Load() {
			return
		}
		s.t.adjust()
		s.t.arm()
	})
}

// adjust sets the GC percent for the live heap of the last cycle.
func (t *tuner) adjust() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped.Load() {
		return
	}
	metrics.Read(t.sample)
	var v [3]uint64
	for i, s := range t.sample {
		if s.Value.Kind() == metrics.KindUint64 {
			v[i] = s.Value.Uint64()
		}
	}
	p := Percent(v[0], v[1]+v[2], t.floor, t.base)
	// Small changes are not worth a pacer update.
	if p != t.current && (p == t.base || t.current == t.base || absDiff(p, t.current)*10 > t.current) {
		debug.SetGCPercent(p)
		t.current = p
	}
}

func absDiff(a, b int) int {
	if a > b {
		return a - b
	}
	return b - a
}
