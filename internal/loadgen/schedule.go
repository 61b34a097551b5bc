package loadgen

import (
	"context"
	"time"

	"github.com/meridiandb/meridian/internal/hrtime"
)

// Open-loop scheduling.
//
// Operation i is due at start + i/rate, whatever happened to the operations
// before it. The dispatcher sleeps until an operation is due, or sends it at
// once if it is already late, and its latency is measured from the due
// time, not from when it was actually sent. A stalled server therefore
// shows up as a queue of late operations with growing latency, as it would
// for real users arriving at that rate, instead of silently slowing the
// generator down and hiding the stall (coordinated omission: a closed loop
// of N clients sends nothing while its N requests wait, and records one
// slow sample where users would have seen a hundred).
//
// In-flight operations are bounded by Concurrency. When an operation falls
// due while every slot is taken, the dispatcher does not wait for a slot
// (that would move every later due time and reintroduce the closed loop)
// and does not exceed the bound (unbounded goroutines and connections
// would make the generator, not the server, the bottleneck on a small
// machine). It counts the operation as dropped and moves on. Any drop
// means the offered rate was not delivered: the server (or the generator)
// was saturated, or Concurrency is below rate × latency (Little's law);
// the report says so.

// Clock is the time source of the dispatcher (a fake one in tests).
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx is done.
	Sleep(ctx context.Context, d time.Duration)
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// The dispatcher's sleeps end on the kernel's timers when the wait between
// two operations is long enough for the generator to go idle. Go's timers
// would wake an idle process through the netpoller, in whole milliseconds:
// at 2,000 reads/s every operation was sent up to 1 ms late and that
// lateness counted in its latency (p50 0.80 ms, of which the server took
// about 0.3). Short waits, at high rates, stay on Go's timers: the process
// is busy, the runtime checks its timers often, and blocking the
// dispatcher's thread ten thousand times a second cost more than it saved.
const preciseMin = 200 * time.Microsecond // shorter waits use Go's timers

func (realClock) Sleep(ctx context.Context, d time.Duration) {
	end := time.Now().Add(d)
	if d < preciseMin || d > hrtime.Window {
		wait := d
		if d > hrtime.Window {
			wait = d - hrtime.Window
		}
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
		if d < preciseMin {
			return
		}
	}
	if ctx.Err() == nil {
		hrtime.Sleep(time.Until(end))
	}
}

// schedule is the due-time arithmetic of an open loop.
type schedule struct {
	start time.Time
	rate  float64 // operations per second, > 0
}

// due is when operation i (from 0) should start.
func (s schedule) due(i int64) time.Time {
	return s.start.Add(time.Duration(float64(i) * float64(time.Second) / s.rate))
}

// count is the number of operations due in [start, start+d).
func (s schedule) count(d time.Duration) int64 {
	n := int64(d.Seconds() * s.rate)
	for n > 0 && !s.due(n-1).Before(s.start.Add(d)) { // float rounding
		n--
	}
	for s.due(n).Before(s.start.Add(d)) {
		n++
	}
	return n
}

// dispatchStats is what the dispatcher did.
type dispatchStats struct {
	Scheduled int64         // operations that fell due
	Sent      int64         // launched
	Dropped   int64         // not sent: Concurrency operations were in flight
	Late      int64         // sent more than lateAfter after their due time
	MaxLate   time.Duration // the worst lateness of a sent operation
}

// dispatcher runs an open-loop schedule of n operations.
type dispatcher struct {
	clock     Clock
	sched     schedule
	n         int64
	slots     chan struct{} // a token per in-flight operation
	lateAfter time.Duration
}

func newDispatcher(clock Clock, start time.Time, rate float64, n int64, concurrency int, lateAfter time.Duration) *dispatcher {
	return &dispatcher{clock: clock, sched: schedule{start: start, rate: rate}, n: n,
		slots: make(chan struct{}, concurrency), lateAfter: lateAfter}
}

// release frees the slot of a finished operation.
func (d *dispatcher) release() { <-d.slots }

// inFlight is the number of launched, unfinished operations.
func (d *dispatcher) inFlight() int { return len(d.slots) }

// run launches every operation at its due time. launch runs on the
// dispatcher's goroutine and must not block (it hands the operation to a
// worker that calls release when the operation ends); drop is told of each dropped
// operation. Both get the operation's due time. measured(due) reports
// whether an operation counts in the stats (warm-up ones do not). run
// returns when the schedule is exhausted or ctx is done.
func (d *dispatcher) run(ctx context.Context, measured func(time.Time) bool,
	launch func(i int64, due time.Time), drop func(i int64, due time.Time)) dispatchStats {
	var st dispatchStats
	for i := int64(0); i < d.n; i++ {
		due := d.sched.due(i)
		if now := d.clock.Now(); now.Before(due) {
			d.clock.Sleep(ctx, due.Sub(now))
		}
		if ctx.Err() != nil {
			break
		}
		m := measured(due)
		if m {
			st.Scheduled++
		}
		select {
		case d.slots <- struct{}{}:
		default:
			if m {
				st.Dropped++
			}
			drop(i, due)
			continue
		}
		if m {
			st.Sent++
			if late := d.clock.Now().Sub(due); late > d.lateAfter {
				st.Late++
				st.MaxLate = max(st.MaxLate, late)
			}
		}
		launch(i, due)
	}
	return st
}
