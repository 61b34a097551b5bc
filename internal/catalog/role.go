package catalog

import "context"

// Promote makes the catalog accept local commands, logged in epoch (the
// account's epoch after a failover; it only grows).
func (c *Catalog) Promote(epoch int64) {
	c.mu.Lock()
	c.writeEpoch = max(c.writeEpoch, epoch)
	c.mu.Unlock()
	c.writable.Store(true)
}

// Fence stops local commands and returns once a command already running
// has finished, so that Applied is final.
func (c *Catalog) Fence() {
	c.writable.Store(false)
	c.mu.Lock()
	//lint:ignore SA2001 the empty critical section waits for a running Apply.
	c.mu.Unlock()
}

// Reset empties the catalog and its log (applied 0), for a region that
// must drop a suffix of its catalog log no other region holds (it rejoins
// after a failover): following the write region again replays the
// surviving log or installs its snapshot. OnReset reconciles partitions.
func (c *Catalog) Reset(ctx context.Context) error {
	return c.InstallSnapshot(ctx, 0, 0, func() ([]byte, []byte, bool, error) { return nil, nil, false, nil })
}
