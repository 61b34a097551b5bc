// Package hrtime sleeps on the kernel's high-resolution timers.
//
// Go's timers wake a process whose threads are all idle through the
// netpoller, and on Linux the netpoller sleeps in whole milliseconds (a
// wait of 100 µs becomes epoll_wait(1 ms)). A program that must act at a
// sub-millisecond instant while it is otherwise idle — the simulated WAN
// delivering a segment, the load generator sending an operation at its due
// time — is then up to a millisecond late. Sleep blocks the calling thread
// in nanosleep instead, which wakes within tens of microseconds.
//
// The thread (and its P, until the scheduler hands it off) is blocked for
// the whole sleep, so use it only for short, final stretches of a wait,
// and only where the process is likely idle: in a busy process the runtime
// checks its timers often and a blocked thread just takes CPU time from
// the others.
//
// There is deliberately no variant that sleeps in a raw syscall to keep
// the P: the garbage collector must stop every running goroutine to scan
// its stack, cannot preempt one inside a raw syscall, and in the load
// generator that stalled the whole process for 0.3-2 s at a GC.
package hrtime

import "time"

// Window is how much of a wait its callers sleep here: Go's timer takes
// them to within Window of the instant (its whole-millisecond error is
// then absorbed), and Sleep covers the rest.
const Window = 1500 * time.Microsecond
