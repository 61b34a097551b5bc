package partition

import (
	"context"
	"encoding/json"

	"github.com/meridiandb/meridian/internal/storage"
)

// The conflicts feed of a container holds versions that lost: the writes
// of a deposed write region that were never replicated before a failover
// (published once when the region returns), and, with multi-region writes,
// the losers of conflicts the policy sends there. Records are replicated
// through the log like items (replog.OpConflictPut/OpConflictDelete), so
// every region serves the same feed.

// Conflict is one record to publish: its id and its JSON.
type Conflict struct {
	ID   string
	JSON []byte
}

// PublishConflicts adds records to the feed, in one entry. Records whose id
// is already in the feed are skipped: publishing is idempotent.
func (p *Partition) PublishConflicts(ctx context.Context, cs []Conflict) error {
	if len(cs) == 0 {
		return nil
	}
	ops := make([]Op, len(cs))
	for i, c := range cs {
		ops[i] = Op{Kind: conflictPut, key: []byte(c.ID), conflict: c.JSON}
	}
	res, err := p.Batch(ctx, ops, true)
	if err != nil {
		return err
	}
	for _, r := range res {
		if r.Err != nil {
			return r.Err
		}
	}
	return nil
}

// DeleteConflict removes one record from the feed (resource.ErrNotFound if
// it is not there).
func (p *Partition) DeleteConflict(ctx context.Context, id string) error {
	_, err := p.Write(ctx, Op{Kind: conflictDelete, key: []byte(id)})
	return err
}

// Conflicts returns the feed, by id.
func (p *Partition) Conflicts(ctx context.Context) ([]json.RawMessage, error) {
	prefix := storage.ConflictPrefix(p.cfg.ID)
	var out []json.RawMessage
	err := p.cfg.DB.Scan(prefix, storage.PrefixEnd(prefix), func(_, v []byte) bool {
		out = append(out, append(json.RawMessage(nil), v...))
		return ctx.Err() == nil
	})
	if err == nil {
		err = ctx.Err()
	}
	p.awaitDurable(p.Horizon())
	return out, err
}
