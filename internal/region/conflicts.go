package region

import (
	"context"
	"encoding/json"
)

// Conflicts lists a container's conflicts feed: versions that lost, such as
// the never-replicated writes a deposed write region published when it
// returned. Every region serves the same, replicated feed.
func (r *Region) Conflicts(ctx context.Context, db, coll string) ([]json.RawMessage, error) {
	_, p, err := r.container(db, coll)
	if err != nil {
		return nil, err
	}
	cs, err := p.Conflicts(ctx)
	if cs == nil {
		cs = []json.RawMessage{}
	}
	return cs, err
}

// DeleteConflict removes one conflict from the feed (in the write region,
// like any write).
func (r *Region) DeleteConflict(ctx context.Context, db, coll, id string) error {
	_, p, err := r.container(db, coll)
	if err != nil {
		return err
	}
	if !r.isWriter() {
		return r.writeForbidden()
	}
	return p.DeleteConflict(ctx, id)
}
