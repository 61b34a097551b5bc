package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/meridiandb/meridian/internal/replog"
	"github.com/meridiandb/meridian/internal/resource"
	"github.com/meridiandb/meridian/internal/storage"
)

// ErrGap is returned by ApplyReplicated for a non-consecutive entry.
var ErrGap = errors.New("catalog: gap in replicated log")

// SetWritable makes the catalog accept local commands (write region) or
// only replicated ones.
func (c *Catalog) SetWritable(w bool) { c.writable.Store(w) }

// Applied is the LSN of the last durable catalog command.
func (c *Catalog) Applied() int64 { return c.applied.Load() }

// Epoch is the write epoch of the catalog log.
func (c *Catalog) Epoch() int64 { return c.epoch.Load() }

// WaitApplied blocks until Applied() >= lsn or ctx ends.
func (c *Catalog) WaitApplied(ctx context.Context, lsn int64) error {
	for {
		c.notifyMu.Lock()
		ch := c.notify
		c.notifyMu.Unlock()
		if c.applied.Load() >= lsn {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// ReadLog reads catalog log entries after lsn.
func (c *Catalog) ReadLog(after int64, max int, fn func(*replog.Entry) bool) error {
	return replog.Read(c.db, LogPartition, after, max, fn)
}

// FirstLSN is the lowest catalog LSN still in the log (0 if empty).
func (c *Catalog) FirstLSN() (int64, error) { return replog.First(c.db, LogPartition) }

// ApplyReplicated replays catalog commands from the write region, in
// order, each in its own synced batch with its log entry.
func (c *Catalog) ApplyReplicated(_ context.Context, entries []*replog.Entry) error {
	for _, e := range entries {
		if err := c.applyEntry(e); err != nil {
			return err
		}
	}
	return nil
}

func (c *Catalog) applyEntry(e *replog.Entry) error {
	c.mu.Lock()
	if e.LSN <= c.meta.Applied {
		c.mu.Unlock()
		return nil
	}
	if e.LSN != c.meta.Applied+1 {
		c.mu.Unlock()
		return fmt.Errorf("%w: applied %d, got %d", ErrGap, c.meta.Applied, e.LSN)
	}
	if len(e.Ops) != 1 || string(e.Ops[0].Key) != cmdKey {
		c.mu.Unlock()
		return fmt.Errorf("catalog entry %d: %w", e.LSN, replog.ErrCorrupt)
	}
	var cmd Command
	if err := json.Unmarshal(e.Ops[0].Value, &cmd); err != nil {
		c.mu.Unlock()
		return fmt.Errorf("catalog entry %d: %w", e.LSN, errors.Join(replog.ErrCorrupt, err))
	}
	b := c.db.NewBatch()
	defer b.Close()
	next := c.meta
	res, undo, err := c.apply(&next, cmd, b)
	if err != nil {
		// The command failed in the write region's state too (it is
		// deterministic), so it was never logged there; reaching this means
		// the states diverged.
		var re *resource.Error
		if !errors.As(err, &re) {
			c.mu.Unlock()
			return err
		}
		c.mu.Unlock()
		return fmt.Errorf("catalog entry %d (%s) does not apply here: %w", e.LSN, cmd.Kind, err)
	}
	next.Applied, next.Epoch = e.LSN, e.Epoch
	if err := c.commit(b, &next, cmd, e, undo); err != nil {
		c.mu.Unlock()
		return err
	}
	c.mu.Unlock()
	c.published(cmd, res)
	return nil
}

// Snapshot calls fn with every catalog record of a consistent copy and
// returns its LSN and epoch.
func (c *Catalog) Snapshot(ctx context.Context, fn func(key, value []byte) error) (lsn, epoch int64, err error) {
	snap := c.db.NewSnapshot()
	defer snap.Close()
	raw, err := snap.Get(storage.CatalogKey("meta"))
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return 0, 0, err
	}
	var m meta
	if raw != nil {
		if err := json.Unmarshal(raw, &m); err != nil {
			return 0, 0, fmt.Errorf("catalog snapshot meta: %w", err)
		}
	}
	p := storage.CatalogPrefix()
	var ferr error
	err = snap.Scan(p, storage.PrefixEnd(p), func(k, v []byte) bool {
		if ctx.Err() != nil {
			ferr = ctx.Err()
			return false
		}
		ferr = fn(k, v)
		return ferr == nil
	})
	if err == nil {
		err = ferr
	}
	if m.Epoch == 0 {
		m.Epoch = 1
	}
	return m.Applied, m.Epoch, err
}

// InstallSnapshot replaces the catalog with a snapshot from another region.
func (c *Catalog) InstallSnapshot(_ context.Context, lsn, epoch int64, next func() (key, value []byte, ok bool, err error)) error {
	c.mu.Lock()
	b := c.db.NewBatch()
	defer b.Close()
	p := storage.CatalogPrefix()
	b.DeleteRange(p, storage.PrefixEnd(p))
	b.DeleteRange(storage.LogPrefix(LogPartition), storage.LogEnd(LogPartition))
	var m meta
	for {
		k, v, ok, err := next()
		if err != nil {
			c.mu.Unlock()
			return fmt.Errorf("install catalog snapshot: %w", err)
		}
		if !ok {
			break
		}
		if len(k) == 0 || k[0] != p[0] {
			c.mu.Unlock()
			return fmt.Errorf("install catalog snapshot: key outside the catalog: %w", replog.ErrCorrupt)
		}
		if string(k[1:]) == "meta" {
			if err := json.Unmarshal(v, &m); err != nil {
				c.mu.Unlock()
				return fmt.Errorf("install catalog snapshot meta: %w", err)
			}
			continue
		}
		b.Set(k, v)
	}
	m.Applied, m.Epoch = lsn, epoch
	b.Set(storage.CatalogKey("meta"), mustJSON(m))
	if err := b.Commit(true /* sync */); err != nil {
		c.mu.Unlock()
		return fmt.Errorf("install catalog snapshot: %w", err)
	}
	err := c.load()
	c.mu.Unlock()
	if err != nil {
		return err
	}
	c.notifyMu.Lock()
	close(c.notify)
	c.notify = make(chan struct{})
	c.notifyMu.Unlock()
	if c.onReset != nil {
		c.onReset()
	}
	return nil
}
