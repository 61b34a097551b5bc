package partition

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meridiandb/meridian/internal/conflict"
	"github.com/meridiandb/meridian/internal/replog"
	"github.com/meridiandb/meridian/internal/resource"
	"github.com/meridiandb/meridian/internal/storage"
)

// ContainerInfo is what a partition needs to know about its container. It
// can change at run time (e.g. defaultTtl through a container replace).
type ContainerInfo struct {
	DBNum, CollNum uint32
	DBRID, CollRID string
	PartitionKey   resource.PartitionKeyDefinition
	// DefaultTTL is the container's defaultTtl: nil means TTL is off, -1
	// means on without a default.
	DefaultTTL *int32
	// Conflict is the container's conflict resolution policy (used when
	// the partition is multi-write).
	Conflict conflict.Policy
}

// Config configures a Partition.
type Config struct {
	// ID is the partition id, unique in the region (the container number).
	ID uint64
	DB *storage.DB
	// RegionID identifies this region in log entries and etags.
	RegionID uint32
	// Clock gives the wall time for _ts and TTL (tests may skew it).
	Clock  func() time.Time
	Logger *slog.Logger
	// LogRetention is how many entries the log keeps behind the applied
	// LSN (replication catch-up window). Default 100,000.
	LogRetention int64
	// MaxGroup bounds the requests committed together. Default 256.
	MaxGroup int
	// OnCommit, if set, observes every group commit: the entries it
	// carried and how long the synced batch took (metrics).
	OnCommit func(entries int, d time.Duration)
	// PurgeInterval is how often expired items are looked for. Default 1 s.
	PurgeInterval time.Duration
	// ReadOnly makes the partition a replica: local writes get
	// resource.ErrWriteForbidden and the TTL purger is idle (the write
	// region purges; its deletes arrive through the log). SetWritable
	// changes it at run time.
	ReadOnly bool
	// MultiWrite: every region of the account writes this partition
	// (multiwrite.go). RegionID must be set.
	MultiWrite bool
	// OnConflict, if set, observes every conflict resolved here
	// (multi-write; metrics).
	OnConflict func(conflict.Decision)
}

// Defaults fills zero fields.
func (c *Config) Defaults() {
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.LogRetention == 0 {
		c.LogRetention = 100_000
	}
	if c.MaxGroup == 0 {
		c.MaxGroup = 256
	}
	if c.PurgeInterval == 0 {
		c.PurgeInterval = time.Second
	}
}

// Validate reports a configuration error naming the field.
func (c *Config) Validate() error {
	if c.DB == nil {
		return errors.New("partition: Config.DB is required")
	}
	if c.ID == 0 {
		return errors.New("partition: Config.ID must be non-zero")
	}
	return nil
}

// ErrClosed is returned for requests made after Close.
var ErrClosed = &resource.Error{Kind: resource.KindServiceUnavailable, Msg: "The partition is shutting down; retry."}

// Partition is one container's data in this region.
type Partition struct {
	cfg  Config
	log  *slog.Logger
	info atomic.Pointer[ContainerInfo]

	reqs chan *request

	applied atomic.Int64 // highest durable, visible LSN
	// horizon is the highest LSN a reader may already see: it is raised
	// before a batch is committed (Pebble makes a batch visible as Commit
	// returns, before applied is published) and is never below applied.
	horizon  atomic.Int64
	epoch    atomic.Int64 // current write epoch
	writable atomic.Bool  // local writes accepted (this region is the write region)
	// writeEpoch is the epoch local writes are numbered in once promoted
	// (0: the epoch of the last entry).
	writeEpoch atomic.Int64

	// notifyMu guards notify, a channel closed (and replaced) whenever
	// applied advances.
	notifyMu sync.Mutex
	notify   chan struct{}

	// writer-goroutine state: only the writer touches these.
	lastTrim  int64
	lastLSN   int64    // LSN of the last group applied to the memtable (maybe not yet durable)
	lastEpoch int64    // epoch of that group
	mw        *mwState // multi-write state (nil in single-write)
	mwCur     mwLocal  // origin metadata of the local entry being prepared

	// mwDur is the durable multi-write progress, published with applied.
	mwDur atomic.Pointer[mwDurable]

	// lagMu guards lags, a ring of the most recent replication lags: the
	// time from an entry's commit in the write region (its TS, same clock
	// family) to its being durable and visible here.
	lagMu   sync.Mutex
	lags    []time.Duration
	lagNext int

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

const (
	metaApplied = "applied"
	metaEpoch   = "epoch"
)

// Open opens the partition's data (creating its metadata if new) and starts
// its writer and purger.
func Open(cfg Config, info ContainerInfo) (*Partition, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Partition{
		cfg:    cfg,
		log:    cfg.Logger.With("partition", cfg.ID),
		reqs:   make(chan *request, 1024),
		notify: make(chan struct{}),
	}
	p.info.Store(&info)
	if inst, err := p.loadMeta(metaInstalling); err != nil {
		return nil, err
	} else if inst != 0 {
		// A snapshot install was interrupted: the data is incomplete.
		if err := p.wipe(); err != nil {
			return nil, fmt.Errorf("reset partition %d after interrupted install: %w", cfg.ID, err)
		}
	}
	applied, err := p.loadMeta(metaApplied)
	if err != nil {
		return nil, err
	}
	epoch, err := p.loadMeta(metaEpoch)
	if err != nil {
		return nil, err
	}
	if epoch == 0 {
		epoch = 1
		b := cfg.DB.NewBatch()
		b.Set(storage.MetaKey(cfg.ID, metaEpoch), binary.BigEndian.AppendUint64(nil, uint64(epoch)))
		err := b.Commit(true /* sync */)
		b.Close()
		if err != nil {
			return nil, fmt.Errorf("init partition %d: %w", cfg.ID, err)
		}
	}
	if cfg.MultiWrite {
		if cfg.RegionID == 0 {
			return nil, errors.New("partition: a multi-write partition needs Config.RegionID")
		}
		if p.mw, err = p.loadMW(); err != nil {
			return nil, err
		}
		p.mwDur.Store(&mwDurable{vec: p.mw.vec.Clone(), cursors: maps.Clone(p.mw.cursors)})
	}
	p.applied.Store(applied)
	p.horizon.Store(applied)
	p.epoch.Store(epoch)
	p.lastTrim = applied
	p.lastLSN, p.lastEpoch = applied, epoch
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.wg.Add(1)
	go p.runWriter()
	p.writable.Store(!cfg.ReadOnly)
	p.wg.Add(1)
	go p.runPurger()
	return p, nil
}

func (p *Partition) loadMeta(name string) (int64, error) {
	v, err := p.cfg.DB.Get(storage.MetaKey(p.cfg.ID, name))
	if errors.Is(err, storage.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("load partition %d %s: %w", p.cfg.ID, name, err)
	}
	if name == metaInstalling {
		return int64(len(v)), nil
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("load partition %d %s: corrupt value", p.cfg.ID, name)
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}

// Close stops the writer and purger after the requests already queued are
// answered (with ErrClosed if they were not committed). It is idempotent.
func (p *Partition) Close() {
	p.cancel()
	p.wg.Wait()
}

// SetWritable makes the partition accept local writes (true) or only
// replicated entries (false).
func (p *Partition) SetWritable(w bool) { p.writable.Store(w) }

// Writable reports whether local writes are accepted.
func (p *Partition) Writable() bool { return p.writable.Load() }

// ID is the partition id.
func (p *Partition) ID() uint64 { return p.cfg.ID }

// SetInfo updates the container settings the partition uses.
func (p *Partition) SetInfo(info ContainerInfo) { p.info.Store(&info) }

// Info returns the current container settings.
func (p *Partition) Info() ContainerInfo { return *p.info.Load() }

// Applied returns the highest LSN that is durable and visible here.
func (p *Partition) Applied() int64 { return p.applied.Load() }

// Epoch returns the partition's current write epoch.
func (p *Partition) Epoch() int64 { return p.epoch.Load() }

// WaitApplied blocks until Applied() >= lsn or ctx ends.
func (p *Partition) WaitApplied(ctx context.Context, lsn int64) error {
	for {
		p.notifyMu.Lock()
		ch := p.notify
		p.notifyMu.Unlock()
		if p.applied.Load() >= lsn {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-p.ctx.Done():
			return ErrClosed
		}
	}
}

// awaitDurable blocks until every change up to lsn is durable — Pebble
// shows a batch to readers before its WAL fsync completes, and a read must
// not return what a crash could erase. It returns early if lsn is above the
// horizon (a commit that failed) or the partition closes.
func (p *Partition) awaitDurable(lsn int64) {
	for {
		p.notifyMu.Lock()
		ch := p.notify
		p.notifyMu.Unlock()
		if p.applied.Load() >= lsn || p.horizon.Load() < lsn {
			return
		}
		select {
		case <-ch:
		case <-p.ctx.Done():
			return
		}
	}
}

// notifyWaiters wakes everyone waiting on applied without changing it.
func (p *Partition) notifyWaiters() {
	p.notifyMu.Lock()
	close(p.notify)
	p.notify = make(chan struct{})
	p.notifyMu.Unlock()
}

// publishReset lowers applied (a snapshot install started from scratch).
func (p *Partition) publishReset(lsn int64) { p.applied.Store(lsn) }

// Horizon returns an LSN at or above every change a reader may see now.
// A read that must be sure its result is covered by some LSN (a query, or
// a read that found nothing) reads Horizon after reading.
func (p *Partition) Horizon() int64 { return max(p.horizon.Load(), p.applied.Load()) }

func (p *Partition) publish(lsn int64) {
	p.applied.Store(lsn)
	p.notifyMu.Lock()
	close(p.notify)
	p.notify = make(chan struct{})
	p.notifyMu.Unlock()
}

// DeleteData removes every key of partition pid in one synced batch (used
// when its container is deleted). The partition must be closed.
func DeleteData(db *storage.DB, pid uint64) error {
	b := db.NewBatch()
	defer b.Close()
	for _, tag := range storage.PartitionTags {
		start, end := storage.PartitionRange(tag, pid)
		b.DeleteRange(start, end)
	}
	return b.Commit(true /* sync */)
}

// lagRing bounds the replication-lag samples a partition keeps.
const lagRing = 8192

func (p *Partition) recordLags(now time.Time, es []*replog.Entry) {
	p.lagMu.Lock()
	defer p.lagMu.Unlock()
	for _, e := range es {
		d := now.Sub(time.Unix(0, e.TS))
		if len(p.lags) < lagRing {
			p.lags = append(p.lags, d)
		} else {
			p.lags[p.lagNext] = d
			p.lagNext = (p.lagNext + 1) % lagRing
		}
	}
}

// ReplicationLags returns recent replication lags of entries applied here
// from the write region (at most 8192, oldest first is not guaranteed), and
// clears them.
func (p *Partition) ReplicationLags() []time.Duration {
	p.lagMu.Lock()
	defer p.lagMu.Unlock()
	out := p.lags
	p.lags, p.lagNext = nil, 0
	return out
}

// ReadLog reads the log entries after lsn (for replication and tests).
func (p *Partition) ReadLog(after int64, max int, fn func(*replog.Entry) bool) error {
	return replog.Read(p.cfg.DB, p.cfg.ID, after, max, fn)
}
