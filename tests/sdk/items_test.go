package sdk_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/stretchr/testify/require"
)

func decodeAny(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m), "body: %s", b)
	return m
}

// requireSystemProps checks the system properties of a returned item.
func requireSystemProps(t *testing.T, body []byte, etag azcore.ETag) {
	t.Helper()
	m := decodeMap(t, body)
	for _, k := range []string{"id", "_rid", "_self", "_etag"} {
		v, ok := m[k].(string)
		require.True(t, ok, "%s must be a string in %s", k, body)
		require.NotEmpty(t, v, k)
	}
	ts, ok := m["_ts"].(json.Number)
	require.True(t, ok, "_ts must be a number in %s", body)
	n, err := ts.Int64()
	require.NoError(t, err, "_ts must be an integer: %s", ts)
	require.Greater(t, n, int64(1_600_000_000))
	if etag != "" {
		require.Equal(t, string(etag), m["_etag"], "etag header and _etag must agree")
	}
}

func TestItemsCRUD(t *testing.T) {
	e := start(t)
	ctx := ctxT(t)
	c := e.container("db", "items")
	pkA := azcosmos.NewPartitionKeyString("a")

	t.Run("create minimal 201 empty body", func(t *testing.T) {
		resp, err := c.CreateItem(ctx, pkA, []byte(`{"id":"i1","pk":"a","n":1}`), nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, resp.RawResponse.StatusCode)
		require.Empty(t, resp.Value, "Prefer: return=minimal must give an empty body")
		require.NotEmpty(t, string(resp.ETag))
		require.NotNil(t, resp.SessionToken)
		require.Greater(t, resp.RequestCharge, float32(0))
	})

	t.Run("create with content response", func(t *testing.T) {
		resp, err := c.CreateItem(ctx, pkA, []byte(`{"id":"i2","pk":"a","n":2}`),
			&azcosmos.ItemOptions{EnableContentResponseOnWrite: true})
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, resp.RawResponse.StatusCode)
		requireSystemProps(t, resp.Value, resp.ETag)
		m := decodeMap(t, resp.Value)
		require.Equal(t, "i2", m["id"])
		require.Equal(t, json.Number("2"), m["n"])
		require.True(t, strings.HasSuffix(m["_self"].(string), "/"), "_self %q", m["_self"])
	})

	t.Run("client-level content response", func(t *testing.T) {
		cl := e.newClient(e.key, &azcosmos.ClientOptions{EnableContentResponseOnWrite: true})
		cc, err := cl.NewContainer("db", "items")
		require.NoError(t, err)
		resp, err := cc.CreateItem(ctx, pkA, []byte(`{"id":"i3","pk":"a"}`), nil)
		require.NoError(t, err)
		requireSystemProps(t, resp.Value, resp.ETag)
	})

	t.Run("create duplicate 409", func(t *testing.T) {
		_, err := c.CreateItem(ctx, pkA, []byte(`{"id":"i1","pk":"a","n":99}`), nil)
		re := respErr(t, err, http.StatusConflict)
		code, _ := errBody(t, re)
		require.Equal(t, "Conflict", code)
		// The original is unchanged.
		r, err := c.ReadItem(ctx, pkA, "i1", nil)
		require.NoError(t, err)
		require.Equal(t, json.Number("1"), decodeMap(t, r.Value)["n"])
	})

	t.Run("same id in another partition is distinct", func(t *testing.T) {
		_, err := c.CreateItem(ctx, azcosmos.NewPartitionKeyString("b"), []byte(`{"id":"i1","pk":"b","n":100}`), nil)
		require.NoError(t, err)
		r, err := c.ReadItem(ctx, azcosmos.NewPartitionKeyString("b"), "i1", nil)
		require.NoError(t, err)
		require.Equal(t, json.Number("100"), decodeMap(t, r.Value)["n"])
	})

	t.Run("read 200 with system properties", func(t *testing.T) {
		r, err := c.ReadItem(ctx, pkA, "i1", nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, r.RawResponse.StatusCode)
		requireSystemProps(t, r.Value, r.ETag)
		require.NotNil(t, r.SessionToken)
	})

	t.Run("read missing 404", func(t *testing.T) {
		_, err := c.ReadItem(ctx, pkA, "nope", nil)
		re := respErr(t, err, http.StatusNotFound)
		require.Contains(t, []string{"", "0"}, substatus(re))
		// Right id, wrong partition.
		_, err = c.ReadItem(ctx, azcosmos.NewPartitionKeyString("zzz"), "i2", nil)
		respErr(t, err, http.StatusNotFound)
	})

	t.Run("upsert new 201 then existing 200", func(t *testing.T) {
		resp, err := c.UpsertItem(ctx, pkA, []byte(`{"id":"u1","pk":"a","v":1}`), nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, resp.RawResponse.StatusCode)
		etag1 := resp.ETag
		resp, err = c.UpsertItem(ctx, pkA, []byte(`{"id":"u1","pk":"a","v":2}`),
			&azcosmos.ItemOptions{EnableContentResponseOnWrite: true})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.RawResponse.StatusCode)
		require.NotEqual(t, etag1, resp.ETag)
		m := decodeMap(t, resp.Value)
		require.Equal(t, json.Number("2"), m["v"])
		r, err := c.ReadItem(ctx, pkA, "u1", nil)
		require.NoError(t, err)
		require.Equal(t, json.Number("2"), decodeMap(t, r.Value)["v"])
	})

	t.Run("replace", func(t *testing.T) {
		r, err := c.ReadItem(ctx, pkA, "i2", nil)
		require.NoError(t, err)
		oldTag := r.ETag

		resp, err := c.ReplaceItem(ctx, pkA, "i2", []byte(`{"id":"i2","pk":"a","n":20}`), nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.RawResponse.StatusCode)
		require.Empty(t, resp.Value)
		require.NotEqual(t, oldTag, resp.ETag)
		newTag := resp.ETag

		// Stale etag: 412, nothing changes.
		_, err = c.ReplaceItem(ctx, pkA, "i2", []byte(`{"id":"i2","pk":"a","n":21}`),
			&azcosmos.ItemOptions{IfMatchEtag: &oldTag})
		re := respErr(t, err, http.StatusPreconditionFailed)
		code, _ := errBody(t, re)
		require.Equal(t, "PreconditionFailed", code)
		r, err = c.ReadItem(ctx, pkA, "i2", nil)
		require.NoError(t, err)
		require.Equal(t, json.Number("20"), decodeMap(t, r.Value)["n"])
		require.Equal(t, newTag, r.ETag)

		// Current etag: 200.
		resp, err = c.ReplaceItem(ctx, pkA, "i2", []byte(`{"id":"i2","pk":"a","n":22}`),
			&azcosmos.ItemOptions{IfMatchEtag: &newTag, EnableContentResponseOnWrite: true})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.RawResponse.StatusCode)
		require.Equal(t, json.Number("22"), decodeMap(t, resp.Value)["n"])
	})

	t.Run("replace missing 404", func(t *testing.T) {
		_, err := c.ReplaceItem(ctx, pkA, "ghost", []byte(`{"id":"ghost","pk":"a"}`), nil)
		respErr(t, err, http.StatusNotFound)
	})

	t.Run("replace with body id different from URL id 400", func(t *testing.T) {
		_, err := c.ReplaceItem(ctx, pkA, "i2", []byte(`{"id":"other","pk":"a"}`), nil)
		respErr(t, err, http.StatusBadRequest)
	})

	t.Run("delete", func(t *testing.T) {
		_, err := c.CreateItem(ctx, pkA, []byte(`{"id":"d1","pk":"a"}`), nil)
		require.NoError(t, err)
		r, err := c.ReadItem(ctx, pkA, "d1", nil)
		require.NoError(t, err)
		wrong := azcore.ETag(`"not-the-etag"`)
		_, err = c.DeleteItem(ctx, pkA, "d1", &azcosmos.ItemOptions{IfMatchEtag: &wrong})
		respErr(t, err, http.StatusPreconditionFailed)
		_, err = c.ReadItem(ctx, pkA, "d1", nil)
		require.NoError(t, err, "a failed conditional delete must not delete")

		etag := r.ETag
		resp, err := c.DeleteItem(ctx, pkA, "d1", &azcosmos.ItemOptions{IfMatchEtag: &etag})
		require.NoError(t, err)
		require.Equal(t, http.StatusNoContent, resp.RawResponse.StatusCode)
		require.Empty(t, resp.Value)
		_, err = c.ReadItem(ctx, pkA, "d1", nil)
		respErr(t, err, http.StatusNotFound)
		_, err = c.DeleteItem(ctx, pkA, "d1", nil)
		respErr(t, err, http.StatusNotFound)
		// It can be created again.
		_, err = c.CreateItem(ctx, pkA, []byte(`{"id":"d1","pk":"a"}`), nil)
		require.NoError(t, err)
	})

	t.Run("partition key header and body mismatch 400", func(t *testing.T) {
		_, err := c.CreateItem(ctx, pkA, []byte(`{"id":"mm","pk":"b"}`), nil)
		respErr(t, err, http.StatusBadRequest)
		_, err = c.UpsertItem(ctx, pkA, []byte(`{"id":"mm","pk":"b"}`), nil)
		respErr(t, err, http.StatusBadRequest)
		_, err = c.ReplaceItem(ctx, pkA, "i1", []byte(`{"id":"i1","pk":"b"}`), nil)
		respErr(t, err, http.StatusBadRequest)
		_, err = c.CreateItem(ctx, azcosmos.NewPartitionKeyNumber(1), []byte(`{"id":"mm","pk":"1"}`), nil)
		respErr(t, err, http.StatusBadRequest)
		// Body without the key property but a string key in the header.
		_, err = c.CreateItem(ctx, pkA, []byte(`{"id":"mm"}`), nil)
		respErr(t, err, http.StatusBadRequest)
		_, err = c.ReadItem(ctx, azcosmos.NewPartitionKeyString("b"), "mm", nil)
		respErr(t, err, http.StatusNotFound)
	})

	t.Run("invalid ids 400", func(t *testing.T) {
		for _, id := range []string{"a/b", `a\b`, "a?b", "a#b", strings.Repeat("x", 256), "", "trailing "} {
			body := mustJSON(t, map[string]any{"id": id, "pk": "a"})
			_, err := c.CreateItem(ctx, pkA, body, nil)
			respErr(t, err, http.StatusBadRequest)
		}
		_, err := c.CreateItem(ctx, pkA, []byte(`{"id":5,"pk":"a"}`), nil)
		respErr(t, err, http.StatusBadRequest)
		_, err = c.CreateItem(ctx, pkA, []byte(`{"pk":"a"}`), nil)
		respErr(t, err, http.StatusBadRequest)
		// 255 characters is the limit and is fine.
		long := strings.Repeat("y", 255)
		_, err = c.CreateItem(ctx, pkA, mustJSON(t, map[string]any{"id": long, "pk": "a"}), nil)
		require.NoError(t, err)
		_, err = c.ReadItem(ctx, pkA, long, nil)
		require.NoError(t, err)
	})

	t.Run("special ids round trip", func(t *testing.T) {
		ids := []string{"with space", "ünïcødé-日本語", "a+b&c=d:e@f", "emoji 😀 x", "pct%20lit", "semi;colon,comma", "quote\"s'", "tab\tx"}
		for _, id := range ids {
			// The id doubles as the partition key value, which exercises the
			// SDK's QuoteToASCII header encoding (\U0001f600 for the emoji).
			pk := azcosmos.NewPartitionKeyString(id)
			body := mustJSON(t, map[string]any{"id": id, "pk": id, "v": 1})
			_, err := c.CreateItem(ctx, pk, body, nil)
			require.NoError(t, err, "create %q", id)
			r, err := c.ReadItem(ctx, pk, id, nil)
			require.NoError(t, err, "read %q", id)
			m := decodeMap(t, r.Value)
			require.Equal(t, id, m["id"])
			require.Equal(t, id, m["pk"])
			_, err = c.ReplaceItem(ctx, pk, id, mustJSON(t, map[string]any{"id": id, "pk": id, "v": 2}), nil)
			require.NoError(t, err, "replace %q", id)
			ops := azcosmos.PatchOperations{}
			ops.AppendIncrement("/v", 1)
			_, err = c.PatchItem(ctx, pk, id, ops, nil)
			require.NoError(t, err, "patch %q", id)
			items := queryAll(t, c, "SELECT VALUE c.v FROM c WHERE c.id = @id", pk,
				[]azcosmos.QueryParameter{{Name: "@id", Value: id}}, 0)
			require.Equal(t, []string{"3"}, rawStrings(items), "query %q", id)
			_, err = c.DeleteItem(ctx, pk, id, nil)
			require.NoError(t, err, "delete %q", id)
			_, err = c.ReadItem(ctx, pk, id, nil)
			respErr(t, err, http.StatusNotFound)
		}
	})

	t.Run("values round trip", func(t *testing.T) {
		body := []byte(`{"id":"vals","pk":"a","int":42,"neg":-7,"float":3.25,"big":9007199254740991,
			"exp":1.5e300,"small":1e-7,"zero":0,"t":true,"f":false,"nul":null,
			"str":"quote\" backslash\\ nl\n tab\t é 😀 ctl\u0001 <>&",
			"arr":[1,"two",null,true,{"x":[]},[1,[2,[3]]]],
			"nested":{"a":{"b":{"c":[1,2,{"d":"e"}]}}},"emptyObj":{},"emptyArr":[],"emptyStr":""}`)
		_, err := c.CreateItem(ctx, pkA, body, nil)
		require.NoError(t, err)
		r, err := c.ReadItem(ctx, pkA, "vals", nil)
		require.NoError(t, err)
		got := stripSystem(decodeAny(t, r.Value))
		want := decodeAny(t, body)
		require.Equal(t, want, got)

		// The same values come back through a query.
		items := queryAll(t, c, "SELECT * FROM c WHERE c.id = 'vals'", pkA, nil, 0)
		require.Len(t, items, 1)
		require.Equal(t, want, stripSystem(decodeAny(t, items[0])))
	})

	t.Run("non-object bodies 400", func(t *testing.T) {
		for _, b := range []string{`[1,2]`, `"str"`, `42`, `null`} {
			_, err := c.CreateItem(ctx, pkA, []byte(b), nil)
			respErr(t, err, http.StatusBadRequest)
		}
	})
}

func TestPartitionKeyTypes(t *testing.T) {
	e := start(t)
	ctx := ctxT(t)
	c := e.container("db", "pkt")

	cases := []struct {
		name string
		pk   azcosmos.PartitionKey
		body string
	}{
		{"string", azcosmos.NewPartitionKeyString("5"), `{"id":"same","pk":"5","t":"string"}`},
		{"number", azcosmos.NewPartitionKeyNumber(5), `{"id":"same","pk":5,"t":"number"}`},
		{"float", azcosmos.NewPartitionKeyNumber(5.5), `{"id":"same","pk":5.5,"t":"float"}`},
		{"negative", azcosmos.NewPartitionKeyNumber(-3), `{"id":"same","pk":-3,"t":"negative"}`},
		{"true", azcosmos.NewPartitionKeyBool(true), `{"id":"same","pk":true,"t":"true"}`},
		{"false", azcosmos.NewPartitionKeyBool(false), `{"id":"same","pk":false,"t":"false"}`},
		{"null", azcosmos.NullPartitionKey, `{"id":"same","pk":null,"t":"null"}`},
		{"empty string", azcosmos.NewPartitionKeyString(""), `{"id":"same","pk":"","t":"empty string"}`},
	}
	// The same id under keys of different types are different items.
	for _, tc := range cases {
		_, err := c.CreateItem(ctx, tc.pk, []byte(tc.body), nil)
		require.NoError(t, err, tc.name)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := c.ReadItem(ctx, tc.pk, "same", nil)
			require.NoError(t, err)
			require.Equal(t, tc.name, decodeMap(t, r.Value)["t"])
			items := queryAll(t, c, "SELECT VALUE c.t FROM c", tc.pk, nil, 0)
			require.Equal(t, []string{`"` + tc.name + `"`}, rawStrings(items))
			ops := azcosmos.PatchOperations{}
			ops.AppendSet("/patched", true)
			_, err = c.PatchItem(ctx, tc.pk, "same", ops, nil)
			require.NoError(t, err)
		})
	}
	all := queryAll(t, c, "SELECT VALUE c.t FROM c", azcosmos.NewPartitionKey(), nil, 0)
	require.Len(t, all, len(cases))

	t.Run("wrong type is another partition", func(t *testing.T) {
		_, err := c.ReadItem(ctx, azcosmos.NewPartitionKeyString("true"), "same", nil)
		respErr(t, err, http.StatusNotFound)
		_, err = c.ReadItem(ctx, azcosmos.NewPartitionKeyNumber(6), "same", nil)
		respErr(t, err, http.StatusNotFound)
	})

	t.Run("null key with a missing body property is a mismatch", func(t *testing.T) {
		// Cosmos distinguishes null from undefined: [null] needs "pk":null.
		_, err := c.CreateItem(ctx, azcosmos.NullPartitionKey, []byte(`{"id":"nopk"}`), nil)
		respErr(t, err, http.StatusBadRequest)
	})

	t.Run("object partition key value 400", func(t *testing.T) {
		_, err := c.CreateItem(ctx, azcosmos.NewPartitionKeyString("x"), []byte(`{"id":"obj","pk":{"a":1}}`), nil)
		respErr(t, err, http.StatusBadRequest)
	})
}

func TestPatch(t *testing.T) {
	e := start(t)
	ctx := ctxT(t)
	c := e.container("db", "patch")
	pk := azcosmos.NewPartitionKeyString("a")
	_, err := c.CreateItem(ctx, pk, []byte(`{"id":"p1","pk":"a","n":1,"f":1.5,"s":"x","gone":true,"arr":[1,2],"obj":{"k":"v"}}`), nil)
	require.NoError(t, err)

	t.Run("set add replace remove incr", func(t *testing.T) {
		ops := azcosmos.PatchOperations{}
		ops.AppendSet("/s", "y")
		ops.AppendSet("/obj/new", map[string]any{"deep": []int{1}})
		ops.AppendAdd("/arr/1", 99)
		ops.AppendAdd("/arr/3", 100) // index == length appends
		ops.AppendAdd("/added", "z")
		ops.AppendReplace("/obj/k", "w")
		ops.AppendRemove("/gone")
		ops.AppendIncrement("/n", 5)
		ops.AppendIncrement("/f", -2)
		resp, err := c.PatchItem(ctx, pk, "p1", ops, &azcosmos.ItemOptions{EnableContentResponseOnWrite: true})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.RawResponse.StatusCode)
		requireSystemProps(t, resp.Value, resp.ETag)
		got := stripSystem(decodeAny(t, resp.Value))
		want := decodeAny(t, []byte(`{"id":"p1","pk":"a","n":6,"f":-0.5,"s":"y","arr":[1,99,2,100],
			"obj":{"k":"w","new":{"deep":[1]}},"added":"z"}`))
		require.Equal(t, want, got)
		// Persisted.
		r, err := c.ReadItem(ctx, pk, "p1", nil)
		require.NoError(t, err)
		require.Equal(t, want, stripSystem(decodeAny(t, r.Value)))
	})

	t.Run("minimal response", func(t *testing.T) {
		ops := azcosmos.PatchOperations{}
		ops.AppendIncrement("/n", 1)
		resp, err := c.PatchItem(ctx, pk, "p1", ops, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.RawResponse.StatusCode)
		require.Empty(t, resp.Value)
		r, err := c.ReadItem(ctx, pk, "p1", nil)
		require.NoError(t, err)
		require.Equal(t, json.Number("7"), decodeMap(t, r.Value)["n"])
	})

	t.Run("condition true 200, false 412", func(t *testing.T) {
		ops := azcosmos.PatchOperations{}
		ops.SetCondition("from c where c.n = 7")
		ops.AppendSet("/cond", "yes")
		_, err := c.PatchItem(ctx, pk, "p1", ops, nil)
		require.NoError(t, err)

		ops = azcosmos.PatchOperations{}
		ops.SetCondition("from c where c.n = 1000")
		ops.AppendSet("/cond", "no")
		_, err = c.PatchItem(ctx, pk, "p1", ops, nil)
		respErr(t, err, http.StatusPreconditionFailed)
		r, err := c.ReadItem(ctx, pk, "p1", nil)
		require.NoError(t, err)
		require.Equal(t, "yes", decodeMap(t, r.Value)["cond"])
	})

	t.Run("if-match", func(t *testing.T) {
		r, err := c.ReadItem(ctx, pk, "p1", nil)
		require.NoError(t, err)
		wrong := azcore.ETag(`"stale"`)
		ops := azcosmos.PatchOperations{}
		ops.AppendSet("/im", 1)
		_, err = c.PatchItem(ctx, pk, "p1", ops, &azcosmos.ItemOptions{IfMatchEtag: &wrong})
		respErr(t, err, http.StatusPreconditionFailed)
		etag := r.ETag
		_, err = c.PatchItem(ctx, pk, "p1", ops, &azcosmos.ItemOptions{IfMatchEtag: &etag})
		require.NoError(t, err)
	})

	t.Run("missing item 404", func(t *testing.T) {
		ops := azcosmos.PatchOperations{}
		ops.AppendSet("/x", 1)
		_, err := c.PatchItem(ctx, pk, "ghost", ops, nil)
		respErr(t, err, http.StatusNotFound)
	})

	t.Run("invalid operations 400", func(t *testing.T) {
		bad := map[string]func(*azcosmos.PatchOperations){
			"set /id":            func(o *azcosmos.PatchOperations) { o.AppendSet("/id", "p2") },
			"remove /id":         func(o *azcosmos.PatchOperations) { o.AppendRemove("/id") },
			"set partition key":  func(o *azcosmos.PatchOperations) { o.AppendSet("/pk", "b") },
			"replace missing":    func(o *azcosmos.PatchOperations) { o.AppendReplace("/nope", 1) },
			"remove missing":     func(o *azcosmos.PatchOperations) { o.AppendRemove("/nope") },
			"incr a string":      func(o *azcosmos.PatchOperations) { o.AppendIncrement("/s", 1) },
			"set system _rid":    func(o *azcosmos.PatchOperations) { o.AppendSet("/_rid", "x") },
			"add past array end": func(o *azcosmos.PatchOperations) { o.AppendAdd("/arr/10", 1) },
		}
		for name, f := range bad {
			ops := azcosmos.PatchOperations{}
			f(&ops)
			_, err := c.PatchItem(ctx, pk, "p1", ops, nil)
			require.Error(t, err, name)
			re := respErr(t, err, http.StatusBadRequest)
			_, msg := errBody(t, re)
			require.NotEmpty(t, msg, name)
		}
		r, err := c.ReadItem(ctx, pk, "p1", nil)
		require.NoError(t, err)
		m := decodeMap(t, r.Value)
		require.Equal(t, "p1", m["id"])
		require.Equal(t, "a", m["pk"])
		require.Equal(t, "y", m["s"])
	})

	t.Run("move via raw HTTP", func(t *testing.T) {
		// azcosmos v1.5.0 has no AppendMove; send the op directly.
		p, link := docPath("db", "patch", "p1")
		r := e.raw(rawReq{method: http.MethodPatch, path: p, resType: "docs", resLink: link,
			body:   []byte(`{"operations":[{"op":"move","from":"/added","path":"/moved"}]}`),
			header: map[string]string{"x-ms-documentdb-partitionkey": `["a"]`}})
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		m := decodeMap(t, r.body)
		require.Equal(t, "z", m["moved"])
		_, still := m["added"]
		require.False(t, still)

		r = e.raw(rawReq{method: http.MethodPatch, path: p, resType: "docs", resLink: link,
			body:   []byte(`{"operations":[{"op":"move","from":"/nope","path":"/x"}]}`),
			header: map[string]string{"x-ms-documentdb-partitionkey": `["a"]`}})
		require.Equal(t, http.StatusBadRequest, r.status, "body: %s", r.body)
	})

	t.Run("too many operations 400", func(t *testing.T) {
		ops := azcosmos.PatchOperations{}
		for i := 0; i < 11; i++ {
			ops.AppendIncrement("/n", 1)
		}
		_, err := c.PatchItem(ctx, pk, "p1", ops, nil)
		respErr(t, err, http.StatusBadRequest)
	})
}

func TestItemSize(t *testing.T) {
	e := start(t)
	ctx := ctxT(t)
	c := e.container("db", "size")
	pk := azcosmos.NewPartitionKeyString("a")

	big := strings.Repeat("x", 2_100_000+100_000) // ~2.1 MiB, over the 2 MiB limit
	_, err := c.CreateItem(ctx, pk, mustJSON(t, map[string]any{"id": "big", "pk": "a", "s": big}), nil)
	respErr(t, err, http.StatusRequestEntityTooLarge)
	_, err = c.ReadItem(ctx, pk, "big", nil)
	respErr(t, err, http.StatusNotFound)

	// A 1.5 MB item is fine and round-trips.
	ok := strings.Repeat("y", 1_500_000)
	_, err = c.CreateItem(ctx, pk, mustJSON(t, map[string]any{"id": "ok", "pk": "a", "s": ok}), nil)
	require.NoError(t, err)
	r, err := c.ReadItem(ctx, pk, "ok", nil)
	require.NoError(t, err)
	require.Equal(t, ok, decodeAny(t, r.Value)["s"])

	// Growing it past the limit by replace is also 413.
	_, err = c.ReplaceItem(ctx, pk, "ok", mustJSON(t, map[string]any{"id": "ok", "pk": "a", "s": big}), nil)
	respErr(t, err, http.StatusRequestEntityTooLarge)
}

// TestConcurrentConditionalWrites checks optimistic concurrency under
// contention: of N writers racing with the same precondition, exactly one
// wins. The outcome does not depend on scheduling.
func TestConcurrentConditionalWrites(t *testing.T) {
	e := start(t)
	ctx := ctxT(t)
	c := e.container("db", "conc")
	pk := azcosmos.NewPartitionKeyString("a")
	const n = 8

	t.Run("creates of one id: one 201, the rest 409", func(t *testing.T) {
		errs := make(chan error, n)
		for i := 0; i < n; i++ {
			go func() {
				_, err := c.CreateItem(ctx, pk, []byte(`{"id":"race","pk":"a"}`), nil)
				errs <- err
			}()
		}
		ok := 0
		for i := 0; i < n; i++ {
			if err := <-errs; err == nil {
				ok++
			} else {
				respErr(t, err, http.StatusConflict)
			}
		}
		require.Equal(t, 1, ok)
	})

	t.Run("replaces with the same If-Match: one 200, the rest 412", func(t *testing.T) {
		r, err := c.ReadItem(ctx, pk, "race", nil)
		require.NoError(t, err)
		etag := r.ETag
		type res struct {
			i   int
			err error
		}
		out := make(chan res, n)
		for i := 0; i < n; i++ {
			body := mustJSON(t, map[string]any{"id": "race", "pk": "a", "w": i})
			go func() {
				_, err := c.ReplaceItem(ctx, pk, "race", body, &azcosmos.ItemOptions{IfMatchEtag: &etag})
				out <- res{i, err}
			}()
		}
		winner := -1
		for i := 0; i < n; i++ {
			r := <-out
			if r.err == nil {
				require.Equal(t, -1, winner, "two conditional replaces succeeded")
				winner = r.i
			} else {
				respErr(t, r.err, http.StatusPreconditionFailed)
			}
		}
		require.NotEqual(t, -1, winner)
		got, err := c.ReadItem(ctx, pk, "race", nil)
		require.NoError(t, err)
		require.EqualValues(t, winner, decodeAny(t, got.Value)["w"])
	})

	t.Run("concurrent increments are not lost", func(t *testing.T) {
		_, err := c.CreateItem(ctx, pk, []byte(`{"id":"ctr","pk":"a","n":0}`), nil)
		require.NoError(t, err)
		errs := make(chan error, n)
		for i := 0; i < n; i++ {
			go func() {
				ops := azcosmos.PatchOperations{}
				ops.AppendIncrement("/n", 1)
				_, err := c.PatchItem(ctx, pk, "ctr", ops, nil)
				errs <- err
			}()
		}
		for i := 0; i < n; i++ {
			require.NoError(t, <-errs)
		}
		got, err := c.ReadItem(ctx, pk, "ctr", nil)
		require.NoError(t, err)
		require.EqualValues(t, n, decodeAny(t, got.Value)["n"])
	})
}
