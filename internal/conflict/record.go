package conflict

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// ConflictRecord is one conflicts-feed record: its id and its JSON, the
// same pair as partition.Conflict (PublishConflicts skips an id already in
// the feed).
type ConflictRecord struct {
	ID   string
	JSON []byte
}

// ConflictID returns the feed id of a losing version:
// "mw-{origin}-{lsn}-{index}". It depends only on the version's identity,
// so every region that sees the version lose derives the same id and the
// feed holds it once however many regions publish it. The "mw-" prefix
// keeps it apart from the failover records' "{epoch}-{lsn}-{index}".
func ConflictID(v Version) string {
	return "mw-" + strconv.FormatUint(uint64(v.Origin), 10) + "-" + strconv.FormatInt(v.LSN, 10) + "-" + strconv.Itoa(v.Index)
}

// NewConflictRecord renders a losing version as a Cosmos DB conflict
// resource, in the shape partition.conflictRecord gives the failover
// records: id, _rid (the container's), resourceType "document", resourceId
// (the item's id), operationType ("create", "replace" or "delete"),
// content (the losing document as a JSON string; "" for a delete), _ts (the
// losing write's), _self, _etag, and a "meridian" member saying where it
// came from. The JSON is a function of its arguments only, so every region
// renders the same bytes.
func NewConflictRecord(collRID, itemID string, loser Version) (ConflictRecord, error) {
	if itemID == "" {
		return ConflictRecord{}, errors.New("conflict: a conflict record needs the item id")
	}
	content := ""
	if !loser.Deleted {
		if !json.Valid(loser.Doc) {
			return ConflictRecord{}, fmt.Errorf("%w: the losing version r%d/%d has no valid JSON document", ErrMalformed, loser.Origin, loser.LSN)
		}
		content = string(loser.Doc)
	}
	id := ConflictID(loser)
	rec := map[string]any{
		"id":            id,
		"_rid":          collRID,
		"resourceType":  "document",
		"resourceId":    itemID,
		"operationType": loser.Operation(),
		"content":       content,
		"_ts":           loser.TS.Seconds(),
		"_self":         "",
		"_etag":         strconv.Quote(id),
		"meridian": map[string]any{
			"reason":   "lost a multi-region write conflict",
			"regionId": loser.Origin, "lsn": loser.LSN, "index": loser.Index,
		},
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return ConflictRecord{}, err
	}
	return ConflictRecord{ID: id, JSON: b}, nil
}
