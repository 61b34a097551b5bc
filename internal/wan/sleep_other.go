//go:build !unix

package wan

import "time"

// sleepPrecisely is time.Sleep where the kernel's timers are not reachable.
func sleepPrecisely(d time.Duration) { time.Sleep(d) }
