// Package admin is the wire model of Meridian's management API
// (/_meridian/...): what a region reports about itself and its
// replication, and the requests that change a region's availability and
// the simulated WAN. It holds types only; the server fills them, httpapi
// serves them and the CLI reads them.
package admin

import (
	"context"
	"time"

	"github.com/meridiandb/meridian/internal/topology"
)

// Roles a region plays.
const (
	RoleWrite = "write"
	RoleRead  = "read"
)

// Status is GET /_meridian/status: one region's view of itself.
type Status struct {
	Region      string `json:"region"`
	Role        string `json:"role"` // RoleWrite or RoleRead
	WriteRegion string `json:"writeRegion"`
	Account     string `json:"account"`
	Consistency string `json:"consistency"`
	// Offline is true while the region answers 503 to data-plane requests
	// (it keeps replicating).
	Offline bool `json:"offline"`
	// Time is the region's clock when the status was taken.
	Time time.Time `json:"time"`
	// Regions lists every region of the account, in topology order.
	Regions []RegionInfo `json:"regions"`
	// Partitions lists the catalog (ID 0) and then every container.
	Partitions []Partition `json:"partitions"`
	// WAN is true when this process routes inter-region connections
	// through a simulated WAN; Links is then its configuration for every
	// pair of regions.
	WAN   bool   `json:"wan"`
	Links []Link `json:"links,omitempty"`
	// Epoch is the account epoch this region adopted (the session-token
	// version); it grows by one with every failover.
	Epoch int64 `json:"epoch,omitempty"`
	// Failover is the phase of the failover in progress ("" if none).
	Failover string `json:"failover,omitempty"`
	// Control is the control plane's view, when this region has one.
	Control *ControlInfo `json:"control,omitempty"`
}

// ControlInfo is the control plane as a region sees it.
type ControlInfo struct {
	// Leader is the Raft leader's region ("" if none is known).
	Leader string `json:"leader"`
	// Regions maps each region to its control-plane status (Healthy,
	// FencedOut, ...).
	Regions map[string]string `json:"regions"`
	// Failovers lists past failovers, oldest first.
	Failovers []FailoverInfo `json:"failovers,omitempty"`
	// History is, per partition id (decimal), the epochs opened by
	// failovers and the LSN each started at: a failover into epoch e with
	// start S removed every entry at LSN >= S written in an earlier epoch.
	History map[string][]EpochStart `json:"history,omitempty"`
}

// EpochStart is one epoch of a partition's history.
type EpochStart struct {
	Epoch int64 `json:"epoch"`
	Start int64 `json:"start"`
}

// FailoverInfo summarizes one failover.
type FailoverInfo struct {
	Kind       string    `json:"kind"`
	Epoch      int64     `json:"epoch"`
	Deposed    string    `json:"deposed"`
	Target     string    `json:"target"`
	Reason     string    `json:"reason,omitempty"`
	FencedAt   time.Time `json:"fencedAt"`
	PromotedAt time.Time `json:"promotedAt"`
	// LostWrites counts the log entries the failover removed (known once
	// the deposed region rejoined).
	LostWrites int64 `json:"lostWrites"`
}

// RegionInfo is one region of the account as the topology describes it.
type RegionInfo struct {
	Name string `json:"name"`
	// Endpoint is the client address, host:port.
	Endpoint string `json:"endpoint"`
	Role     string `json:"role"`
}

// Partition is one replicated log: the catalog or a container.
type Partition struct {
	ID uint64 `json:"id"`
	// Database and Container name the container; both are empty for the
	// catalog.
	Database  string `json:"database,omitempty"`
	Container string `json:"container,omitempty"`
	// Applied is the highest LSN this region holds durably.
	Applied int64 `json:"applied"`
	// Peers is set in the write region: each read region's copy.
	Peers []Peer `json:"peers,omitempty"`
	// Upstream is set in read regions: what was last heard from the write
	// region.
	Upstream *Upstream `json:"upstream,omitempty"`
}

// Name is "catalog" for the catalog and "db/container" otherwise.
func (p Partition) Name() string {
	if p.Container == "" {
		return "catalog"
	}
	return p.Database + "/" + p.Container
}

// Peer is what the write region knows of one read region's copy of a
// partition.
type Peer struct {
	Region string `json:"region"`
	// Acked is the highest LSN the peer reported durable.
	Acked int64 `json:"acked"`
	// LagOps is head − acked: writes the peer does not hold yet.
	LagOps int64 `json:"lagOps"`
	// LagMs is how long ago the oldest write the peer does not hold was
	// committed in the write region; 0 when the peer is caught up.
	LagMs int64 `json:"lagMs"`
	// Connected is true while a replication stream from the peer is open.
	Connected bool `json:"connected"`
	// Reachable is false while the simulated WAN partitions the pair.
	Reachable bool      `json:"reachable"`
	LastSeen  time.Time `json:"lastSeen,omitzero"`
}

// Upstream is what a read region last heard from the write region about a
// partition.
type Upstream struct {
	Region string `json:"region"`
	// Head is the write region's highest durable LSN, as last heard.
	Head int64 `json:"head"`
	// Committed is the globally committed LSN (Strong), as last heard.
	Committed int64 `json:"committed"`
	// Behind is head − applied, or 0.
	Behind int64 `json:"behind"`
	// HeardAt is when the write region was last heard from; zero if never.
	HeardAt time.Time `json:"heardAt,omitzero"`
	// HeardAgoMs is Status.Time − HeardAt in milliseconds, -1 if never.
	HeardAgoMs int64 `json:"heardAgoMs"`
	Connected  bool  `json:"connected"`
	Reachable  bool  `json:"reachable"`
}

// Link is the simulated WAN between two regions, as one process sees it.
type Link struct {
	A string `json:"a"`
	B string `json:"b"`
	// RTT is the sum of both one-way delays.
	RTT    topology.Duration `json:"rtt"`
	Jitter topology.Duration `json:"jitter"`
	// Partitioned is true if either direction is blackholed.
	Partitioned bool `json:"partitioned"`
}

// LinkChange is the body of POST /_meridian/links. Fields left out keep
// their current value; at least one of RTT, Jitter and Partitioned is
// required.
type LinkChange struct {
	A           string             `json:"a"`
	B           string             `json:"b"`
	RTT         *topology.Duration `json:"rtt,omitempty"`
	Jitter      *topology.Duration `json:"jitter,omitempty"`
	Partitioned *bool              `json:"partitioned,omitempty"`
	// OneWay applies Partitioned to the direction a→b only (bytes from a
	// to b are held; b to a still flow): an asymmetric partition.
	OneWay bool `json:"oneWay,omitempty"`
}

// RegionState is the answer to POST /_meridian/regions/{name}/offline and
// /online.
type RegionState struct {
	Region  string `json:"region"`
	Offline bool   `json:"offline"`
	// Down is true while the region is killed by a drill (meridian dev).
	Down bool `json:"down,omitempty"`
}

// FailoverRequest is the body of POST /_meridian/failover: move the write
// region (every region healthy; nothing is lost).
type FailoverRequest struct {
	WriteRegion string `json:"writeRegion"`
}

// Drills is the region-outage drill hook of a process that supervises its
// regions (meridian dev): Kill crashes a region (no drain, no hand-over),
// Restore starts it again on its data.
type Drills interface {
	Kill(ctx context.Context, region string) error
	Restore(ctx context.Context, region string) error
}

// Links is the answer to POST /_meridian/links and /_meridian/heal: the
// WAN configuration after the change.
type Links struct {
	Region string `json:"region"`
	WAN    bool   `json:"wan"`
	Links  []Link `json:"links"`
}
