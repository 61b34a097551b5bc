// Package sdk_test drives a real in-process Meridian server through the
// official Azure Cosmos DB Go SDK (azcosmos v1.5.0), and through raw signed
// HTTP for the requests the SDK cannot express.
package sdk_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/stretchr/testify/require"

	"github.com/meridiandb/meridian/internal/auth"
	"github.com/meridiandb/meridian/internal/server"
)

// env is one running server plus an SDK client signed with the master key.
type env struct {
	t      *testing.T
	srv    *server.Server
	cfg    server.Config
	client *azcosmos.Client
	key    string // base64 master key
}

// start runs a fresh server on a loopback port with its data in t.TempDir()
// and returns it with a master-key client. mods adjust the config.
func start(t *testing.T, mods ...func(*server.Config)) *env {
	t.Helper()
	cfg := server.Config{
		Listen:  "127.0.0.1:0",
		DataDir: t.TempDir(),
		Logger:  slog.New(slog.DiscardHandler),
	}
	for _, m := range mods {
		m(&cfg)
	}
	s, err := server.New(cfg)
	require.NoError(t, err)
	s.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("server close: %v", err)
		}
	})
	key := cfg.Key
	if key == "" {
		key = auth.EmulatorKey
	}
	e := &env{t: t, srv: s, cfg: cfg, key: key}
	// The server is listening before the client exists (a failed first
	// GET / is cached by the SDK for 5 minutes).
	e.client = e.newClient(key, nil)
	return e
}

// newClient builds an SDK client for the server. azcore's own retries are
// disabled so a failing server answers fast; the Cosmos retry policy
// (404/1002, 403/3) stays as shipped.
func (e *env) newClient(key string, opts *azcosmos.ClientOptions) *azcosmos.Client {
	e.t.Helper()
	cred, err := azcosmos.NewKeyCredential(key)
	require.NoError(e.t, err)
	if opts == nil {
		opts = &azcosmos.ClientOptions{}
	}
	opts.Retry = policy.RetryOptions{MaxRetries: -1}
	c, err := azcosmos.NewClientWithKey(e.srv.Endpoint(), cred, opts)
	require.NoError(e.t, err)
	e.t.Cleanup(c.Close)
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// createDB creates a database and returns its client.
func (e *env) createDB(id string) *azcosmos.DatabaseClient {
	e.t.Helper()
	_, err := e.client.CreateDatabase(ctxT(e.t), azcosmos.DatabaseProperties{ID: id}, nil)
	require.NoError(e.t, err)
	db, err := e.client.NewDatabase(id)
	require.NoError(e.t, err)
	return db
}

// createContainer creates a container partitioned on paths (Hash v2 for
// one path, MultiHash for more).
func (e *env) createContainer(db *azcosmos.DatabaseClient, id string, paths ...string) *azcosmos.ContainerClient {
	e.t.Helper()
	if len(paths) == 0 {
		paths = []string{"/pk"}
	}
	_, err := db.CreateContainer(ctxT(e.t), azcosmos.ContainerProperties{
		ID:                     id,
		PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: paths, Version: 2},
	}, nil)
	require.NoError(e.t, err)
	c, err := db.NewContainer(id)
	require.NoError(e.t, err)
	return c
}

// container is createDB + createContainer with a /pk key.
func (e *env) container(dbID, id string) *azcosmos.ContainerClient {
	return e.createContainer(e.createDB(dbID), id, "/pk")
}

// respErr asserts err is an *azcore.ResponseError with the given HTTP
// status and returns it.
func respErr(t *testing.T, err error, status int) *azcore.ResponseError {
	t.Helper()
	require.Error(t, err, "expected HTTP %d", status)
	var re *azcore.ResponseError
	require.True(t, errors.As(err, &re), "expected *azcore.ResponseError, got %T: %v", err, err)
	require.Equal(t, status, re.StatusCode, "unexpected status; error: %v", err)
	return re
}

// substatus is the x-ms-substatus of an error response ("" if absent).
func substatus(re *azcore.ResponseError) string {
	if re.RawResponse == nil {
		return ""
	}
	return re.RawResponse.Header.Get("x-ms-substatus")
}

// errBody decodes the {code,message} body of an error response.
func errBody(t *testing.T, re *azcore.ResponseError) (code, message string) {
	t.Helper()
	require.NotNil(t, re.RawResponse)
	b, err := io.ReadAll(re.RawResponse.Body)
	require.NoError(t, err)
	var v struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	require.NoError(t, json.Unmarshal(b, &v), "error body: %s", b)
	return v.Code, v.Message
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

func decodeMap(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	require.NoError(t, d.Decode(&m), "body: %s", b)
	return m
}

// stripSystem removes the system properties from a decoded item.
func stripSystem(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		switch k {
		case "_rid", "_self", "_etag", "_ts", "_attachments", "_lsn":
			continue
		}
		out[k] = v
	}
	return out
}

// normJSON re-encodes a JSON value canonically (sorted keys, numbers as
// parsed float64) so two encodings of the same value compare equal.
func normJSON(t *testing.T, b []byte) string {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal(b, &v), "json: %s", b)
	out, err := json.Marshal(v)
	require.NoError(t, err)
	return string(out)
}

// ---- raw HTTP ----

// rawReq is a signed request the SDK cannot express.
type rawReq struct {
	method  string
	path    string // escaped URL path, e.g. "/dbs/db1/colls/c1/docs"
	resType string
	resLink string // unescaped, no leading slash
	body    []byte
	header  map[string]string
	key     string    // base64 key to sign with; "" = master key
	date    time.Time // zero = now
	noAuth  bool
	sig     string // if set, the Authorization header verbatim
}

type rawResp struct {
	status int
	header http.Header
	body   []byte
}

func (e *env) raw(r rawReq) rawResp {
	e.t.Helper()
	u := strings.TrimSuffix(e.srv.Endpoint(), "/") + r.path
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctxT(e.t), r.method, u, body)
	require.NoError(e.t, err)
	date := r.date
	if date.IsZero() {
		date = time.Now()
	}
	ds := date.UTC().Format(http.TimeFormat)
	req.Header.Set("x-ms-date", ds)
	req.Header.Set("x-ms-version", "2020-11-05")
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	switch {
	case r.sig != "":
		req.Header.Set("Authorization", r.sig)
	case !r.noAuth:
		key := r.key
		if key == "" {
			key = e.key
		}
		req.Header.Set("Authorization", auth.Sign(auth.MustDecodeKey(key), r.method, r.resType, r.resLink, ds))
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	return rawResp{status: resp.StatusCode, header: resp.Header, body: b}
}

// errJSON decodes a raw error body and checks its shape.
func (r rawResp) errJSON(t *testing.T) (code, message string) {
	t.Helper()
	var v map[string]any
	require.NoError(t, json.Unmarshal(r.body, &v), "error body is not JSON: %s", r.body)
	c, ok := v["code"].(string)
	require.True(t, ok, "error body has no string code: %s", r.body)
	m, ok := v["message"].(string)
	require.True(t, ok, "error body has no string message: %s", r.body)
	return c, m
}

// docsPath returns the escaped docs path and the signed link of a container.
func docsPath(db, coll string) (path, link string) {
	return "/dbs/" + url.PathEscape(db) + "/colls/" + url.PathEscape(coll) + "/docs", "dbs/" + db + "/colls/" + coll
}

func docPath(db, coll, id string) (path, link string) {
	p, l := docsPath(db, coll)
	return p + "/" + url.PathEscape(id), l + "/docs/" + id
}
