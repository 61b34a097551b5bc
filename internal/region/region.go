package region

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meridiandb/meridian/internal/catalog"
	"github.com/meridiandb/meridian/internal/conflict"
	"github.com/meridiandb/meridian/internal/control"
	"github.com/meridiandb/meridian/internal/httpapi"
	"github.com/meridiandb/meridian/internal/partition"
	"github.com/meridiandb/meridian/internal/raftnode"
	"github.com/meridiandb/meridian/internal/repl"
	"github.com/meridiandb/meridian/internal/resource"
	"github.com/meridiandb/meridian/internal/session"
	"github.com/meridiandb/meridian/internal/storage"
	"github.com/meridiandb/meridian/internal/topology"
)

// Config configures a Region.
type Config struct {
	// Topology is the account layout; Self names this region in it.
	Topology *topology.Topology
	Self     string
	DB       *storage.DB
	// SessionWait bounds how long a read waits for this region to reach
	// the session token it carries before answering 404/1002. Default 5 s.
	SessionWait time.Duration
	// SyncTimeout bounds how long a write waits for the regions that must
	// acknowledge it (Strong, x-meridian-sync-regions). Default 10 s.
	SyncTimeout time.Duration
	// PeerSecret authenticates inter-region traffic.
	PeerSecret []byte
	// Dial opens inter-region connections (the simulated WAN wraps it).
	Dial   func(ctx context.Context, peerRegion, addr string) (net.Conn, error)
	Clock  func() time.Time
	Logger *slog.Logger
	// PurgeInterval is the TTL purge period (default 1 s).
	PurgeInterval time.Duration
	// OnCommit observes every partition's group commits (metrics).
	OnCommit func(entries int, d time.Duration)
	// OnConflict observes every multi-write conflict resolved here: its
	// type and whether the loser went to the conflicts feed (metrics).
	OnConflict func(kind string, fed bool)
	// LogRetention is how many log entries each partition keeps for
	// catching regions up (default 100,000); a region further behind is
	// rebuilt from a snapshot.
	LogRetention int64
	// QuorumTimeout is how long a Strong write waits for a quorum member
	// before dropping it (three or more regions). Default 2 s.
	QuorumTimeout time.Duration
	// QuorumLease is how long a read region may serve Strong reads after
	// the last message that listed it in the quorum. Default 1 s.
	QuorumLease time.Duration
	// Control tunes failover (multi-region accounts).
	Control ControlConfig
}

// Defaults fills zero fields.
func (c *Config) Defaults() {
	if c.SessionWait == 0 {
		c.SessionWait = 5 * time.Second
	}
	if c.SyncTimeout == 0 {
		c.SyncTimeout = 10 * time.Second
	}
	if c.QuorumTimeout == 0 {
		c.QuorumTimeout = 2 * time.Second
	}
	if c.QuorumLease == 0 {
		c.QuorumLease = time.Second
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	c.Control.defaults()
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports a configuration error naming the field.
func (c *Config) Validate() error {
	switch {
	case c.DB == nil:
		return errors.New("region: Config.DB is required")
	case c.Topology == nil:
		return errors.New("region: Config.Topology is required")
	}
	if _, ok := c.Topology.Region(c.Self); !ok {
		return fmt.Errorf("region: Config.Self %q is not a region of the topology", c.Self)
	}
	return nil
}

// Region is one region of the account.
type Region struct {
	cfg   Config
	log   *slog.Logger
	topo  *topology.Topology
	self  topology.Region
	level session.Level
	cat   *catalog.Catalog
	// mw: every region writes (multiwrite.go).
	mw bool

	tracker *repl.Tracker  // write region: peers' acknowledgements
	recv    *repl.Receiver // read regions: the subscriptions to the write region (nil in a one-region account)

	// The control plane (control.go, roles.go, failover.go); fsm and node
	// are nil in a one-region account, whose roles never change.
	ctl        ControlConfig
	fsm        *controlFSM
	node       *raftnode.Node
	view       atomic.Pointer[roleView]
	leaseUntil atomic.Int64 // write lease end, Unix ns (roles.go)
	// reported is the epoch whose failover report this region sent (the
	// reconciler's own).
	reported int64

	// mu guards parts, partsChanged, lag and quorums.
	mu           sync.RWMutex
	partsChanged chan struct{}                   // closed (and replaced) when a partition opens
	parts        map[uint32]*partition.Partition // by container number
	lag          map[uint32]*commitTimes         // write region: commit times of recent LSNs (bounded staleness)
	quorums      map[uint32]*quorum              // write region, Strong: each partition's quorum set

	ctx    context.Context // cancelled by Close; owns the background loops
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

var _ httpapi.Backend = (*Region)(nil)

// Open loads the catalog and opens every container's partition. Call Start
// to begin replicating.
func Open(cfg Config) (*Region, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	self, _ := cfg.Topology.Region(cfg.Self)
	r := &Region{
		cfg: cfg, log: cfg.Logger.With("region", self.Name), topo: cfg.Topology, self: self,
		level: cfg.Topology.Level(), parts: map[uint32]*partition.Partition{}, lag: map[uint32]*commitTimes{},
		quorums: map[uint32]*quorum{}, tracker: repl.NewTracker(cfg.Clock), ctl: cfg.Control,
		partsChanged: make(chan struct{}),
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.mw = cfg.Topology.MultiWrite
	multi := len(cfg.Topology.Regions) > 1
	if multi {
		// Roles come from the control plane: every region starts as a
		// read region and the reconciler promotes the write region once
		// it has read the latest control state.
		st, err := control.FromTopology(cfg.Topology, cfg.Control.lease(), controlEpoch)
		if err != nil {
			return nil, fmt.Errorf("region: control state: %w", err)
		}
		r.fsm = newControlFSM(st)
		r.view.Store(&roleView{writer: st.WriteRegion, epoch: 1, history: st.History})
		if r.mw {
			r.view.Store(&roleView{writer: self.Name, epoch: 1, active: true})
		}
	} else {
		r.view.Store(&roleView{writer: self.Name, epoch: 1, active: true})
	}
	writer := !multi
	cat, err := catalog.Open(cfg.DB, catalog.Options{
		RegionID: self.ID, ReadOnly: !writer, Clock: cfg.Clock,
		OnApply: r.onCatalog, OnReset: r.onCatalogReset,
	})
	if err != nil {
		return nil, fmt.Errorf("open catalog: %w", err)
	}
	r.cat = cat
	if r.fsm != nil {
		r.fsm.cat = cat // the catalog is applied from the control plane's log (catalog.go)
	}
	for _, co := range cat.AllContainers() {
		if _, err := r.openPartition(co); err != nil {
			r.Close()
			return nil, err
		}
	}
	if multi {
		r.recv = repl.NewReceiver(r.replConfig())
	}
	return r, nil
}

// Start begins the region's background work: in a multi-region account
// the control-plane reconciler, the write lease, the failover driver and
// the Strong quorum maintenance (AttachControl first).
func (r *Region) Start() {
	if r.fsm == nil {
		return
	}
	if r.node == nil {
		panic("region: Start of a multi-region region without AttachControl")
	}
	if r.mw {
		// No write region to elect or fence: follow every peer.
		for _, p := range r.partitions() {
			r.followPeers(p)
		}
		return
	}
	r.wg.Add(3)
	go r.runRoles(r.ctx)
	go r.runLease(r.ctx)
	go r.runDriver(r.ctx)
	if r.level == session.Strong {
		r.wg.Add(1)
		go r.runQuorumRejoin(r.ctx)
	}
}

// StopControl stops the control-plane loops (reconciler, lease, driver)
// and revokes the write lease; call it before closing the Raft node.
// Close calls it too.
func (r *Region) StopControl() {
	r.leaseUntil.Store(0)
	r.cancel()
	r.wg.Wait()
}

// Close stops replication and every partition. Acknowledged writes are
// already durable.
func (r *Region) Close() {
	r.StopControl()
	if r.recv != nil {
		r.recv.Close()
	}
	r.mu.Lock()
	parts := r.parts
	r.parts = map[uint32]*partition.Partition{}
	r.mu.Unlock()
	for _, p := range parts {
		p.Close()
	}
}

// Name is the region's name.
func (r *Region) Name() string { return r.self.Name }

// Tracker is the write region's record of peer acknowledgements, shared
// with the replication service.
func (r *Region) Tracker() *repl.Tracker { return r.tracker }

// isWriter reports whether this region accepts writes now: it is the
// write region of its epoch, promoted, and holds its write lease.
func (r *Region) isWriter() bool {
	if r.mw {
		return true
	}
	v := r.view.Load()
	return v.active && r.holdsLease()
}

// isWriteRegion reports whether this region is the write region by the
// control state it last applied (even if its lease lapsed), i.e. it is not
// following another region.
func (r *Region) isWriteRegion() bool { return r.mw || r.view.Load().active }

// Source serves a partition's log to other regions (repl.Sources).
func (r *Region) Source(pid uint64) (repl.Source, error) {
	if pid == catalog.LogPartition {
		return r.cat, nil
	}
	r.mu.RLock()
	p := r.parts[uint32(pid)]
	r.mu.RUnlock()
	if p == nil {
		return nil, fmt.Errorf("region %s: no partition %d", r.self.Name, pid)
	}
	return p, nil
}

var _ repl.Sources = (*Region)(nil)

// Partitions are fed by pipelined replication sessions.
var (
	_ repl.PipelinedApplier = (*partition.Partition)(nil)
	_ repl.PipelinedApplier = (*partition.SourceApplier)(nil)
)

func infoOf(co catalog.Container) partition.ContainerInfo {
	// The policy was validated when the container was created (an invalid
	// one can only come from a catalog older than the check: the default).
	pol, _ := conflict.ParsePolicy(co.ConflictResolutionPolicy)
	return partition.ContainerInfo{
		DBNum: co.DBNum, CollNum: co.Num, DBRID: co.DBRID, CollRID: co.RID,
		PartitionKey: co.PartitionKey, DefaultTTL: co.DefaultTTL, Conflict: pol,
	}
}

func (r *Region) openPartition(co catalog.Container) (*partition.Partition, error) {
	r.mu.Lock()
	if p, ok := r.parts[co.Num]; ok {
		r.mu.Unlock()
		p.SetInfo(infoOf(co))
		return p, nil
	}
	r.mu.Unlock()
	// Opening reads (and may write) storage: not under r.mu. Catalog
	// commands are applied one at a time, so two opens of one partition do
	// not race; the re-check below only guards against it.
	info := infoOf(co)
	p, err := partition.Open(partition.Config{
		ID: uint64(co.Num), DB: r.cfg.DB, RegionID: r.self.ID, Clock: r.cfg.Clock,
		Logger: r.log, PurgeInterval: r.cfg.PurgeInterval, ReadOnly: !r.mw, LogRetention: r.cfg.LogRetention,
		OnCommit: r.cfg.OnCommit, MultiWrite: r.mw, OnConflict: r.countConflict,
	}, info)
	if err != nil {
		return nil, fmt.Errorf("open partition of %s/%s: %w", co.DB, co.ID, err)
	}
	r.mu.Lock()
	if existing, ok := r.parts[co.Num]; ok {
		r.mu.Unlock()
		p.Close()
		existing.SetInfo(infoOf(co))
		return existing, nil
	}
	if v := r.view.Load(); v.active && !r.mw {
		p.Promote(v.epoch) // writable before anyone can find it
	}
	r.parts[co.Num] = p
	r.lag[co.Num] = &commitTimes{}
	close(r.partsChanged)
	r.partsChanged = make(chan struct{})
	r.mu.Unlock()
	return p, nil
}

func (r *Region) dropPartitions(nums []uint32) {
	for _, n := range nums {
		if r.recv != nil {
			r.recv.Unfollow(uint64(n))
		}
		r.mu.Lock()
		p := r.parts[n]
		delete(r.parts, n)
		delete(r.lag, n)
		r.mu.Unlock()
		if p != nil {
			p.Close()
		}
		if err := partition.DeleteData(r.cfg.DB, uint64(n)); err != nil {
			r.log.Error("deleting a dropped container's data failed; its keys remain until the next delete", "partition", n, "err", err)
		}
	}
}

// onCatalog keeps partitions in step with the catalog, in every region, as
// each command becomes durable.
func (r *Region) onCatalog(cmd catalog.Command, res catalog.Result) {
	switch cmd.Kind {
	case catalog.CmdCreateContainer, catalog.CmdReplaceContainer:
		p, err := r.openPartition(res.Container)
		if err != nil {
			r.log.Error("opening a new container's partition failed", "container", res.Container.ID, "err", err)
			return
		}
		if cmd.Kind == catalog.CmdCreateContainer {
			r.followOne(p)
		}
	case catalog.CmdDeleteContainer, catalog.CmdDeleteDatabase:
		r.dropPartitions(res.Dropped)
	}
}

// onCatalogReset reconciles partitions after a catalog snapshot install.
func (r *Region) onCatalogReset() {
	want := map[uint32]catalog.Container{}
	for _, co := range r.cat.AllContainers() {
		want[co.Num] = co
	}
	r.mu.RLock()
	var drop []uint32
	for n := range r.parts {
		if _, ok := want[n]; !ok {
			drop = append(drop, n)
		}
	}
	r.mu.RUnlock()
	r.dropPartitions(drop)
	for _, co := range want {
		r.onCatalog(catalog.Command{Kind: catalog.CmdCreateContainer}, catalog.Result{Container: co})
	}
}

// containerAt resolves a container for a read that carries a session
// token. In a read region the catalog may not have replayed the container's
// creation yet even though the token proves the client saw it: hold the
// read like any session read (up to SessionWait) rather than answer 404,
// and answer 404/1002 if it still has not arrived.
func (r *Region) containerAt(ctx context.Context, db, coll, token string) (catalog.Container, *partition.Partition, error) {
	co, p, err := r.container(db, coll)
	if err == nil || token == "" || (r.isWriteRegion() && !r.mw) || !errors.Is(err, resource.ErrNotFound) {
		return co, p, err
	}
	if _, _, terr := tokenOf(token); terr != nil {
		return co, p, terr
	}
	wctx, cancel := context.WithTimeout(ctx, r.cfg.SessionWait)
	defer cancel()
	for {
		if err := r.cat.WaitApplied(wctx, r.cat.Applied()+1); err != nil {
			if ctx.Err() != nil {
				return catalog.Container{}, nil, ctx.Err()
			}
			return catalog.Container{}, nil, resource.Errorf(resource.KindReadSessionNotAvailable,
				"The read session is not available for the input session token: region %q has not yet replicated container %q of database %q.", r.self.Name, coll, db)
		}
		if co, p, err = r.container(db, coll); err == nil || !errors.Is(err, resource.ErrNotFound) {
			return co, p, err
		}
	}
}

// container resolves a container and its partition.
func (r *Region) container(db, coll string) (catalog.Container, *partition.Partition, error) {
	co, err := r.cat.Container(db, coll)
	if err != nil {
		return catalog.Container{}, nil, err
	}
	// The catalog shows a new container a moment before the region has
	// opened its partition (the catalog's apply hook opens it): wait for
	// that moment rather than answer 503.
	r.mu.RLock()
	p, changed := r.parts[co.Num], r.partsChanged
	r.mu.RUnlock()
	if p != nil {
		return co, p, nil // the common case: no timer
	}
	deadline := time.NewTimer(2 * time.Second)
	defer deadline.Stop()
	for {
		select {
		case <-changed:
		case <-deadline.C:
			return catalog.Container{}, nil, resource.Errorf(resource.KindServiceUnavailable, "The container %q is not open in region %q yet; retry.", coll, r.self.Name)
		}
		r.mu.RLock()
		p, changed = r.parts[co.Num], r.partsChanged
		r.mu.RUnlock()
		if p != nil {
			return co, p, nil
		}
	}
}

// Account describes the account as this region serves it.
func (r *Region) Account(context.Context) httpapi.AccountInfo {
	info := httpapi.AccountInfo{
		ID:                 r.topo.Account,
		Consistency:        r.level,
		MaxStalenessPrefix: r.topo.MaxStalenessPrefix,
		MaxIntervalSeconds: r.topo.MaxIntervalSeconds,
		MultipleWriteLocs:  r.mw,
	}
	writer := r.view.Load().writerName()
	for _, reg := range r.topo.Regions {
		loc := httpapi.Location{Name: reg.Name, Endpoint: reg.Endpoint}
		if r.mw || sameRegion(reg.Name, writer) {
			info.WritableLocations = append(info.WritableLocations, loc)
		}
		info.ReadableLocations = append(info.ReadableLocations, loc)
	}
	return info
}

func (r *Region) now() int64 { return r.cfg.Clock().Unix() }
