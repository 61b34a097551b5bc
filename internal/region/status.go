package region

import (
	"strconv"
	"time"

	"github.com/meridiandb/meridian/internal/admin"
	"github.com/meridiandb/meridian/internal/catalog"
	"github.com/meridiandb/meridian/internal/repl"
	"github.com/meridiandb/meridian/internal/replog"
)

// Status reports the region's replication state for the management API:
// its role, and per partition (the catalog first, then every container)
// the applied LSN and, in the write region, each peer's acknowledgement
// and lag, or, in a read region, what it last heard from the write region.
// Offline, Reachable and the WAN fields are the caller's to fill.
func (r *Region) Status() admin.Status {
	now := r.cfg.Clock()
	v := r.view.Load()
	w, _ := r.topo.Region(v.writerName()) // the file may spell it differently
	st := admin.Status{
		Region: r.self.Name, Role: admin.RoleRead, WriteRegion: w.Name,
		Account: r.topo.Account, Consistency: r.level.String(), Time: now,
		Epoch: v.epoch,
	}
	if v.active {
		st.Role = admin.RoleWrite
	}
	if v.failover != nil {
		st.Failover = string(v.failover.Phase)
	}
	for _, reg := range r.topo.Regions {
		role := admin.RoleRead
		if reg.Name == w.Name || r.mw {
			role = admin.RoleWrite
		}
		st.Regions = append(st.Regions, admin.RegionInfo{Name: reg.Name, Endpoint: reg.Endpoint, Role: role})
	}
	if r.fsm != nil {
		cs := r.fsm.state()
		ci := &admin.ControlInfo{Regions: map[string]string{}}
		if r.node != nil {
			ci.Leader, _ = r.node.Leader()
		}
		for _, reg := range cs.Regions {
			ci.Regions[reg.Name] = string(reg.Status)
		}
		for _, f := range cs.Past {
			ci.Failovers = append(ci.Failovers, admin.FailoverInfo{Kind: string(f.Kind), Epoch: f.Epoch, Deposed: f.Deposed,
				Target: f.Target, Reason: f.Reason, FencedAt: f.FencedAt, PromotedAt: f.PromotedAt, LostWrites: f.LostWrites()})
		}
		for pid, hs := range cs.History {
			if ci.History == nil {
				ci.History = map[string][]admin.EpochStart{}
			}
			for _, e := range hs {
				k := strconv.FormatUint(pid, 10)
				ci.History[k] = append(ci.History[k], admin.EpochStart{Epoch: e.Epoch, Start: e.Start})
			}
		}
		st.Control = ci
	}
	// The catalog: in a multi-region account it is applied from the control
	// plane's log (no upstream, no peers); Applied is its position there.
	st.Partitions = append(st.Partitions, admin.Partition{ID: catalog.LogPartition, Applied: r.cat.Applied()})
	for _, co := range r.cat.AllContainers() {
		r.mu.RLock()
		p := r.parts[co.Num]
		r.mu.RUnlock()
		if p == nil {
			continue // dropped or not open yet
		}
		st.Partitions = append(st.Partitions, r.partitionStatus(now, w.Name, admin.Partition{ID: uint64(co.Num), Database: co.DB, Container: co.ID}, p))
	}
	return st
}

// partitionStatus fills ps for one log.
func (r *Region) partitionStatus(now time.Time, writeRegion string, ps admin.Partition, src repl.Source) admin.Partition {
	head := src.Applied()
	ps.Applied = head
	if r.recv != nil && !r.isWriteRegion() {
		up := &admin.Upstream{Region: writeRegion, HeardAgoMs: -1, Reachable: true}
		if pr, ok := r.recv.Progress(ps.ID); ok {
			up.Head, up.Committed, up.HeardAt, up.Connected = pr.Head, pr.Committed, pr.HeardAt, pr.Connected
			up.HeardAgoMs = max(now.Sub(pr.HeardAt).Milliseconds(), 0)
			up.Behind = max(pr.Head-head, 0)
		}
		ps.Upstream = up
		return ps
	}
	peers := r.tracker.Peers(ps.ID)
	for _, name := range r.others() {
		st := peers[name]
		p := admin.Peer{Region: name, Acked: st.Acked, Connected: st.Connected, LastSeen: st.LastSeen, Reachable: true}
		if st.Acked < head {
			p.LagOps = head - st.Acked
			p.LagMs = lagMs(now, src, st)
		}
		ps.Peers = append(ps.Peers, p)
	}
	return ps
}

// lagMs is how long ago the oldest write the peer does not hold was
// committed: its log entry's timestamp. If the entry is no longer in the
// log, the time since the peer's last acknowledgement stands in.
func lagMs(now time.Time, src repl.Source, st repl.PeerState) int64 {
	var ts int64
	err := src.ReadLog(st.Acked, 1, func(e *replog.Entry) bool {
		if e.LSN == st.Acked+1 {
			ts = e.TS
		}
		return false
	})
	var since time.Time
	switch {
	case err == nil && ts != 0:
		since = time.Unix(0, ts)
	case !st.AckedAt.IsZero():
		since = st.AckedAt
	default:
		return 0
	}
	return max(now.Sub(since).Milliseconds(), 0)
}
