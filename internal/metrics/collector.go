package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridiandb/meridian/internal/admin"
	"github.com/meridiandb/meridian/internal/storage"
)

// stateCollector reads the region's state when Prometheus scrapes: the
// management API status (roles, LSNs, lag, reachability, WAN links),
// Pebble's counters and the Raft placeholder. Nothing on the write or
// replication path is touched.
type stateCollector struct {
	m       *Metrics
	status  func() admin.Status
	storage func() storage.Metrics
	raft    func() (RaftState, bool)
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, append([]string{"region"}, labels...), nil)
}

var (
	descRegionInfo   = desc(NameRegionInfo, "Always 1: the region's role (write or read) and the account's write region.", "role", "write_region")
	descOffline      = desc(NameRegionOffline, "1 while the region was taken offline through the management API (it answers 503 to client requests and keeps replicating).")
	descApplied      = desc(NameAppliedLSN, "Highest LSN the region holds durably, per partition (catalog or db/container).", "partition")
	descCommitted    = desc(NameCommittedLSN, "Read regions: the globally committed LSN as last heard from the write region, per partition.", "partition")
	descUpstreamHead = desc(NameUpstreamHeadLSN, "Read regions: the write region's head LSN as last heard, per partition.", "peer", "partition")
	descAcked        = desc(NamePeerAckedLSN, "Write region: highest LSN a read region acknowledged as durable, per partition.", "peer", "partition")
	descLagOps       = desc(NameLagOps, "Write region: writes a read region does not hold yet (head - acked), per partition.", "peer", "partition")
	descLagSeconds   = desc(NameLagSeconds, "Write region: age of the oldest write a read region does not hold, per partition; 0 when caught up.", "peer", "partition")
	descBehind       = desc(NameBehindOps, "Read regions: the write region's head LSN minus the applied LSN, as last heard, per partition.", "peer", "partition")
	descHeardAgo     = desc(NameHeardAgo, "Read regions: time since the write region was last heard from, per partition.", "peer", "partition")
	descConnected    = desc(NameConnected, "1 while the replication stream between the region and its peer is open, per partition.", "peer", "partition")
	descReachable    = desc(NameReachable, "0 while the simulated WAN partitions the region from its peer.", "peer")
	descLinkRTT      = desc(NameLinkRTT, "Configured round trip of a simulated WAN link (both one-way delays).", "a", "b")
	descLinkJitter   = desc(NameLinkJitter, "Configured jitter of a simulated WAN link.", "a", "b")
	descLinkPart     = desc(NameLinkPartitioned, "1 while a simulated WAN link is partitioned (either direction).", "a", "b")
	descWAL          = desc(NameWALBytes, "Pebble: size of the live write-ahead log.")
	descDisk         = desc(NameDiskBytes, "Pebble: disk space used by the store.")
	descMemTable     = desc(NameMemTableBytes, "Pebble: bytes allocated by memtables.")
	descCompactions  = desc(NameCompactions, "Pebble: compactions since the store was opened.")
	descStalls       = desc(NameWriteStalls, "Pebble: write stalls (every commit waited for a flush or an L0 compaction) since the store was opened.")
	descStallSeconds = desc(NameWriteStallSeconds, "Pebble: total time commits were stalled since the store was opened.")
	descRaftIsLeader = desc(NameRaftIsLeader, "1 if this region's Raft node is the control-plane leader.")
	descEpoch        = desc(NameEpoch, "The account epoch this region adopted (the session-token version); it grows by one with every failover.")
	descFailovers    = desc(NameFailovers, "Failovers completed since the account was created, by kind (Automatic, Manual).", "kind")
	descLostWrites   = desc(NameFailoverLostWrites, "Log entries failovers removed because no surviving region held them (published to the conflicts feeds when their region returned).")
	descRaftLeader   = desc(NameRaftLeader, "Always 1: the control-plane leader as this region's Raft node knows it.", "leader")
	descRaftTerm     = desc(NameRaftTerm, "Current Raft term of this region's node.")
	descRaftCommit   = desc(NameRaftCommitIndex, "Raft commit index of this region's node.")
	descRaftApplied  = desc(NameRaftAppliedIndex, "Raft applied index of this region's node.")
)

var allDescs = []*prometheus.Desc{
	descRegionInfo, descOffline, descApplied, descCommitted, descUpstreamHead, descAcked, descLagOps, descLagSeconds,
	descBehind, descHeardAgo, descConnected, descReachable, descLinkRTT, descLinkJitter, descLinkPart,
	descWAL, descDisk, descMemTable, descCompactions, descStalls, descStallSeconds,
	descRaftIsLeader, descRaftLeader, descRaftTerm, descRaftCommit, descRaftApplied,
	descEpoch, descFailovers, descLostWrites,
}

// Describe implements prometheus.Collector.
func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	region := c.m.region
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{region}, labels...)...)
	}
	if c.status != nil {
		collectStatus(c.status(), gauge)
	}
	if c.storage != nil {
		s := c.storage()
		gauge(descWAL, float64(s.WALBytes))
		gauge(descDisk, float64(s.DiskBytes))
		gauge(descMemTable, float64(s.MemTableSize))
		ch <- prometheus.MustNewConstMetric(descCompactions, prometheus.CounterValue, float64(s.Compactions), region)
		ch <- prometheus.MustNewConstMetric(descStalls, prometheus.CounterValue, float64(s.WriteStalls), region)
		ch <- prometheus.MustNewConstMetric(descStallSeconds, prometheus.CounterValue, s.WriteStallTime.Seconds(), region)
	}
	r := c.m.raftState() // pushed (SetRaftState), unless the node is read below
	if c.raft != nil {
		if st, ok := c.raft(); ok {
			r, r.set = st, true
		}
	}
	if r.set {
		gauge(descRaftIsLeader, b2f(r.IsLeader))
		if r.Leader != "" {
			gauge(descRaftLeader, 1, r.Leader)
		}
		gauge(descRaftTerm, float64(r.Term))
		gauge(descRaftCommit, float64(r.CommitIndex))
		gauge(descRaftApplied, float64(r.AppliedIndex))
	}
}

// collectStatus turns one status into gauges. A peer that appears in
// several partitions gets one reachable series.
func collectStatus(st admin.Status, gauge func(*prometheus.Desc, float64, ...string)) {
	gauge(descRegionInfo, 1, st.Role, st.WriteRegion)
	gauge(descOffline, b2f(st.Offline))
	if st.Control != nil {
		gauge(descEpoch, float64(st.Epoch))
		kinds := map[string]float64{"Automatic": 0, "Manual": 0}
		var lost float64
		for _, f := range st.Control.Failovers {
			kinds[f.Kind]++
			lost += float64(f.LostWrites)
		}
		for k, n := range kinds {
			gauge(descFailovers, n, k)
		}
		gauge(descLostWrites, lost)
	}
	reachable := map[string]bool{}
	for _, p := range st.Partitions {
		name := p.Name()
		gauge(descApplied, float64(p.Applied), name)
		for _, peer := range p.Peers {
			gauge(descAcked, float64(peer.Acked), peer.Region, name)
			gauge(descLagOps, float64(peer.LagOps), peer.Region, name)
			gauge(descLagSeconds, ms(peer.LagMs), peer.Region, name)
			gauge(descConnected, b2f(peer.Connected), peer.Region, name)
			reachable[peer.Region] = peer.Reachable
		}
		if up := p.Upstream; up != nil {
			gauge(descCommitted, float64(up.Committed), name)
			gauge(descUpstreamHead, float64(up.Head), up.Region, name)
			gauge(descBehind, float64(up.Behind), up.Region, name)
			if up.HeardAgoMs >= 0 {
				gauge(descHeardAgo, ms(up.HeardAgoMs), up.Region, name)
			}
			gauge(descConnected, b2f(up.Connected), up.Region, name)
			reachable[up.Region] = up.Reachable
		}
	}
	for peer, ok := range reachable {
		gauge(descReachable, b2f(ok), peer)
	}
	for _, l := range st.Links {
		gauge(descLinkRTT, time.Duration(l.RTT).Seconds(), l.A, l.B)
		gauge(descLinkJitter, time.Duration(l.Jitter).Seconds(), l.A, l.B)
		gauge(descLinkPart, b2f(l.Partitioned), l.A, l.B)
	}
}

func ms(v int64) float64 { return float64(v) / 1000 }

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
