package sdk_test

import (
	"fmt"
	"net/http"
	"sort"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/stretchr/testify/require"
)

// TestHierarchicalKeys covers MultiHash containers beyond point operations:
// prefix queries, ReadMany and the change feed.
func TestHierarchicalKeys(t *testing.T) {
	e := start(t)
	ctx := ctxT(t)
	db := e.createDB("db")
	c := e.createContainer(db, "h", "/tenant", "/user")
	for i := 0; i < 6; i++ {
		tn, u := fmt.Sprintf("t%d", i%2), fmt.Sprintf("u%d", i%3)
		_, err := c.CreateItem(ctx, azcosmos.NewPartitionKeyString(tn).AppendString(u),
			[]byte(fmt.Sprintf(`{"id":"i%d","tenant":"%s","user":"%s"}`, i, tn, u)), nil)
		require.NoError(t, err)
	}
	sorted := func(items [][]byte) []string {
		s := rawStrings(items)
		sort.Strings(s)
		return s
	}

	t.Run("full key query", func(t *testing.T) {
		got := queryAll(t, c, "SELECT VALUE c.id FROM c", azcosmos.NewPartitionKeyString("t0").AppendString("u0"), nil, 0)
		require.Equal(t, []string{`"i0"`}, sorted(got))
	})
	t.Run("prefix key query", func(t *testing.T) {
		got := queryAll(t, c, "SELECT VALUE c.id FROM c", azcosmos.NewPartitionKeyString("t0"), nil, 0)
		require.Equal(t, []string{`"i0"`, `"i2"`, `"i4"`}, sorted(got))
	})
	t.Run("read many", func(t *testing.T) {
		resp, err := c.ReadManyItems(ctx, []azcosmos.ItemIdentity{
			{ID: "i0", PartitionKey: azcosmos.NewPartitionKeyString("t0").AppendString("u0")},
			{ID: "i1", PartitionKey: azcosmos.NewPartitionKeyString("t1").AppendString("u1")},
			{ID: "i1", PartitionKey: azcosmos.NewPartitionKeyString("t0").AppendString("u1")}, // wrong key
		}, nil)
		require.NoError(t, err)
		var ids []string
		for _, b := range resp.Items {
			ids = append(ids, decodeAny(t, b)["id"].(string))
		}
		sort.Strings(ids)
		require.Equal(t, []string{"i0", "i1"}, ids)
	})
	t.Run("change feed", func(t *testing.T) {
		whole := azcosmos.FeedRange{MinInclusive: "", MaxExclusive: "FF"}
		resp, err := c.ReadChangeFeed(ctx, &azcosmos.ChangeFeedOptions{FeedRange: &whole})
		require.NoError(t, err)
		require.Len(t, resp.Items, 6)
		pk := azcosmos.NewPartitionKeyString("t0").AppendString("u0")
		resp, err = c.ReadChangeFeed(ctx, &azcosmos.ChangeFeedOptions{FeedRange: &whole, PartitionKey: &pk})
		require.NoError(t, err)
		require.Len(t, resp.Items, 1)
		require.Equal(t, "i0", decodeAny(t, resp.Items[0])["id"])
	})
	t.Run("too many key components 400", func(t *testing.T) {
		_, err := c.ReadItem(ctx, azcosmos.NewPartitionKeyString("t0").AppendString("u0").AppendString("x"), "i0", nil)
		respErr(t, err, http.StatusBadRequest)
	})
}

// TestLargeResultSet pages 250 items with the default page size, and checks
// a container deleted and re-created under the same name starts empty.
func TestLargeResultSet(t *testing.T) {
	e := start(t)
	ctx := ctxT(t)
	db := e.createDB("db")
	c := e.createContainer(db, "big")
	const n = 250
	for i := 0; i < n; i++ {
		_, err := c.CreateItem(ctx, azcosmos.NewPartitionKeyString(fmt.Sprint(i%7)),
			[]byte(fmt.Sprintf(`{"id":"b%03d","pk":"%d","n":%d}`, i, i%7, i)), nil)
		require.NoError(t, err)
	}
	pages := queryPages(t, c, "SELECT * FROM c", azcosmos.NewPartitionKey(), nil, 0)
	require.GreaterOrEqual(t, len(pages), 2, "more than one default-sized page expected for %d items", n)
	seen := map[string]bool{}
	for _, p := range pages {
		for _, b := range p {
			id := decodeAny(t, b)["id"].(string)
			require.False(t, seen[id], "duplicate %s", id)
			seen[id] = true
		}
	}
	require.Len(t, seen, n)

	got := queryAll(t, c, "SELECT VALUE c.n FROM c ORDER BY c.n DESC", azcosmos.NewPartitionKey(), nil, 0)
	require.Len(t, got, n)
	require.Equal(t, fmt.Sprint(n-1), string(got[0]))
	require.Equal(t, "0", string(got[n-1]))

	_, err := c.Delete(ctx, nil)
	require.NoError(t, err)
	c = e.createContainer(db, "big")
	_, err = c.ReadItem(ctx, azcosmos.NewPartitionKeyString("0"), "b000", nil)
	respErr(t, err, http.StatusNotFound)
	require.Equal(t, []string{"0"}, rawStrings(queryAll(t, c, "SELECT VALUE COUNT(1) FROM c", azcosmos.NewPartitionKey(), nil, 0)))
}

// TestQueryExtras covers query features beyond the basic list that the
// engine supports: JOIN, GROUP BY, LIKE, ternary and coalesce, CONCAT,
// SUBSTRING, TOP with a parameter, array and object construction.
func TestQueryExtras(t *testing.T) {
	e := start(t)
	ctx := ctxT(t)
	c := e.container("db", "qx")
	for _, d := range queryDataset() {
		_, err := c.CreateItem(ctx, azcosmos.NewPartitionKeyString(d.PK), d.json(), nil)
		require.NoError(t, err)
	}
	all := azcosmos.NewPartitionKey()
	vals := func(q string, params ...azcosmos.QueryParameter) []string {
		var out []string
		for _, b := range queryAll(t, c, q, all, params, 0) {
			out = append(out, normJSON(t, b))
		}
		return out
	}
	sortedVals := func(q string) []string {
		v := vals(q)
		sort.Strings(v)
		return v
	}
	require.Equal(t, []string{`"even"`, `"three"`}, sortedVals("SELECT VALUE t FROM c JOIN t IN c.tags WHERE c.n = 6"))
	require.Equal(t, []string{`"i03"`, `"i06"`, `"i09"`}, sortedVals("SELECT VALUE c.id FROM c JOIN t IN c.tags WHERE t = 'three'"))
	require.Equal(t, []string{`{"grp":"g0","n":5}`, `{"grp":"g1","n":5}`}, sortedVals("SELECT c.grp, COUNT(1) AS n FROM c GROUP BY c.grp"))
	require.Equal(t, []string{`"Epsilon"`, `"Eta"`}, sortedVals("SELECT VALUE c.name FROM c WHERE c.name LIKE 'E%'"))
	require.Equal(t, []string{`"big"`, `"small"`}, sortedVals("SELECT VALUE (c.n > 5 ? 'big' : 'small') FROM c WHERE c.n IN (1, 9)"))
	require.Equal(t, []string{"0", "3"}, sortedVals("SELECT VALUE (c.opt ?? 0) FROM c WHERE c.n IN (3, 4)"))
	require.Equal(t, []string{`"beta-2"`}, vals("SELECT VALUE CONCAT(c.name, '-', ToString(c.n)) FROM c WHERE c.n = 2"))
	require.Equal(t, []string{`"et"`}, vals("SELECT VALUE SUBSTRING(c.name, 1, 2) FROM c WHERE c.n = 2"))
	require.Equal(t, []string{"1", "2"}, vals("SELECT TOP @k VALUE c.n FROM c ORDER BY c.n", azcosmos.QueryParameter{Name: "@k", Value: 2}))
	require.Equal(t, []string{`[1,"Alpha"]`, `[2,"beta"]`}, vals("SELECT VALUE [c.n, c.name] FROM c WHERE c.n < 3 ORDER BY c.n"))
	require.Equal(t, []string{`{"k":1,"t":["odd"]}`}, vals(`SELECT VALUE {"k": c.n, "t": c.tags} FROM c WHERE c.n = 1`))
	require.Equal(t, []string{"4"}, vals("SELECT VALUE c.n FROM c WHERE c.nul = null"))
	require.Equal(t, []string{`"i01"`}, vals("SELECT VALUE r.id FROM root r WHERE r.n = 1"))
}
