package storage

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// ErrNotFound is returned by Get when the key does not exist.
var ErrNotFound = errors.New("storage: not found")

// Options configure a DB.
type Options struct {
	// Dir is the data directory. Required.
	Dir string
	// FS overrides the filesystem (vfs.NewMem, errorfs, crash FS in tests).
	FS vfs.FS
	// CacheSize is the block cache size in bytes (default 64 MiB).
	CacheSize int64
	// MemTableSize is the memtable size in bytes (default 32 MiB).
	MemTableSize uint64
	// SpaceReserve is the free space (bytes) below which writes are
	// refused (default: 2 memtables + 64 MiB; set -1 to disable). It only
	// applies on the real filesystem (FS nil).
	SpaceReserve int64
	// FreeSpace overrides how free space is read (tests).
	FreeSpace func(dir string) (uint64, error)
	Logger    *slog.Logger
}

// Defaults fills zero fields.
func (o *Options) Defaults() {
	if o.CacheSize == 0 {
		o.CacheSize = 64 << 20
	}
	if o.MemTableSize == 0 {
		o.MemTableSize = 32 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.SpaceReserve == 0 {
		o.SpaceReserve = int64(2*o.MemTableSize) + 64<<20
	}
}

// Validate reports a configuration error naming the field.
func (o *Options) Validate() error {
	if o.Dir == "" {
		return errors.New("storage: Options.Dir is required")
	}
	return nil
}

// DB is a region's key-value store.
type DB struct {
	pdb   *pebble.DB
	log   *slog.Logger
	space *spaceGuard // nil when disabled or on an in-memory FS
	stall *stallStats
}

// Open opens (creating if needed) the database in opts.Dir.
func Open(opts Options) (*DB, error) {
	opts.Defaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	cache := pebble.NewCache(opts.CacheSize)
	defer cache.Unref()
	stall := &stallStats{}
	po := &pebble.Options{
		Cache:         cache,
		MemTableSize:  opts.MemTableSize,
		Logger:        pebbleLogger{opts.Logger},
		FS:            opts.FS,
		EventListener: eventListener(opts.Logger, stall),
	}
	// Point reads (every item read, and the read before every write) are
	// Gets: a Bloom filter per table (10 bits per key, about 1 % false
	// positives) lets a Get skip the tables of every level that does not
	// hold the key instead of reading their index and data blocks. The
	// levels below L0 inherit it.
	po.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	pdb, err := pebble.Open(opts.Dir, po)
	if err != nil {
		return nil, fmt.Errorf("open pebble %s: %w", opts.Dir, err)
	}
	db := &DB{pdb: pdb, log: opts.Logger, stall: stall}
	if opts.SpaceReserve > 0 && (opts.FS == nil || opts.FreeSpace != nil) {
		free := opts.FreeSpace
		if free == nil {
			free = statfsFree
		}
		db.space = &spaceGuard{dir: opts.Dir, reserve: uint64(opts.SpaceReserve), freeFn: free}
	}
	return db, nil
}

// Close flushes nothing (every acknowledged write is already in the synced
// WAL) and releases the database.
func (d *DB) Close() error { return d.pdb.Close() }

// Get returns a copy of the value stored at key, or ErrNotFound.
func (d *DB) Get(key []byte) ([]byte, error) {
	v, closer, err := d.pdb.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	out := append([]byte(nil), v...)
	_ = closer.Close()
	return out, nil
}

// Scan calls fn for every key in [lower, upper) in ascending order until fn
// returns false. The slices passed to fn are only valid during the call.
func (d *DB) Scan(lower, upper []byte, fn func(key, value []byte) bool) error {
	return scan(d.pdb, lower, upper, false, fn)
}

// ScanReverse is Scan in descending key order.
func (d *DB) ScanReverse(lower, upper []byte, fn func(key, value []byte) bool) error {
	return scan(d.pdb, lower, upper, true, fn)
}

type iterReader interface {
	NewIter(*pebble.IterOptions) (*pebble.Iterator, error)
}

func scan(r iterReader, lower, upper []byte, reverse bool, fn func(key, value []byte) bool) error {
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return fmt.Errorf("new iter: %w", err)
	}
	var ok bool
	if reverse {
		ok = it.Last()
	} else {
		ok = it.First()
	}
	for ; ok; ok = step(it, reverse) {
		v, err := it.ValueAndErr()
		if err != nil {
			_ = it.Close()
			return fmt.Errorf("iter value: %w", err)
		}
		if !fn(it.Key(), v) {
			break
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("iter close: %w", err)
	}
	return nil
}

func step(it *pebble.Iterator, reverse bool) bool {
	if reverse {
		return it.Prev()
	}
	return it.Next()
}

// Snapshot is a consistent read-only view of the database.
type Snapshot struct{ s *pebble.Snapshot }

// NewSnapshot returns a point-in-time view. Close it when done.
func (d *DB) NewSnapshot() *Snapshot { return &Snapshot{s: d.pdb.NewSnapshot()} }

// Get is DB.Get at the snapshot.
func (s *Snapshot) Get(key []byte) ([]byte, error) {
	v, closer, err := s.s.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot get: %w", err)
	}
	out := append([]byte(nil), v...)
	_ = closer.Close()
	return out, nil
}

// Scan is DB.Scan at the snapshot.
func (s *Snapshot) Scan(lower, upper []byte, fn func(key, value []byte) bool) error {
	return scan(s.s, lower, upper, false, fn)
}

// Close releases the snapshot.
func (s *Snapshot) Close() error { return s.s.Close() }

// Batch is a set of writes applied atomically.
type Batch struct {
	b  *pebble.Batch
	db *pebble.DB
	n  int
}

// NewBatch returns an empty batch.
func (d *DB) NewBatch() *Batch { return &Batch{b: d.pdb.NewBatch(), db: d.pdb} }

// Set stores value at key (both are copied).
func (b *Batch) Set(key, value []byte) {
	_ = b.b.Set(key, value, nil)
	b.n++
}

// Delete removes key.
func (b *Batch) Delete(key []byte) {
	_ = b.b.Delete(key, nil)
	b.n++
}

// DeleteRange removes every key in [start, end).
func (b *Batch) DeleteRange(start, end []byte) {
	_ = b.b.DeleteRange(start, end, nil)
	b.n++
}

// Len is the number of operations in the batch.
func (b *Batch) Len() int { return b.n }

// Commit applies the batch. With sync (the default for anything
// acknowledged to a client or a peer) it returns only once the WAL is
// fsynced; concurrent synced commits share one fsync. Note that Pebble makes
// the batch visible to readers before the fsync completes.
func (b *Batch) Commit(sync bool) error {
	wo := pebble.NoSync
	if sync {
		wo = pebble.Sync
	}
	if err := b.b.Commit(wo); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Close releases the batch; it is safe after Commit.
func (b *Batch) Close() { _ = b.b.Close() }

// Metrics is a small summary of Pebble's state for status endpoints.
type Metrics struct {
	WALBytes     uint64
	DiskBytes    uint64
	MemTableSize uint64
	Compactions  int64
	// WriteStalls counts the times commits had to wait for a flush or an
	// L0 compaction; WriteStallTime is how long they waited in all.
	WriteStalls    int64
	WriteStallTime time.Duration
}

// Metrics returns a summary of the store's internal counters.
func (d *DB) Metrics() Metrics {
	m := d.pdb.Metrics()
	return Metrics{
		WALBytes:     m.WAL.Size,
		DiskBytes:    m.DiskSpaceUsage(),
		MemTableSize: m.MemTable.Size,
		Compactions:  m.Compact.Count,

		WriteStalls:    d.stall.count.Load(),
		WriteStallTime: time.Duration(d.stall.nanos.Load()),
	}
}

// pebbleLogger routes Pebble's logs to slog. Fatalf must exit: Pebble calls
// it on a failed WAL fsync, after which the process must restart and replay
// (never retry an fsync).
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug("pebble", "msg", fmt.Sprintf(format, args...))
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error("pebble", "msg", fmt.Sprintf(format, args...))
}

func (p pebbleLogger) Fatalf(format string, args ...any) {
	p.l.Error("pebble fatal: exiting so the region restarts and replays its WAL", "msg", fmt.Sprintf(format, args...))
	pebble.DefaultLogger.Fatalf(format, args...)
}

// CommitAsync applies the batch with a synced WAL but returns as soon as it
// is in the memtable (and visible to readers!), before the fsync; wait
// blocks until it is durable. The batch must not be closed before wait
// returns. Callers must not acknowledge, replicate or serve the batch's
// changes before wait returns (readers check a durable LSN).
func (b *Batch) CommitAsync() (wait func() error, err error) {
	if err := b.db.ApplyNoSyncWait(b.b, pebble.Sync); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return func() error {
		if err := b.b.SyncWait(); err != nil {
			// As Pebble does on its own commit path: after a failed WAL
			// fsync nothing written since the last good one is known
			// durable, and the WAL cannot be trusted; only a restart
			// (which replays what is durable) is safe. Carrying on left the
			// region up with writes failing and reads hanging (F15).
			panic(fmt.Sprintf("meridian: fatal: WAL sync failed: %v", err))
		}
		return nil
	}, nil
}
