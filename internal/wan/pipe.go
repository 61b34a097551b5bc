package wan

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"time"

	"github.com/meridiandb/meridian/internal/hrtime"
)

const (
	// maxQueued is the most bytes one direction of one connection holds
	// before the producer blocks: the emulated socket buffer.
	maxQueued = 4 << 20
	// maxSegment is the most bytes one segment carries; a larger Write is
	// split, and each piece draws its own jitter and loss.
	maxSegment = 64 << 10
)

// segment is a run of bytes that becomes deliverable at one time.
type segment struct {
	data []byte
	at   time.Time
	// err, on a segment without data, marks the end of the stream: the
	// consumer gets it after every byte in front of it.
	err error
}

// pipe is one direction of one connection: a FIFO of segments, each
// deliverable at its own time and held while the link is partitioned.
//
// One side of a pipe is the application, whose calls obey the deadline;
// the other is the connection's own goroutine. For the outbound pipe the
// application pushes (Write) and the pump pops; for the inbound pipe the
// receive goroutine pushes and the application pops (Read).
type pipe struct {
	n     *Network
	link  [2]string // direction of travel (from, to)
	stats *linkStats

	// mu guards every field below. It is taken after Network.mu (by
	// publishLocked through retransmit) and never before it.
	mu  sync.Mutex
	rng *rand.Rand
	// segs is the queue, head first, and queued the bytes in it.
	segs   []segment
	queued int
	// last is the delivery time of the newest segment; it never decreases,
	// which is what keeps jitter from reordering bytes.
	last time.Time
	// draining refuses new bytes; the consumer still drains the queue and
	// then gets io.EOF.
	draining bool
	// err, once set, closes the pipe: both sides get it and the queue is
	// discarded.
	err error
	// deadline bounds the application side's waits.
	deadline time.Time
	// wake is closed and replaced whenever any field above changes in a
	// way a waiter may care about.
	wake chan struct{}
}

func (p *pipe) signalLocked() {
	close(p.wake)
	p.wake = make(chan struct{})
}

func deadlinePassed(d time.Time) bool {
	return !d.IsZero() && !time.Now().Before(d)
}

// quietSegs is the most segments a pipe may hold for its link to count as
// quiet (a synced write's batch, or its ack, with the HTTP/2 frames around it).
const quietSegs = 4

// wait blocks until a or b is closed, wakeAt or deadline passes (zero
// times never pass). With precise, the last hrtime.Window before wakeAt is
// slept on the kernel's timers without watching a and b (the caller
// re-examines the pipe afterwards). That is for a quiet link, whose
// delivery would otherwise wait for an idle process's netpoller to wake
// (whole milliseconds); on a busy link the runtime checks its timers often,
// and a thread blocked in a sleep would only take CPU time from the others.
func wait(a, b <-chan struct{}, wakeAt, deadline time.Time, precise bool) {
	var at, dl <-chan time.Time
	if !wakeAt.IsZero() {
		d := time.Until(wakeAt)
		if precise && d <= hrtime.Window && (deadline.IsZero() || wakeAt.Before(deadline)) {
			if d > 0 {
				hrtime.Sleep(d)
			}
			return
		}
		if precise {
			d -= hrtime.Window
		}
		t := time.NewTimer(d)
		defer t.Stop()
		at = t.C
	}
	if !deadline.IsZero() {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		dl = t.C
	}
	select {
	case <-a:
	case <-b:
	case <-at:
	case <-dl:
	}
}

// push queues data, copying it if copyData, followed by an end-of-stream
// marker if eof is non-nil. It blocks while the pipe is full and returns
// how many bytes it queued. appSide applies the deadline.
func (p *pipe) push(data []byte, eof error, appSide, copyData bool) (int, error) {
	done := 0
	for {
		p.mu.Lock()
		if p.err != nil || p.draining {
			err := p.err
			p.mu.Unlock()
			if err == nil {
				err = net.ErrClosed
			}
			return done, err
		}
		if appSide && deadlinePassed(p.deadline) {
			p.mu.Unlock()
			return done, os.ErrDeadlineExceeded
		}
		pushed := false
		if done < len(data) && p.queued < maxQueued {
			cfg := p.n.current().link(p.link)
			for done < len(data) && p.queued < maxQueued {
				k := min(len(data)-done, maxQueued-p.queued, maxSegment)
				chunk := data[done : done+k]
				if copyData {
					chunk = bytes.Clone(chunk)
				}
				p.enqueueLocked(cfg, chunk, nil)
				done += k
			}
			pushed = true
		}
		if done == len(data) {
			if eof != nil {
				p.enqueueLocked(p.n.current().link(p.link), nil, eof)
				pushed = true
			}
			if pushed {
				p.signalLocked()
			}
			p.mu.Unlock()
			return done, nil
		}
		if pushed {
			p.signalLocked()
		}
		wake, dl := p.wake, p.deadline
		p.mu.Unlock()
		if !appSide {
			dl = time.Time{}
		}
		wait(wake, nil, time.Time{}, dl, false)
	}
}

func (p *pipe) enqueueLocked(cfg LinkConfig, data []byte, eof error) {
	d := cfg.Delay
	if cfg.Jitter > 0 {
		d += time.Duration(p.rng.Int64N(int64(cfg.Jitter) + 1))
	}
	if cfg.Loss > 0 && p.rng.Float64() < cfg.Loss {
		d += RetransmitTimeout
	}
	at := time.Now().Add(d)
	if at.Before(p.last) {
		at = p.last
	}
	p.last = at
	p.segs = append(p.segs, segment{data: data, at: at, err: eof})
	p.queued += len(data)
	p.stats.enter(len(data))
}

// awaitHead waits until the head segment is due and its link is open, and
// returns nil with p.mu held. Otherwise it returns the pipe's error,
// os.ErrDeadlineExceeded (appSide only) or io.EOF once a draining pipe is
// empty, without p.mu held. A draining pipe that meets a partition
// discards its queue: a connection closed while partitioned loses it.
func (p *pipe) awaitHead(appSide bool) error {
	for {
		t := p.n.current()
		p.mu.Lock()
		if p.err != nil {
			err := p.err
			p.mu.Unlock()
			return err
		}
		if appSide && deadlinePassed(p.deadline) {
			p.mu.Unlock()
			return os.ErrDeadlineExceeded
		}
		var wakeAt time.Time
		quiet := len(p.segs) <= quietSegs
		if len(p.segs) == 0 {
			if p.draining {
				p.mu.Unlock()
				return io.EOF
			}
		} else {
			now := time.Now()
			head := &p.segs[0]
			switch {
			case t.partitioned(p.link) && p.draining:
				p.discardLocked()
				p.signalLocked()
				p.mu.Unlock()
				return io.EOF
			case now.Before(head.at):
				wakeAt = head.at
			case t.partitioned(p.link):
				// Held: wait for the heal (see retransmit).
			default:
				return nil
			}
		}
		wake, dl := p.wake, p.deadline
		p.mu.Unlock()
		if !appSide {
			dl = time.Time{}
		}
		wait(wake, t.changed, wakeAt, dl, quiet)
	}
}

// retransmit is called, before the new table is published, for each
// change of link configuration. When the pipe's link heals, the bytes that
// fell due during the partition were lost in it; they are retransmitted and
// become due one delay after the heal, and bytes behind them wait their
// turn. This happens whether or not anyone was waiting for them.
func (p *pipe) retransmit(old, cur *linkTable, now time.Time) {
	if !old.partitioned(p.link) || cur.partitioned(p.link) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.segs) == 0 || now.Before(p.segs[0].at) {
		return // nothing fell due during the partition
	}
	resend := now.Add(cur.link(p.link).Delay)
	for i := range p.segs {
		if !p.segs[i].at.Before(resend) {
			break // delivery times never decrease
		}
		p.segs[i].at = resend
	}
	if p.last.Before(resend) {
		p.last = resend
	}
	p.signalLocked()
}

// popLocked removes the head segment.
func (p *pipe) popLocked() {
	p.segs[0] = segment{}
	p.segs = p.segs[1:]
	if len(p.segs) == 0 {
		p.segs = nil
	}
}

// read is the application's Read: it copies due bytes into b.
func (p *pipe) read(b []byte) (int, error) {
	if err := p.awaitHead(true); err != nil {
		return 0, err
	}
	defer p.mu.Unlock()
	now := time.Now()
	n := 0
	var err error
	for n < len(b) && len(p.segs) > 0 && !now.Before(p.segs[0].at) {
		head := &p.segs[0]
		if len(head.data) == 0 {
			if n == 0 {
				// End of stream: sticky, like a socket's.
				err = head.err
				p.err = head.err
				p.popLocked()
			}
			break
		}
		k := copy(b[n:], head.data)
		n += k
		head.data = head.data[k:]
		if len(head.data) == 0 {
			p.popLocked()
		}
	}
	p.queued -= n
	p.stats.leave(n)
	p.signalLocked()
	return n, err
}

// take is the pump's pop: it removes the due segments, up to about limit
// bytes, and returns them for writing. The caller reports the bytes
// written with p.stats.leave and the rest with p.stats.discard.
func (p *pipe) take(limit int) (net.Buffers, error) {
	if err := p.awaitHead(false); err != nil {
		return nil, err
	}
	defer p.mu.Unlock()
	now := time.Now()
	var bufs net.Buffers
	n := 0
	for n < limit && len(p.segs) > 0 && !now.Before(p.segs[0].at) {
		bufs = append(bufs, p.segs[0].data)
		n += len(p.segs[0].data)
		p.popLocked()
	}
	p.queued -= n
	p.signalLocked()
	return bufs, nil
}

// discardLocked drops the queue.
func (p *pipe) discardLocked() {
	p.stats.discard(p.queued)
	p.segs = nil
	p.queued = 0
}

// close discards the queue and makes both sides fail with err from now on.
func (p *pipe) close(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.err = err
	p.discardLocked()
	p.signalLocked()
}

// fail is close, unless the pipe is already closed.
func (p *pipe) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return
	}
	p.err = err
	p.discardLocked()
	p.signalLocked()
}

// drain refuses further bytes and returns the delivery time of the last
// one queued.
func (p *pipe) drain() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.draining = true
	p.signalLocked()
	return p.last
}

func (p *pipe) setDeadline(t time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.deadline = t
	p.signalLocked()
}
