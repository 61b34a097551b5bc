package partition

import (
	"context"
)

// A partition's role follows its region's: the write region's partitions
// accept local writes in the current epoch; the others only apply
// replicated entries. Failover moves the role (see internal/region's
// control.go): the deposed region's partitions are fenced, the new write
// region's are promoted into the new epoch.

// Promote makes the partition accept local writes, numbering them in epoch
// (the account's epoch, which only grows): entries written from now on
// carry it, so every replica refuses older-epoch entries after them.
func (p *Partition) Promote(epoch int64) {
	for {
		cur := p.writeEpoch.Load()
		if epoch <= cur || p.writeEpoch.CompareAndSwap(cur, epoch) {
			break
		}
	}
	p.writable.Store(true)
}

// Fence stops local writes and returns once every local write already
// admitted has finished (committed durably or refused), so that Applied is
// final until the partition is promoted again or applies replicated
// entries. Writes queued behind the fence are refused with 403.
func (p *Partition) Fence(ctx context.Context) error {
	p.writable.Store(false)
	r := &request{ctx: ctx, flush: make(chan struct{})}
	select {
	case p.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-p.ctx.Done():
		return ErrClosed
	}
	select {
	case <-r.flush:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-p.ctx.Done():
		return ErrClosed
	}
}
