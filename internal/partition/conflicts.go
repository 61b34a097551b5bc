package partition

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/meridiandb/meridian/internal/pkey"
	"github.com/meridiandb/meridian/internal/replog"
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
		if len(v) == 0 {
			return true // a deleted record's marker
		}
		out = append(out, append(json.RawMessage(nil), v...))
		return ctx.Err() == nil
	})
	if err == nil {
		err = ctx.Err()
	}
	p.awaitDurable(p.Horizon())
	return out, err
}

// UnreplicatedConflicts reads the entries [from, to] of this replica's log
// — the suffix a failover truncated because no surviving region held it
// (control.Divergence) — and returns one conflicts-feed record per item
// change in them, for the new write region to publish, and the conflict
// records published in them (unchanged). A record's id is
// "<epoch>-<lsn>-<op>", so publishing it again is a no-op: each lost write
// reaches the feed exactly once. origin names this region in the records.
func (p *Partition) UnreplicatedConflicts(from, to int64, origin string) ([]Conflict, error) {
	var out []Conflict
	var bad error
	next := from
	err := p.ReadLog(from-1, int(to-from+1), func(e *replog.Entry) bool {
		if e.LSN > to {
			return false
		}
		if e.LSN != next {
			bad = fmt.Errorf("partition %d: log holds %d where %d was expected (trimmed?)", p.cfg.ID, e.LSN, next)
			return false
		}
		next++
		for i, op := range e.Ops {
			switch op.Kind {
			case replog.OpConflictPut:
				// A record published in the removed suffix (the report of
				// an earlier failover's losses, written here just before
				// this region was deposed): publish it again, unchanged,
				// or that earlier loss would go unreported.
				out = append(out, Conflict{ID: string(op.Key), JSON: bytes.Clone(op.Value)})
				continue
			case replog.OpConflictDelete:
				// A removed deletion of a record: the record stays in the
				// feed (a lost write like any other, of the feed itself).
				continue
			}
			c, err := conflictRecord(e, i, op, origin, p.Info().CollRID)
			if err != nil {
				bad = fmt.Errorf("partition %d entry %d: %w", p.cfg.ID, e.LSN, err)
				return false
			}
			out = append(out, c)
		}
		return true
	})
	if err == nil {
		err = bad
	}
	if err == nil && next != to+1 {
		err = fmt.Errorf("partition %d: log ends at %d, before the suffix end %d", p.cfg.ID, next-1, to)
	}
	return out, err
}

// conflictRecord renders one lost item change in the shape of a Cosmos DB
// conflict resource (resourceType, operationType, resourceId, content as a
// JSON string), plus a "meridian" member saying where it came from.
func conflictRecord(e *replog.Entry, i int, op replog.Op, origin, collRID string) (Conflict, error) {
	_, idBytes, err := pkey.Split(op.Key)
	if err != nil {
		return Conflict{}, err
	}
	id := fmt.Sprintf("%d-%d-%d", e.Epoch, e.LSN, i)
	rec := map[string]any{
		"id":           id,
		"_rid":         collRID,
		"resourceType": "document",
		"resourceId":   string(idBytes),
		"_ts":          e.TS / int64(time.Second),
		"_self":        "",
		"_etag":        fmt.Sprintf("%q", id),
		"meridian": map[string]any{
			"reason": "unreplicated write of a deposed write region, removed by failover",
			"region": origin, "epoch": e.Epoch, "lsn": e.LSN,
		},
	}
	if op.Kind == replog.OpDelete {
		rec["operationType"] = "delete"
		rec["content"] = ""
	} else {
		v, err := decodeVersion(op.Value)
		if err != nil {
			return Conflict{}, err
		}
		rec["operationType"] = "replace"
		rec["content"] = string(v.JSON)
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return Conflict{}, err
	}
	return Conflict{ID: id, JSON: b}, nil
}
