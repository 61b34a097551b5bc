package region

import (
	"context"
	"time"
)

// WaitApplied blocks until this region has applied the given LSN of a
// container's partition (tests and tools measure replication with it).
func (r *Region) WaitApplied(ctx context.Context, db, coll string, lsn int64) error {
	_, p, err := r.container(db, coll)
	if err != nil {
		return err
	}
	return p.WaitApplied(ctx, lsn)
}

// ReplicationLags returns (and clears) the recent replication lags of a
// container's partition in this region: from commit in the write region to
// durable and visible here.
func (r *Region) ReplicationLags(db, coll string) ([]time.Duration, error) {
	_, p, err := r.container(db, coll)
	if err != nil {
		return nil, err
	}
	return p.ReplicationLags(), nil
}
