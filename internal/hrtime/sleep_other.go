//go:build !linux

package hrtime

import "time"

// Sleep is time.Sleep where the kernel's timers are not reachable.
func Sleep(d time.Duration) { time.Sleep(d) }
