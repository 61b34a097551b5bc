//go:build unix

package wan

import (
	"syscall"
	"time"
)

// sleepPrecisely blocks the calling thread for d with the kernel's
// high-resolution timers. Go's timers wake a process whose threads are all
// idle through the netpoller, whose sleeps are whole milliseconds: a
// delivery due in 29.6 ms could arrive a millisecond late, and a simulated
// round trip took about 1 ms longer than configured. Used only for the last
// stretch (preciseWindow) of a wait.
func sleepPrecisely(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	for ts.Nano() > 0 {
		var rem syscall.Timespec
		if err := syscall.Nanosleep(&ts, &rem); err != syscall.EINTR {
			return
		}
		ts = rem
	}
}
