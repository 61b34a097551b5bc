//go:build linux

package hrtime

import (
	"syscall"
	"time"
	"unsafe"
)

// SleepHoldingP sleeps for d on the kernel's timers without telling the Go
// scheduler: the goroutine keeps its P, and the scheduler does not hand the P
// to another thread when the sleep ends, so the caller runs again within the
// kernel's timer slack (about 50 µs) instead of waiting for a P. The P does
// no other work meanwhile, and a stop-the-world waits for the sleep to end:
// use it only for short sleeps (under 2 ms), where holding the P costs less
// than winning one back.
func SleepHoldingP(d time.Duration) {
	if d <= 0 {
		return
	}
	ts := syscall.NsecToTimespec(int64(d))
	for {
		var rem syscall.Timespec
		_, _, errno := syscall.RawSyscall(syscall.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&ts)), uintptr(unsafe.Pointer(&rem)), 0)
		if errno != syscall.EINTR || rem.Nano() <= 0 {
			return
		}
		ts = rem
	}
}
