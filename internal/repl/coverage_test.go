package repl

import (
	"testing"
	"time"
)

func TestHeadSamplesCoverage(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	var h headSamples
	if _, ok := h.coveredAt(100); ok {
		t.Fatal("nothing heard: nothing covered")
	}
	h.add(10, at(0))
	h.add(20, at(100))
	h.add(30, at(200))
	h.add(30, at(300)) // a heartbeat: head 30 still holds at 300
	h.add(25, at(310)) // overtaken: ignored
	for _, c := range []struct {
		applied int64
		want    time.Time
		ok      bool
	}{
		{5, time.Time{}, false}, // behind every sample
		{10, at(0), true},
		{25, at(100), true},
		{30, at(300), true},
		{99, at(300), true},
	} {
		got, ok := h.coveredAt(c.applied)
		if ok != c.ok || !got.Equal(c.want) {
			t.Errorf("coveredAt(%d) = %v, %v; want %v, %v", c.applied, got, ok, c.want, c.ok)
		}
	}
	// coveredAt(99) dropped the samples before the newest covered one.
	if len(h.s) != 1 {
		t.Errorf("%d samples kept, want 1", len(h.s))
	}

	// The reconnect after a partition: a fresh message with a head far
	// ahead of what this region applied covers nothing new.
	h.add(80, at(5000))
	if got, _ := h.coveredAt(40); !got.Equal(at(300)) {
		t.Errorf("after reconnect, applied 40: covered at %v, want the old %v", got, at(300))
	}
	if got, _ := h.coveredAt(80); !got.Equal(at(5000)) {
		t.Errorf("caught up: covered at %v, want %v", got, at(5000))
	}

	// Close samples merge into the earlier one: a later head at the
	// earlier time, which never claims more than was known.
	var m headSamples
	m.add(10, at(0))
	m.add(11, at(5))
	if len(m.s) != 1 || m.s[0].head != 11 || !m.s[0].at.Equal(at(0)) {
		t.Errorf("merged samples %+v, want one {11, t0}", m.s)
	}
	if _, ok := m.coveredAt(10); ok {
		t.Error("applied 10 < merged head 11 must not count as covered")
	}

	// At most maxSamples are kept; when full, the older half goes.
	var b headSamples
	for i := range maxSamples + 10 {
		b.add(int64(i+1), at(i*int(sampleGrain/time.Millisecond)))
	}
	if want := maxSamples/2 + 10; len(b.s) != want || b.s[0].head != maxSamples/2+1 {
		t.Errorf("%d samples from head %d, want %d from head %d", len(b.s), b.s[0].head, want, maxSamples/2+1)
	}
	if _, ok := b.coveredAt(5); ok {
		t.Error("a region behind the oldest kept sample is not covered")
	}
}
