package sdk_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/stretchr/testify/require"

	"github.com/meridiandb/meridian/internal/server"
	"github.com/meridiandb/meridian/internal/session"
)

// tokenRE is the single-range session token the server returns:
// <pkRangeId>:<version>#<globalLSN>[#<region>=<localLSN>...].
var tokenRE = regexp.MustCompile(`^0:(-?\d+)#(\d+)((?:#\d+=\d+)*)$`)

func tokenLSN(t *testing.T, tok *string) int64 {
	t.Helper()
	require.NotNil(t, tok, "session token header missing")
	m := tokenRE.FindStringSubmatch(*tok)
	require.NotNil(t, m, "session token %q does not match %s", *tok, tokenRE)
	n, err := strconv.ParseInt(m[2], 10, 64)
	require.NoError(t, err)
	return n
}

func TestSessionTokens(t *testing.T) {
	e := start(t, func(c *server.Config) { c.SessionWait = 200 * time.Millisecond })
	ctx := ctxT(t)
	c := e.container("db", "sess")
	pk := azcosmos.NewPartitionKeyString("a")

	var lsns []int64
	r, err := c.CreateItem(ctx, pk, []byte(`{"id":"s1","pk":"a"}`), nil)
	require.NoError(t, err)
	lsns = append(lsns, tokenLSN(t, r.SessionToken))
	r, err = c.UpsertItem(ctx, pk, []byte(`{"id":"s1","pk":"a","v":2}`), nil)
	require.NoError(t, err)
	lsns = append(lsns, tokenLSN(t, r.SessionToken))
	ops := azcosmos.PatchOperations{}
	ops.AppendSet("/v", 3)
	r, err = c.PatchItem(ctx, pk, "s1", ops, nil)
	require.NoError(t, err)
	lsns = append(lsns, tokenLSN(t, r.SessionToken))
	r, err = c.ReplaceItem(ctx, pk, "s1", []byte(`{"id":"s1","pk":"a","v":4}`), nil)
	require.NoError(t, err)
	lsns = append(lsns, tokenLSN(t, r.SessionToken))
	// Another logical partition of the same container shares range 0.
	r, err = c.CreateItem(ctx, azcosmos.NewPartitionKeyString("b"), []byte(`{"id":"s2","pk":"b"}`), nil)
	require.NoError(t, err)
	lsns = append(lsns, tokenLSN(t, r.SessionToken))
	r, err = c.DeleteItem(ctx, azcosmos.NewPartitionKeyString("b"), "s2", nil)
	require.NoError(t, err)
	lsns = append(lsns, tokenLSN(t, r.SessionToken))
	for i := 1; i < len(lsns); i++ {
		require.Greater(t, lsns[i], lsns[i-1], "session LSNs must increase with writes: %v", lsns)
	}
	last := r.SessionToken

	t.Run("reads return a token not behind the last write", func(t *testing.T) {
		rr, err := c.ReadItem(ctx, pk, "s1", nil)
		require.NoError(t, err)
		require.GreaterOrEqual(t, tokenLSN(t, rr.SessionToken), lsns[len(lsns)-1])
	})

	t.Run("a failed write does not return a token", func(t *testing.T) {
		_, err := c.CreateItem(ctx, pk, []byte(`{"id":"s1","pk":"a"}`), nil)
		re := respErr(t, err, http.StatusConflict)
		require.Empty(t, re.RawResponse.Header.Get("x-ms-session-token"))
	})

	t.Run("read with the write's token", func(t *testing.T) {
		rr, err := c.ReadItem(ctx, pk, "s1", &azcosmos.ItemOptions{SessionToken: last})
		require.NoError(t, err)
		require.EqualValues(t, 4, decodeAny(t, rr.Value)["v"])
		pager := c.NewQueryItemsPager("SELECT * FROM c", pk, &azcosmos.QueryOptions{SessionToken: last})
		page, err := pager.NextPage(ctx)
		require.NoError(t, err)
		require.Len(t, page.Items, 1)
		// An older token is fine too.
		first := "0:" + tokenRE.FindStringSubmatch(*last)[1] + "#" + strconv.FormatInt(lsns[0], 10)
		_, err = c.ReadItem(ctx, pk, "s1", &azcosmos.ItemOptions{SessionToken: &first})
		require.NoError(t, err)
	})

	t.Run("malformed token 400", func(t *testing.T) {
		for _, bad := range []string{"garbage", "0:", "0:abc#def", "0:1#-5#x"} {
			bad := bad
			_, err := c.ReadItem(ctx, pk, "s1", &azcosmos.ItemOptions{SessionToken: &bad})
			respErr(t, err, http.StatusBadRequest)
		}
	})

	t.Run("token far in the future 404/1002", func(t *testing.T) {
		m := tokenRE.FindStringSubmatch(*last)
		future := "0:" + m[1] + "#" + strconv.FormatInt(lsns[len(lsns)-1]+1_000_000, 10) + m[3]
		_, err := c.ReadItem(ctx, pk, "s1", &azcosmos.ItemOptions{SessionToken: &future})
		re := respErr(t, err, http.StatusNotFound)
		require.Equal(t, "1002", substatus(re))

		pager := c.NewQueryItemsPager("SELECT * FROM c", pk, &azcosmos.QueryOptions{SessionToken: &future})
		_, err = pager.NextPage(ctx)
		re = respErr(t, err, http.StatusNotFound)
		require.Equal(t, "1002", substatus(re))
	})

	t.Run("batch returns a token", func(t *testing.T) {
		b := c.NewTransactionalBatch(pk)
		b.CreateItem([]byte(`{"id":"s3","pk":"a"}`), nil)
		resp, err := c.ExecuteTransactionalBatch(ctx, b, &azcosmos.TransactionalBatchOptions{SessionToken: *last})
		require.NoError(t, err)
		tok := resp.SessionToken
		require.Greater(t, tokenLSN(t, &tok), lsns[len(lsns)-1])
	})
}

func TestConsistencyLevels(t *testing.T) {
	lv := func(l azcosmos.ConsistencyLevel) *azcosmos.ConsistencyLevel { return &l }

	t.Run("account Session", func(t *testing.T) {
		e := start(t)
		ctx := ctxT(t)
		c := e.container("db", "cons")
		pk := azcosmos.NewPartitionKeyString("a")
		_, err := c.CreateItem(ctx, pk, []byte(`{"id":"x","pk":"a"}`), nil)
		require.NoError(t, err)
		for _, ok := range []azcosmos.ConsistencyLevel{azcosmos.ConsistencyLevelSession, azcosmos.ConsistencyLevelConsistentPrefix, azcosmos.ConsistencyLevelEventual} {
			_, err := c.ReadItem(ctx, pk, "x", &azcosmos.ItemOptions{ConsistencyLevel: lv(ok)})
			require.NoError(t, err, "read at %s", ok)
			pager := c.NewQueryItemsPager("SELECT * FROM c", pk, &azcosmos.QueryOptions{ConsistencyLevel: lv(ok)})
			page, err := pager.NextPage(ctx)
			require.NoError(t, err, "query at %s", ok)
			require.Len(t, page.Items, 1)
		}
		for _, bad := range []azcosmos.ConsistencyLevel{azcosmos.ConsistencyLevelStrong, azcosmos.ConsistencyLevelBoundedStaleness} {
			_, err := c.ReadItem(ctx, pk, "x", &azcosmos.ItemOptions{ConsistencyLevel: lv(bad)})
			respErr(t, err, http.StatusBadRequest)
			pager := c.NewQueryItemsPager("SELECT * FROM c", pk, &azcosmos.QueryOptions{ConsistencyLevel: lv(bad)})
			_, err = pager.NextPage(ctx)
			respErr(t, err, http.StatusBadRequest)
			_, err = c.ReadManyItems(ctx, []azcosmos.ItemIdentity{{ID: "x", PartitionKey: pk}}, &azcosmos.ReadManyItemsOptions{ConsistencyLevel: lv(bad)})
			respErr(t, err, http.StatusBadRequest)
		}
		unknown := azcosmos.ConsistencyLevel("Linearizable")
		_, err = c.ReadItem(ctx, pk, "x", &azcosmos.ItemOptions{ConsistencyLevel: &unknown})
		respErr(t, err, http.StatusBadRequest)
	})

	t.Run("account Eventual", func(t *testing.T) {
		e := start(t, func(c *server.Config) { c.Consistency = session.Eventual })
		ctx := ctxT(t)
		r := e.raw(rawReq{method: http.MethodGet, path: "/"})
		require.Equal(t, http.StatusOK, r.status)
		var acct struct {
			P struct {
				L string `json:"defaultConsistencyLevel"`
			} `json:"userConsistencyPolicy"`
		}
		require.NoError(t, json.Unmarshal(r.body, &acct))
		require.Equal(t, "Eventual", acct.P.L)

		c := e.container("db", "cons")
		pk := azcosmos.NewPartitionKeyString("a")
		_, err := c.CreateItem(ctx, pk, []byte(`{"id":"x","pk":"a"}`), nil)
		require.NoError(t, err)
		_, err = c.ReadItem(ctx, pk, "x", &azcosmos.ItemOptions{ConsistencyLevel: lv(azcosmos.ConsistencyLevelEventual)})
		require.NoError(t, err)
		_, err = c.ReadItem(ctx, pk, "x", &azcosmos.ItemOptions{ConsistencyLevel: lv(azcosmos.ConsistencyLevelSession)})
		respErr(t, err, http.StatusBadRequest)
	})

	t.Run("account Strong", func(t *testing.T) {
		e := start(t, func(c *server.Config) { c.Consistency = session.Strong })
		ctx := ctxT(t)
		c := e.container("db", "cons")
		pk := azcosmos.NewPartitionKeyString("a")
		_, err := c.CreateItem(ctx, pk, []byte(`{"id":"x","pk":"a"}`), nil)
		require.NoError(t, err)
		for _, l := range azcosmos.ConsistencyLevelValues() {
			_, err = c.ReadItem(ctx, pk, "x", &azcosmos.ItemOptions{ConsistencyLevel: lv(l)})
			require.NoError(t, err, "read at %s under Strong", l)
		}
	})
}

func TestTTL(t *testing.T) {
	e := start(t)
	ctx := ctxT(t)
	db := e.createDB("db")
	ttl := int32(1)
	_, err := db.CreateContainer(ctx, azcosmos.ContainerProperties{
		ID:                     "ttl",
		PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: []string{"/pk"}, Version: 2},
		DefaultTimeToLive:      &ttl,
	}, nil)
	require.NoError(t, err)
	c, err := db.NewContainer("ttl")
	require.NoError(t, err)
	pk := azcosmos.NewPartitionKeyString("a")

	t.Run("invalid item ttl 400", func(t *testing.T) {
		for _, b := range []string{`{"id":"bad","pk":"a","ttl":0}`, `{"id":"bad","pk":"a","ttl":"abc"}`, `{"id":"bad","pk":"a","ttl":-5}`, `{"id":"bad","pk":"a","ttl":1.5}`} {
			_, err := c.CreateItem(ctx, pk, []byte(b), nil)
			respErr(t, err, http.StatusBadRequest)
		}
	})

	// An item-level ttl overrides the container default. Its expiry is at
	// least 4 s away (one-second _ts resolution), so it is readable now.
	_, err = c.CreateItem(ctx, pk, []byte(`{"id":"mid","pk":"a","ttl":5}`), nil)
	require.NoError(t, err)
	_, err = c.ReadItem(ctx, pk, "mid", nil)
	require.NoError(t, err, "an item with ttl 5 must not expire at once")
	_, err = c.CreateItem(ctx, pk, []byte(`{"id":"keep","pk":"a","ttl":-1}`), nil)
	require.NoError(t, err)
	_, err = c.CreateItem(ctx, pk, []byte(`{"id":"long","pk":"a","ttl":3600}`), nil)
	require.NoError(t, err)
	_, err = c.CreateItem(ctx, pk, []byte(`{"id":"short","pk":"a"}`), nil)
	require.NoError(t, err)

	// Poll (no fixed sleep) until the 1 s item is gone from both reads and
	// queries; _ts has one-second resolution, so allow a generous deadline.
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, rerr := c.ReadItem(ctx, pk, "short", nil)
		ids := map[string]bool{}
		for _, b := range queryAll(t, c, "SELECT c.id FROM c", azcosmos.NewPartitionKey(), nil, 0) {
			ids[decodeAny(t, b)["id"].(string)] = true
		}
		if rerr != nil && !ids["short"] {
			respErr(t, rerr, http.StatusNotFound)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("item with a 1 s TTL still visible after 15 s (read err %v, query ids %v)", rerr, ids)
		}
		time.Sleep(100 * time.Millisecond)
	}

	t.Run("ttl -1 and long ttl survive", func(t *testing.T) {
		for _, id := range []string{"keep", "long"} {
			_, err := c.ReadItem(ctx, pk, id, nil)
			require.NoError(t, err, id)
		}
		got := queryAll(t, c, "SELECT VALUE c.id FROM c WHERE c.id != 'mid' ORDER BY c.id", azcosmos.NewPartitionKey(), nil, 0)
		require.Equal(t, []string{`"keep"`, `"long"`}, rawStrings(got))
	})

	t.Run("expired id can be created again", func(t *testing.T) {
		_, err := c.CreateItem(ctx, pk, []byte(`{"id":"short","pk":"a","ttl":-1}`), nil)
		require.NoError(t, err)
		_, err = c.ReadItem(ctx, pk, "short", nil)
		require.NoError(t, err)
	})
}
