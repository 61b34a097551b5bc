package loadgen

import (
	"context"
	"testing"
	"time"
)

// fakeClock advances only when the dispatcher sleeps; oversleep(i) adds a
// delay to the i-th sleep (a descheduled generator).
type fakeClock struct {
	now       time.Time
	sleeps    int
	oversleep func(i int) time.Duration
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) Sleep(_ context.Context, d time.Duration) {
	if c.oversleep != nil {
		d += c.oversleep(c.sleeps)
	}
	c.sleeps++
	c.now = c.now.Add(d)
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestScheduleDueTimes(t *testing.T) {
	s := schedule{start: t0, rate: 2000}
	for i, want := range map[int64]time.Duration{0: 0, 1: 500 * time.Microsecond, 2000: time.Second, 4001: 2*time.Second + 500*time.Microsecond} {
		if got := s.due(i).Sub(t0); got != want {
			t.Errorf("due(%d) = start+%v, want start+%v", i, got, want)
		}
	}
	for _, c := range []struct {
		rate float64
		d    time.Duration
		want int64
	}{{2000, time.Second, 2000}, {3, time.Second, 3}, {3, 1001 * time.Millisecond, 4}, {0.5, 3 * time.Second, 2}, {1000, 0, 0}} {
		if got := (schedule{start: t0, rate: c.rate}).count(c.d); got != c.want {
			t.Errorf("count(rate %v, %v) = %d, want %d", c.rate, c.d, got, c.want)
		}
	}
}

type launched struct {
	i        int64
	due, now time.Time
}

// TestDispatcherOnTime: with a punctual clock, every operation is sent at
// its due time, none late or dropped.
func TestDispatcherOnTime(t *testing.T) {
	clk := &fakeClock{now: t0}
	d := newDispatcher(clk, t0, 1000, 10, 4, time.Millisecond)
	var got []launched
	st := d.run(context.Background(), func(time.Time) bool { return true },
		func(i int64, due time.Time) { got = append(got, launched{i, due, clk.Now()}); d.release() },
		func(int64, time.Time) { t.Fatal("dropped") })
	if len(got) != 10 || st.Sent != 10 || st.Scheduled != 10 || st.Late != 0 || st.Dropped != 0 {
		t.Fatalf("launched %d, stats %+v", len(got), st)
	}
	for _, l := range got {
		if want := t0.Add(time.Duration(l.i) * time.Millisecond); !l.due.Equal(want) || !l.now.Equal(want) {
			t.Errorf("op %d: due %v sent %v, want both %v", l.i, l.due.Sub(t0), l.now.Sub(t0), want.Sub(t0))
		}
	}
}

// TestDispatcherLateKeepsSchedule: a generator stalled for 10 ms sends the
// operations it missed at once, keeps their due times (latency is measured
// from them), counts them late and does not shift the later ones.
func TestDispatcherLateKeepsSchedule(t *testing.T) {
	clk := &fakeClock{now: t0, oversleep: func(i int) time.Duration {
		if i == 2 { // the third sleep (before op 3; op 0 needs none) overshoots by 10 ms
			return 10 * time.Millisecond
		}
		return 0
	}}
	d := newDispatcher(clk, t0, 1000, 20, 100, time.Millisecond)
	var got []launched
	st := d.run(context.Background(), func(time.Time) bool { return true },
		func(i int64, due time.Time) { got = append(got, launched{i, due, clk.Now()}); d.release() },
		func(int64, time.Time) { t.Fatal("dropped") })
	if len(got) != 20 {
		t.Fatalf("launched %d, want 20", len(got))
	}
	for _, l := range got {
		if want := t0.Add(time.Duration(l.i) * time.Millisecond); !l.due.Equal(want) {
			t.Errorf("op %d due at %v, want %v", l.i, l.due.Sub(t0), want.Sub(t0))
		}
	}
	// Ops 3..13 go out together at 13 ms; op 14 on time again.
	for i := 3; i <= 13; i++ {
		if got[i].now != t0.Add(13*time.Millisecond) {
			t.Errorf("op %d sent at %v, want 13ms", i, got[i].now.Sub(t0))
		}
	}
	if got[14].now != t0.Add(14*time.Millisecond) {
		t.Errorf("op 14 sent at %v, want 14ms", got[14].now.Sub(t0))
	}
	// Late by more than 1 ms: ops 3..11 (10 ms .. 2 ms late); op 12 is
	// exactly 1 ms late, not more.
	if st.Late != 9 || st.MaxLate != 10*time.Millisecond || st.Dropped != 0 || st.Sent != 20 {
		t.Errorf("stats %+v, want 9 late (max 10ms), 0 dropped, 20 sent", st)
	}
}

// TestDispatcherDropsWhenFull: operations that fall due while Concurrency
// are in flight are dropped, not queued, and the schedule goes on; warm-up
// operations do not count.
func TestDispatcherDropsWhenFull(t *testing.T) {
	clk := &fakeClock{now: t0}
	d := newDispatcher(clk, t0, 100, 10, 2, time.Millisecond)
	var sent, dropped []int64
	measureFrom := t0.Add(20 * time.Millisecond) // ops 0 and 1 are warm-up
	st := d.run(context.Background(), func(due time.Time) bool { return !due.Before(measureFrom) },
		func(i int64, due time.Time) {
			sent = append(sent, i)
			if i >= 4 { // ops 0-3 finish at once; 4 and 5 hang until op 8 is due
				return
			}
			d.release()
		},
		func(i int64, due time.Time) {
			dropped = append(dropped, i)
			if i == 7 { // the hung ops finish
				d.release()
				d.release()
			}
		})
	wantSent, wantDropped := []int64{0, 1, 2, 3, 4, 5, 8, 9}, []int64{6, 7}
	if !equal(sent, wantSent) || !equal(dropped, wantDropped) {
		t.Fatalf("sent %v dropped %v, want %v and %v", sent, dropped, wantSent, wantDropped)
	}
	if st.Scheduled != 8 || st.Sent != 6 || st.Dropped != 2 || st.Late != 0 {
		t.Errorf("stats %+v, want 8 scheduled (2 warm-up excluded), 6 sent, 2 dropped", st)
	}
	if d.inFlight() != 2 {
		t.Errorf("in flight %d, want 2 (ops 8 and 9)", d.inFlight())
	}
}

// TestDispatcherStopsOnCancel: a cancelled context ends the schedule.
func TestDispatcherStopsOnCancel(t *testing.T) {
	clk := &fakeClock{now: t0}
	ctx, cancel := context.WithCancel(context.Background())
	d := newDispatcher(clk, t0, 1000, 1000, 10, time.Millisecond)
	n := 0
	d.run(ctx, func(time.Time) bool { return true }, func(i int64, _ time.Time) {
		n++
		d.release()
		if i == 4 {
			cancel()
		}
	}, func(int64, time.Time) {})
	if n != 5 {
		t.Errorf("launched %d after cancelling at the 5th, want 5", n)
	}
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRealClockSleepsAtLeastD(t *testing.T) {
	ctx := context.Background()
	// Below preciseMin (Go timer), inside the precise window (kernel
	// timer), and above it (both).
	for _, d := range []time.Duration{50 * time.Microsecond, 400 * time.Microsecond, 3 * time.Millisecond} {
		start := time.Now()
		realClock{}.Sleep(ctx, d)
		if got := time.Since(start); got < d {
			t.Fatalf("Sleep(%v) returned after %v", d, got)
		}
	}
}

func TestRealClockSleepEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		realClock{}.Sleep(ctx, time.Hour)
		close(done)
	}()
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Sleep(1h) did not return when its context was cancelled")
	}
}
