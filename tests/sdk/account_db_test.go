package sdk_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/stretchr/testify/require"
)

func TestAccount(t *testing.T) {
	e := start(t)
	ctx := ctxT(t)

	t.Run("first SDK call bootstraps through GET /", func(t *testing.T) {
		// The first data-plane call makes the SDK read the account and route
		// to its writable location; it only works if that is reachable.
		resp, err := e.client.CreateDatabase(ctx, azcosmos.DatabaseProperties{ID: "acctdb"}, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, resp.RawResponse.StatusCode)
		// The request went to the host named by the account.
		require.Equal(t, e.srv.Addr().String(), resp.RawResponse.Request.URL.Host)
	})

	t.Run("account document", func(t *testing.T) {
		r := e.raw(rawReq{method: http.MethodGet, path: "/"})
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		var acct struct {
			ID                string `json:"id"`
			WritableLocations []struct {
				Name     string `json:"name"`
				Endpoint string `json:"databaseAccountEndpoint"`
			} `json:"writableLocations"`
			ReadableLocations []struct {
				Name     string `json:"name"`
				Endpoint string `json:"databaseAccountEndpoint"`
			} `json:"readableLocations"`
			EnableMultipleWriteLocations bool `json:"enableMultipleWriteLocations"`
			UserConsistencyPolicy        struct {
				DefaultConsistencyLevel string `json:"defaultConsistencyLevel"`
			} `json:"userConsistencyPolicy"`
		}
		require.NoError(t, json.Unmarshal(r.body, &acct), "body: %s", r.body)
		require.NotEmpty(t, acct.ID)
		require.Len(t, acct.WritableLocations, 1)
		require.NotEmpty(t, acct.ReadableLocations)
		require.Equal(t, "West US", acct.WritableLocations[0].Name)
		for _, l := range append(acct.WritableLocations, acct.ReadableLocations...) {
			u, err := url.Parse(l.Endpoint)
			require.NoError(t, err)
			require.Equal(t, "http", u.Scheme, "location scheme must match the client's")
			require.Equal(t, e.srv.Addr().String(), u.Host)
		}
		require.False(t, acct.EnableMultipleWriteLocations)
		require.Equal(t, "Session", acct.UserConsistencyPolicy.DefaultConsistencyLevel)
	})

	t.Run("GET / unsigned is 401", func(t *testing.T) {
		r := e.raw(rawReq{method: http.MethodGet, path: "/", noAuth: true})
		require.Equal(t, http.StatusUnauthorized, r.status, "body: %s", r.body)
		r.errJSON(t)
	})
}

func TestDatabases(t *testing.T) {
	e := start(t)
	ctx := ctxT(t)

	t.Run("create 201", func(t *testing.T) {
		resp, err := e.client.CreateDatabase(ctx, azcosmos.DatabaseProperties{ID: "db1"}, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, resp.RawResponse.StatusCode)
		p := resp.DatabaseProperties
		require.NotNil(t, p)
		require.Equal(t, "db1", p.ID)
		require.NotEmpty(t, p.ResourceID)
		require.NotEmpty(t, p.SelfLink)
		require.NotNil(t, p.ETag)
		require.NotEmpty(t, string(*p.ETag))
		require.False(t, p.LastModified.IsZero(), "_ts must be set")
	})

	t.Run("create again 409", func(t *testing.T) {
		_, err := e.client.CreateDatabase(ctx, azcosmos.DatabaseProperties{ID: "db1"}, nil)
		re := respErr(t, err, http.StatusConflict)
		code, msg := errBody(t, re)
		require.Equal(t, "Conflict", code)
		require.NotEmpty(t, msg)
	})

	t.Run("invalid id 400", func(t *testing.T) {
		_, err := e.client.CreateDatabase(ctx, azcosmos.DatabaseProperties{ID: "bad?id"}, nil)
		respErr(t, err, http.StatusBadRequest)
	})

	t.Run("read", func(t *testing.T) {
		db, err := e.client.NewDatabase("db1")
		require.NoError(t, err)
		resp, err := db.Read(ctx, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.RawResponse.StatusCode)
		require.Equal(t, "db1", resp.DatabaseProperties.ID)
		require.NotEmpty(t, resp.DatabaseProperties.ResourceID)
		// The etag header and the body's _etag agree.
		require.Equal(t, string(*resp.DatabaseProperties.ETag), string(resp.ETag))
	})

	t.Run("read missing 404", func(t *testing.T) {
		db, err := e.client.NewDatabase("nope")
		require.NoError(t, err)
		_, err = db.Read(ctx, nil)
		re := respErr(t, err, http.StatusNotFound)
		require.NotEqual(t, "1002", substatus(re))
		code, _ := errBody(t, re)
		require.Equal(t, "NotFound", code)
	})

	t.Run("query pager with WHERE and parameters", func(t *testing.T) {
		for _, id := range []string{"app-a", "app-b", "other"} {
			_, err := e.client.CreateDatabase(ctx, azcosmos.DatabaseProperties{ID: id}, nil)
			require.NoError(t, err)
		}
		collect := func(q string, params []azcosmos.QueryParameter) []string {
			pager := e.client.NewQueryDatabasesPager(q, &azcosmos.QueryDatabasesOptions{QueryParameters: params})
			var ids []string
			for pager.More() {
				page, err := pager.NextPage(ctx)
				require.NoError(t, err)
				for _, d := range page.Databases {
					ids = append(ids, d.ID)
					require.NotEmpty(t, d.ResourceID)
				}
			}
			sort.Strings(ids)
			return ids
		}
		require.Equal(t, []string{"app-b"}, collect("SELECT * FROM root r WHERE r.id = @id",
			[]azcosmos.QueryParameter{{Name: "@id", Value: "app-b"}}))
		require.Equal(t, []string{"app-a", "app-b"}, collect("SELECT * FROM c WHERE STARTSWITH(c.id, @p)",
			[]azcosmos.QueryParameter{{Name: "@p", Value: "app-"}}))
		require.Equal(t, []string{"app-a", "app-b", "db1", "other"}, collect("SELECT * FROM c", nil))
		require.Empty(t, collect("SELECT * FROM c WHERE c.id = 'missing'", nil))
	})

	t.Run("query syntax error 400", func(t *testing.T) {
		pager := e.client.NewQueryDatabasesPager("SELEKT * FROM c", nil)
		_, err := pager.NextPage(ctx)
		respErr(t, err, http.StatusBadRequest)
	})

	t.Run("delete then 404", func(t *testing.T) {
		db, err := e.client.NewDatabase("other")
		require.NoError(t, err)
		resp, err := db.Delete(ctx, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusNoContent, resp.RawResponse.StatusCode)
		_, err = db.Read(ctx, nil)
		respErr(t, err, http.StatusNotFound)
		_, err = db.Delete(ctx, nil)
		respErr(t, err, http.StatusNotFound)
	})

	t.Run("delete removes its containers", func(t *testing.T) {
		db := e.createDB("withcolls")
		c := e.createContainer(db, "c1")
		_, err := c.CreateItem(ctx, azcosmos.NewPartitionKeyString("a"), []byte(`{"id":"x","pk":"a"}`), nil)
		require.NoError(t, err)
		_, err = db.Delete(ctx, nil)
		require.NoError(t, err)
		_, err = c.Read(ctx, nil)
		respErr(t, err, http.StatusNotFound)
		_, err = c.ReadItem(ctx, azcosmos.NewPartitionKeyString("a"), "x", nil)
		respErr(t, err, http.StatusNotFound)
		// Re-creating the database yields an empty one.
		db = e.createDB("withcolls")
		pager := db.NewQueryContainersPager("SELECT * FROM c", nil)
		page, err := pager.NextPage(ctx)
		require.NoError(t, err)
		require.Empty(t, page.Containers)
	})

	t.Run("throughput", func(t *testing.T) {
		tp := azcosmos.NewManualThroughputProperties(400)
		_, err := e.client.CreateDatabase(ctx, azcosmos.DatabaseProperties{ID: "tpdb"},
			&azcosmos.CreateDatabaseOptions{ThroughputProperties: &tp})
		require.NoError(t, err)
		db, err := e.client.NewDatabase("tpdb")
		require.NoError(t, err)

		resp, err := db.ReadThroughput(ctx, nil)
		require.NoError(t, err)
		require.NotNil(t, resp.ThroughputProperties)
		n, ok := resp.ThroughputProperties.ManualThroughput()
		require.True(t, ok, "manual throughput expected")
		require.EqualValues(t, 400, n)

		resp, err = db.ReplaceThroughput(ctx, azcosmos.NewManualThroughputProperties(500), nil)
		require.NoError(t, err)
		n, ok = resp.ThroughputProperties.ManualThroughput()
		require.True(t, ok)
		require.EqualValues(t, 500, n)

		resp, err = db.ReadThroughput(ctx, nil)
		require.NoError(t, err)
		n, ok = resp.ThroughputProperties.ManualThroughput()
		require.True(t, ok)
		require.EqualValues(t, 500, n)
	})

	t.Run("throughput of a database without an offer 404", func(t *testing.T) {
		db, err := e.client.NewDatabase("db1")
		require.NoError(t, err)
		_, err = db.ReadThroughput(ctx, nil)
		respErr(t, err, http.StatusNotFound)
	})

	t.Run("throughput of a missing database 404", func(t *testing.T) {
		db, err := e.client.NewDatabase("ghost")
		require.NoError(t, err)
		_, err = db.ReadThroughput(ctx, nil)
		respErr(t, err, http.StatusNotFound)
	})
}
