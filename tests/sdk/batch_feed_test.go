package sdk_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadManyItems(t *testing.T) {
	e := start(t)
	ctx := ctxT(t)
	c := e.container("db", "rm")
	items := []struct {
		id   string
		pk   azcosmos.PartitionKey
		body string
	}{
		{"a1", azcosmos.NewPartitionKeyString("a"), `{"id":"a1","pk":"a"}`},
		{"a2", azcosmos.NewPartitionKeyString("a"), `{"id":"a2","pk":"a"}`},
		{"b1", azcosmos.NewPartitionKeyString("b"), `{"id":"b1","pk":"b"}`},
		{"shared", azcosmos.NewPartitionKeyString("b"), `{"id":"shared","pk":"b","which":"b"}`},
		{"shared", azcosmos.NewPartitionKeyString("c"), `{"id":"shared","pk":"c","which":"c"}`},
		{"n1", azcosmos.NewPartitionKeyNumber(5), `{"id":"n1","pk":5}`},
		{"z1", azcosmos.NullPartitionKey, `{"id":"z1","pk":null}`},
		{"t1", azcosmos.NewPartitionKeyBool(true), `{"id":"t1","pk":true}`},
		{"odd id+&=", azcosmos.NewPartitionKeyString("ü x"), `{"id":"odd id+&=","pk":"ü x"}`},
	}
	for _, it := range items {
		_, err := c.CreateItem(ctx, it.pk, []byte(it.body), nil)
		require.NoError(t, err)
	}
	ids := func(t *testing.T, resp azcosmos.ReadManyItemsResponse) []string {
		var out []string
		for _, b := range resp.Items {
			m := decodeAny(t, b)
			id := m["id"].(string)
			if w, ok := m["which"].(string); ok {
				id += "@" + w
			}
			out = append(out, id)
		}
		sort.Strings(out)
		return out
	}

	t.Run("across partitions with missing items", func(t *testing.T) {
		var req []azcosmos.ItemIdentity
		for _, it := range items {
			req = append(req, azcosmos.ItemIdentity{ID: it.id, PartitionKey: it.pk})
		}
		req = append(req,
			azcosmos.ItemIdentity{ID: "missing", PartitionKey: azcosmos.NewPartitionKeyString("a")},
			azcosmos.ItemIdentity{ID: "a1", PartitionKey: azcosmos.NewPartitionKeyString("b")}, // wrong partition
			azcosmos.ItemIdentity{ID: "n1", PartitionKey: azcosmos.NewPartitionKeyString("5")}, // wrong key type
		)
		resp, err := c.ReadManyItems(ctx, req, nil)
		require.NoError(t, err)
		require.Equal(t, []string{"a1", "a2", "b1", "n1", "odd id+&=", "shared@b", "shared@c", "t1", "z1"}, ids(t, resp))
		for _, b := range resp.Items {
			requireSystemProps(t, b, "")
		}
	})

	t.Run("single partition", func(t *testing.T) {
		pk := azcosmos.NewPartitionKeyString("a")
		resp, err := c.ReadManyItems(ctx, []azcosmos.ItemIdentity{{ID: "a1", PartitionKey: pk}, {ID: "a2", PartitionKey: pk}, {ID: "zz", PartitionKey: pk}}, nil)
		require.NoError(t, err)
		require.Equal(t, []string{"a1", "a2"}, ids(t, resp))
	})

	t.Run("all missing", func(t *testing.T) {
		resp, err := c.ReadManyItems(ctx, []azcosmos.ItemIdentity{{ID: "nope", PartitionKey: azcosmos.NewPartitionKeyString("a")}}, nil)
		require.NoError(t, err)
		require.Empty(t, resp.Items)
	})

	t.Run("missing container 404", func(t *testing.T) {
		ghost, err := e.client.NewContainer("db", "ghost")
		require.NoError(t, err)
		_, err = ghost.ReadManyItems(ctx, []azcosmos.ItemIdentity{{ID: "a1", PartitionKey: azcosmos.NewPartitionKeyString("a")}}, nil)
		respErr(t, err, http.StatusNotFound)
	})
}

func TestTransactionalBatch(t *testing.T) {
	e := start(t)
	ctx := ctxT(t)
	c := e.container("db", "batch")
	pk := azcosmos.NewPartitionKeyString("p")
	for _, id := range []string{"r1", "x1", "d1", "pt1"} {
		_, err := c.CreateItem(ctx, pk, mustJSON(t, map[string]any{"id": id, "pk": "p", "n": 1}), nil)
		require.NoError(t, err)
	}
	// An item in another partition the batch must not see.
	_, err := c.CreateItem(ctx, azcosmos.NewPartitionKeyString("q"), []byte(`{"id":"new1","pk":"q"}`), nil)
	require.NoError(t, err)

	t.Run("all succeed", func(t *testing.T) {
		r, err := c.ReadItem(ctx, pk, "x1", nil)
		require.NoError(t, err)
		x1Tag := r.ETag
		b := c.NewTransactionalBatch(pk)
		b.CreateItem([]byte(`{"id":"new1","pk":"p","v":1}`), nil)
		b.UpsertItem([]byte(`{"id":"up1","pk":"p","v":2}`), nil)
		b.ReplaceItem("x1", []byte(`{"id":"x1","pk":"p","v":3}`), &azcosmos.TransactionalBatchItemOptions{IfMatchETag: &x1Tag})
		b.ReadItem("r1", nil)
		ops := azcosmos.PatchOperations{}
		ops.AppendIncrement("/n", 10)
		b.PatchItem("pt1", ops, nil)
		b.DeleteItem("d1", nil)
		resp, err := c.ExecuteTransactionalBatch(ctx, b, nil)
		require.NoError(t, err)
		require.True(t, resp.Success)
		require.Equal(t, http.StatusOK, resp.RawResponse.StatusCode)
		require.Len(t, resp.OperationResults, 6)
		var codes []int32
		for _, r := range resp.OperationResults {
			codes = append(codes, r.StatusCode)
		}
		require.Equal(t, []int32{201, 201, 200, 200, 200, 204}, codes)
		for i, r := range resp.OperationResults[:5] {
			require.NotEmpty(t, string(r.ETag), "op %d etag", i)
		}
		// The batch has a Read, so the SDK asks for content; the Read returns its item.
		read := decodeAny(t, resp.OperationResults[3].ResourceBody)
		require.Equal(t, "r1", read["id"])
		require.NotEmpty(t, resp.SessionToken)

		got, err := c.ReadItem(ctx, pk, "new1", nil)
		require.NoError(t, err)
		require.EqualValues(t, 1, decodeAny(t, got.Value)["v"])
		got, err = c.ReadItem(ctx, pk, "x1", nil)
		require.NoError(t, err)
		require.EqualValues(t, 3, decodeAny(t, got.Value)["v"])
		got, err = c.ReadItem(ctx, pk, "pt1", nil)
		require.NoError(t, err)
		require.EqualValues(t, 11, decodeAny(t, got.Value)["n"])
		_, err = c.ReadItem(ctx, pk, "d1", nil)
		respErr(t, err, http.StatusNotFound)
	})

	t.Run("upsert existing 200 and write-only minimal", func(t *testing.T) {
		b := c.NewTransactionalBatch(pk)
		b.UpsertItem([]byte(`{"id":"up1","pk":"p","v":20}`), nil)
		b.CreateItem([]byte(`{"id":"new2","pk":"p"}`), nil)
		resp, err := c.ExecuteTransactionalBatch(ctx, b, nil)
		require.NoError(t, err)
		require.True(t, resp.Success)
		require.EqualValues(t, 200, resp.OperationResults[0].StatusCode)
		require.EqualValues(t, 201, resp.OperationResults[1].StatusCode)
		require.Empty(t, resp.OperationResults[0].ResourceBody, "no content without EnableContentResponseOnWrite")

		b = c.NewTransactionalBatch(pk)
		b.CreateItem([]byte(`{"id":"new3","pk":"p","w":1}`), nil)
		resp, err = c.ExecuteTransactionalBatch(ctx, b, &azcosmos.TransactionalBatchOptions{EnableContentResponseOnWrite: true})
		require.NoError(t, err)
		require.True(t, resp.Success)
		body := decodeAny(t, resp.OperationResults[0].ResourceBody)
		require.Equal(t, "new3", body["id"])
		require.NotEmpty(t, body["_etag"])
	})

	t.Run("one fails: 207, failing op status, others 424, nothing written", func(t *testing.T) {
		b := c.NewTransactionalBatch(pk)
		b.CreateItem([]byte(`{"id":"fresh1","pk":"p"}`), nil)
		b.UpsertItem([]byte(`{"id":"r1","pk":"p","changed":true}`), nil)
		b.CreateItem([]byte(`{"id":"new1","pk":"p"}`), nil) // exists: 409
		b.DeleteItem("x1", nil)
		resp, err := c.ExecuteTransactionalBatch(ctx, b, nil)
		require.NoError(t, err)
		require.False(t, resp.Success)
		require.Equal(t, http.StatusMultiStatus, resp.RawResponse.StatusCode)
		require.Len(t, resp.OperationResults, 4)
		var codes []int32
		for _, r := range resp.OperationResults {
			codes = append(codes, r.StatusCode)
		}
		// assert (not require): the rollback checks below run even if the
		// per-operation codes are wrong.
		assert.Equal(t, []int32{424, 424, 409, 424}, codes, "per-operation status codes")

		_, err = c.ReadItem(ctx, pk, "fresh1", nil)
		respErr(t, err, http.StatusNotFound)
		r, err := c.ReadItem(ctx, pk, "r1", nil)
		require.NoError(t, err)
		_, changed := decodeAny(t, r.Value)["changed"]
		require.False(t, changed, "the upsert must be rolled back")
		_, err = c.ReadItem(ctx, pk, "x1", nil)
		require.NoError(t, err, "the delete must be rolled back")
	})

	t.Run("failing precondition and missing item", func(t *testing.T) {
		stale := azcore.ETag(`"stale"`)
		b := c.NewTransactionalBatch(pk)
		b.CreateItem([]byte(`{"id":"fresh2","pk":"p"}`), nil)
		b.ReplaceItem("x1", []byte(`{"id":"x1","pk":"p"}`), &azcosmos.TransactionalBatchItemOptions{IfMatchETag: &stale})
		resp, err := c.ExecuteTransactionalBatch(ctx, b, nil)
		require.NoError(t, err)
		require.False(t, resp.Success)
		assert.EqualValues(t, 424, resp.OperationResults[0].StatusCode)
		assert.EqualValues(t, 412, resp.OperationResults[1].StatusCode)

		b = c.NewTransactionalBatch(pk)
		b.ReadItem("ghost", nil)
		b.CreateItem([]byte(`{"id":"fresh2","pk":"p"}`), nil)
		resp, err = c.ExecuteTransactionalBatch(ctx, b, nil)
		require.NoError(t, err)
		require.False(t, resp.Success)
		assert.EqualValues(t, 404, resp.OperationResults[0].StatusCode)
		assert.EqualValues(t, 424, resp.OperationResults[1].StatusCode)
		_, err = c.ReadItem(ctx, pk, "fresh2", nil)
		respErr(t, err, http.StatusNotFound)
	})

	t.Run("read-only batch", func(t *testing.T) {
		b := c.NewTransactionalBatch(pk)
		b.ReadItem("r1", nil)
		b.ReadItem("x1", nil)
		resp, err := c.ExecuteTransactionalBatch(ctx, b, nil)
		require.NoError(t, err)
		require.True(t, resp.Success)
		require.Equal(t, "r1", decodeAny(t, resp.OperationResults[0].ResourceBody)["id"])
		require.Equal(t, "x1", decodeAny(t, resp.OperationResults[1].ResourceBody)["id"])
	})

	t.Run("item in another partition is 400 and nothing is written", func(t *testing.T) {
		b := c.NewTransactionalBatch(pk)
		b.CreateItem([]byte(`{"id":"fresh3","pk":"p"}`), nil)
		b.CreateItem([]byte(`{"id":"other","pk":"zzz"}`), nil)
		resp, err := c.ExecuteTransactionalBatch(ctx, b, nil)
		if err == nil {
			// Either the whole request is rejected or the op fails inside.
			require.False(t, resp.Success)
			assert.EqualValues(t, 400, resp.OperationResults[1].StatusCode)
		} else {
			respErr(t, err, http.StatusBadRequest)
		}
		_, err = c.ReadItem(ctx, pk, "fresh3", nil)
		respErr(t, err, http.StatusNotFound)
	})

	t.Run("more than 100 operations 400", func(t *testing.T) {
		b := c.NewTransactionalBatch(pk)
		for i := 0; i < 101; i++ {
			b.CreateItem([]byte(fmt.Sprintf(`{"id":"many%d","pk":"p"}`, i)), nil)
		}
		_, err := c.ExecuteTransactionalBatch(ctx, b, nil)
		respErr(t, err, http.StatusBadRequest)
		_, err = c.ReadItem(ctx, pk, "many0", nil)
		respErr(t, err, http.StatusNotFound)
	})

	t.Run("missing container 404", func(t *testing.T) {
		ghost, err := e.client.NewContainer("db", "ghost")
		require.NoError(t, err)
		b := ghost.NewTransactionalBatch(pk)
		b.CreateItem([]byte(`{"id":"g","pk":"p"}`), nil)
		_, err = ghost.ExecuteTransactionalBatch(ctx, b, nil)
		respErr(t, err, http.StatusNotFound)
	})
}

func TestChangeFeed(t *testing.T) {
	e := start(t)
	ctx := ctxT(t)
	c := e.container("db", "cf")

	ranges, err := c.ReadFeedRanges(ctx, nil)
	require.NoError(t, err)
	require.NotEmpty(t, ranges)
	whole := azcosmos.FeedRange{MinInclusive: "", MaxExclusive: "FF"}

	feedIDs := func(t *testing.T, resp azcosmos.ChangeFeedResponse) []string {
		var ids []string
		var last int64 = -1
		for _, b := range resp.Items {
			m := decodeMap(t, b)
			ids = append(ids, m["id"].(string))
			lsn, ok := m["_lsn"].(json.Number)
			require.True(t, ok, "change feed items carry _lsn: %s", b)
			n, err := lsn.Int64()
			require.NoError(t, err)
			require.Greater(t, n, last, "_lsn must increase along the feed")
			last = n
		}
		return ids
	}

	// Nothing yet: empty, but a continuation is returned.
	resp, err := c.ReadChangeFeed(ctx, &azcosmos.ChangeFeedOptions{FeedRange: &whole})
	require.NoError(t, err)
	require.Empty(t, resp.Items)
	require.NotEmpty(t, resp.ContinuationToken)

	for i, pk := range []string{"a", "b", "a", "c"} {
		_, err := c.CreateItem(ctx, azcosmos.NewPartitionKeyString(pk), mustJSON(t, map[string]any{"id": fmt.Sprintf("k%d", i), "pk": pk, "v": 0}), nil)
		require.NoError(t, err)
	}
	// k0 changes again: in latest-version mode it shows once, at its newest position.
	_, err = c.UpsertItem(ctx, azcosmos.NewPartitionKeyString("a"), []byte(`{"id":"k0","pk":"a","v":1}`), nil)
	require.NoError(t, err)

	t.Run("from the beginning in order", func(t *testing.T) {
		resp, err := c.ReadChangeFeed(ctx, &azcosmos.ChangeFeedOptions{FeedRange: &whole})
		require.NoError(t, err)
		require.Equal(t, []string{"k1", "k2", "k3", "k0"}, feedIDs(t, resp))
		require.EqualValues(t, 1, decodeAny(t, resp.Items[3])["v"], "latest version")
		require.NotEmpty(t, resp.ContinuationToken)
	})

	t.Run("paged with MaxItemCount", func(t *testing.T) {
		var all []string
		var token *string
		for i := 0; i < 10; i++ {
			resp, err := c.ReadChangeFeed(ctx, &azcosmos.ChangeFeedOptions{FeedRange: &whole, MaxItemCount: 3, Continuation: token})
			require.NoError(t, err)
			require.LessOrEqual(t, len(resp.Items), 3)
			if len(resp.Items) == 0 {
				break
			}
			all = append(all, feedIDs(t, resp)...)
			tok := resp.ContinuationToken
			token = &tok
		}
		require.Equal(t, []string{"k1", "k2", "k3", "k0"}, all)
	})

	t.Run("continuation returns only new changes, then nothing", func(t *testing.T) {
		resp, err := c.ReadChangeFeed(ctx, &azcosmos.ChangeFeedOptions{FeedRange: &whole})
		require.NoError(t, err)
		require.Len(t, resp.Items, 4)
		tok := resp.ContinuationToken

		// Nothing new.
		resp, err = c.ReadChangeFeed(ctx, &azcosmos.ChangeFeedOptions{Continuation: &tok})
		require.NoError(t, err)
		require.Empty(t, resp.Items)
		require.NotEmpty(t, resp.ContinuationToken)
		tok = resp.ContinuationToken

		_, err = c.CreateItem(ctx, azcosmos.NewPartitionKeyString("d"), []byte(`{"id":"k9","pk":"d"}`), nil)
		require.NoError(t, err)
		_, err = c.ReplaceItem(ctx, azcosmos.NewPartitionKeyString("b"), "k1", []byte(`{"id":"k1","pk":"b","v":5}`), nil)
		require.NoError(t, err)
		_, err = c.DeleteItem(ctx, azcosmos.NewPartitionKeyString("c"), "k3", nil)
		require.NoError(t, err)

		resp, err = c.ReadChangeFeed(ctx, &azcosmos.ChangeFeedOptions{Continuation: &tok})
		require.NoError(t, err)
		require.Equal(t, []string{"k9", "k1"}, feedIDs(t, resp), "deletes do not appear in latest-version mode")
		tok = resp.ContinuationToken

		resp, err = c.ReadChangeFeed(ctx, &azcosmos.ChangeFeedOptions{Continuation: &tok})
		require.NoError(t, err)
		require.Empty(t, resp.Items)
	})

	t.Run("StartFrom", func(t *testing.T) {
		past := time.Now().Add(-time.Hour)
		resp, err := c.ReadChangeFeed(ctx, &azcosmos.ChangeFeedOptions{FeedRange: &whole, StartFrom: &past})
		require.NoError(t, err)
		require.Equal(t, []string{"k2", "k0", "k9", "k1"}, feedIDs(t, resp))
		future := time.Now().Add(time.Hour)
		resp, err = c.ReadChangeFeed(ctx, &azcosmos.ChangeFeedOptions{FeedRange: &whole, StartFrom: &future})
		require.NoError(t, err)
		require.Empty(t, resp.Items)
	})

	t.Run("one partition key", func(t *testing.T) {
		pk := azcosmos.NewPartitionKeyString("a")
		resp, err := c.ReadChangeFeed(ctx, &azcosmos.ChangeFeedOptions{FeedRange: &whole, PartitionKey: &pk})
		require.NoError(t, err)
		require.Equal(t, []string{"k2", "k0"}, feedIDs(t, resp))
	})

	t.Run("missing container 404", func(t *testing.T) {
		ghost, err := e.client.NewContainer("db", "ghost")
		require.NoError(t, err)
		_, err = ghost.ReadChangeFeed(ctx, &azcosmos.ChangeFeedOptions{FeedRange: &whole})
		respErr(t, err, http.StatusNotFound)
	})
}
