package region

import (
	"context"
	"encoding/json"

	"github.com/meridiandb/meridian/internal/partition"
	"github.com/meridiandb/meridian/internal/repl"
	"github.com/meridiandb/meridian/internal/resource"
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

// PublishConflicts adds the records a returning deposed region sends (its
// writes a failover removed) to partition pid's conflicts feed; it runs in
// the write region (repl.ConflictSink).
func (r *Region) PublishConflicts(ctx context.Context, pid uint64, records []repl.ConflictRecord) error {
	if !r.isWriteRegion() {
		return r.writeForbidden()
	}
	r.mu.RLock()
	p := r.parts[uint32(pid)]
	r.mu.RUnlock()
	if p == nil {
		return resource.Errorf(resource.KindNotFound, "Partition %d does not exist in region %q.", pid, r.self.Name)
	}
	cs := make([]partition.Conflict, len(records))
	for i, c := range records {
		cs[i] = partition.Conflict{ID: c.ID, JSON: c.JSON}
	}
	return p.PublishConflicts(ctx, cs)
}

var _ repl.ConflictSink = (*Region)(nil)
