package region

import "context"

// WaitApplied blocks until this region has applied the given LSN of a
// container's partition (tests and tools measure replication with it).
func (r *Region) WaitApplied(ctx context.Context, db, coll string, lsn int64) error {
	_, p, err := r.container(db, coll)
	if err != nil {
		return err
	}
	return p.WaitApplied(ctx, lsn)
}
