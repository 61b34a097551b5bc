//go:build linux

package hrtime

import (
	"syscall"
	"time"
)

// Sleep blocks the calling thread for d on the kernel's timers.
func Sleep(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	for ts.Nano() > 0 {
		var rem syscall.Timespec
		if err := syscall.Nanosleep(&ts, &rem); err != syscall.EINTR {
			return
		}
		ts = rem
	}
}
