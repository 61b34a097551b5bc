package sdk_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/stretchr/testify/require"

	"github.com/meridiandb/meridian/internal/auth"
	"github.com/meridiandb/meridian/internal/server"
)

// readOnlyKey is a second, distinct base64 key.
var readOnlyKey = base64.StdEncoding.EncodeToString([]byte("meridian-read-only-test-key-0123456789abcdef"))

func TestAuth(t *testing.T) {
	e := start(t, func(c *server.Config) { c.ReadOnlyKey = readOnlyKey })
	ctx := ctxT(t)
	c := e.container("db", "auth")
	_, err := c.CreateItem(ctx, azcosmos.NewPartitionKeyString("a"), []byte(`{"id":"x","pk":"a"}`), nil)
	require.NoError(t, err)
	itemPath, itemLink := docPath("db", "auth", "x")
	pkHdr := map[string]string{"x-ms-documentdb-partitionkey": `["a"]`}

	t.Run("correctly signed raw read 200", func(t *testing.T) {
		r := e.raw(rawReq{method: http.MethodGet, path: itemPath, resType: "docs", resLink: itemLink, header: pkHdr})
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		require.Equal(t, "x", decodeAny(t, r.body)["id"])
	})

	t.Run("bad signature 401 without leaking the expected signature", func(t *testing.T) {
		date := time.Now().UTC().Format(http.TimeFormat)
		wrongKey := base64.StdEncoding.EncodeToString([]byte("definitely-not-the-account-key"))
		expected := auth.Sign(auth.MustDecodeKey(e.key), http.MethodGet, "docs", itemLink, date)
		dec, err := url.QueryUnescape(expected)
		require.NoError(t, err)
		_, expectedSig, ok := strings.Cut(dec, "sig=")
		require.True(t, ok)

		r := e.raw(rawReq{method: http.MethodGet, path: itemPath, header: pkHdr,
			sig: auth.Sign(auth.MustDecodeKey(wrongKey), http.MethodGet, "docs", itemLink, date)})
		require.Equal(t, http.StatusUnauthorized, r.status, "body: %s", r.body)
		code, msg := r.errJSON(t)
		require.Equal(t, "Unauthorized", code)
		require.NotEmpty(t, msg)
		require.Equal(t, "application/json", strings.Split(r.header.Get("Content-Type"), ";")[0])
		body := string(r.body)
		require.NotContains(t, body, expectedSig)
		require.NotContains(t, body, url.QueryEscape(expectedSig))
		require.NotContains(t, body, e.key)

		// Signed for another resource link: also 401.
		r = e.raw(rawReq{method: http.MethodGet, path: itemPath, header: pkHdr, resType: "docs", resLink: "dbs/db/colls/auth/docs/y"})
		require.Equal(t, http.StatusUnauthorized, r.status)
		// Signed for another verb.
		r = e.raw(rawReq{method: http.MethodGet, path: itemPath, header: pkHdr,
			sig: auth.Sign(auth.MustDecodeKey(e.key), http.MethodDelete, "docs", itemLink, date)})
		require.Equal(t, http.StatusUnauthorized, r.status)
	})

	t.Run("malformed or missing authorization 401", func(t *testing.T) {
		for _, h := range []string{"type=master&ver=1.0", "type%3Daad%26ver%3D1.0%26sig%3Dabc", "type%3Dmaster%26ver%3D1.0%26sig%3D%21%21notbase64"} {
			r := e.raw(rawReq{method: http.MethodGet, path: itemPath, header: pkHdr, sig: h})
			require.Equal(t, http.StatusUnauthorized, r.status, "auth %q: %s", h, r.body)
			r.errJSON(t)
		}
		r := e.raw(rawReq{method: http.MethodGet, path: itemPath, header: pkHdr, noAuth: true})
		require.Equal(t, http.StatusUnauthorized, r.status)
	})

	t.Run("stale or future x-ms-date 401", func(t *testing.T) {
		for _, d := range []time.Duration{-20 * time.Minute, 20 * time.Minute} {
			r := e.raw(rawReq{method: http.MethodGet, path: itemPath, resType: "docs", resLink: itemLink, header: pkHdr, date: time.Now().Add(d)})
			require.Equal(t, http.StatusUnauthorized, r.status, "skew %s: %s", d, r.body)
			r.errJSON(t)
		}
		// A few minutes (SDK retries reuse the date) is accepted.
		r := e.raw(rawReq{method: http.MethodGet, path: itemPath, resType: "docs", resLink: itemLink, header: pkHdr, date: time.Now().Add(-3 * time.Minute)})
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	})

	t.Run("SDK client with a wrong key 401", func(t *testing.T) {
		bad := e.newClient(base64.StdEncoding.EncodeToString([]byte("wrong-key-wrong-key")), nil)
		_, err := bad.CreateDatabase(ctx, azcosmos.DatabaseProperties{ID: "nope"}, nil)
		// The SDK's bootstrap GET / fails with 401 before the create is sent;
		// the SDK wraps that response error.
		respErr(t, err, http.StatusUnauthorized)
		// The master-key client is unaffected and nothing was created.
		db, err := e.client.NewDatabase("nope")
		require.NoError(t, err)
		_, err = db.Read(ctx, nil)
		respErr(t, err, http.StatusNotFound)
	})

	t.Run("read-only key reads but cannot write", func(t *testing.T) {
		r := e.raw(rawReq{method: http.MethodGet, path: itemPath, resType: "docs", resLink: itemLink, header: pkHdr, key: readOnlyKey})
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)

		p, l := docsPath("db", "auth")
		r = e.raw(rawReq{method: http.MethodPost, path: p, resType: "docs", resLink: l, header: pkHdr, key: readOnlyKey,
			body: []byte(`{"id":"ro","pk":"a"}`)})
		require.Equal(t, http.StatusForbidden, r.status, "body: %s", r.body)
		code, _ := r.errJSON(t)
		require.Equal(t, "Forbidden", code)
		require.NotEqual(t, "3", r.header.Get("x-ms-substatus"), "must not be WriteForbidden (the SDK would retry for 2 minutes)")

		ro := e.newClient(readOnlyKey, nil)
		rc, err := ro.NewContainer("db", "auth")
		require.NoError(t, err)
		got, err := rc.ReadItem(ctx, azcosmos.NewPartitionKeyString("a"), "x", nil)
		require.NoError(t, err)
		require.Equal(t, "x", decodeAny(t, got.Value)["id"])
		// Queries are reads even though they are POSTs.
		items := queryAll(t, rc, "SELECT * FROM c", azcosmos.NewPartitionKey(), nil, 0)
		require.Len(t, items, 1)
		pager := ro.NewQueryDatabasesPager("SELECT * FROM c", nil)
		page, err := pager.NextPage(ctx)
		require.NoError(t, err)
		require.Len(t, page.Databases, 1)

		_, err = rc.CreateItem(ctx, azcosmos.NewPartitionKeyString("a"), []byte(`{"id":"ro","pk":"a"}`), nil)
		respErr(t, err, http.StatusForbidden)
		_, err = rc.DeleteItem(ctx, azcosmos.NewPartitionKeyString("a"), "x", nil)
		respErr(t, err, http.StatusForbidden)
		_, err = ro.CreateDatabase(ctx, azcosmos.DatabaseProperties{ID: "rodb"}, nil)
		respErr(t, err, http.StatusForbidden)
		b := rc.NewTransactionalBatch(azcosmos.NewPartitionKeyString("a"))
		b.ReadItem("x", nil)
		b.CreateItem([]byte(`{"id":"rob","pk":"a"}`), nil)
		_, err = rc.ExecuteTransactionalBatch(ctx, b, nil)
		respErr(t, err, http.StatusForbidden)
		_, err = c.ReadItem(ctx, azcosmos.NewPartitionKeyString("a"), "ro", nil)
		respErr(t, err, http.StatusNotFound)
		_, err = c.ReadItem(ctx, azcosmos.NewPartitionKeyString("a"), "x", nil)
		require.NoError(t, err)
	})
}

func TestRawProtocolErrors(t *testing.T) {
	e := start(t)
	ctx := ctxT(t)
	c := e.container("db", "raw")
	_, err := c.CreateItem(ctx, azcosmos.NewPartitionKeyString("a"), []byte(`{"id":"x","pk":"a"}`), nil)
	require.NoError(t, err)
	docs, link := docsPath("db", "raw")

	t.Run("stored procedures are unsupported 400", func(t *testing.T) {
		r := e.raw(rawReq{method: http.MethodPost, path: "/dbs/db/colls/raw/sprocs", resType: "sprocs", resLink: "dbs/db/colls/raw",
			body: []byte(`{"id":"sp1","body":"function () { getContext().getResponse().setBody(1); }"}`)})
		require.Equal(t, http.StatusBadRequest, r.status, "body: %s", r.body)
		code, msg := r.errJSON(t)
		require.Equal(t, "BadRequest", code)
		require.Contains(t, strings.ToLower(msg), "stored procedures")
		require.Contains(t, strings.ToLower(msg), "not support")
		// Execute and list too.
		r = e.raw(rawReq{method: http.MethodPost, path: "/dbs/db/colls/raw/sprocs/sp1", resType: "sprocs", resLink: "dbs/db/colls/raw/sprocs/sp1", body: []byte(`[]`)})
		require.Equal(t, http.StatusBadRequest, r.status)
		r = e.raw(rawReq{method: http.MethodGet, path: "/dbs/db/colls/raw/triggers", resType: "triggers", resLink: "dbs/db/colls/raw"})
		require.Equal(t, http.StatusBadRequest, r.status)
		_, msg = r.errJSON(t)
		require.Contains(t, strings.ToLower(msg), "triggers")
	})

	t.Run("malformed JSON body 400", func(t *testing.T) {
		for _, b := range []string{`{"id":"y",`, `not json`, `{"id":"y"}}`, ``} {
			r := e.raw(rawReq{method: http.MethodPost, path: docs, resType: "docs", resLink: link, body: []byte(b),
				header: map[string]string{"x-ms-documentdb-partitionkey": `["a"]`}})
			require.Equal(t, http.StatusBadRequest, r.status, "body %q: %s", b, r.body)
			r.errJSON(t)
		}
		p, l := docPath("db", "raw", "x")
		r := e.raw(rawReq{method: http.MethodPut, path: p, resType: "docs", resLink: l, body: []byte(`{"id":"x",`),
			header: map[string]string{"x-ms-documentdb-partitionkey": `["a"]`}})
		require.Equal(t, http.StatusBadRequest, r.status)
		r = e.raw(rawReq{method: http.MethodPatch, path: p, resType: "docs", resLink: l, body: []byte(`{"operations":[`),
			header: map[string]string{"x-ms-documentdb-partitionkey": `["a"]`}})
		require.Equal(t, http.StatusBadRequest, r.status)
		r = e.raw(rawReq{method: http.MethodPost, path: "/dbs", resType: "dbs", resLink: "", body: []byte(`{"id":`)})
		require.Equal(t, http.StatusBadRequest, r.status)
		r = e.raw(rawReq{method: http.MethodPost, path: docs, resType: "docs", resLink: link, body: []byte(`{"query":`),
			header: map[string]string{"Content-Type": "application/query+json", "x-ms-documentdb-query": "True"}})
		require.Equal(t, http.StatusBadRequest, r.status)
	})

	t.Run("partition key header garbage 400", func(t *testing.T) {
		p, l := docPath("db", "raw", "x")
		for _, h := range []string{`[abc`, `abc`, `{}`, `["a"`, `[{"x":1}]`, `["a","b","c","d"]`} {
			r := e.raw(rawReq{method: http.MethodGet, path: p, resType: "docs", resLink: l,
				header: map[string]string{"x-ms-documentdb-partitionkey": h}})
			require.Equal(t, http.StatusBadRequest, r.status, "header %q: %s", h, r.body)
			r.errJSON(t)
		}
		r := e.raw(rawReq{method: http.MethodPost, path: docs, resType: "docs", resLink: link, body: []byte(`{"id":"y","pk":"a"}`),
			header: map[string]string{"x-ms-documentdb-partitionkey": `[abc`}})
		require.Equal(t, http.StatusBadRequest, r.status)
	})

	t.Run("point operation without a partition key header 400", func(t *testing.T) {
		p, l := docPath("db", "raw", "x")
		r := e.raw(rawReq{method: http.MethodGet, path: p, resType: "docs", resLink: l})
		require.Equal(t, http.StatusBadRequest, r.status, "body: %s", r.body)
	})

	t.Run("bad continuation header 400", func(t *testing.T) {
		r := e.raw(rawReq{method: http.MethodPost, path: docs, resType: "docs", resLink: link, body: []byte(`{"query":"SELECT * FROM c"}`),
			header: map[string]string{"Content-Type": "application/query+json", "x-ms-documentdb-query": "True",
				"x-ms-documentdb-query-enablecrosspartition": "true", "x-ms-continuation": "bogus!!"}})
		require.Equal(t, http.StatusBadRequest, r.status, "body: %s", r.body)
		r.errJSON(t)
	})

	t.Run("bad header values 400", func(t *testing.T) {
		p, l := docPath("db", "raw", "x")
		for h, v := range map[string]string{
			"x-ms-consistency-level": "Linearizable",
			"x-ms-max-item-count":    "lots",
		} {
			path, rl, method := p, l, http.MethodGet
			hdr := map[string]string{"x-ms-documentdb-partitionkey": `["a"]`, h: v}
			var body []byte
			if h == "x-ms-max-item-count" {
				path, rl, method = docs, link, http.MethodPost
				body = []byte(`{"query":"SELECT * FROM c"}`)
				hdr["Content-Type"] = "application/query+json"
			}
			r := e.raw(rawReq{method: method, path: path, resType: "docs", resLink: rl, header: hdr, body: body})
			require.Equal(t, http.StatusBadRequest, r.status, "%s: %s", h, r.body)
		}
	})

	t.Run("unknown path 404 and wrong method 405", func(t *testing.T) {
		r := e.raw(rawReq{method: http.MethodGet, path: "/nothing/here", resType: "here", resLink: "nothing/here"})
		require.Equal(t, http.StatusNotFound, r.status)
		r = e.raw(rawReq{method: http.MethodPut, path: "/dbs/db", resType: "dbs", resLink: "dbs/db", body: []byte(`{}`)})
		require.Equal(t, http.StatusMethodNotAllowed, r.status)
	})

	t.Run("escaped slash in an id routes as one segment", func(t *testing.T) {
		// %2F inside the id must not split the path: it names a (missing) item
		// "a/b", which is a 404, not a route error.
		p, l := docPath("db", "raw", "a/b")
		require.Contains(t, p, "a%2Fb")
		r := e.raw(rawReq{method: http.MethodGet, path: p, resType: "docs", resLink: l,
			header: map[string]string{"x-ms-documentdb-partitionkey": `["a"]`}})
		require.Contains(t, []int{http.StatusNotFound, http.StatusBadRequest}, r.status, "body: %s", r.body)
		require.NotEqual(t, http.StatusUnauthorized, r.status)
	})
}
