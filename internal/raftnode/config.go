package raftnode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/meridiandb/meridian/internal/storage"
)

// Peer is one member of the control plane.
type Peer struct {
	// ID is the member's stable name: its region (or the witness's name).
	ID string
	// Addr is the member's peer gRPC address.
	Addr string
	// Voter is false for a member that receives the log but does not vote.
	Voter bool
}

// Config configures a Node.
type Config struct {
	// ID is this node's name, its region. Required.
	ID string
	// Addr is the address peers dial to reach this node (the region's peer
	// gRPC server). Required; if Peers lists ID, the addresses must match.
	Addr string
	// Dir holds the snapshot files. Required.
	Dir string
	// DB holds the log and the stable store (keyspace 'R'); every write is
	// synced. Required. The Node does not close it.
	DB *storage.DB
	// Peers is the initial configuration, used only when Bootstrap is set
	// and the log is empty. It must list this node as a voter.
	Peers []Peer
	// Bootstrap writes Peers as the first configuration when this node has
	// no Raft state. Every initial member may set it with identical Peers.
	Bootstrap bool
	// Secret is the shared secret of the account's regions; every RPC
	// carries a credential derived from it. Required.
	Secret []byte
	// Dial connects to a peer (the simulated WAN wraps it); nil dials
	// plain TCP.
	Dial func(ctx context.Context, peerID, addr string) (net.Conn, error)
	// Logger receives lifecycle events, including hashicorp/raft's own
	// log. Default slog.Default().
	Logger *slog.Logger

	// HeartbeatTimeout is how long a follower goes without hearing from
	// the leader before it starts an election (the leader heartbeats ten
	// times as often). Default 1 s.
	HeartbeatTimeout time.Duration
	// ElectionTimeout is how long a candidate waits for votes before it
	// starts another election. Default 1 s.
	ElectionTimeout time.Duration
	// LeaderLeaseTimeout is how long a leader stays leader without contact
	// with a quorum. Default 500 ms; at most HeartbeatTimeout.
	LeaderLeaseTimeout time.Duration
	// CommitTimeout bounds how long an idle leader waits before it sends
	// the commit index to followers. Default 50 ms.
	CommitTimeout time.Duration
	// RPCTimeout bounds one Raft RPC to a peer (a snapshot gets more, in
	// proportion to its size). Default 5 s.
	RPCTimeout time.Duration
	// ForwardTimeout bounds one attempt of forwarding a proposal to the
	// leader; Propose retries (at most once applied) until its ctx ends.
	// Default 5 s.
	ForwardTimeout time.Duration
	// SnapshotThreshold is how many entries after the last snapshot
	// trigger a new one. Default 8192.
	SnapshotThreshold uint64
	// TrailingLogs is how many entries a snapshot leaves in the log, so a
	// follower that is slightly behind catches up from the log. Default
	// 10240.
	TrailingLogs uint64
	// SnapshotInterval is how often the node checks SnapshotThreshold.
	// Default 2 min.
	SnapshotInterval time.Duration
	// MaxCommandBytes bounds one proposed command. Default 128 KiB, which
	// keeps an AppendEntries message (at most 16 entries) under gRPC's
	// default 4 MiB message limit.
	MaxCommandBytes int
	// DedupeWindow is how many recent proposal ids the state machine
	// remembers, so that a proposal retried across a leader change is
	// applied at most once. Default 4096.
	DedupeWindow int
}

// maxAppendEntries is the most entries per AppendEntries message.
const maxAppendEntries = 16

// Defaults fills zero fields.
func (c *Config) Defaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.HeartbeatTimeout, time.Second)
	def(&c.ElectionTimeout, time.Second)
	def(&c.LeaderLeaseTimeout, 500*time.Millisecond)
	def(&c.CommitTimeout, 50*time.Millisecond)
	def(&c.RPCTimeout, 5*time.Second)
	def(&c.ForwardTimeout, 5*time.Second)
	def(&c.SnapshotInterval, 2*time.Minute)
	if c.SnapshotThreshold == 0 {
		c.SnapshotThreshold = 8192
	}
	if c.TrailingLogs == 0 {
		c.TrailingLogs = 10240
	}
	if c.MaxCommandBytes == 0 {
		c.MaxCommandBytes = 128 << 10
	}
	if c.DedupeWindow == 0 {
		c.DedupeWindow = 4096
	}
}

// Validate reports a configuration error naming the field.
func (c *Config) Validate() error {
	switch {
	case c.ID == "":
		return errors.New("raftnode: Config.ID is required")
	case c.Addr == "":
		return errors.New("raftnode: Config.Addr is required")
	case c.Dir == "":
		return errors.New("raftnode: Config.Dir is required")
	case c.DB == nil:
		return errors.New("raftnode: Config.DB is required")
	case len(c.Secret) == 0:
		return errors.New("raftnode: Config.Secret is required")
	case c.HeartbeatTimeout < 5*time.Millisecond:
		return errors.New("raftnode: Config.HeartbeatTimeout must be at least 5ms")
	case c.ElectionTimeout < 5*time.Millisecond:
		return errors.New("raftnode: Config.ElectionTimeout must be at least 5ms")
	case c.LeaderLeaseTimeout < 5*time.Millisecond || c.LeaderLeaseTimeout > c.HeartbeatTimeout:
		return errors.New("raftnode: Config.LeaderLeaseTimeout must be between 5ms and HeartbeatTimeout")
	case c.CommitTimeout < time.Millisecond:
		return errors.New("raftnode: Config.CommitTimeout must be at least 1ms")
	case c.RPCTimeout <= 0:
		return errors.New("raftnode: Config.RPCTimeout must be positive")
	case c.ForwardTimeout <= 0:
		return errors.New("raftnode: Config.ForwardTimeout must be positive")
	case c.SnapshotInterval < 5*time.Millisecond:
		return errors.New("raftnode: Config.SnapshotInterval must be at least 5ms")
	case c.MaxCommandBytes < 0 || c.MaxCommandBytes > 1<<20:
		return errors.New("raftnode: Config.MaxCommandBytes must be between 0 and 1 MiB")
	case c.DedupeWindow < 0:
		return errors.New("raftnode: Config.DedupeWindow must not be negative")
	}
	seen := make(map[string]bool, len(c.Peers))
	self := false
	for i, p := range c.Peers {
		switch {
		case p.ID == "" || p.Addr == "":
			return fmt.Errorf("raftnode: Config.Peers[%d] needs ID and Addr", i)
		case seen[p.ID]:
			return fmt.Errorf("raftnode: Config.Peers[%d]: duplicate ID %q", i, p.ID)
		case p.ID == c.ID && p.Addr != c.Addr:
			return fmt.Errorf("raftnode: Config.Peers[%d]: address %q of this node differs from Config.Addr %q", i, p.Addr, c.Addr)
		case p.ID == c.ID:
			self = p.Voter
		}
		seen[p.ID] = true
	}
	if c.Bootstrap && !self {
		return errors.New("raftnode: Config.Peers must list this node as a voter to Bootstrap")
	}
	return nil
}
