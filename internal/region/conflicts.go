package region

import (
	"context"
	"encoding/json"

	"github.com/meridiandb/meridian/internal/resource"
)

// Conflicts lists a container's conflicts feed. Conflicts arise only when a
// failed-over write region returns with writes that were never replicated,
// or between regions of a multi-write account; a single-region account
// never has any, so the feed is empty.
func (r *Region) Conflicts(_ context.Context, db, coll string) ([]json.RawMessage, error) {
	if _, err := r.cat.Container(db, coll); err != nil {
		return nil, err
	}
	return []json.RawMessage{}, nil
}

// DeleteConflict removes one conflict from the feed.
func (r *Region) DeleteConflict(_ context.Context, db, coll, id string) error {
	if _, err := r.cat.Container(db, coll); err != nil {
		return err
	}
	return resource.Errorf(resource.KindNotFound, "Resource Not Found: conflict %q does not exist.", id)
}
