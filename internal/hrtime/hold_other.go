//go:build !linux

package hrtime

import "time"

// SleepHoldingP is Sleep where a raw nanosleep is not available.
func SleepHoldingP(d time.Duration) { Sleep(d) }
