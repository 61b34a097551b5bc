package conflict

import (
	"encoding/json"
	"errors"
	"maps"
	"regexp"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestConflictRecord(t *testing.T) {
	doc := `{"id":"k","v":"<b>&","n":1}`
	create := write(t, lwwTS, nil, rB, 42, 1700000000*sec+5, nil, doc)
	replace := write(t, lwwTS, &create, rC, 7, 1700000001*sec, Vector{rB: 42}, `{"id":"k","v":2}`)
	replace.Index = 3
	del := write(t, lwwTS, &create, rA, 9, 1700000002*sec, Vector{rB: 42}, "")

	for _, tc := range []struct {
		v       Version
		id, op  string
		content string
		ts      int64
	}{
		{create, "mw-2-42-0", "create", doc, 1700000000},
		{replace, "mw-3-7-3", "replace", `{"id":"k","v":2}`, 1700000001},
		{del, "mw-1-9-0", "delete", "", 1700000002},
	} {
		rec, err := NewConflictRecord("cOlLRiD=", "k", tc.v)
		require.NoError(t, err)
		require.Equal(t, tc.id, rec.ID)
		require.Equal(t, tc.id, ConflictID(tc.v))

		var m map[string]any
		require.NoError(t, json.Unmarshal(rec.JSON, &m))
		// The keys partition.conflictRecord writes for failover records.
		require.Equal(t, []string{"_etag", "_rid", "_self", "_ts", "content", "id", "meridian", "operationType", "resourceId", "resourceType"},
			slices.Sorted(maps.Keys(m)))
		require.Equal(t, tc.id, m["id"])
		require.Equal(t, "cOlLRiD=", m["_rid"])
		require.Equal(t, "document", m["resourceType"])
		require.Equal(t, "k", m["resourceId"])
		require.Equal(t, tc.op, m["operationType"])
		require.Equal(t, tc.content, m["content"], "content is the document as a JSON string")
		require.Equal(t, float64(tc.ts), m["_ts"])
		require.Equal(t, `"`+tc.id+`"`, m["_etag"])
		require.Equal(t, "", m["_self"])
		meta := m["meridian"].(map[string]any)
		require.Equal(t, float64(tc.v.Origin), meta["regionId"])
		require.Equal(t, float64(tc.v.LSN), meta["lsn"])
		require.NotEmpty(t, meta["reason"])

		// Deterministic: the same loser renders the same bytes, whatever
		// else differs between the regions that publish it.
		again := tc.v
		again.Seen = Vector{rA: 99, rB: 99, rC: 99}
		rec2, err := NewConflictRecord("cOlLRiD=", "k", again)
		require.NoError(t, err)
		require.Equal(t, rec, rec2)
	}

	// Ids never collide with failover records ("{epoch}-{lsn}-{index}").
	require.False(t, regexp.MustCompile(`^\d+-\d+-\d+$`).MatchString(ConflictID(create)))

	_, err := NewConflictRecord("c", "", create)
	require.Error(t, err)
	bad := create
	bad.Doc = []byte(`{`)
	_, err = NewConflictRecord("c", "k", bad)
	require.True(t, errors.Is(err, ErrMalformed))
}

func TestConflictIDsAreUniquePerWrite(t *testing.T) {
	seen := map[string]Version{}
	for origin := uint32(1); origin <= 12; origin++ {
		for lsn := int64(1); lsn <= 12; lsn++ {
			for index := range 12 {
				v := Version{Origin: origin, LSN: lsn, Index: index}
				id := ConflictID(v)
				prev, dup := seen[id]
				require.False(t, dup, "%s for %v and %v", id, prev, v)
				seen[id] = v
			}
		}
	}
}

func TestStrings(t *testing.T) {
	require.Equal(t, "conflict", Conflicted.String())
	require.Equal(t, "stale", Stale.String())
	require.Equal(t, "replace/delete", ReplaceDelete.String())
	require.Equal(t, "insert/insert", InsertInsert.String())
	v := write(t, lwwTS, nil, rB, 4, 10*sec, nil, `{}`)
	require.Equal(t, "create r2/4.0 ts=10000000000.0 inc=0 depth=1", v.String())
}
