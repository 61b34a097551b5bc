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
// the others. SleepHoldingP keeps the P through the sleep, so the caller
// runs again as soon as the kernel wakes it, without winning a P back.
package hrtime
