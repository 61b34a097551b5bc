package region

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/meridiandb/meridian/internal/control"
	"github.com/meridiandb/meridian/internal/partition"
	"github.com/meridiandb/meridian/internal/repl"
)

// Roles follow the control state. One goroutine per region (runRoles)
// reconciles the region with the latest control state whenever it changes
// (and on a tick): it fences its partitions when it stops being the write
// region, promotes them when it becomes it, stops following a fenced write
// region and reports its final progress, catches up and proposes the
// promotion when it is the failover's target, follows the write region
// otherwise, and, returning after it was deposed, publishes its
// never-replicated writes to the conflicts feeds, drops them and rejoins.
//
// The write lease (runLease): the write region accepts a write only until
// leaseUntil, which it extends to s + WriteLease each time a no-op proposal
// started at s commits and the state it then reads still names it the
// write region of its epoch. Any fence committed after s is what a later
// renewal would see, so the deposed region stops writing by fence time +
// WriteLease; control.FenceSafeAt makes the new write region wait that
// long (plus skew) before it writes.

// leaseCmd is the no-op command a lease renewal (and the start-up
// barrier) proposes; the FSM applies it without changing the state.
var leaseCmd = []byte(`{"kind":"Lease"}`)

func isLeaseCmd(b []byte) bool { return bytes.Equal(b, leaseCmd) }

// runRoles is the reconciler (see above).
func (r *Region) runRoles(ctx context.Context) {
	defer r.wg.Done()
	// Read the latest state first: a region restarting after it was
	// deposed must not act on the state its Raft log replayed so far.
	for ctx.Err() == nil {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := r.node.Propose(pctx, leaseCmd)
		cancel()
		if err == nil {
			break
		}
		r.log.Debug("control plane not reachable yet", "err", err)
		if r.waitControl(ctx, 100*time.Millisecond) != nil {
			return
		}
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	lastErr := ""
	for {
		err := r.reconcile(ctx, r.fsm.state())
		if ctx.Err() != nil {
			return
		}
		if err != nil && err.Error() != lastErr {
			r.log.Warn("reconciling with the control plane failed; retrying", "err", err)
		}
		lastErr = ""
		if err != nil {
			lastErr = err.Error()
		}
		select {
		case <-ctx.Done():
			return
		case <-r.fsm.changed:
		case <-tick.C:
		}
	}
}

// reconcile makes the region play the role st gives it. It is idempotent:
// it runs again on every change and tick, and resumes where a failed step
// left off.
func (r *Region) reconcile(ctx context.Context, st *control.State) error {
	me := r.self.Name
	reg, _ := st.Region(me)
	f := st.Failover
	v := *r.view.Load()
	v.writer, v.history, v.failover = st.WriteRegion, st.History, f

	// 1. No longer the write region of its epoch: stop writing and wait
	//    for the writes already admitted.
	if v.active && !(st.WriteRegion == me && st.Epoch == v.epoch) {
		v.active = false
		r.leaseUntil.Store(0)
		r.view.Store(&v)
		r.fenceLocal(ctx)
		r.log.Warn("this region is no longer the write region: writes fenced", "epoch", st.Epoch, "write_region", st.WriteRegion)
	}

	// 2. Deposed by an automatic failover: it may hold writes no survivor
	//    has. Serve nothing, follow nobody, and rejoin once the failover
	//    is over.
	if reg.Status == control.StatusFencedOut {
		if !v.diverged {
			v.diverged = true
			r.view.Store(&v)
			r.unfollowAll()
			r.log.Warn("this region was deposed by a failover: it serves nothing until it has rejoined", "epoch", st.Epoch)
		}
		r.view.Store(&v)
		if f != nil && (f.Phase == control.PhaseFenced || f.Phase == control.PhaseCatchingUp) && r.reported != f.Epoch {
			// Still holding its data (it has not rejoined): report it, so
			// that the failover can catch up from it — the only copy of
			// the committed log may be here when the others are down or
			// rejoining. The report also proves it stopped writing.
			if _, ok := f.Reports[me]; !ok {
				if _, err := r.propose(ctx, control.Report{Region: me, Progress: r.localProgress(f.Epoch), At: r.cfg.Clock()}); err != nil {
					return fmt.Errorf("report progress for epoch %d: %w", f.Epoch, err)
				}
			}
			r.reported = f.Epoch
		}
		if st.WriteRegion == "" || (f != nil && f.Phase != control.PhaseRequested) {
			return nil
		}
		return r.rejoinAfterFailover(ctx, st, &v)
	}

	// 3. A fenced failover: adopt its epoch (stop following the deposed
	//    write region) and report what this region holds.
	if f != nil && (f.Phase == control.PhaseFenced || f.Phase == control.PhaseCatchingUp) {
		if f.Epoch > v.epoch {
			r.unfollowAll()
			v.epoch = f.Epoch
			r.view.Store(&v)
			r.log.Info("failover: adopted the fence", "epoch", f.Epoch, "deposed", f.Deposed)
		}
		if _, ok := f.Reports[me]; !ok && r.reported != f.Epoch {
			prog := r.localProgress(f.Epoch)
			if _, err := r.propose(ctx, control.Report{Region: me, Progress: prog, At: r.cfg.Clock()}); err != nil {
				return fmt.Errorf("report progress for epoch %d: %w", f.Epoch, err)
			}
			r.reported = f.Epoch
		}
		if f.Phase == control.PhaseCatchingUp && f.Target == me {
			return r.catchUpAndPromote(ctx, st)
		}
		r.view.Store(&v)
		return nil
	}

	// 4. Steady state.
	if st.WriteRegion == "" {
		r.view.Store(&v)
		return nil
	}
	if st.Epoch > v.epoch {
		// The region missed a failover (it was down, or the failover was
		// forced without its report): drop what that failover removed.
		if err := r.dropDivergent(ctx, st, st.WriteRegion, nil); err != nil {
			return err
		}
		v.epoch = st.Epoch
		v.diverged = false
	}
	if st.WriteRegion == me {
		if !v.active {
			r.promoteLocal(st.Epoch)
			v.active = true
			r.renewLease(ctx, st.Epoch)
			r.log.Info("this region is the write region", "epoch", st.Epoch)
		}
	} else {
		r.view.Store(&v)
		r.followAll(st.WriteRegion)
	}
	r.view.Store(&v)
	return nil
}

// localProgress is this region's report for a failover of epoch: every
// log's durable LSN and the epoch of its entry there.
func (r *Region) localProgress(epoch int64) control.RegionProgress {
	prog := control.RegionProgress{Epoch: epoch, Partitions: map[uint64]control.PartProgress{}}
	add := func(pid uint64, applied, lastEpoch int64) {
		if applied == 0 {
			lastEpoch = 0
		}
		prog.Partitions[pid] = control.PartProgress{Durable: applied, LastEpoch: lastEpoch}
	}
	for pid, p := range r.partitions() {
		add(pid, p.Applied(), p.Epoch())
	}
	return prog
}

// partitions returns a copy of the open partitions by id.
func (r *Region) partitions() map[uint64]*partition.Partition {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make(map[uint64]*partition.Partition, len(r.parts))
	for n, p := range r.parts {
		out[uint64(n)] = p
	}
	return out
}

// applier returns the local replica of partition pid.
func (r *Region) applier(pid uint64) (*partition.Partition, bool) {
	r.mu.RLock()
	p := r.parts[uint32(pid)]
	r.mu.RUnlock()
	return p, p != nil
}

// fenceLocal stops local writes everywhere and waits for those admitted.
// (The catalog needs no fencing: its changes go through the Raft log.)
func (r *Region) fenceLocal(ctx context.Context) {
	for _, p := range r.partitions() {
		fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := p.Fence(fctx); err != nil && !errors.Is(err, partition.ErrClosed) {
			r.log.Error("fencing a partition did not finish", "partition", p.ID(), "err", err)
		}
		cancel()
	}
}

// promoteLocal makes every log writable in epoch.
func (r *Region) promoteLocal(epoch int64) {
	r.unfollowAll()
	r.mu.Lock()
	r.quorums = map[uint32]*quorum{}
	for n := range r.lag {
		r.lag[n] = &commitTimes{}
	}
	r.mu.Unlock()
	for _, p := range r.partitions() {
		p.Promote(epoch)
	}
}

// followAll subscribes every log to writer (idempotent).
func (r *Region) followAll(writer string) {
	if r.recv == nil {
		return
	}
	w, ok := r.topo.Region(writer)
	if !ok {
		return
	}
	for pid, p := range r.partitions() {
		r.recv.Follow(pid, w.Name, w.Peer, p)
	}
}

// followOne subscribes a newly opened partition to the write region, if
// this region follows one now.
func (r *Region) followOne(p *partition.Partition) {
	if r.mw {
		r.followPeers(p)
		return
	}
	v := r.view.Load()
	if r.recv == nil || v == nil || v.writer == "" || v.writer == r.self.Name || v.diverged || v.failover != nil {
		return
	}
	if w, ok := r.topo.Region(v.writer); ok {
		r.recv.Follow(p.ID(), w.Name, w.Peer, p)
	}
}

func (r *Region) unfollowAll() {
	if r.recv == nil {
		return
	}
	for pid := range r.partitions() {
		r.recv.Unfollow(pid)
	}
}

// catchUpAndPromote runs on the failover's target: it pulls every planned
// log up to its TargetLSN from the plan's source, waits until the deposed
// region's lease has certainly expired (unless it drained), and proposes
// its promotion.
func (r *Region) catchUpAndPromote(ctx context.Context, st *control.State) error {
	f := st.Failover
	start := time.Now()
	for pid, pp := range f.Plan {
		app, ok := r.applier(pid)
		if !ok {
			if pp.TargetLSN == 0 {
				continue
			}
			return fmt.Errorf("catch-up: partition %d is not open here", pid)
		}
		if app.Applied() < pp.TargetLSN {
			src, ok := r.topo.Region(pp.Source)
			if !ok || src.Name == r.self.Name {
				return fmt.Errorf("catch-up: partition %d: bad source %q", pid, pp.Source)
			}
			r.log.Info("failover: catching up", "partition", pid, "from", src.Name, "applied", app.Applied(), "target", pp.TargetLSN)
			r.recv.Follow(pid, src.Name, src.Peer, app)
			err := r.waitApplied(ctx, app, pp.TargetLSN, f.Epoch)
			r.recv.Unfollow(pid)
			if err != nil {
				return fmt.Errorf("catch-up of partition %d to %d from %s: %w", pid, pp.TargetLSN, src.Name, err)
			}
		}
		if app.Applied() > pp.TargetLSN {
			return fmt.Errorf("catch-up: partition %d holds %d, beyond the plan's %d", pid, app.Applied(), pp.TargetLSN)
		}
	}
	caughtUp := time.Since(start)
	if !f.Drained {
		if d := f.SafeAt.Sub(r.cfg.Clock()); d > 0 {
			if err := r.waitControl(ctx, d); err != nil {
				return err
			}
		}
	}
	startLSN := make(map[uint64]int64, len(f.Plan))
	for pid, pp := range f.Plan {
		startLSN[pid] = pp.TargetLSN + 1
	}
	if _, err := r.propose(ctx, control.Promote{Epoch: f.Epoch, Target: r.self.Name, StartLSN: startLSN, At: r.cfg.Clock()}); err != nil {
		return fmt.Errorf("propose promotion: %w", err)
	}
	r.log.Info("failover: promoted", "epoch", f.Epoch, "catch_up", caughtUp.Round(time.Millisecond))
	return nil
}

// waitApplied waits until app has applied lsn, or the failover of epoch is
// re-planned (the control state changed under it), or ctx ends.
func (r *Region) waitApplied(ctx context.Context, app repl.Applier, lsn, epoch int64) error {
	for app.Applied() < lsn {
		st := r.fsm.state()
		if st.Failover == nil || st.Failover.Epoch != epoch || st.Failover.Target != r.self.Name {
			return errors.New("the failover was re-planned")
		}
		if err := r.waitControl(ctx, 10*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

// rejoinAfterFailover returns a deposed region to service: it publishes, drops and
// reports the writes the failover removed, then proposes Rejoin.
func (r *Region) rejoinAfterFailover(ctx context.Context, st *control.State, v *roleView) error {
	trunc := map[uint64]control.LSNRange{}
	if err := r.dropDivergent(ctx, st, st.WriteRegion, trunc); err != nil {
		return err
	}
	if _, err := r.propose(ctx, control.Rejoin{Region: r.self.Name, Epoch: st.Epoch, Truncated: trunc, At: r.cfg.Clock()}); err != nil {
		return fmt.Errorf("propose rejoin: %w", err)
	}
	var lost int64
	for _, rg := range trunc {
		lost += rg.Len()
	}
	r.log.Warn("rejoined after a failover as a read region", "epoch", st.Epoch, "removed_writes", lost)
	v.epoch, v.diverged = st.Epoch, false
	r.view.Store(v)
	r.followAll(st.WriteRegion)
	return nil
}

// dropDivergent removes, from every log of this region, the suffix the
// failovers in st's history truncated (control.Divergence): the item
// changes in it are published first to the write region's conflicts feed
// (idempotently), then the partition is emptied and rebuilt from the write
// region. trunc, if not nil, receives the removed ranges.
func (r *Region) dropDivergent(ctx context.Context, st *control.State, writer string, trunc map[uint64]control.LSNRange) error {
	w, ok := r.topo.Region(writer)
	if !ok {
		return fmt.Errorf("unknown write region %q", writer)
	}
	for pid, p := range r.partitions() {
		from, to, ok := control.Divergence(st.History, pid, p.Epoch(), p.Applied())
		if !ok {
			continue
		}
		recs, err := p.UnreplicatedConflicts(from, to, r.self.Name)
		if err != nil {
			return fmt.Errorf("read the removed writes of partition %d: %w", pid, err)
		}
		out := make([]repl.ConflictRecord, len(recs))
		for i, c := range recs {
			out[i] = repl.ConflictRecord{ID: c.ID, JSON: c.JSON}
		}
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = repl.PublishConflicts(pctx, r.replConfig(), w.Name, w.Peer, pid, out)
		cancel()
		if err != nil {
			return err
		}
		if err := r.resetPartition(pid); err != nil {
			return err
		}
		r.log.Warn("removed writes no surviving region held; they are in the conflicts feed", "partition", pid, "from", from, "to", to, "records", len(out))
		if trunc != nil {
			trunc[pid] = control.LSNRange{From: from, To: to}
		}
	}
	return nil
}

// resetPartition empties partition pid (data, log, change feed, conflicts)
// and reopens it empty, to be rebuilt by replication.
func (r *Region) resetPartition(pid uint64) error {
	if r.recv != nil {
		r.recv.Unfollow(pid)
	}
	r.mu.Lock()
	p := r.parts[uint32(pid)]
	delete(r.parts, uint32(pid))
	r.mu.Unlock()
	if p != nil {
		p.Close()
	}
	if err := partition.DeleteData(r.cfg.DB, pid); err != nil {
		return fmt.Errorf("empty partition %d: %w", pid, err)
	}
	for _, co := range r.cat.AllContainers() {
		if uint64(co.Num) == pid {
			_, err := r.openPartition(co)
			return err
		}
	}
	return nil
}

func (r *Region) replConfig() repl.Config {
	return repl.Config{Region: r.self.Name, Secret: r.cfg.PeerSecret, Dial: r.cfg.Dial, Logger: r.log, Clock: r.cfg.Clock}
}

// runLease keeps the write region's lease (see the top of this file).
func (r *Region) runLease(ctx context.Context) {
	defer r.wg.Done()
	every := r.ctl.WriteLease / 4
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if v := r.view.Load(); v != nil && v.active {
			r.renewLease(ctx, v.epoch)
		}
	}
}

// renewLease extends the lease if a no-op proposal started now commits and
// the state still names this region the write region of epoch.
func (r *Region) renewLease(ctx context.Context, epoch int64) {
	s := time.Now()
	pctx, cancel := context.WithTimeout(ctx, r.ctl.WriteLease)
	_, err := r.node.Propose(pctx, leaseCmd)
	cancel()
	if err != nil {
		return
	}
	st := r.fsm.state()
	if st.WriteRegion != r.self.Name || st.Epoch != epoch {
		return
	}
	until := s.Add(r.ctl.WriteLease).UnixNano()
	for {
		cur := r.leaseUntil.Load()
		if until <= cur || r.leaseUntil.CompareAndSwap(cur, until) {
			return
		}
	}
}

// holdsLease reports whether the write region may accept a write now.
//
// With automatic failover off (DetectTimeout < 0) nobody fences the write
// region behind its back — a manual failover drains it first — so a write
// region cut off from the control plane keeps accepting writes, as Cosmos
// DB's does.
func (r *Region) holdsLease() bool {
	if r.node == nil || r.ctl.DetectTimeout < 0 {
		return true
	}
	return time.Now().UnixNano() < r.leaseUntil.Load()
}
