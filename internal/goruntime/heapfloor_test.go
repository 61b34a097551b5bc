package goruntime

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		live, roots, floor uint64
		base, want         int
	}{
		{live: 8 * mib, floor: 64 * mib, base: 100, want: 700},                 // goal 64 MiB
		{live: 4 * mib, floor: 64 * mib, base: 100, want: 1500},                // goal 64 MiB
		{live: 1 * mib, floor: 64 * mib, base: 100, want: 1600},                // the runtime's least goal, 4 MiB × 16
		{live: 6 * mib, roots: 2 * mib, floor: 64 * mib, base: 100, want: 725}, // roots count in the goal
		{live: 32 * mib, floor: 64 * mib, base: 100, want: 100},                // 2× live already reaches the floor
		{live: 200 * mib, floor: 64 * mib, base: 100, want: 100},               // large heaps: the operator's GOGC
		{live: 40 * mib, floor: 64 * mib, base: 100, want: 100},                // the goal of 80 MiB is above the floor
		{live: 16 * mib, floor: 64 * mib, base: 400, want: 400},                // base 400 reaches 80 MiB
		{live: 4 * mib, floor: 64 * mib, base: -1, want: -1},                   // GOGC=off stays off
		{live: 0, floor: 64 * mib, base: 100, want: 100},                       // nothing measured yet
		{live: 100, floor: 64 * mib, base: 100, want: 1600},
		{live: 100, floor: 1 << 50, base: 100, want: maxPercent},
	} {
		got := Percent(c.live, c.roots, c.floor, c.base)
		if got != c.want {
			t.Errorf("Percent(%d, %d, %d, %d) = %d, want %d", c.live, c.roots, c.floor, c.base, got, c.want)
		}
		goal := max(c.live+(c.live+c.roots)*uint64(got)/100, heapMinimum*uint64(got)/100)
		if c.base >= 0 && c.live > 0 && got < maxPercent && goal < c.floor {
			t.Errorf("Percent(%d, %d, %d, %d) = %d: goal %d below the floor", c.live, c.roots, c.floor, c.base, got, goal)
		}
	}
}

// TestHeapFloorRaisesAndRestores checks, on the real runtime, that a small live
// heap gets a raised GC percent after a cycle and that stop restores it.
func TestHeapFloorRaisesAndRestores(t *testing.T) {
	orig := debug.SetGCPercent(100)
	defer debug.SetGCPercent(orig)
	stop := HeapFloor(256 << 20)
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		time.Sleep(10 * time.Millisecond) // the finalizer goroutine runs the hook
		p := debug.SetGCPercent(-1)
		debug.SetGCPercent(p)
		if p > 100 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GC percent still %d after cycles with a small live heap", p)
		}
	}
	if again := HeapFloor(1 << 30); again == nil {
		t.Fatal("a second HeapFloor returned nil")
	} else {
		again() // no-op: must not restore anything
	}
	stop()
	if p := debug.SetGCPercent(100); p != 100 {
		t.Fatalf("after stop the GC percent is %d, want 100", p)
	}
	stop() // twice is harmless
}

func TestDefaultHeapFloorScalesWithTheMachine(t *testing.T) {
	for ram, want := range map[uint64]uint64{
		0:        MinHeapFloor, // unknown
		1 << 30:  MinHeapFloor,
		8 << 30:  128 << 20,
		16 << 30: MaxHeapFloor,
		1 << 40:  MaxHeapFloor,
	} {
		if got := DefaultHeapFloor(ram); got != want {
			t.Errorf("DefaultHeapFloor(%d MiB) = %d MiB, want %d MiB", ram>>20, got>>20, want>>20)
		}
	}
	if TotalRAM() == 0 && runtime.GOOS == "linux" {
		t.Error("TotalRAM() = 0 on Linux")
	}
}
