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

// DefaultHeapFloor is the floor the meridian binary uses (64 MiB): with it a
// region serving 10,000 reads a second collects about once a second.
const DefaultHeapFloor = 64 << 20

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
