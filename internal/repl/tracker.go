package repl

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Tracker records, in the write region, each peer's durable LSN per
// partition (from Subscribe and Ack messages) and the partition's globally
// committed LSN and Strong quorum, which senders publish in Progress.
type Tracker struct {
	clock func() time.Time

	// mu guards parts and everything reachable from it.
	mu    sync.Mutex
	parts map[uint64]*partTrack
}

type partTrack struct {
	peers     map[string]*peerTrack
	committed int64
	quorum    []string
	quorumLSN int64
	// ackCh is closed (and replaced) whenever a peer's Acked advances.
	ackCh chan struct{}
	// progressCh is closed (and replaced) whenever committed or quorum
	// changes; senders wait on it to push progress at once.
	progressCh chan struct{}
}

type peerTrack struct {
	PeerState
	streams int // open Subscribe streams
}

// NewTracker returns an empty Tracker; clock (nil = time.Now) stamps acks.
func NewTracker(clock func() time.Time) *Tracker {
	if clock == nil {
		clock = time.Now
	}
	return &Tracker{clock: clock, parts: make(map[uint64]*partTrack)}
}

// partLocked returns the partition's record, creating it. t.mu is held.
func (t *Tracker) partLocked(partition uint64) *partTrack {
	p := t.parts[partition]
	if p == nil {
		p = &partTrack{
			peers:      make(map[string]*peerTrack),
			ackCh:      make(chan struct{}),
			progressCh: make(chan struct{}),
		}
		t.parts[partition] = p
	}
	return p
}

func (p *partTrack) peerLocked(region string) *peerTrack {
	pt := p.peers[region]
	if pt == nil {
		pt = &peerTrack{}
		p.peers[region] = pt
	}
	return pt
}

func (p *partTrack) notifyAckLocked() {
	close(p.ackCh)
	p.ackCh = make(chan struct{})
}

func (p *partTrack) notifyProgressLocked() {
	close(p.progressCh)
	p.progressCh = make(chan struct{})
}

// connect records a new stream from region and its durable LSN: a
// Subscribe is authoritative, so Acked may go down (the peer lost data).
func (t *Tracker) connect(partition uint64, region string, durable int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.partLocked(partition)
	pt := p.peerLocked(region)
	now := t.clock()
	pt.streams++
	pt.Connected = true
	pt.LastSeen = now
	if pt.Acked != durable {
		pt.Acked, pt.AckedAt = durable, now
		p.notifyAckLocked()
	}
}

// disconnect records the end of a stream from region.
func (t *Tracker) disconnect(partition uint64, region string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	pt := t.partLocked(partition).peerLocked(region)
	pt.streams--
	pt.Connected = pt.streams > 0
}

// ack records an Ack; Acked never goes down through acks (a late ack from
// a dying stream may arrive after a newer one).
func (t *Tracker) ack(partition uint64, region string, durable int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.partLocked(partition)
	pt := p.peerLocked(region)
	now := t.clock()
	pt.LastSeen = now
	if durable > pt.Acked {
		pt.Acked, pt.AckedAt = durable, now
		p.notifyAckLocked()
	}
}

// Acked returns the highest LSN region holds durably for partition, and
// when that was reported (zero values if it never was).
func (t *Tracker) Acked(partition uint64, region string) (lsn int64, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.parts[partition]; p != nil {
		if pt := p.peers[region]; pt != nil {
			return pt.Acked, pt.AckedAt
		}
	}
	return 0, time.Time{}
}

// WaitAcked blocks until at least n of regions have acked >= lsn for the
// partition (n = len(regions) for "all"), or ctx ends. It returns the
// regions that had acked when it returned, in the order of regions, so a
// caller that times out can report what is known; the error is then
// ctx.Err() (wrapped).
func (t *Tracker) WaitAcked(ctx context.Context, partition uint64, lsn int64, regions []string, n int) ([]string, error) {
	if n > len(regions) {
		return nil, fmt.Errorf("repl: wait for %d acks from %d regions", n, len(regions))
	}
	for {
		t.mu.Lock()
		p := t.partLocked(partition)
		var acked []string
		for _, r := range regions {
			if pt := p.peers[r]; pt != nil && pt.Acked >= lsn {
				acked = append(acked, r)
			}
		}
		ch := p.ackCh
		t.mu.Unlock()
		if len(acked) >= n {
			return acked, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return acked, fmt.Errorf("wait acked %d@%d: %w", partition, lsn, ctx.Err())
		}
	}
}

// Peers returns the state of every region that ever subscribed to the
// partition.
func (t *Tracker) Peers(partition uint64) map[string]PeerState {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]PeerState)
	if p := t.parts[partition]; p != nil {
		for r, pt := range p.peers {
			out[r] = pt.PeerState
		}
	}
	return out
}

// SetCommitted publishes the partition's globally committed LSN. It never
// goes down: lower values are ignored.
func (t *Tracker) SetCommitted(partition uint64, lsn int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.partLocked(partition)
	if lsn > p.committed {
		p.committed = lsn
		p.notifyProgressLocked()
	}
}

// Committed returns the partition's globally committed LSN.
func (t *Tracker) Committed(partition uint64) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.parts[partition]; p != nil {
		return p.committed
	}
	return 0
}

// SetQuorum publishes the regions in the partition's current Strong quorum
// (dynamic quorum); receivers see it in Progress.Quorum.
func (t *Tracker) SetQuorum(partition uint64, regions []string, sinceLSN int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.partLocked(partition)
	if !slices.Equal(p.quorum, regions) || p.quorumLSN != sinceLSN {
		p.quorum = slices.Clone(regions)
		p.quorumLSN = sinceLSN
		p.notifyProgressLocked()
	}
}

// progress returns the committed LSN and quorum of partition and a
// channel closed when either changes. The quorum must not be modified.
func (t *Tracker) progress(partition uint64) (committed int64, quorum []string, quorumLSN int64, changed <-chan struct{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.partLocked(partition)
	return p.committed, p.quorum, p.quorumLSN, p.progressCh
}
