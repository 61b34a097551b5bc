package storage

import (
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Pebble does not fail writes when the disk is full: they stall while a
// background flush retries forever. Every write path therefore asks the
// space guard first and fails fast, with a clear error, below a reserve.

// ErrInsufficientStorage is returned by CheckSpace when the data
// directory's filesystem has less free space than the reserve.
type ErrInsufficientStorage struct {
	Free, Reserve uint64
}

func (e *ErrInsufficientStorage) Error() string {
	return fmt.Sprintf("storage: only %d bytes free on the data volume, below the %d-byte reserve", e.Free, e.Reserve)
}

// spaceGuard caches the free-space reading briefly: statfs per commit
// group would be cheap, but not free.
type spaceGuard struct {
	dir     string
	reserve uint64
	freeFn  func(dir string) (uint64, error)

	// mu guards the cached reading.
	mu      sync.Mutex
	checked time.Time
	free    uint64
	err     error

	disabled atomic.Bool
}

func statfsFree(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return uint64(st.Bavail) * uint64(st.Bsize), nil // Bavail is int64 on FreeBSD
}

const spaceCheckEvery = 100 * time.Millisecond

func (g *spaceGuard) check() error {
	if g == nil || g.disabled.Load() || g.reserve == 0 {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if time.Since(g.checked) >= spaceCheckEvery {
		g.free, g.err = g.freeFn(g.dir)
		g.checked = time.Now()
	}
	if g.err != nil {
		return nil // cannot tell: do not refuse writes on a statfs failure
	}
	if g.free < g.reserve {
		return &ErrInsufficientStorage{Free: g.free, Reserve: g.reserve}
	}
	return nil
}

// CheckSpace reports whether writes may proceed: nil, or
// *ErrInsufficientStorage when free space is below the reserve.
func (d *DB) CheckSpace() error { return d.space.check() }
