package repl

import "time"

// headSamples remembers, for one partition, when this region learned the
// write region's head LSN: sample (h, at) says that every write the write
// region had acknowledged by at had an LSN <= h (at is the earlier of the
// message's send time and its arrival). A region whose applied LSN has
// reached h therefore holds every write acknowledged by at: coveredAt gives
// the latest such time, which bounded staleness compares with T.
//
// Knowing only when the write region was last heard from is not enough: a
// region that reconnects after a partition hears a fresh message at once,
// but its data is still as old as the partition until it has caught up.
//
// Samples closer together than grain are merged into the earlier one
// (keeping its time and the later head, which only makes coveredAt more
// conservative), and at most maxSamples are kept (the oldest half goes
// when full: a region further behind than they reach counts as not
// covered).
type headSamples struct {
	s []headSample
}

type headSample struct {
	head int64
	at   time.Time
}

const (
	sampleGrain = 10 * time.Millisecond
	maxSamples  = 1024
)

// add records that the write region's head was head at time at. A
// heartbeat repeating the last head moves that sample's time forward: an
// idle write region keeps a caught-up region fresh. A smaller head (a
// message overtaken by a later one) adds nothing.
func (h *headSamples) add(head int64, at time.Time) {
	if n := len(h.s); n > 0 {
		last := &h.s[n-1]
		if head < last.head {
			return
		}
		if head == last.head {
			if at.After(last.at) {
				last.at = at
			}
			return
		}
		if at.Sub(last.at) < sampleGrain {
			last.head = head
			return
		}
	}
	if len(h.s) == maxSamples {
		// Drop the older half at once: one copy per maxSamples/2 adds,
		// not one per add (a region whose reads never ask coveredAt, at
		// any level but bounded staleness, never prunes).
		h.s = append(h.s[:0], h.s[maxSamples/2:]...)
	}
	h.s = append(h.s, headSample{head, at})
}

// coveredAt returns the latest time by which this region holds every
// acknowledged write, given its applied LSN; false if no sample is covered.
// Samples older than the returned one are dropped: applied never goes back.
func (h *headSamples) coveredAt(applied int64) (time.Time, bool) {
	i := -1
	for j := len(h.s) - 1; j >= 0; j-- {
		if h.s[j].head <= applied {
			i = j
			break
		}
	}
	if i < 0 {
		return time.Time{}, false
	}
	at := h.s[i].at
	h.s = append(h.s[:0], h.s[i:]...)
	return at, true
}
