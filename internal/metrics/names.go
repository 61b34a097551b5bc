package metrics

// The series a region exposes at /metrics. Every series carries region,
// the reporting region. partition is "catalog" or "db/container"; peer is
// the other region of a replication pair: a read region in the write
// region's series, the write region in a read region's series.
const (
	// Requests (httpapi.Instrument, per request).

	// NameRequests counts client requests {op, status, consistency}.
	NameRequests = "meridian_requests_total"
	// NameRequestDuration is a latency histogram {op, status, consistency}.
	NameRequestDuration = "meridian_request_duration_seconds"
	// NameSessionReads counts reads carrying a session token {op, outcome}.
	NameSessionReads = "meridian_session_reads_total"
	// NameSessionReadWait is the latency histogram of reads carrying a
	// session token: an upper bound of their wait for replication.
	NameSessionReadWait = "meridian_session_read_wait_seconds"
	// NameSessionNotAvailable counts 404/1002 answers.
	NameSessionNotAvailable = "meridian_session_not_available_total"
	// NameThrottled counts 429 answers {op}.
	NameThrottled = "meridian_throttled_requests_total"

	// Region state (read from the management API status at scrape time).

	// NameRegionInfo is 1 {role, write_region}.
	NameRegionInfo = "meridian_region_info"
	// NameRegionOffline is 1 while the region refuses client requests.
	NameRegionOffline = "meridian_region_offline"
	// NameAppliedLSN is the highest LSN the region holds durably {partition}.
	NameAppliedLSN = "meridian_applied_lsn"
	// NameCommittedLSN is, in a read region, the globally committed LSN as
	// last heard from the write region {partition}. (The write region's
	// own committed LSN is not in the status yet.)
	NameCommittedLSN = "meridian_committed_lsn"
	// NameUpstreamHeadLSN is, in a read region, the write region's head LSN
	// as last heard {peer, partition}.
	NameUpstreamHeadLSN = "meridian_upstream_head_lsn"
	// NamePeerAckedLSN is, in the write region, the highest LSN a read
	// region acknowledged as durable {peer, partition}.
	NamePeerAckedLSN = "meridian_peer_acked_lsn"
	// NameLagOps is, in the write region, head − acked: writes a read
	// region does not hold yet {peer, partition}.
	NameLagOps = "meridian_replication_lag_operations"
	// NameLagSeconds is, in the write region, the age of the oldest write a
	// read region does not hold {peer, partition}.
	NameLagSeconds = "meridian_replication_lag_seconds"
	// NameBehindOps is, in a read region, head − applied as last heard
	// {peer, partition}.
	NameBehindOps = "meridian_replication_behind_operations"
	// NameHeardAgo is, in a read region, the time since the write region
	// was last heard from {peer, partition}; absent if never.
	NameHeardAgo = "meridian_replication_heard_ago_seconds"
	// NameConnected is 1 while the replication stream of a pair is open
	// {peer, partition}.
	NameConnected = "meridian_replication_connected"
	// NameReachable is 0 while the simulated WAN partitions the pair
	// {peer}.
	NameReachable = "meridian_replication_reachable"
	// NameLinkRTT, NameLinkJitter and NameLinkPartitioned describe the
	// simulated WAN as this process sees it {a, b}; absent without one.
	NameLinkRTT         = "meridian_wan_link_rtt_seconds"
	NameLinkJitter      = "meridian_wan_link_jitter_seconds"
	NameLinkPartitioned = "meridian_wan_link_partitioned"

	// Pebble (storage.DB.Metrics at scrape time).

	NameWALBytes      = "meridian_storage_wal_bytes"
	NameDiskBytes     = "meridian_storage_disk_bytes"
	NameMemTableBytes = "meridian_storage_memtable_bytes"
	NameCompactions   = "meridian_storage_compactions_total"
	// NameWriteStalls counts Pebble write stalls (commits waiting for a
	// flush or an L0 compaction); NameWriteStallSeconds is their total time.
	NameWriteStalls       = "meridian_storage_write_stalls_total"
	NameWriteStallSeconds = "meridian_storage_write_stall_seconds_total"

	// Raft (placeholders fed by Metrics.SetRaftState).

	// NameRaftIsLeader is 1 if this region's node leads.
	NameRaftIsLeader = "meridian_raft_is_leader"
	// NameRaftLeader is 1 {leader}: who leads, as this node knows it.
	NameRaftLeader       = "meridian_raft_leader"
	NameRaftTerm         = "meridian_raft_term"
	NameRaftCommitIndex  = "meridian_raft_commit_index"
	NameRaftAppliedIndex = "meridian_raft_applied_index"
	// NameEpoch is the account epoch the region adopted.
	NameEpoch = "meridian_control_epoch"
	// NameFailovers counts completed failovers by kind.
	NameFailovers = "meridian_failovers"
	// NameFailoverLostWrites counts the log entries failovers removed.
	NameFailoverLostWrites = "meridian_failover_lost_writes"
)

// Group commit.
const (
	NameGroupCommitDuration = "meridian_group_commit_duration_seconds"
	NameGroupCommitEntries  = "meridian_group_commit_entries"
	NameConflicts           = "meridian_conflicts_total"
)
