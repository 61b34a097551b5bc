//go:build !linux

package goruntime

// TotalRAM returns the machine's physical memory in bytes; 0 (unknown) on
// systems other than Linux, which then get MinHeapFloor.
func TotalRAM() uint64 { return 0 }
