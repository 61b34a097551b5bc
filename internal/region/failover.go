package region

import (
	"context"
	"time"

	"github.com/meridiandb/meridian/internal/control"
)

// The failover driver runs in every region and acts only while its Raft
// node leads the control plane. It watches the write region's contact with
// the control plane and, through Raft proposals, moves a failover along:
//
//	detect (control.ShouldFailover) → Fence{e+1}
//	every survivor adopts e+1 and Reports (roles.go)
//	→ Plan (control.ChooseTarget, or control.DrainPlan for a manual one)
//	the target catches up and proposes Promote (roles.go)
//
// With no failover in progress it also hands Raft leadership to the write
// region, so that the write lease depends on a majority of regions rather
// than on one read region staying up.

// driverTick is how often the driver looks at the state.
const driverTick = 50 * time.Millisecond

// runDriver is the failover driver (see above).
func (r *Region) runDriver(ctx context.Context) {
	defer r.wg.Done()
	t := time.NewTicker(driverTick)
	defer t.Stop()
	var (
		leading      bool
		contacts     map[string]time.Time // when each region was last heard from, as leader
		lastTransfer time.Time
		heardLeader  = map[string]time.Time{} // as follower: when each leader was last heard
	)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := r.cfg.Clock()
		if !r.node.IsLeader() {
			leading = false
			if id, ok := r.node.Leader(); ok {
				if c := r.node.LeaderContact(); c < time.Hour {
					heardLeader[id] = now.Add(-c)
				}
			}
			continue
		}
		if !leading {
			// Newly elected: no contact recorded is no evidence of failure,
			// except for the leader this region lost contact with.
			leading = true
			contacts = map[string]time.Time{}
			for _, reg := range r.topo.Regions {
				contacts[reg.Name] = now
			}
			for id, at := range heardLeader {
				if _, ok := contacts[id]; ok && id != r.self.Name {
					contacts[id] = at
				}
			}
		}
		for id, at := range r.node.FollowerContact() {
			if at.After(contacts[id]) {
				contacts[id] = at
			}
		}
		contacts[r.self.Name] = now
		st := r.fsm.state()
		if err := r.drive(ctx, st, now, contacts, &lastTransfer); err != nil && ctx.Err() == nil {
			r.log.Warn("failover driver step failed; retrying", "err", err)
		}
	}
}

// drive takes the next step of the failover in st, if any.
func (r *Region) drive(ctx context.Context, st *control.State, now time.Time, contacts map[string]time.Time, lastTransfer *time.Time) error {
	f := st.Failover
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	switch {
	case f == nil && st.WriteRegion != "":
		if ok, why := control.ShouldFailover(now, contacts, st.WriteRegion, r.ctl.DetectTimeout); ok && r.ctl.DetectTimeout > 0 {
			if !control.HasTakeover(st) {
				r.log.Debug("failover: the write region is unreachable, but no other region is healthy enough to take over; waiting", "write_region", st.WriteRegion)
				return nil
			}
			r.log.Warn("failover: the write region is unreachable; fencing it", "write_region", st.WriteRegion, "why", why)
			_, err := r.propose(pctx, control.Fence{Epoch: st.Epoch + 1, Deposed: st.WriteRegion, Reason: why, At: now})
			return err
		}
		if st.WriteRegion != r.self.Name && now.Sub(contacts[st.WriteRegion]) < time.Second && now.Sub(*lastTransfer) > 2*time.Second {
			*lastTransfer = now
			if w, ok := r.topo.Region(st.WriteRegion); ok {
				if err := r.node.TransferLeadership(pctx, w.Name, w.Peer); err != nil {
					r.log.Debug("leadership transfer to the write region failed", "err", err)
				}
			}
		}
	case f != nil && f.Phase == control.PhaseRequested:
		_, err := r.propose(pctx, control.Fence{Epoch: st.Epoch + 1, Deposed: st.WriteRegion, Planned: true,
			Reason: "manual failover to " + f.Target, At: now})
		return err
	case f != nil && f.Phase == control.PhaseFenced:
		var (
			target string
			plan   map[uint64]control.PartPlan
			err    error
		)
		drained := f.Kind == control.Manual
		if drained {
			rep, ok := f.Reports[f.Deposed]
			if !ok {
				return nil // the old write region has not reported its final heads yet
			}
			target, plan, err = control.DrainPlan(st, rep)
		} else {
			if len(control.Unreported(st, f.Reports)) > 0 {
				return nil // waiting for every survivor's report
			}
			target, plan, err = control.ChooseTarget(st, f.Reports, false)
		}
		if err != nil {
			return err
		}
		r.log.Info("failover: planned", "epoch", f.Epoch, "target", target, "drained", drained)
		_, err = r.propose(pctx, control.Plan{Epoch: f.Epoch, Target: target, Partitions: plan, Drained: drained, At: now})
		return err
	}
	return nil
}
