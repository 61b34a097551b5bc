package region

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/meridiandb/meridian/internal/httpapi"
	"github.com/meridiandb/meridian/internal/partition"
	"github.com/meridiandb/meridian/internal/resource"
	"github.com/meridiandb/meridian/internal/session"
	"github.com/meridiandb/meridian/internal/topology"
)

// This file holds the rules that make each consistency level hold across
// regions (see docs/ARCHITECTURE.md and the semantics doc):
//
//   - Strong: a write is acknowledged only once every other region holds it
//     durably; then it is committed. A read returns an item version only
//     once that version is known committed (in a read region, via the
//     committed LSN the write region ships with every message), so no read
//     sees a write that a later read could miss.
//   - Bounded staleness: the write region refuses writes (429) while some
//     region lags by K versions or T seconds; a read region, before
//     reading, refuses reads (503, the SDK retries elsewhere) when it has
//     not heard from the write region for T seconds or its data does not
//     cover every write acknowledged more than T ago (after a short wait
//     for its log), and waits while it lags by K versions.
//   - Session: a read carrying a token waits until the region reached it
//     (awaitSession), then 404/1002.
//   - Custom synchronization (x-meridian-sync-regions): the write returns
//     once the named regions hold it durably, waiting for them in parallel.

// others returns the names of the regions other than this one.
func (r *Region) others() []string {
	var out []string
	for _, o := range r.topo.Others(r.self.Name) {
		out = append(out, o.Name)
	}
	return out
}

// commitTimes remembers when recent LSNs committed in the write region, to
// measure how far behind in time a region's acknowledgements are.
type commitTimes struct {
	mu      sync.Mutex
	lsns    []int64
	times   []time.Time
	pending int64 // writes admitted and not yet finished
}

func (c *commitTimes) add(lsn int64, t time.Time) {
	c.mu.Lock()
	c.lsns = append(c.lsns, lsn)
	c.times = append(c.times, t)
	c.mu.Unlock()
}

// oldestAfterLocked returns the commit time of the first LSN above acked,
// and drops what every region has acknowledged (minAcked). c.mu is held.
func (c *commitTimes) oldestAfterLocked(acked, minAcked int64) (time.Time, bool) {
	i := 0
	for i < len(c.lsns) && c.lsns[i] <= minAcked {
		i++
	}
	c.lsns, c.times = c.lsns[i:], c.times[i:]
	for j, l := range c.lsns {
		if l > acked {
			return c.times[j], true
		}
	}
	return time.Time{}, false
}

// admitWrite enforces bounded staleness in the write region: a write is
// refused with 429 while a region would lag by more than K versions, or
// lags by T or more seconds. Writes admitted but not yet committed count
// toward the lag, so concurrent writes cannot overshoot K. Call release
// once the write finished (committed or not).
func (r *Region) admitWrite(p *partition.Partition) (release func(), err error) {
	nop := func() {}
	if r.level != session.BoundedStaleness || len(r.topo.Regions) < 2 {
		return nop, nil
	}
	pid := p.ID()
	k, t := r.topo.MaxStalenessPrefix, time.Duration(r.topo.MaxIntervalSeconds)*time.Second
	now := r.cfg.Clock()
	r.mu.RLock()
	ct := r.lag[uint32(pid)]
	r.mu.RUnlock()
	if ct == nil {
		return nop, nil
	}
	ct.mu.Lock()
	defer ct.mu.Unlock()
	head := p.Horizon() + ct.pending
	minAcked := head
	acks := map[string]int64{}
	for _, o := range r.others() {
		a, _ := r.tracker.Acked(pid, o)
		acks[o] = a
		minAcked = min(minAcked, a)
	}
	for _, o := range r.others() {
		acked := acks[o]
		if head-acked >= k {
			return nop, &resource.Error{Kind: resource.KindTooManyRequests, RetryAfterMs: 100, Substatus: 3200,
				Msg: fmt.Sprintf("Bounded staleness: region %q would be more than %d versions behind (K = %d); the write is throttled until it catches up.", o, head-acked, k)}
		}
		if since, ok := ct.oldestAfterLocked(acked, minAcked); ok && now.Sub(since) >= t {
			return nop, &resource.Error{Kind: resource.KindTooManyRequests, RetryAfterMs: 100, Substatus: 3200,
				Msg: fmt.Sprintf("Bounded staleness: region %q is %s behind (T = %s); the write is throttled until it catches up.", o, now.Sub(since).Round(time.Millisecond), t)}
		}
	}
	ct.pending++
	var once sync.Once
	return func() {
		once.Do(func() {
			ct.mu.Lock()
			ct.pending--
			ct.mu.Unlock()
		})
	}, nil
}

// afterWrite runs once a write is durable in this (the write) region at
// lsn: it records the commit time, and holds the acknowledgement until the
// regions the level or the request name hold the write durably.
func (r *Region) afterWrite(ctx context.Context, p *partition.Partition, lsn int64, o httpapi.RequestOptions) error {
	if lsn == 0 {
		return nil
	}
	pid := p.ID()
	r.mu.RLock()
	ct := r.lag[uint32(pid)]
	r.mu.RUnlock()
	if ct != nil && r.level == session.BoundedStaleness {
		ct.add(lsn, r.cfg.Clock())
	}
	var wait []string
	n := 0
	tok := session.Format(rangeID, session.Token{Version: r.epochOf(p), GlobalLSN: lsn})
	switch {
	case r.level == session.Strong && len(r.topo.Regions) > 1:
		acked, missing, err := r.strongCommit(ctx, pid, lsn, p.Applied())
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return &resource.Error{Kind: resource.KindRequestTimeout, Substatus: 20001, Msg: fmt.Sprintf(
				"The write is durable in %q at LSN %d (session token %s) but the Strong quorum did not acknowledge it in time: not acknowledged in time by %s; acknowledged by: %s. Its outcome is unknown: it may still commit.",
				r.self.Name, lsn, tok, strings.Join(missing, ", "), listOrNone(acked))}
		}
		return nil
	case len(o.SyncRegions) > 0:
		for _, name := range o.SyncRegions {
			reg, ok := r.topo.Region(name)
			if !ok {
				// Validated before the write; keep the check for safety.
				return resource.BadRequestf("x-meridian-sync-regions: %q is not a region of this account.", name)
			}
			if topology.Canonical(reg.Name) != topology.Canonical(r.self.Name) {
				wait = append(wait, reg.Name)
			}
		}
		n = len(wait)
	case o.SyncMinRegions > 0:
		wait = r.others()
		n = min(o.SyncMinRegions, len(wait))
	}
	if n == 0 {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, r.cfg.SyncTimeout)
	defer cancel()
	acked, err := r.tracker.WaitAcked(wctx, pid, lsn, wait, n)
	if err == nil {
		return nil
	}
	missing := missingOf(wait, acked)
	msg := fmt.Sprintf("The write is durable in %q at LSN %d (session token %s) but was not acknowledged in time by %s; acknowledged by: %s. Its outcome elsewhere is unknown: read it with the session token to learn whether it arrived.",
		r.self.Name, lsn, tok, strings.Join(missing, ", "), listOrNone(acked))
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return &resource.Error{Kind: resource.KindRequestTimeout, Substatus: 20001, Msg: msg}
}

func missingOf(all, got []string) []string {
	have := map[string]bool{}
	for _, g := range got {
		have[g] = true
	}
	var out []string
	for _, a := range all {
		if !have[a] {
			out = append(out, a)
		}
	}
	return out
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// validateSync checks the sync headers before a write runs.
func (r *Region) validateSync(o httpapi.RequestOptions) error {
	for _, name := range o.SyncRegions {
		if _, ok := r.topo.Region(name); !ok {
			return resource.BadRequestf("x-meridian-sync-regions: %q is not a region of this account.", name)
		}
	}
	if o.SyncMinRegions < 0 || o.SyncMinRegions > len(r.topo.Regions)-1 {
		return resource.BadRequestf("x-meridian-sync-min-regions: %d is out of range: this account has %d other regions.", o.SyncMinRegions, len(r.topo.Regions)-1)
	}
	return nil
}

// readBarrier holds a read at level until what it read may be returned:
// itemLSN is the LSN of the version read, or, when the read found nothing or
// scanned many items, the partition's Horizon observed after reading.
func (r *Region) readBarrier(ctx context.Context, level session.Level, p *partition.Partition, itemLSN int64) error {
	pid := p.ID()
	switch level {
	case session.Strong:
		if len(r.topo.Regions) < 2 {
			return nil
		}
		wctx, cancel := context.WithTimeout(ctx, r.cfg.SyncTimeout)
		defer cancel()
		if r.isWriteRegion() {
			if r.tracker.Committed(pid) >= itemLSN {
				return nil
			}
			if _, _, err := r.strongCommit(wctx, pid, itemLSN, p.Applied()); err != nil {
				return r.unavailable(ctx, "a strong read waits for the latest version to be committed by the Strong quorum")
			}
			return nil
		}
		// A region cut off from the write region stops being readable
		// within a lease; do not hold the read much longer than that.
		actx, acancel := context.WithTimeout(wctx, 2*r.cfg.QuorumLease)
		err := r.awaitStrongReadable(actx, pid, p)
		acancel()
		if err != nil {
			return r.unavailable(ctx, err.Error())
		}
		if err := r.recv.WaitProgress(wctx, pid, itemLSN); err != nil {
			return r.unavailable(ctx, "this region has not learned that the latest version is committed")
		}
		if ok, why := r.strongReadable(pid, p.Applied()); !ok {
			return r.unavailable(ctx, why)
		}
	case session.BoundedStaleness:
		// Checked before reading (readPrecheck): a read that had to wait
		// for the log to catch up must read after the wait.
	}
	return nil
}

func (r *Region) unavailable(ctx context.Context, why string) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return resource.Errorf(resource.KindServiceUnavailable, "Region %q cannot serve this read now: %s. Retry, or read from another region.", r.self.Name, why)
}

// awaitStrongReadable waits (polling briefly, bounded by ctx) until this
// read region may serve Strong reads: right after start or a reconnect it
// has not yet heard the write region's progress.
func (r *Region) awaitStrongReadable(ctx context.Context, pid uint64, p *partition.Partition) error {
	for {
		ok, why := r.strongReadable(pid, p.Applied())
		if ok {
			return nil
		}
		t := time.NewTimer(5 * time.Millisecond)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return errors.New(why)
		}
	}
}

// readPrecheck runs before a read reads anything: a Strong read in a read
// region waits until the region may serve Strong reads; a bounded-staleness
// read in a read region waits (briefly) or is refused unless the region's
// data is within the bounds. Checking bounded staleness after reading
// would return what was read before the wait: a stale value.
func (r *Region) readPrecheck(ctx context.Context, level session.Level, p *partition.Partition) error {
	if r.isWriteRegion() || r.recv == nil || len(r.topo.Regions) < 2 {
		return nil
	}
	switch level {
	case session.Strong:
		actx, cancel := context.WithTimeout(ctx, 2*r.cfg.QuorumLease)
		defer cancel()
		if err := r.awaitStrongReadable(actx, p.ID(), p); err != nil {
			return r.unavailable(ctx, err.Error())
		}
	case session.BoundedStaleness:
		return r.boundedPrecheck(ctx, p)
	}
	return nil
}

// boundedPrecheck holds a bounded-staleness read in a read region until its
// data covers every write acknowledged more than T ago and lags the write
// region's head by fewer than K versions, or refuses it (503).
func (r *Region) boundedPrecheck(ctx context.Context, p *partition.Partition) error {
	pid := p.ID()
	pr, ok := r.recv.Progress(pid)
	t := time.Duration(r.topo.MaxIntervalSeconds) * time.Second
	if !ok || r.cfg.Clock().Sub(pr.HeardAt) >= t {
		return r.unavailable(ctx, fmt.Sprintf("this region has not heard from the write region within the staleness bound T = %s", t))
	}
	// Hearing from the write region is not enough: right after a
	// partition heals this region hears it at once but still holds
	// data as old as the partition. Serve only data that covers
	// every write acknowledged more than T ago; else wait (at most
	// until T after the last message) for the log to catch up.
	if at, ok := r.recv.CoveredAt(pid, p.Applied()); !ok || r.cfg.Clock().Sub(at) >= t {
		wctx, cancel := context.WithTimeout(ctx, t-r.cfg.Clock().Sub(pr.HeardAt))
		err := p.WaitApplied(wctx, pr.Head)
		cancel()
		if at, ok := r.recv.CoveredAt(pid, p.Applied()); err != nil || !ok || r.cfg.Clock().Sub(at) >= t {
			return r.unavailable(ctx, fmt.Sprintf("this region's data is older than the staleness bound T = %s and has not caught up", t))
		}
	}
	if pr.Head-p.Applied() >= r.topo.MaxStalenessPrefix {
		wctx, cancel := context.WithTimeout(ctx, t)
		defer cancel()
		if err := p.WaitApplied(wctx, pr.Head-r.topo.MaxStalenessPrefix+1); err != nil {
			return r.unavailable(ctx, "this region lags by more than the staleness bound K")
		}
	}
	return nil
}
