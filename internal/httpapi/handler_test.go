package httpapi

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meridiandb/meridian/internal/auth"
	"github.com/meridiandb/meridian/internal/pkey"
	"github.com/meridiandb/meridian/internal/resource"
	"github.com/meridiandb/meridian/internal/session"
)

var (
	masterKey = auth.MustDecodeKey(auth.EmulatorKey)
	roKeyB64  = base64.StdEncoding.EncodeToString([]byte("meridian read-only test key 0123456789"))
	roKey     = auth.MustDecodeKey(roKeyB64)
)

type testEnv struct {
	t    *testing.T
	h    *Handler
	f    *fakeBackend
	logs *bytes.Buffer
	sent []string // Authorization headers sent
}

func newEnv(t *testing.T, mod ...func(*Config)) *testEnv {
	t.Helper()
	v, err := auth.NewVerifier(auth.EmulatorKey, roKeyB64)
	if err != nil {
		t.Fatal(err)
	}
	logs := &bytes.Buffer{}
	cfg := Config{Verifier: v, RegionName: "westus",
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	for _, m := range mod {
		m(&cfg)
	}
	f := newFake()
	h, err := New(cfg, f)
	if err != nil {
		t.Fatal(err)
	}
	return &testEnv{t: t, h: h, f: f, logs: logs}
}

// req describes one request. path is the escaped URL path; resType and link
// are what the test signs (independently of the handler's authTarget).
type req struct {
	method, path    string
	resType, link   string
	hdr             map[string]string
	body            string
	key             []byte // nil: master key
	noAuth          bool
	date            string
	tls             bool
	omitContentType bool
}

func (e *testEnv) do(r req) *httptest.ResponseRecorder {
	e.t.Helper()
	var body io.Reader = http.NoBody
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr := httptest.NewRequest(r.method, "http://127.0.0.1:8081"+r.path, body)
	if r.tls {
		hr.TLS = &tls.ConnectionState{}
	}
	date := r.date
	if date == "" {
		date = time.Now().UTC().Format(http.TimeFormat)
	}
	hr.Header.Set("x-ms-date", date)
	hr.Header.Set("x-ms-version", "2020-11-05")
	if r.body != "" && !r.omitContentType {
		hr.Header.Set("Content-Type", "application/json")
	}
	key := r.key
	if key == nil {
		key = masterKey
	}
	if !r.noAuth {
		a := auth.Sign(key, r.method, r.resType, r.link, date)
		e.sent = append(e.sent, a)
		hr.Header.Set("Authorization", a)
	}
	for k, v := range r.hdr {
		hr.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, hr)
	return w
}

func (e *testEnv) mustDB(id string) {
	e.t.Helper()
	if _, err := e.f.CreateDatabase(e.t.Context(), id, resource.Throughput{}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *testEnv) mustColl(db, id string) {
	e.t.Helper()
	if _, err := e.f.CreateContainer(e.t.Context(), db, resource.Container{ID: id,
		PartitionKey: resource.PartitionKeyDefinition{Paths: []string{"/pk"}}}, resource.Throughput{}); err != nil {
		e.t.Fatal(err)
	}
	e.f.calls = nil
}

func wantStatus(t *testing.T, w *httptest.ResponseRecorder, status int) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d; body %s", w.Code, status, w.Body.String())
	}
}

// wantError checks a Cosmos error response and returns its message.
func wantError(t *testing.T, w *httptest.ResponseRecorder, status, substatus int, code string) string {
	t.Helper()
	wantStatus(t, w, status)
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	var body struct{ Code, Message string }
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("error body is not JSON: %v: %q", err, w.Body.String())
	}
	if body.Code != code || body.Message == "" {
		t.Fatalf("error body %+v, want code %s and a message", body, code)
	}
	sub := w.Header().Get("x-ms-substatus")
	if substatus == 0 && sub != "" || substatus != 0 && sub != fmt.Sprint(substatus) {
		t.Fatalf("x-ms-substatus %q, want %d", sub, substatus)
	}
	return body.Message
}

func TestNewValidates(t *testing.T) {
	if _, err := New(Config{}, newFake()); err == nil {
		t.Fatal("New without Verifier or DisableAuth succeeded")
	}
	if _, err := New(Config{DisableAuth: true}, nil); err == nil {
		t.Fatal("New without a Backend succeeded")
	}
	h, err := New(Config{DisableAuth: true}, newFake())
	if err != nil {
		t.Fatal(err)
	}
	if h.cfg.MaxBodyBytes != DefaultMaxBodyBytes {
		t.Fatalf("MaxBodyBytes default %d", h.cfg.MaxBodyBytes)
	}
}

func TestAccount(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		tls    bool
		scheme string
	}{{false, "http"}, {true, "https"}} {
		w := e.do(req{method: "GET", path: "/", tls: tc.tls})
		wantStatus(t, w, 200)
		var a map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
			t.Fatal(err)
		}
		if a["id"] != "acct" || a["_self"] != "" || a["_dbs"] != "//dbs/" {
			t.Fatalf("account %v", a)
		}
		wl := a["writableLocations"].([]any)[0].(map[string]any)
		if wl["databaseAccountEndpoint"] != tc.scheme+"://127.0.0.1:8081/" || wl["name"] != "West US" {
			t.Fatalf("writable %v", wl)
		}
		if n := len(a["readableLocations"].([]any)); n != 2 {
			t.Fatalf("%d readable locations", n)
		}
		ucp := a["userConsistencyPolicy"].(map[string]any)
		if ucp["defaultConsistencyLevel"] != "Session" {
			t.Fatalf("consistency %v", ucp)
		}
		if _, ok := a["queryEngineConfiguration"].(string); !ok {
			t.Fatalf("queryEngineConfiguration is not a string: %T", a["queryEngineConfiguration"])
		}
	}
	e.f.account.ID = "localhost"
	w := e.do(req{method: "GET", path: "/"})
	if bytes.Contains(w.Body.Bytes(), []byte(`"id":"localhost"`)) {
		t.Fatalf("account id localhost: %s", w.Body.String())
	}
}

func TestCommonHeaders(t *testing.T) {
	e := newEnv(t)
	w := e.do(req{method: "GET", path: "/", hdr: map[string]string{"x-ms-activity-id": "abc-123"}})
	for k, want := range map[string]string{
		"x-ms-activity-id": "abc-123", "Content-Type": "application/json", "x-ms-request-charge": "1",
		"x-ms-gatewayversion": gatewayVersion, "x-ms-serviceversion": serviceVersion,
	} {
		if got := w.Header().Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if w.Header().Get("Content-Encoding") != "" {
		t.Errorf("Content-Encoding %q", w.Header().Get("Content-Encoding"))
	}
	// Date comes from net/http, on the wire.
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if d, err := http.ParseTime(resp.Header.Get("Date")); err != nil || time.Since(d) > time.Minute {
		t.Errorf("Date %q: %v", resp.Header.Get("Date"), err)
	}
	// A new activity id when the client sends none.
	w = e.do(req{method: "GET", path: "/"})
	if len(w.Header().Get("x-ms-activity-id")) != 36 {
		t.Errorf("activity id %q", w.Header().Get("x-ms-activity-id"))
	}
}

// TestRequestDuration: every response, errors included, says how long the
// server took, in milliseconds with a fraction, as Cosmos DB does.
func TestRequestDuration(t *testing.T) {
	e := newEnv(t)
	for i, w := range []*httptest.ResponseRecorder{
		e.do(req{method: "GET", path: "/"}),
		e.do(req{method: "GET", path: "/dbs/d/colls/c/docs/x", resType: "docs", link: "dbs/d/colls/c/docs/x",
			hdr: map[string]string{"x-ms-documentdb-partitionkey": `["p1"]`}}),
		e.do(req{method: "GET", path: "/dbs/d/colls/c/docs/x", resType: "docs", link: "dbs/d/colls/c/docs/x",
			hdr: map[string]string{"x-ms-documentdb-partitionkey": `["p1"`}}),
	} {
		if i == 2 && w.Code != http.StatusBadRequest {
			t.Fatalf("a read with a malformed partition key: status %d, want 400", w.Code)
		}
		v := w.Header().Get("x-ms-request-duration-ms")
		ms, err := strconv.ParseFloat(v, 64)
		if err != nil || ms < 0 || ms > 60_000 || !strings.Contains(v, ".") {
			t.Errorf("status %d: x-ms-request-duration-ms = %q", w.Code, v)
		}
	}
}

func TestDataPlaneHeaders(t *testing.T) {
	e := newEnv(t)
	w := e.do(req{method: "GET", path: "/dbs/d/colls/c/docs/x", resType: "docs", link: "dbs/d/colls/c/docs/x",
		hdr: map[string]string{"x-ms-documentdb-partitionkey": `["p1"]`}})
	wantStatus(t, w, 200)
	for k, want := range map[string]string{
		"x-ms-session-token": "0:-1#7", "x-ms-request-charge": "1.05", "x-ms-content-path": testCollRID,
		"etag": `"e1"`, "x-meridian-region": "westus", "x-meridian-lsn": "7", "x-ms-cosmos-llsn": "7",
	} {
		if got := w.Header().Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if got := e.f.lastItem; got.Op != OpRead || got.DB != "d" || got.Container != "c" || got.ID != "x" ||
		!got.PartitionKey.Equal(pkey.Key{"p1"}) {
		t.Fatalf("backend got %+v", got)
	}
}

// TestEscapedIDRouting sends ids the way the SDKs escape them and checks
// that the backend sees the unescaped ids and the signature over the
// unescaped link verifies.
func TestEscapedIDRouting(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct{ db, coll, id, escapedID string }{
		{"db 1", "c+1", "a b+é:@", "a%20b+%C3%A9:@"},           // Go: url.PathEscape
		{"db 1", "c+1", "a b+é:@", url.PathEscape("a b+é:@")},  // same, computed
		{"d", "c", "x/y?#%z", "x%2Fy%3F%23%25z"},               // '/' inside an id
		{"d", "c", "semi;comma,amp&eq=", "semi;comma,amp&eq="}, // Node leaves these literal
		{"d", "c", "100%", "100%25"},
	} {
		path := "/dbs/" + url.PathEscape(tc.db) + "/colls/" + url.PathEscape(tc.coll) + "/docs/" + tc.escapedID
		link := "dbs/" + tc.db + "/colls/" + tc.coll + "/docs/" + tc.id
		w := e.do(req{method: "GET", path: path, resType: "docs", link: link})
		wantStatus(t, w, 200)
		if got := e.f.lastItem; got.DB != tc.db || got.Container != tc.coll || got.ID != tc.id {
			t.Fatalf("%s: backend got db %q coll %q id %q", path, got.DB, got.Container, got.ID)
		}
	}
	// A database with such an id, created then read.
	w := e.do(req{method: "POST", path: "/dbs", resType: "dbs", body: `{"id":"a b+é:@"}`})
	wantStatus(t, w, 201)
	w = e.do(req{method: "GET", path: "/dbs/" + url.PathEscape("a b+é:@"), resType: "dbs", link: "dbs/a b+é:@"})
	wantStatus(t, w, 200)
	// A bad escape is a 400, an empty segment a 404.
	// (net/http refuses such a URL itself; splitPath must still not accept it.)
	if _, err := splitPath("/dbs/%zz"); resource.KindOf(err) != resource.KindBadRequest {
		t.Fatalf("splitPath(bad escape) = %v", err)
	}
	wantError(t, e.do(req{method: "GET", path: "/dbs//colls", noAuth: true}), 404, 0, "NotFound")
}

func TestAuthFailures(t *testing.T) {
	e := newEnv(t)
	e.mustDB("d")
	// Wrong signature: signed for another link.
	w := e.do(req{method: "GET", path: "/dbs/d", resType: "dbs", link: "dbs/other"})
	msg := wantError(t, w, 401, 0, "Unauthorized")
	if !strings.Contains(msg, "can't serve the request") {
		t.Fatalf("message %q", msg)
	}
	// Wrong key.
	wantError(t, e.do(req{method: "GET", path: "/dbs/d", resType: "dbs", link: "dbs/d", key: []byte("nope")}), 401, 0, "Unauthorized")
	// No header.
	msg = wantError(t, e.do(req{method: "GET", path: "/dbs/d", noAuth: true}), 401, 0, "Unauthorized")
	if !strings.Contains(msg, "missing") {
		t.Fatalf("message %q", msg)
	}
	// Date skew.
	old := time.Now().Add(-20 * time.Minute).UTC().Format(http.TimeFormat)
	msg = wantError(t, e.do(req{method: "GET", path: "/dbs/d", resType: "dbs", link: "dbs/d", date: old}), 401, 0, "Unauthorized")
	if !strings.Contains(msg, "out of range") {
		t.Fatalf("message %q", msg)
	}
	// Read-only key: reads pass, writes are 403, queries (POST) are reads.
	wantStatus(t, e.do(req{method: "GET", path: "/dbs/d", resType: "dbs", link: "dbs/d", key: roKey}), 200)
	wantError(t, e.do(req{method: "DELETE", path: "/dbs/d", resType: "dbs", link: "dbs/d", key: roKey}), 403, 0, "Forbidden")
	wantError(t, e.do(req{method: "POST", path: "/dbs", resType: "dbs", body: `{"id":"x"}`, key: roKey}), 403, 0, "Forbidden")
	wantStatus(t, e.do(req{method: "POST", path: "/dbs", resType: "dbs", key: roKey, body: `{"query":"SELECT * FROM c"}`,
		hdr: map[string]string{"Content-Type": "application/query+json"}}), 200)
	wantError(t, e.do(req{method: "POST", path: "/dbs/d/colls/c/docs", resType: "docs", link: "dbs/d/colls/c", key: roKey,
		body: `[{"operationType":"Read","id":"a"}]`, hdr: map[string]string{"x-ms-cosmos-is-batch-request": "True"}}), 403, 0, "Forbidden")
	if calls := strings.Join(e.f.calls, ","); strings.Contains(calls, "Delete") || strings.Contains(calls, "Batch") {
		t.Fatalf("backend called on refused writes: %s", calls)
	}
	// Never log signatures or the header.
	logs := e.logs.String()
	for _, a := range e.sent {
		raw, _ := url.QueryUnescape(a)
		sig := strings.TrimPrefix(raw, "type=master&ver=1.0&sig=")
		if strings.Contains(logs, a) || strings.Contains(logs, sig) {
			t.Fatalf("logs contain a signature:\n%s", logs)
		}
	}
	if strings.Contains(logs, auth.EmulatorKey) || strings.Contains(logs, roKeyB64) {
		t.Fatal("logs contain a key")
	}
}

func TestAuthTargets(t *testing.T) {
	// Every row of cosmos-wire-protocol.md §3, signed with the documented
	// type and link: the handler must verify them all.
	e := newEnv(t)
	e.mustDB("d")
	e.mustColl("d", "c")
	e.f.offers = []resource.Offer{{ID: "AbCd", ETag: `"o1"`}}
	for _, r := range []req{
		{method: "GET", path: "/", resType: "", link: ""},
		{method: "GET", path: "/dbs", resType: "dbs", link: ""},
		{method: "GET", path: "/dbs/d", resType: "dbs", link: "dbs/d"},
		{method: "GET", path: "/dbs/d/colls", resType: "colls", link: "dbs/d"},
		{method: "GET", path: "/dbs/d/colls/c", resType: "colls", link: "dbs/d/colls/c"},
		{method: "GET", path: "/dbs/d/colls/c/docs", resType: "docs", link: "dbs/d/colls/c"},
		{method: "GET", path: "/dbs/d/colls/c/docs/i", resType: "docs", link: "dbs/d/colls/c/docs/i"},
		{method: "GET", path: "/dbs/d/colls/c/pkranges", resType: "pkranges", link: "dbs/d/colls/c"},
		{method: "GET", path: "/dbs/d/colls/c/conflicts", resType: "conflicts", link: "dbs/d/colls/c"},
		{method: "GET", path: "/offers", resType: "offers", link: ""},
		{method: "GET", path: "/offers/AbCd/", resType: "offers", link: "abcd"},
	} {
		if w := e.do(r); w.Code != 200 {
			t.Errorf("%s %s: %d %s", r.method, r.path, w.Code, w.Body.String())
		}
	}
}

func TestErrorTable(t *testing.T) {
	for _, tc := range []struct {
		err       error
		status    int
		substatus int
		code      string
	}{
		{resource.ErrBadRequest, 400, 0, "BadRequest"},
		{&resource.Error{Kind: resource.KindBadRequest, Msg: "x", Substatus: 1004}, 400, 1004, "BadRequest"},
		{resource.ErrUnauthorized, 401, 0, "Unauthorized"},
		{resource.ErrForbidden, 403, 0, "Forbidden"},
		{resource.ErrWriteForbidden, 403, 3, "Forbidden"},
		{&resource.Error{Kind: resource.KindForbidden, Msg: "gone", Substatus: 1008}, 403, 1008, "Forbidden"},
		{resource.ErrNotFound, 404, 0, "NotFound"},
		{fmt.Errorf("wrapped: %w", resource.ErrNotFound), 404, 0, "NotFound"},
		{resource.ErrReadSessionNotAvailable, 404, 1002, "NotFound"},
		{&resource.Error{Kind: resource.KindMethodNotAllowed, Msg: "x"}, 405, 0, "MethodNotAllowed"},
		{&resource.Error{Kind: resource.KindRequestTimeout, Msg: "x"}, 408, 0, "RequestTimeout"},
		{resource.ErrConflict, 409, 0, "Conflict"},
		{resource.ErrPreconditionFailed, 412, 0, "PreconditionFailed"},
		{resource.ErrTooLarge, 413, 0, "RequestEntityTooLarge"},
		{&resource.Error{Kind: resource.KindFailedDependency, Msg: "x"}, 424, 0, "FailedDependency"},
		{&resource.Error{Kind: resource.KindTooManyRequests, Msg: "slow down", Substatus: 3200, RetryAfterMs: 250}, 429, 3200, "TooManyRequests"},
		{resource.ErrServiceUnavailable, 503, 0, "ServiceUnavailable"},
		{&resource.Error{Kind: resource.KindInsufficientStorage, Msg: "disk"}, 507, 0, "InsufficientStorage"},
		{&resource.Error{Kind: resource.KindInternal, Msg: "boom"}, 500, 0, "InternalServerError"},
		{&resource.Error{Kind: resource.Kind(999), Msg: "?"}, 500, 0, "InternalServerError"},
	} {
		t.Run(fmt.Sprint(tc.status, "/", tc.substatus, " ", tc.err), func(t *testing.T) {
			e := newEnv(t)
			e.f.err = tc.err
			w := e.do(req{method: "GET", path: "/dbs/d/colls/c/docs/x", resType: "docs", link: "dbs/d/colls/c/docs/x"})
			wantError(t, w, tc.status, tc.substatus, tc.code)
			if tc.status == 429 && w.Header().Get("x-ms-retry-after-ms") != "250" {
				t.Fatalf("x-ms-retry-after-ms %q", w.Header().Get("x-ms-retry-after-ms"))
			}
			if w.Header().Get("etag") != "" || w.Header().Get("x-ms-session-token") != "" {
				t.Fatalf("success headers on an error: %v", w.Header())
			}
		})
	}
	// Every Kind the resource package defines has a row.
	for k := resource.KindInternal; k <= resource.KindInsufficientStorage; k++ {
		if _, ok := errorTable[k]; !ok {
			t.Errorf("no errorTable row for kind %d", k)
		}
	}
}

func TestRetryAfterDefault(t *testing.T) {
	e := newEnv(t)
	e.f.err = &resource.Error{Kind: resource.KindTooManyRequests, Msg: "x"}
	w := e.do(req{method: "GET", path: "/dbs/d/colls/c/docs/x", resType: "docs", link: "dbs/d/colls/c/docs/x"})
	wantError(t, w, 429, 0, "TooManyRequests")
	if w.Header().Get("x-ms-retry-after-ms") == "" {
		t.Fatal("429 without x-ms-retry-after-ms")
	}
}

func TestInternalErrorsAreGeneric(t *testing.T) {
	e := newEnv(t)
	e.f.err = errors.New("pebble: disk /var/secret/path corrupted")
	w := e.do(req{method: "GET", path: "/dbs/d/colls/c/docs/x", resType: "docs", link: "dbs/d/colls/c/docs/x"})
	msg := wantError(t, w, 500, 0, "InternalServerError")
	if strings.Contains(msg, "secret") {
		t.Fatalf("internal detail leaked: %q", msg)
	}
	if !strings.Contains(e.logs.String(), "secret/path") || !strings.Contains(e.logs.String(), "level=ERROR") {
		t.Fatalf("detail not logged at Error:\n%s", e.logs.String())
	}
}

func TestPanicRecovered(t *testing.T) {
	e := newEnv(t)
	e.f.panicMsg = "nil map write"
	w := e.do(req{method: "GET", path: "/dbs/d/colls/c/docs/x", resType: "docs", link: "dbs/d/colls/c/docs/x"})
	wantError(t, w, 500, 0, "InternalServerError")
	if !strings.Contains(e.logs.String(), "nil map write") {
		t.Fatal("panic not logged")
	}
}

func TestNotFoundAndMethodNotAllowed(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/nope", "/dbs/d/nope", "/dbs/d/colls/c/nope", "/dbs/d/colls/c/docs/i/x", "/offers/a/b", "/dbs/d/colls/c/pkranges/0/x"} {
		wantError(t, e.do(req{method: "GET", path: p, noAuth: true}), 404, 0, "NotFound")
	}
	w := e.do(req{method: "PUT", path: "/dbs/d", noAuth: true})
	wantError(t, w, 405, 0, "MethodNotAllowed")
	if w.Header().Get("Allow") == "" {
		t.Fatal("405 without Allow")
	}
	wantError(t, e.do(req{method: "POST", path: "/", noAuth: true}), 405, 0, "MethodNotAllowed")
	wantError(t, e.do(req{method: "PATCH", path: "/dbs/d/colls/c/docs", noAuth: true}), 405, 0, "MethodNotAllowed")
}

func TestUnsupportedResources(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{
		"/dbs/d/colls/c/sprocs", "/dbs/d/colls/c/sprocs/s1", "/dbs/d/colls/c/triggers", "/dbs/d/colls/c/udfs/u",
		"/dbs/d/users", "/dbs/d/users/u/permissions", "/dbs/d/colls/c/docs/i/attachments",
		"/dbs/d/clientencryptionkeys", "/dbs/d/colls/c/operations/partitionkeydelete",
	} {
		for _, m := range []string{"GET", "POST"} {
			msg := wantError(t, e.do(req{method: m, path: p, noAuth: true}), 400, 0, "BadRequest")
			if !strings.Contains(msg, "does not support") {
				t.Fatalf("%s %s: %q", m, p, msg)
			}
		}
	}
	if len(e.f.calls) != 0 {
		t.Fatalf("backend called: %v", e.f.calls)
	}
}

func TestBodyTooLarge(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxBodyBytes = 1024 })
	big := `{"id":"x","pad":"` + strings.Repeat("a", 2000) + `"}`
	w := e.do(req{method: "POST", path: "/dbs/d/colls/c/docs", resType: "docs", link: "dbs/d/colls/c", body: big})
	wantError(t, w, 413, 0, "RequestEntityTooLarge")
	// Without Content-Length (chunked): the reader limit catches it.
	hr := httptest.NewRequest("POST", "/dbs/d/colls/c/docs", io.MultiReader(strings.NewReader(big)))
	hr.ContentLength = -1
	date := time.Now().UTC().Format(http.TimeFormat)
	hr.Header.Set("x-ms-date", date)
	hr.Header.Set("Authorization", auth.Sign(masterKey, "POST", "docs", "dbs/d/colls/c", date))
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, hr)
	wantError(t, rec, 413, 0, "RequestEntityTooLarge")
	if len(e.f.calls) != 0 {
		t.Fatalf("backend called: %v", e.f.calls)
	}
}

func TestMalformedHeaders(t *testing.T) {
	e := newEnv(t)
	e.mustDB("d")
	doc := "/dbs/d/colls/c/docs/x"
	for _, tc := range []struct {
		method, path, resType, link, body string
		hdr                               map[string]string
		name                              string
	}{
		{"GET", doc, "docs", "dbs/d/colls/c/docs/x", "", map[string]string{"x-ms-documentdb-partitionkey": `p1`}, "x-ms-documentdb-partitionkey"},
		{"GET", doc, "docs", "dbs/d/colls/c/docs/x", "", map[string]string{"x-ms-consistency-level": "Linearizable"}, "x-ms-consistency-level"},
		{"GET", doc, "docs", "dbs/d/colls/c/docs/x", "", map[string]string{"x-meridian-sync-min-regions": "two"}, "x-meridian-sync-min-regions"},
		{"GET", doc, "docs", "dbs/d/colls/c/docs/x", "", map[string]string{"x-meridian-sync-regions": " , "}, "x-meridian-sync-regions"},
		{"POST", "/dbs/d/colls/c/docs", "docs", "dbs/d/colls/c", `{"id":"a"}`, map[string]string{"x-ms-documentdb-is-upsert": "yes"}, "x-ms-documentdb-is-upsert"},
		{"POST", "/dbs/d/colls/c/docs", "docs", "dbs/d/colls/c", `{"query":"SELECT * FROM c"}`,
			map[string]string{"Content-Type": "application/query+json", "x-ms-max-item-count": "ten"}, "x-ms-max-item-count"},
		{"GET", "/dbs/d/colls/c/docs", "docs", "dbs/d/colls/c", "", map[string]string{"A-IM": "Incremental Feed", "If-None-Match": `"abc"`}, "If-None-Match"},
		{"GET", "/dbs/d/colls/c/docs", "docs", "dbs/d/colls/c", "", map[string]string{"A-IM": "Incremental Feed", "If-Modified-Since": "last week"}, "If-Modified-Since"},
		{"GET", "/dbs/d/colls/c/docs", "docs", "dbs/d/colls/c", "", map[string]string{"A-IM": "Everything"}, "A-IM"},
		{"GET", "/dbs/d/colls/c/docs", "docs", "dbs/d/colls/c", "", map[string]string{"A-IM": "Incremental Feed", "x-ms-documentdb-partitionkeyrangeid": "zero"}, "x-ms-documentdb-partitionkeyrangeid"},
		{"POST", "/dbs", "dbs", "", `{"id":"n"}`, map[string]string{"x-ms-offer-throughput": "-5"}, "x-ms-offer-throughput"},
		{"POST", "/dbs", "dbs", "", `{"id":"n"}`, map[string]string{"x-ms-cosmos-offer-autopilot-settings": "{"}, "x-ms-cosmos-offer-autopilot-settings"},
		{"POST", "/dbs/d/colls/c/docs", "docs", "dbs/d/colls/c", `[]`, map[string]string{"x-ms-cosmos-is-batch-request": "true", "x-ms-cosmos-batch-atomic": "maybe"}, "x-ms-cosmos-batch-atomic"},
		{"GET", "/dbs", "dbs", "", "", map[string]string{"x-ms-continuation": "garbage"}, "x-ms-continuation"},
		{"POST", "/dbs/d/colls/c/docs", "docs", "dbs/d/colls/c", `[]`, map[string]string{"x-ms-cosmos-is-batch-request": "maybe"}, "x-ms-cosmos-is-batch-request"},
		{"POST", "/dbs/d/colls/c/docs", "docs", "dbs/d/colls/c", `{}`, map[string]string{"x-ms-documentdb-isquery": "1"}, "x-ms-documentdb-isquery"},
	} {
		w := e.do(req{method: tc.method, path: tc.path, resType: tc.resType, link: tc.link, body: tc.body, hdr: tc.hdr})
		msg := wantError(t, w, 400, 0, "BadRequest")
		if !strings.Contains(msg, tc.name) {
			t.Errorf("%s: message %q does not name the header", tc.name, msg)
		}
	}
	if calls := strings.Join(e.f.calls, ","); strings.Contains(calls, "Item") || strings.Contains(calls, "ChangeFeed") || strings.Contains(calls, "Query") {
		t.Fatalf("backend called with malformed headers: %s", calls)
	}
}

func TestMalformedBodies(t *testing.T) {
	e := newEnv(t)
	e.mustDB("d")
	for _, tc := range []struct{ method, path, resType, link, body string }{
		{"POST", "/dbs", "dbs", "", `{"id":`},
		{"POST", "/dbs", "dbs", "", `{"id":""}`},
		{"POST", "/dbs/d/colls", "colls", "dbs/d", `{"id":"c","partitionKey":"pk"}`},
		{"POST", "/dbs/d/colls/c/docs", "docs", "dbs/d/colls/c", `{"id":"a"`},
		{"POST", "/dbs/d/colls/c/docs", "docs", "dbs/d/colls/c", `[1,2]`},
		{"PUT", "/dbs/d/colls/c/docs/a", "docs", "dbs/d/colls/c/docs/a", `nope`},
		{"PATCH", "/dbs/d/colls/c/docs/a", "docs", "dbs/d/colls/c/docs/a", `{"operations":[]}`},
	} {
		w := e.do(req{method: tc.method, path: tc.path, resType: tc.resType, link: tc.link, body: tc.body})
		wantError(t, w, 400, 0, "BadRequest")
	}
	// An empty create body.
	wantError(t, e.do(req{method: "POST", path: "/dbs/d/colls/c/docs", resType: "docs", link: "dbs/d/colls/c"}), 400, 0, "BadRequest")
}

func TestItemWrites(t *testing.T) {
	e := newEnv(t)
	docs := "/dbs/d/colls/c/docs"
	// Node: no Prefer, needs the body.
	w := e.do(req{method: "POST", path: docs, resType: "docs", link: "dbs/d/colls/c", body: `{"id":"a","pk":"p"}`,
		hdr: map[string]string{"x-ms-documentdb-partitionkey": `["p"]`}})
	wantStatus(t, w, 201)
	if w.Body.String() != `{"id":"x","_etag":"\"e1\""}` || e.f.lastItem.Op != OpCreate || string(e.f.lastItem.Body) != `{"id":"a","pk":"p"}` {
		t.Fatalf("create: body %q, backend %+v", w.Body.String(), e.f.lastItem)
	}
	// Go: Prefer return=minimal drops the body, keeps the etag.
	w = e.do(req{method: "POST", path: docs, resType: "docs", link: "dbs/d/colls/c", body: `{"id":"a"}`,
		hdr: map[string]string{"Prefer": "return=minimal", "x-ms-documentdb-is-upsert": "True"}})
	wantStatus(t, w, 201)
	if w.Body.Len() != 0 || w.Header().Get("etag") != `"e1"` || e.f.lastItem.Op != OpUpsert {
		t.Fatalf("minimal upsert: body %q etag %q op %v", w.Body.String(), w.Header().Get("etag"), e.f.lastItem.Op)
	}
	// Backend status wins (upsert that replaced).
	e.f.itemResp.Status = 200
	w = e.do(req{method: "POST", path: docs, resType: "docs", link: "dbs/d/colls/c", body: `{"id":"a"}`,
		hdr: map[string]string{"x-ms-documentdb-is-upsert": "true"}})
	wantStatus(t, w, 200)
	e.f.itemResp.Status = 0
	// Replace with options.
	w = e.do(req{method: "PUT", path: docs + "/a", resType: "docs", link: "dbs/d/colls/c/docs/a", body: `{"id":"a"}`,
		hdr: map[string]string{"If-Match": `"e0"`, "x-ms-session-token": "0:-1#5", "x-ms-consistency-level": "Eventual",
			"x-meridian-sync-regions": "eastus, westus", "x-meridian-sync-min-regions": "1"}})
	wantStatus(t, w, 200)
	o := e.f.lastItem.Options
	if e.f.lastItem.Op != OpReplace || o.IfMatch != `"e0"` || o.SessionToken != "0:-1#5" || o.Consistency != session.Eventual ||
		strings.Join(o.SyncRegions, "|") != "eastus|westus" || o.SyncMinRegions != 1 {
		t.Fatalf("replace: %+v", e.f.lastItem)
	}
	// Delete: 204, empty body, even without Prefer.
	w = e.do(req{method: "DELETE", path: docs + "/a", resType: "docs", link: "dbs/d/colls/c/docs/a"})
	wantStatus(t, w, 204)
	if w.Body.Len() != 0 {
		t.Fatalf("delete body %q", w.Body.String())
	}
	// Read with a matching If-None-Match: the backend answers 304.
	e.f.itemResp.Status = 304
	w = e.do(req{method: "GET", path: docs + "/a", resType: "docs", link: "dbs/d/colls/c/docs/a", hdr: map[string]string{"If-None-Match": `"e1"`}})
	wantStatus(t, w, 304)
	if w.Body.Len() != 0 || e.f.lastItem.Options.IfNoneMatch != `"e1"` {
		t.Fatalf("304: body %q, backend %+v", w.Body.String(), e.f.lastItem.Options)
	}
}

func TestPatch(t *testing.T) {
	e := newEnv(t)
	p := "/dbs/d/colls/c/docs/a"
	// Go: object body, Content-Type application/json.
	w := e.do(req{method: "PATCH", path: p, resType: "docs", link: "dbs/d/colls/c/docs/a",
		body: `{"condition":"from c where c.x = 2","operations":[{"op":"set","path":"/x","value":3}]}`})
	wantStatus(t, w, 200)
	if sp := e.f.lastItem.Patch; e.f.lastItem.Op != OpPatch || sp == nil || sp.Condition != "from c where c.x = 2" || len(sp.Operations) != 1 {
		t.Fatalf("patch: %+v", e.f.lastItem)
	}
	// Node: no Content-Type, bare array.
	w = e.do(req{method: "PATCH", path: p, resType: "docs", link: "dbs/d/colls/c/docs/a", omitContentType: true,
		body: `[{"op":"incr","path":"/n","value":5},{"op":"remove","path":"/y"}]`})
	wantStatus(t, w, 200)
	if sp := e.f.lastItem.Patch; sp == nil || len(sp.Operations) != 2 || sp.Operations[0].Op != "incr" {
		t.Fatalf("patch array: %+v", sp)
	}
	if w.Body.Len() == 0 {
		t.Fatal("patch without Prefer must return the document")
	}
}

func TestQueryAndPlanDetection(t *testing.T) {
	e := newEnv(t)
	e.f.queryResp = QueryResponse{Documents: []json.RawMessage{[]byte(`{"id":"a"}`), []byte(`7`)}, Continuation: "tok2",
		Meta: ResponseMeta{ContainerRID: testCollRID, Charge: 2.5, SessionToken: "0:-1#9"}}
	docs := "/dbs/d/colls/c/docs"
	qb := `{"query":"SELECT * FROM c WHERE c.x = @x","parameters":[{"name":"@x","value":2}]}`
	// Node plan request: query content type, no isquery header. Must not run.
	w := e.do(req{method: "POST", path: docs, resType: "docs", link: "dbs/d/colls/c", body: qb,
		hdr: map[string]string{"Content-Type": "application/query+json", "x-ms-cosmos-is-query-plan-request": "True",
			"x-ms-cosmos-query-version": "1.4"}})
	wantStatus(t, w, 200)
	var plan map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &plan); err != nil || plan["queryInfo"] == nil || plan["queryRanges"] == nil {
		t.Fatalf("plan %s (%v)", w.Body.String(), err)
	}
	if len(e.f.calls) != 0 {
		t.Fatalf("plan request reached the backend: %v", e.f.calls)
	}
	// A bad query in a plan request is a 400.
	wantError(t, e.do(req{method: "POST", path: docs, resType: "docs", link: "dbs/d/colls/c", body: `{"query":"SELEKT"}`,
		hdr: map[string]string{"Content-Type": "application/query+json", "x-ms-cosmos-is-query-plan-request": "true"}}), 400, 0, "BadRequest")
	// Go: content type + x-ms-documentdb-query; Node: x-ms-documentdb-isquery.
	for _, hdr := range []map[string]string{
		{"Content-Type": "application/query+json", "x-ms-documentdb-query": "True"},
		{"x-ms-documentdb-isquery": "true"},
		{"Content-Type": "application/query+json; charset=utf-8"},
	} {
		hdr["x-ms-documentdb-partitionkey"] = `["p1"]`
		hdr["x-ms-max-item-count"] = "10"
		hdr["x-ms-continuation"] = "tok1"
		w = e.do(req{method: "POST", path: docs, resType: "docs", link: "dbs/d/colls/c", body: qb, hdr: hdr})
		wantStatus(t, w, 200)
		q := e.f.lastQuery
		if q.Query != "SELECT * FROM c WHERE c.x = @x" || len(q.Parameters) != 1 || q.Parameters[0].Name != "@x" ||
			string(q.Parameters[0].Value) != "2" || q.MaxItemCount != 10 || q.Continuation != "tok1" || !q.PartitionKey.Equal(pkey.Key{"p1"}) {
			t.Fatalf("query request %+v", q)
		}
		if w.Body.String() != `{"_rid":"`+testCollRID+`","Documents":[{"id":"a"},7],"_count":2}` {
			t.Fatalf("query body %s", w.Body.String())
		}
		if w.Header().Get("x-ms-continuation") != "tok2" || w.Header().Get("x-ms-item-count") != "2" ||
			w.Header().Get("x-ms-request-charge") != "2.5" || w.Header().Get("x-ms-content-path") != testCollRID {
			t.Fatalf("query headers %v", w.Header())
		}
	}
	// Last page: no continuation header at all; -1 page size is the default.
	e.f.queryResp.Continuation = ""
	w = e.do(req{method: "POST", path: docs, resType: "docs", link: "dbs/d/colls/c", body: `{"query":"SELECT * FROM c"}`,
		hdr: map[string]string{"x-ms-documentdb-isquery": "true", "x-ms-max-item-count": "-1"}})
	wantStatus(t, w, 200)
	if _, ok := w.Header()["X-Ms-Continuation"]; ok || e.f.lastQuery.MaxItemCount != 0 || e.f.lastQuery.PartitionKey != nil {
		t.Fatalf("last page headers %v, request %+v", w.Header(), e.f.lastQuery)
	}
	// Read feed: GET without A-IM.
	w = e.do(req{method: "GET", path: docs, resType: "docs", link: "dbs/d/colls/c", hdr: map[string]string{"x-ms-documentdb-partitionkeyrangeid": "0"}})
	wantStatus(t, w, 200)
	if e.f.lastQuery.Query != "SELECT * FROM c" || e.f.lastQuery.PKRangeID != "0" {
		t.Fatalf("read feed %+v", e.f.lastQuery)
	}
	// A query without a query.
	wantError(t, e.do(req{method: "POST", path: docs, resType: "docs", link: "dbs/d/colls/c", body: `{"parameters":[]}`,
		hdr: map[string]string{"x-ms-documentdb-isquery": "true"}}), 400, 0, "BadRequest")
}

func TestBatch(t *testing.T) {
	e := newEnv(t)
	docs := "/dbs/d/colls/c/docs"
	body := `[{"operationType":"Create","resourceBody":{"id":"i3","pk":"p1"}},
	 {"operationType":"Read","id":"i1"},
	 {"operationType":"Replace","ifMatch":"\"e1\"","id":"i1","resourceBody":{"id":"i1","pk":"p1"}},
	 {"operationType":"Upsert","resourceBody":{"id":"i4","pk":"p1"}},
	 {"operationType":"Delete","id":"i2"},
	 {"operationType":"Patch","id":"i1","resourceBody":{"operations":[{"op":"set","path":"/x","value":1}]}}]`
	hdr := map[string]string{"x-ms-cosmos-is-batch-request": "True", "x-ms-cosmos-batch-atomic": "True",
		"x-ms-cosmos-batch-ordered": "True", "x-ms-documentdb-partitionkey": `["p1"]`, "Prefer": "return=minimal"}
	e.f.batchResp = BatchResponse{Failed: true, Meta: ResponseMeta{SessionToken: "0:-1#3", ContainerRID: testCollRID}, Results: []BatchOpResult{
		{Status: 424, Charge: 0, Message: "failed dependency"},
		{Status: 424},
		{Status: 412, Charge: 1, Message: "etag mismatch"},
		{Status: 424}, {Status: 424}, {Status: 424},
	}}
	w := e.do(req{method: "POST", path: docs, resType: "docs", link: "dbs/d/colls/c", body: body, hdr: hdr})
	wantStatus(t, w, 207)
	b := e.f.lastBatch
	if !b.Atomic || b.ContinueOnError || len(b.Ops) != 6 || !b.PartitionKey.Equal(pkey.Key{"p1"}) ||
		b.Ops[0].Op != OpCreate || string(b.Ops[0].Body) != `{"id":"i3","pk":"p1"}` || b.Ops[1].Op != OpRead || b.Ops[1].ID != "i1" ||
		b.Ops[2].IfMatch != `"e1"` || b.Ops[4].Op != OpDelete || b.Ops[5].Patch == nil || len(b.Ops[5].Patch.Operations) != 1 {
		t.Fatalf("batch request %+v", b)
	}
	var out []map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || len(out) != 6 {
		t.Fatalf("batch body %s (%v)", w.Body.String(), err)
	}
	if out[2]["statusCode"] != 412.0 || out[2]["message"] != "etag mismatch" || out[1]["statusCode"] != 424.0 {
		t.Fatalf("batch results %v", out)
	}
	if _, ok := out[0]["requestCharge"]; !ok {
		t.Fatalf("requestCharge missing: %v", out[0])
	}
	if w.Header().Get("x-ms-session-token") != "0:-1#3" {
		t.Fatal("batch without session token")
	}
	// Success: 200, bodies of reads kept under minimal, of writes dropped.
	e.f.batchResp = BatchResponse{Results: []BatchOpResult{
		{Status: 201, ETag: `"e2"`, Body: []byte(`{"id":"i3"}`), Charge: 1.5},
		{Status: 200, ETag: `"e1"`, Body: []byte(`{"id":"i1"}`)},
	}}
	w = e.do(req{method: "POST", path: docs, resType: "docs", link: "dbs/d/colls/c", hdr: hdr,
		body: `[{"operationType":"Create","resourceBody":{"id":"i3"}},{"operationType":"Read","id":"i1"}]`})
	wantStatus(t, w, 200)
	if w.Body.String() != `[{"statusCode":201,"requestCharge":1.5,"eTag":"\"e2\""},{"statusCode":200,"requestCharge":0,"eTag":"\"e1\"","resourceBody":{"id":"i1"}}]` {
		t.Fatalf("batch body %s", w.Body.String())
	}
	// Node bulk: not atomic, continue on error, range id, per-op key as a JSON string.
	e.f.batchResp = BatchResponse{Results: []BatchOpResult{{Status: 201}, {Status: 404, SubStatus: 0, Message: "nf"}}}
	w = e.do(req{method: "POST", path: docs, resType: "docs", link: "dbs/d/colls/c",
		hdr: map[string]string{"x-ms-cosmos-is-batch-request": "true", "x-ms-cosmos-batch-atomic": "false",
			"x-ms-cosmos-batch-continue-on-error": "true", "x-ms-documentdb-partitionkeyrangeid": "0"},
		body: `[{"operationType":"Create","partitionKey":"[\"p2\"]","resourceBody":{"id":"a","pk":"p2"}},{"operationType":"Read","id":"b","partitionKey":"[{}]"}]`})
	wantStatus(t, w, 207)
	b = e.f.lastBatch
	if b.Atomic || !b.ContinueOnError || b.PKRangeID != "0" || b.PartitionKey != nil ||
		!b.Ops[0].PartitionKey.Equal(pkey.Key{"p2"}) || !b.Ops[1].PartitionKey.Equal(pkey.Key{pkey.Undefined{}}) {
		t.Fatalf("bulk request %+v", b)
	}
	// Limits and malformed operations.
	var many []string
	for range MaxBatchOps + 1 {
		many = append(many, `{"operationType":"Read","id":"a"}`)
	}
	for _, bad := range []string{"[" + strings.Join(many, ",") + "]", `[]`, `{"operationType":"Read"}`,
		`[{"operationType":"Explode","id":"a"}]`, `[{"operationType":"Read"}]`, `[{"operationType":"Create"}]`,
		`[{"operationType":"Create","resourceBody":{"id":"a"},"partitionKey":"p1"}]`,
		`[{"operationType":"Patch","id":"a","resourceBody":{"operations":[]}}]`} {
		wantError(t, e.do(req{method: "POST", path: docs, resType: "docs", link: "dbs/d/colls/c", body: bad, hdr: hdr}), 400, 0, "BadRequest")
	}
}

func TestChangeFeed(t *testing.T) {
	e := newEnv(t)
	docs := "/dbs/d/colls/c/docs"
	get := func(hdr map[string]string) *httptest.ResponseRecorder {
		hdr["A-IM"] = "Incremental Feed"
		return e.do(req{method: "GET", path: docs, resType: "docs", link: "dbs/d/colls/c", hdr: hdr})
	}
	e.f.feedResp = ChangeFeedResponse{NotModified: true, ETag: `"12"`, Meta: ResponseMeta{ContainerRID: testCollRID, LSN: 12}}
	w := get(map[string]string{"If-None-Match": "*", "x-ms-documentdb-partitionkeyrangeid": "0"})
	wantStatus(t, w, 304)
	if w.Header().Get("etag") != `"12"` || w.Body.Len() != 0 {
		t.Fatalf("304: etag %q body %q", w.Header().Get("etag"), w.Body.String())
	}
	if f := e.f.lastFeed; f.Start != StartNow || f.PKRangeID != "0" || f.Options.IfNoneMatch != "" {
		t.Fatalf("feed request %+v", f)
	}
	e.f.feedResp = ChangeFeedResponse{ETag: `"15"`, Documents: []json.RawMessage{[]byte(`{"id":"a","_lsn":13}`)},
		Meta: ResponseMeta{ContainerRID: testCollRID, LSN: 15, SessionToken: "0:-1#15"}}
	w = get(map[string]string{"If-None-Match": `"12"`, "x-ms-max-item-count": "5", "x-ms-start-epk": "20", "x-ms-end-epk": "40"})
	wantStatus(t, w, 200)
	if w.Header().Get("etag") != `"15"` || w.Body.String() != `{"_rid":"`+testCollRID+`","Documents":[{"id":"a","_lsn":13}],"_count":1}` {
		t.Fatalf("200: etag %q body %s", w.Header().Get("etag"), w.Body.String())
	}
	if f := e.f.lastFeed; f.Start != StartAfterLSN || f.AfterLSN != 12 || f.MaxItemCount != 5 || f.StartEPK != "20" || f.EndEPK != "40" {
		t.Fatalf("feed request %+v", f)
	}
	w = get(map[string]string{"If-Modified-Since": "Thu, 26 Nov 2026 13:26:01 GMT", "x-ms-documentdb-partitionkey": `["p1"]`})
	wantStatus(t, w, 200)
	if f := e.f.lastFeed; f.Start != StartTime || !f.Since.Equal(time.Date(2026, 11, 26, 13, 26, 1, 0, time.UTC)) || !f.PartitionKey.Equal(pkey.Key{"p1"}) {
		t.Fatalf("feed request %+v", f)
	}
	get(map[string]string{})
	if f := e.f.lastFeed; f.Start != StartBeginning {
		t.Fatalf("feed request %+v", f)
	}
	e.f.calls = nil
	w = e.do(req{method: "GET", path: docs, resType: "docs", link: "dbs/d/colls/c", hdr: map[string]string{"A-IM": "Full-Fidelity Feed"}})
	if msg := wantError(t, w, 400, 0, "BadRequest"); !strings.Contains(msg, "not support") {
		t.Fatalf("message %q", msg)
	}
	if len(e.f.calls) != 0 {
		t.Fatalf("backend called: %v", e.f.calls)
	}
}

func TestPKRanges(t *testing.T) {
	e := newEnv(t)
	e.mustDB("d")
	e.mustColl("d", "c")
	p := "/dbs/d/colls/c/pkranges"
	// Go: A-IM, max-item-count -1, then If-None-Match until 304.
	hdr := map[string]string{"A-IM": "Incremental Feed", "x-ms-max-item-count": "-1"}
	w := e.do(req{method: "GET", path: p, resType: "pkranges", link: "dbs/d/colls/c", hdr: hdr})
	wantStatus(t, w, 200)
	etag := w.Header().Get("etag")
	var feed struct {
		RID    string `json:"_rid"`
		Count  int    `json:"_count"`
		Ranges []struct {
			ID, MinInclusive, MaxExclusive, Status string
			RIDPrefix                              int `json:"ridPrefix"`
			TS                                     int64
			Parents                                []string
		} `json:"PartitionKeyRanges"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &feed); err != nil {
		t.Fatal(err)
	}
	if etag == "" || feed.RID != testCollRID || feed.Count != 1 || len(feed.Ranges) != 1 || feed.Ranges[0].ID != "0" ||
		feed.Ranges[0].MinInclusive != "" || feed.Ranges[0].MaxExclusive != "FF" || feed.Ranges[0].Parents == nil {
		t.Fatalf("pkranges %s etag %q", w.Body.String(), etag)
	}
	for i := 0; ; i++ {
		if i == 3 {
			t.Fatal("no 304 after 3 rounds: the Go SDK would loop")
		}
		hdr["If-None-Match"] = etag
		w = e.do(req{method: "GET", path: p, resType: "pkranges", link: "dbs/d/colls/c", hdr: hdr})
		if w.Code == 304 {
			if w.Header().Get("etag") != etag {
				t.Fatalf("304 etag %q", w.Header().Get("etag"))
			}
			break
		}
		etag = w.Header().Get("etag")
	}
	// Node: plain GET, no If-None-Match, no continuation.
	w = e.do(req{method: "GET", path: p, resType: "pkranges", link: "dbs/d/colls/c"})
	wantStatus(t, w, 200)
	if w.Header().Get("x-ms-continuation") != "" {
		t.Fatal("pkranges with a continuation")
	}
	wantError(t, e.do(req{method: "GET", path: "/dbs/d/colls/nope/pkranges", resType: "pkranges", link: "dbs/d/colls/nope"}), 404, 0, "NotFound")
}

func TestDatabasesAndContainers(t *testing.T) {
	e := newEnv(t)
	w := e.do(req{method: "POST", path: "/dbs", resType: "dbs", body: `{"id":"db1"}`, hdr: map[string]string{"x-ms-offer-throughput": "400"}})
	wantStatus(t, w, 201)
	if e.f.createTP.Manual != 400 || w.Header().Get("etag") == "" {
		t.Fatalf("tp %+v etag %q", e.f.createTP, w.Header().Get("etag"))
	}
	var db resource.Database
	_ = json.Unmarshal(w.Body.Bytes(), &db)
	wantError(t, e.do(req{method: "POST", path: "/dbs", resType: "dbs", body: `{"id":"db1"}`}), 409, 0, "Conflict")
	// Conditional reads.
	wantStatus(t, e.do(req{method: "GET", path: "/dbs/db1", resType: "dbs", link: "dbs/db1", hdr: map[string]string{"If-None-Match": db.ETag}}), 304)
	wantStatus(t, e.do(req{method: "GET", path: "/dbs/db1", resType: "dbs", link: "dbs/db1", hdr: map[string]string{"If-None-Match": `"other"`}}), 200)
	wantError(t, e.do(req{method: "GET", path: "/dbs/db1", resType: "dbs", link: "dbs/db1", hdr: map[string]string{"If-Match": `"other"`}}), 412, 0, "PreconditionFailed")
	// Container created the Node way: no kind/version, autoscale header.
	w = e.do(req{method: "POST", path: "/dbs/db1/colls", resType: "colls", link: "dbs/db1",
		body: `{"id":"c1","partitionKey":{"paths":["/pk"]},"defaultTtl":-1,"uniqueKeyPolicy":{"uniqueKeys":[]}}`,
		hdr:  map[string]string{"x-ms-cosmos-offer-autopilot-settings": `{"maxThroughput":4000}`}})
	wantStatus(t, w, 201)
	var ct resource.Container
	_ = json.Unmarshal(w.Body.Bytes(), &ct)
	if e.f.createTP.AutoscaleMax != 4000 || ct.PartitionKey.Kind != "Hash" || ct.DefaultTTL == nil || *ct.DefaultTTL != -1 || string(ct.UniqueKeyPolicy) != `{"uniqueKeys":[]}` {
		t.Fatalf("container %s tp %+v", w.Body.String(), e.f.createTP)
	}
	wantStatus(t, e.do(req{method: "GET", path: "/dbs/db1/colls/c1", resType: "colls", link: "dbs/db1/colls/c1"}), 200)
	w = e.do(req{method: "PUT", path: "/dbs/db1/colls/c1", resType: "colls", link: "dbs/db1/colls/c1", body: `{"id":"c1","partitionKey":{"paths":["/pk"]},"defaultTtl":60}`})
	wantStatus(t, w, 200)
	wantError(t, e.do(req{method: "PUT", path: "/dbs/db1/colls/c1", resType: "colls", link: "dbs/db1/colls/c1", body: `{"id":"c2"}`}), 400, 0, "BadRequest")
	// Node read feeds and Go queries.
	w = e.do(req{method: "GET", path: "/dbs/db1/colls", resType: "colls", link: "dbs/db1"})
	wantStatus(t, w, 200)
	if !strings.Contains(w.Body.String(), `"DocumentCollections":[{"id":"c1"`) || w.Header().Get("x-ms-item-count") != "1" {
		t.Fatalf("colls feed %s", w.Body.String())
	}
	w = e.do(req{method: "POST", path: "/dbs/db1/colls", resType: "colls", link: "dbs/db1", body: `{"query":"SELECT * FROM root r WHERE r.id = @id","parameters":[{"name":"@id","value":"c1"}]}`,
		hdr: map[string]string{"Content-Type": "application/query+json", "x-ms-documentdb-query": "True"}})
	wantStatus(t, w, 200)
	if !strings.Contains(w.Body.String(), `"_count":1`) {
		t.Fatalf("colls query %s", w.Body.String())
	}
	wantStatus(t, e.do(req{method: "DELETE", path: "/dbs/db1/colls/c1", resType: "colls", link: "dbs/db1/colls/c1"}), 204)
	wantStatus(t, e.do(req{method: "DELETE", path: "/dbs/db1", resType: "dbs", link: "dbs/db1", hdr: map[string]string{"If-Match": `"stale"`}}), 412)
	wantStatus(t, e.do(req{method: "DELETE", path: "/dbs/db1", resType: "dbs", link: "dbs/db1"}), 204)
	wantError(t, e.do(req{method: "GET", path: "/dbs/db1", resType: "dbs", link: "dbs/db1"}), 404, 0, "NotFound")
}

func TestMetadataPaging(t *testing.T) {
	e := newEnv(t)
	for i := range 5 {
		e.mustDB(fmt.Sprintf("db%d", i))
	}
	var ids []string
	cont := ""
	for range 10 {
		hdr := map[string]string{"x-ms-max-item-count": "2"}
		if cont != "" {
			hdr["x-ms-continuation"] = cont
		}
		w := e.do(req{method: "GET", path: "/dbs", resType: "dbs", hdr: hdr})
		wantStatus(t, w, 200)
		var feed struct{ Databases []resource.Database }
		_ = json.Unmarshal(w.Body.Bytes(), &feed)
		for _, d := range feed.Databases {
			ids = append(ids, d.ID)
		}
		if cont = w.Header().Get("x-ms-continuation"); cont == "" {
			break
		}
	}
	if strings.Join(ids, ",") != "db0,db1,db2,db3,db4" {
		t.Fatalf("paged ids %v", ids)
	}
	// Query paging uses the query package's tokens.
	ids, cont = nil, ""
	for range 10 {
		hdr := map[string]string{"x-ms-max-item-count": "2", "Content-Type": "application/query+json"}
		if cont != "" {
			hdr["x-ms-continuation"] = cont
		}
		w := e.do(req{method: "POST", path: "/dbs", resType: "dbs", hdr: hdr, body: `{"query":"SELECT VALUE d.id FROM d WHERE d.id != 'db2'"}`})
		wantStatus(t, w, 200)
		var feed struct{ Databases []string }
		_ = json.Unmarshal(w.Body.Bytes(), &feed)
		ids = append(ids, feed.Databases...)
		if cont = w.Header().Get("x-ms-continuation"); cont == "" {
			break
		}
	}
	if strings.Join(ids, ",") != "db0,db1,db3,db4" {
		t.Fatalf("queried ids %v", ids)
	}
}

func TestOffers(t *testing.T) {
	e := newEnv(t)
	e.f.offers = []resource.Offer{
		{ID: "AbCd", RID: "AbCd", Self: "offers/AbCd/", ETag: `"o1"`, OfferVersion: "V2", OfferType: "Invalid",
			Resource: "dbs/AQAAAA==/colls/AQAAAIAAAAE=/", OfferResourceID: testCollRID, Content: resource.OfferContent{OfferThroughput: 400}},
		{ID: "Zzzz", RID: "Zzzz", Self: "offers/Zzzz/", ETag: `"o9"`, Resource: "dbs/AgAAAA==/", OfferResourceID: "AgAAAA=="},
	}
	// Go: query by offerResourceId.
	w := e.do(req{method: "POST", path: "/offers", resType: "offers", body: `{"query":"SELECT * FROM c WHERE c.offerResourceId = '` + testCollRID + `'"}`,
		hdr: map[string]string{"Content-Type": "application/query+json", "x-ms-documentdb-query": "True"}})
	wantStatus(t, w, 200)
	if !strings.Contains(w.Body.String(), `"Offers":[{"id":"AbCd"`) || !strings.Contains(w.Body.String(), `"_count":1`) {
		t.Fatalf("offers query %s", w.Body.String())
	}
	// Node: by resource (_self), double-quoted literal.
	w = e.do(req{method: "POST", path: "/offers", resType: "offers", body: `{"query":"SELECT * from root where root.resource = \"dbs/AgAAAA==/\""}`,
		hdr: map[string]string{"Content-Type": "application/query+json", "x-ms-documentdb-isquery": "true"}})
	wantStatus(t, w, 200)
	if !strings.Contains(w.Body.String(), `"Offers":[{"id":"Zzzz"`) {
		t.Fatalf("offers query %s", w.Body.String())
	}
	// Read and replace by _self, signed with the lower-cased RID.
	wantStatus(t, e.do(req{method: "GET", path: "/offers/AbCd/", resType: "offers", link: "abcd"}), 200)
	w = e.do(req{method: "PUT", path: "/offers/AbCd/", resType: "offers", link: "abcd",
		body: `{"id":"AbCd","_rid":"AbCd","offerVersion":"V2","offerResourceId":"` + testCollRID + `","content":{"offerThroughput":800}}`})
	wantStatus(t, w, 200)
	if !strings.Contains(w.Body.String(), `"offerThroughput":800`) {
		t.Fatalf("replace offer %s", w.Body.String())
	}
	wantStatus(t, e.do(req{method: "GET", path: "/offers", resType: "offers"}), 200)
	wantError(t, e.do(req{method: "GET", path: "/offers/nope", resType: "offers", link: "nope"}), 404, 0, "NotFound")
}

func TestConflicts(t *testing.T) {
	e := newEnv(t)
	e.mustDB("d")
	e.mustColl("d", "c")
	e.f.confl = []json.RawMessage{[]byte(`{"id":"k1","_etag":"\"x\"","operationType":"replace"}`), []byte(`{"id":"k2"}`)}
	w := e.do(req{method: "GET", path: "/dbs/d/colls/c/conflicts", resType: "conflicts", link: "dbs/d/colls/c"})
	wantStatus(t, w, 200)
	if !strings.Contains(w.Body.String(), `"Conflicts":[{"id":"k1"`) || !strings.Contains(w.Body.String(), `"_count":2`) {
		t.Fatalf("conflicts %s", w.Body.String())
	}
	w = e.do(req{method: "GET", path: "/dbs/d/colls/c/conflicts/k1", resType: "conflicts", link: "dbs/d/colls/c/conflicts/k1"})
	wantStatus(t, w, 200)
	if w.Header().Get("etag") != `"x"` {
		t.Fatalf("conflict etag %q", w.Header().Get("etag"))
	}
	wantStatus(t, e.do(req{method: "DELETE", path: "/dbs/d/colls/c/conflicts/k1", resType: "conflicts", link: "dbs/d/colls/c/conflicts/k1"}), 204)
	wantError(t, e.do(req{method: "DELETE", path: "/dbs/d/colls/c/conflicts/k1", resType: "conflicts", link: "dbs/d/colls/c/conflicts/k1"}), 404, 0, "NotFound")
	wantError(t, e.do(req{method: "GET", path: "/dbs/d/colls/c/conflicts/k9", resType: "conflicts", link: "dbs/d/colls/c/conflicts/k9"}), 404, 0, "NotFound")
}

func TestDisableAuth(t *testing.T) {
	h, err := New(Config{DisableAuth: true}, newFake())
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	wantStatus(t, w, 200)
}
