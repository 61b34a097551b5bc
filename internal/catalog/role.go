package catalog

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
