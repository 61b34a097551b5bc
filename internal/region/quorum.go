package region

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/meridiandb/meridian/internal/control"
	"github.com/meridiandb/meridian/internal/repl"
	"github.com/meridiandb/meridian/internal/topology"
)

// Dynamic quorum for Strong (three or more regions). Every Strong write
// waits for the acknowledgements of the regions in the partition's quorum
// set. When a member does not acknowledge within QuorumTimeout and the rest
// still form a majority of the account's regions, the write region drops it:
//
//  1. it announces the smaller quorum (with every message it sends);
//  2. it commits nothing until QuorumLease has passed since the
//     announcement: a dropped region serves Strong reads only while it holds
//     a lease — a message listing it, younger than QuorumLease by the write
//     region's clock — so by then it has stopped;
//  3. writes then commit with the remaining members.
//
// A dropped region that has caught up with the committed LSN is added back;
// the announcement carries the write region's head LSN at that moment, and a
// member serves Strong reads only once it has applied that much, so it never
// misses a write that committed while it was out.

// quorum is one partition's Strong quorum set (the other regions in it).
type quorum struct {
	// mu guards the fields below.
	mu      sync.Mutex
	members []string             // other regions in the quorum, in topology order
	out     map[string]time.Time // dropped regions and when they were announced out
	safeAt  time.Time            // no commit without the dropped regions before this
}

func (r *Region) quorumOf(pid uint64) *quorum {
	r.mu.Lock()
	defer r.mu.Unlock()
	q := r.quorums[uint32(pid)]
	if q == nil {
		q = &quorum{out: map[string]time.Time{}}
		// A region a failover fenced out follows nobody and serves no
		// Strong read: it starts out of the quorum (no lease to wait
		// out) and joins once it rejoined and caught up.
		fenced := map[string]bool{}
		if r.fsm != nil {
			for _, reg := range r.fsm.state().Regions {
				fenced[reg.Name] = reg.Status == control.StatusFencedOut
			}
		}
		for _, o := range r.others() {
			if fenced[o] && len(r.topo.Regions)-len(q.out)-1 >= majority(len(r.topo.Regions)) {
				q.out[o] = r.cfg.Clock()
				continue
			}
			q.members = append(q.members, o)
		}
		r.quorums[uint32(pid)] = q
		if len(q.out) > 0 {
			var head int64
			if p := r.parts[uint32(pid)]; p != nil {
				head = p.Applied()
			}
			r.announce(pid, q, head)
		}
	}
	return q
}

func (q *quorum) snapshot() (members []string, safeAt time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.members), q.safeAt
}

// announce publishes the quorum (members plus the write region) to every
// region through the replication stream.
func (r *Region) announce(pid uint64, q *quorum, sinceLSN int64) {
	r.tracker.SetQuorum(pid, append([]string{r.self.Name}, q.members...), sinceLSN)
}

func majority(n int) int { return n/2 + 1 }

// maxDelivery bounds how late a replication message can arrive: a receiver
// drops a stream that stays silent for its heartbeat timeout, so a message
// delayed longer is never delivered. A dropped member's lease (timed from
// arrival) has certainly expired QuorumLease + maxDelivery after the
// announcement that dropped it, by any clock that runs at the right rate.
func maxDelivery() time.Duration {
	var c repl.Config
	c.Defaults()
	return c.HeartbeatTimeout
}

// strongCommit waits until lsn is held by the partition's Strong quorum and
// then marks it committed. It may shrink the quorum (see above). It returns
// the regions that acknowledged and the ones that did not, with err set when
// the write cannot be committed in time.
func (r *Region) strongCommit(ctx context.Context, pid uint64, lsn, head int64) (acked, missing []string, err error) {
	q := r.quorumOf(pid)
	members, _ := q.snapshot()
	n := len(r.topo.Regions)
	timeout := r.cfg.SyncTimeout
	dynamic := n >= 3
	if dynamic && r.cfg.QuorumTimeout < timeout {
		timeout = r.cfg.QuorumTimeout
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	acked, err = r.tracker.WaitAcked(wctx, pid, lsn, members, len(members))
	cancel()
	if err != nil {
		missing = missingOf(members, acked)
		if !dynamic || 1+len(acked) < majority(n) || ctx.Err() != nil {
			return acked, missing, err
		}
		r.dropFromQuorum(pid, q, missing, head)
		// The remaining members acknowledged already (acked).
	}
	_, safeAt := q.snapshot()
	if d := time.Until(safeAt); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return acked, missing, ctx.Err()
		}
	}
	r.tracker.SetCommitted(pid, lsn)
	return acked, nil, nil
}

func (r *Region) dropFromQuorum(pid uint64, q *quorum, regions []string, head int64) {
	q.mu.Lock()
	changed := false
	now := r.cfg.Clock()
	for _, x := range regions {
		if i := slices.Index(q.members, x); i >= 0 && len(q.members)+1 > majority(len(r.topo.Regions)) {
			q.members = slices.Delete(q.members, i, i+1)
			q.out[x] = now
			changed = true
		}
	}
	if changed {
		q.safeAt = now.Add(r.cfg.QuorumLease + maxDelivery())
		r.announce(pid, q, head)
	}
	q.mu.Unlock()
	if changed {
		r.log.Warn("strong quorum shrunk: regions dropped until they catch up", "partition", pid, "dropped", regions)
	}
}

// runQuorumRejoin adds dropped regions back once they hold everything
// committed. It runs in the write region of a Strong account.
func (r *Region) runQuorumRejoin(ctx context.Context) {
	defer r.wg.Done()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !r.isWriteRegion() {
			continue
		}
		r.mu.RLock()
		qs := make(map[uint32]*quorum, len(r.quorums))
		for pid, q := range r.quorums {
			qs[pid] = q
		}
		r.mu.RUnlock()
		for pid, q := range qs {
			r.rejoin(uint64(pid), q)
			r.advanceCommitted(uint64(pid), q)
		}
	}
}

func (r *Region) rejoin(pid uint64, q *quorum) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.out) == 0 {
		return
	}
	committed := r.tracker.Committed(pid)
	peers := r.tracker.Peers(pid)
	r.mu.RLock()
	p := r.parts[uint32(pid)]
	r.mu.RUnlock()
	head := committed
	if p != nil {
		head = p.Applied()
	}
	now := r.cfg.Clock()
	var back []string
	for x := range q.out {
		// Caught up, and alive: either it holds everything, or it holds
		// everything committed and acknowledged recently (a region cut
		// off has only stale acknowledgements, so it is not re-added on
		// the strength of a write still in flight).
		ps, ok := peers[x]
		if ok && ps.Connected && (ps.Acked >= head || (ps.Acked >= committed && now.Sub(ps.AckedAt) < r.cfg.QuorumLease/2)) {
			back = append(back, x)
		}
	}
	if len(back) == 0 {
		return
	}
	for _, x := range back {
		delete(q.out, x)
	}
	// Keep topology order.
	var members []string
	for _, o := range r.topo.Others(r.self.Name) {
		if _, isOut := q.out[o.Name]; !isOut {
			members = append(members, o.Name)
		}
	}
	q.members = members
	r.announce(pid, q, head)
	r.log.Info("strong quorum grew: regions caught up", "partition", pid, "rejoined", back)
}

// strongReadable reports whether this read region may serve Strong reads
// of a partition now: it must be in the quorum the write region announced,
// hold a lease younger than QuorumLease, and have applied everything up to
// the quorum change.
func (r *Region) strongReadable(pid uint64, applied int64) (bool, string) {
	pr, ok := r.recv.Progress(pid)
	if !ok {
		return false, "it has not heard from the write region"
	}
	if len(pr.Quorum) > 0 && !slices.ContainsFunc(pr.Quorum, func(n string) bool {
		return topology.Canonical(n) == topology.Canonical(r.self.Name)
	}) {
		return false, "it is out of the Strong quorum until it catches up"
	}
	// The lease runs on this region's own clock from when the message
	// arrived (HeardAt), never on the write region's clock: a region whose
	// clock is behind would otherwise keep serving Strong reads after the
	// write region dropped it (docs/VERIFICATION.md, F11s).
	if r.cfg.Clock().Sub(pr.HeardAt) >= r.cfg.QuorumLease {
		return false, "its Strong lease expired: it has not heard from the write region recently"
	}
	if applied < pr.QuorumLSN {
		return false, "it is catching up with the Strong quorum"
	}
	// A member has acknowledged, so holds, everything the write region
	// committed. A region that only looks like one does not: right after a
	// failover the new write region has announced no quorum yet (every
	// region counts as a member), and a region that was down or out of the
	// old write region's quorum still lacks writes that quorum committed
	// (torture F8, seed 1795752047459938992: a restarted region served a
	// Strong read of a value overwritten twice in the previous epoch).
	if applied < pr.Committed {
		return false, "it is catching up with what the write region committed"
	}
	return true, ""
}

// advanceCommitted commits what every quorum member acknowledged even when
// no Strong request is waiting for it — e.g. a write whose request timed
// out and whose acknowledgements arrived after a partition healed (S-A2):
// without this it would stay invisible to Strong reads until the next write.
func (r *Region) advanceCommitted(pid uint64, q *quorum) {
	members, safeAt := q.snapshot()
	if r.cfg.Clock().Before(safeAt) {
		return
	}
	r.mu.RLock()
	p := r.parts[uint32(pid)]
	r.mu.RUnlock()
	if p == nil {
		return
	}
	lsn := p.Applied()
	for _, m := range members {
		if a, _ := r.tracker.Acked(pid, m); a < lsn {
			lsn = a
		}
	}
	r.tracker.SetCommitted(pid, lsn) // ignores values that do not advance it
}
