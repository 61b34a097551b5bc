package sdk_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sort"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/stretchr/testify/require"
)

func TestContainers(t *testing.T) {
	e := start(t)
	ctx := ctxT(t)
	db := e.createDB("db")

	t.Run("create /pk Hash v2 201", func(t *testing.T) {
		resp, err := db.CreateContainer(ctx, azcosmos.ContainerProperties{
			ID:                     "c1",
			PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: []string{"/pk"}, Version: 2},
		}, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, resp.RawResponse.StatusCode)
		p := resp.ContainerProperties
		require.Equal(t, "c1", p.ID)
		require.NotEmpty(t, p.ResourceID)
		require.Equal(t, azcosmos.PartitionKeyKindHash, p.PartitionKeyDefinition.Kind)
		require.Equal(t, []string{"/pk"}, p.PartitionKeyDefinition.Paths)
		require.Equal(t, 2, p.PartitionKeyDefinition.Version)
		require.NotNil(t, p.IndexingPolicy, "a default indexing policy is returned")
	})

	t.Run("create hierarchical MultiHash", func(t *testing.T) {
		resp, err := db.CreateContainer(ctx, azcosmos.ContainerProperties{
			ID: "hier",
			PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{
				Kind: azcosmos.PartitionKeyKindMultiHash, Paths: []string{"/tenant", "/user"}, Version: 2,
			},
		}, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, resp.RawResponse.StatusCode)
		require.Equal(t, azcosmos.PartitionKeyKindMultiHash, resp.ContainerProperties.PartitionKeyDefinition.Kind)
		require.Equal(t, []string{"/tenant", "/user"}, resp.ContainerProperties.PartitionKeyDefinition.Paths)

		c, err := db.NewContainer("hier")
		require.NoError(t, err)
		pk := azcosmos.NewPartitionKeyString("t1").AppendString("u1")
		_, err = c.CreateItem(ctx, pk, []byte(`{"id":"h1","tenant":"t1","user":"u1","v":1}`), nil)
		require.NoError(t, err)
		_, err = c.CreateItem(ctx, azcosmos.NewPartitionKeyString("t1").AppendString("u2"),
			[]byte(`{"id":"h1","tenant":"t1","user":"u2","v":2}`), nil)
		require.NoError(t, err, "same id under another full key is a different item")
		r, err := c.ReadItem(ctx, pk, "h1", nil)
		require.NoError(t, err)
		require.EqualValues(t, json.Number("1"), decodeMap(t, r.Value)["v"])
		// A key that does not match the body is rejected.
		_, err = c.CreateItem(ctx, azcosmos.NewPartitionKeyString("t1").AppendString("zz"),
			[]byte(`{"id":"h2","tenant":"t1","user":"u1"}`), nil)
		respErr(t, err, http.StatusBadRequest)
		// Prefix query over the first level sees both.
		items := queryAll(t, c, "SELECT VALUE c.v FROM c WHERE c.tenant = 't1' ORDER BY c.v", azcosmos.NewPartitionKey(), nil, 0)
		require.Equal(t, []string{"1", "2"}, rawStrings(items))
	})

	t.Run("duplicate 409", func(t *testing.T) {
		_, err := db.CreateContainer(ctx, azcosmos.ContainerProperties{
			ID:                     "c1",
			PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: []string{"/pk"}, Version: 2},
		}, nil)
		respErr(t, err, http.StatusConflict)
	})

	t.Run("create in missing database 404", func(t *testing.T) {
		nodb, err := e.client.NewDatabase("nodb")
		require.NoError(t, err)
		_, err = nodb.CreateContainer(ctx, azcosmos.ContainerProperties{
			ID:                     "c",
			PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: []string{"/pk"}, Version: 2},
		}, nil)
		respErr(t, err, http.StatusNotFound)
	})

	t.Run("create without partition key paths 400", func(t *testing.T) {
		_, err := db.CreateContainer(ctx, azcosmos.ContainerProperties{
			ID:                     "nopk",
			PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: []string{"pk-no-slash"}, Version: 2},
		}, nil)
		respErr(t, err, http.StatusBadRequest)
	})

	t.Run("read echoes definition and integer _ts", func(t *testing.T) {
		c, err := db.NewContainer("c1")
		require.NoError(t, err)
		resp, err := c.Read(ctx, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.RawResponse.StatusCode)
		p := resp.ContainerProperties
		require.Equal(t, []string{"/pk"}, p.PartitionKeyDefinition.Paths)
		require.Equal(t, azcosmos.PartitionKeyKindHash, p.PartitionKeyDefinition.Kind)
		require.Equal(t, 2, p.PartitionKeyDefinition.Version)
		require.False(t, p.LastModified.IsZero())
		require.NotNil(t, p.ETag)
		require.Equal(t, string(*p.ETag), string(resp.ETag))

		r := e.raw(rawReq{method: http.MethodGet, path: "/dbs/db/colls/c1", resType: "colls", resLink: "dbs/db/colls/c1"})
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		m := decodeMap(t, r.body)
		ts, ok := m["_ts"].(json.Number)
		require.True(t, ok, "_ts must be a number: %v", m["_ts"])
		_, err = ts.Int64()
		require.NoError(t, err, "_ts must be an integer, got %s", ts)
		for _, k := range []string{"_rid", "_self", "_etag", "_docs"} {
			require.IsType(t, "", m[k], "field %s", k)
		}
	})

	t.Run("read missing 404", func(t *testing.T) {
		c, err := db.NewContainer("nope")
		require.NoError(t, err)
		_, err = c.Read(ctx, nil)
		respErr(t, err, http.StatusNotFound)
	})

	t.Run("replace ttl and indexing policy", func(t *testing.T) {
		c, err := db.NewContainer("c1")
		require.NoError(t, err)
		resp, err := c.Read(ctx, nil)
		require.NoError(t, err)
		// Fresh properties (no conflict resolution policy): the read-modify-write
		// form is covered by "replace unchanged properties 200".
		p := azcosmos.ContainerProperties{ID: "c1", PartitionKeyDefinition: resp.ContainerProperties.PartitionKeyDefinition}
		ttl := int32(3600)
		p.DefaultTimeToLive = &ttl
		p.IndexingPolicy = &azcosmos.IndexingPolicy{
			Automatic:     true,
			IndexingMode:  azcosmos.IndexingModeConsistent,
			IncludedPaths: []azcosmos.IncludedPath{{Path: "/*"}},
			ExcludedPaths: []azcosmos.ExcludedPath{{Path: "/big/*"}, {Path: "/\"_etag\"/?"}},
		}
		rr, err := c.Replace(ctx, p, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, rr.RawResponse.StatusCode)
		require.NotNil(t, rr.ContainerProperties.DefaultTimeToLive)
		require.EqualValues(t, 3600, *rr.ContainerProperties.DefaultTimeToLive)

		got, err := c.Read(ctx, nil)
		require.NoError(t, err)
		require.NotNil(t, got.ContainerProperties.DefaultTimeToLive)
		require.EqualValues(t, 3600, *got.ContainerProperties.DefaultTimeToLive)
		require.NotNil(t, got.ContainerProperties.IndexingPolicy)
		var excluded []string
		for _, x := range got.ContainerProperties.IndexingPolicy.ExcludedPaths {
			excluded = append(excluded, x.Path)
		}
		require.Contains(t, excluded, "/big/*")
		require.Equal(t, []string{"/pk"}, got.ContainerProperties.PartitionKeyDefinition.Paths)
		require.NotEqual(t, string(*resp.ContainerProperties.ETag), string(*got.ContainerProperties.ETag), "etag changes on replace")
	})

	t.Run("replace changing the partition key 400", func(t *testing.T) {
		c, err := db.NewContainer("c1")
		require.NoError(t, err)
		resp, err := c.Read(ctx, nil)
		require.NoError(t, err)
		p := *resp.ContainerProperties
		p.PartitionKeyDefinition = azcosmos.PartitionKeyDefinition{Paths: []string{"/other"}, Version: 2}
		_, err = c.Replace(ctx, p, nil)
		re := respErr(t, err, http.StatusBadRequest)
		_, msg := errBody(t, re)
		require.Contains(t, msg, "partition key")
		got, err := c.Read(ctx, nil)
		require.NoError(t, err)
		require.Equal(t, []string{"/pk"}, got.ContainerProperties.PartitionKeyDefinition.Paths)
	})

	t.Run("replace missing 404", func(t *testing.T) {
		c, err := db.NewContainer("ghost")
		require.NoError(t, err)
		_, err = c.Replace(ctx, azcosmos.ContainerProperties{
			ID:                     "ghost",
			PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: []string{"/pk"}, Version: 2},
		}, nil)
		respErr(t, err, http.StatusNotFound)
	})

	t.Run("query containers pager", func(t *testing.T) {
		e.createContainer(db, "c2")
		collect := func(q string, params []azcosmos.QueryParameter) []string {
			pager := db.NewQueryContainersPager(q, &azcosmos.QueryContainersOptions{QueryParameters: params})
			var ids []string
			for pager.More() {
				page, err := pager.NextPage(ctx)
				require.NoError(t, err)
				for _, c := range page.Containers {
					ids = append(ids, c.ID)
					require.NotEmpty(t, c.PartitionKeyDefinition.Paths)
				}
			}
			sort.Strings(ids)
			return ids
		}
		require.Equal(t, []string{"c1", "c2", "hier"}, collect("SELECT * FROM c", nil))
		require.Equal(t, []string{"c2"}, collect("SELECT * FROM c WHERE c.id = @id",
			[]azcosmos.QueryParameter{{Name: "@id", Value: "c2"}}))
	})

	t.Run("delete then 404", func(t *testing.T) {
		c, err := db.NewContainer("c2")
		require.NoError(t, err)
		_, err = c.CreateItem(ctx, azcosmos.NewPartitionKeyString("a"), []byte(`{"id":"x","pk":"a"}`), nil)
		require.NoError(t, err)
		resp, err := c.Delete(ctx, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusNoContent, resp.RawResponse.StatusCode)
		_, err = c.Read(ctx, nil)
		respErr(t, err, http.StatusNotFound)
		_, err = c.ReadItem(ctx, azcosmos.NewPartitionKeyString("a"), "x", nil)
		respErr(t, err, http.StatusNotFound)
		_, err = c.Delete(ctx, nil)
		respErr(t, err, http.StatusNotFound)
	})

	t.Run("manual throughput", func(t *testing.T) {
		tp := azcosmos.NewManualThroughputProperties(400)
		_, err := db.CreateContainer(ctx, azcosmos.ContainerProperties{
			ID:                     "tpc",
			PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: []string{"/pk"}, Version: 2},
		}, &azcosmos.CreateContainerOptions{ThroughputProperties: &tp})
		require.NoError(t, err)
		c, err := db.NewContainer("tpc")
		require.NoError(t, err)
		resp, err := c.ReadThroughput(ctx, nil)
		require.NoError(t, err)
		n, ok := resp.ThroughputProperties.ManualThroughput()
		require.True(t, ok)
		require.EqualValues(t, 400, n)
		_, isAuto := resp.ThroughputProperties.AutoscaleMaxThroughput()
		require.False(t, isAuto)

		_, err = c.ReplaceThroughput(ctx, azcosmos.NewManualThroughputProperties(1000), nil)
		require.NoError(t, err)
		resp, err = c.ReadThroughput(ctx, nil)
		require.NoError(t, err)
		n, ok = resp.ThroughputProperties.ManualThroughput()
		require.True(t, ok)
		require.EqualValues(t, 1000, n)
	})

	t.Run("autoscale throughput", func(t *testing.T) {
		tp := azcosmos.NewAutoscaleThroughputProperties(4000)
		_, err := db.CreateContainer(ctx, azcosmos.ContainerProperties{
			ID:                     "autoc",
			PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: []string{"/pk"}, Version: 2},
		}, &azcosmos.CreateContainerOptions{ThroughputProperties: &tp})
		require.NoError(t, err)
		c, err := db.NewContainer("autoc")
		require.NoError(t, err)
		resp, err := c.ReadThroughput(ctx, nil)
		require.NoError(t, err)
		max, ok := resp.ThroughputProperties.AutoscaleMaxThroughput()
		require.True(t, ok, "autoscale expected")
		require.EqualValues(t, 4000, max)

		_, err = c.ReplaceThroughput(ctx, azcosmos.NewAutoscaleThroughputProperties(5000), nil)
		require.NoError(t, err)
		resp, err = c.ReadThroughput(ctx, nil)
		require.NoError(t, err)
		max, ok = resp.ThroughputProperties.AutoscaleMaxThroughput()
		require.True(t, ok)
		require.EqualValues(t, 5000, max)
	})

	t.Run("container without throughput in a plain database gets 400 RU/s", func(t *testing.T) {
		// As in Cosmos DB: a dedicated container defaults to 400 RU/s manual.
		c, err := db.NewContainer("c1")
		require.NoError(t, err)
		resp, err := c.ReadThroughput(ctx, nil)
		require.NoError(t, err)
		n, ok := resp.ThroughputProperties.ManualThroughput()
		require.True(t, ok)
		require.EqualValues(t, 400, n)
	})

	t.Run("container in a shared-throughput database has no offer 404", func(t *testing.T) {
		tp := azcosmos.NewManualThroughputProperties(1000)
		_, err := e.client.CreateDatabase(ctx, azcosmos.DatabaseProperties{ID: "shared"},
			&azcosmos.CreateDatabaseOptions{ThroughputProperties: &tp})
		require.NoError(t, err)
		sdb, err := e.client.NewDatabase("shared")
		require.NoError(t, err)
		c := e.createContainer(sdb, "inshared")
		_, err = c.ReadThroughput(ctx, nil)
		respErr(t, err, http.StatusNotFound)
		resp, err := sdb.ReadThroughput(ctx, nil)
		require.NoError(t, err)
		n, ok := resp.ThroughputProperties.ManualThroughput()
		require.True(t, ok)
		require.EqualValues(t, 1000, n)
	})

	t.Run("replace unchanged properties 200", func(t *testing.T) {
		// The SDK's read-modify-write: Read, then Replace what was read.
		c, err := db.NewContainer("tpc")
		require.NoError(t, err)
		resp, err := c.Read(ctx, nil)
		require.NoError(t, err)
		rr, err := c.Replace(ctx, *resp.ContainerProperties, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, rr.RawResponse.StatusCode)
	})
}

// rawStrings renders raw JSON values as strings for compact comparisons.
func rawStrings(items [][]byte) []string {
	out := make([]string, len(items))
	for i, b := range items {
		out[i] = string(bytes.TrimSpace(b))
	}
	return out
}
