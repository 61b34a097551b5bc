package loadgen

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/meridiandb/meridian/internal/auth"
	"github.com/meridiandb/meridian/internal/topology"
)

// The generator speaks the Cosmos DB REST API itself, with fasthttp and
// master-key signing, instead of going through the azcosmos SDK. The SDK's
// per-request pipeline (policies, retries, JSON diagnostics, a fresh HMAC
// context and date string per call, location cache) costs several times the
// CPU of this client, and on a 2-core machine that runs the servers too the
// generator's CPU would be taken from the server and distort the numbers.
// For the same reason the transport is fasthttp rather than net/http: its
// client reuses requests, responses and buffers and costs about a third of
// net/http's CPU per request (PERFORMANCE.md). The SDK's retries (429, 503,
// 404/1002 with failover) would also hide the errors this tool must count.
// The requests are the SDK's, header for header, over HTTP/1.1 (which the
// Cosmos DB gateway speaks).

// Region is one region of the account and its endpoint.
type Region struct {
	Name     string `json:"name"`
	Endpoint string `json:"endpoint"` // "scheme://host:port/"
	Write    bool   `json:"write"`
}

// restClient is a lean, signed Cosmos DB REST client.
type restClient struct {
	hc   *fasthttp.Client
	sign *auth.Signer
	date atomic.Pointer[cachedDate]
}

type cachedDate struct {
	unix int64
	s    string
}

// maxBody is the largest response body the client reads.
const maxBody = 64 << 20

func newRESTClient(key []byte, maxConns int, insecure bool) *restClient {
	hc := &fasthttp.Client{
		Name:                   "meridian-bench",
		MaxConnsPerHost:        maxConns,
		MaxIdleConnDuration:    90 * time.Second,
		MaxResponseBodySize:    maxBody,
		DisablePathNormalizing: true,
		RetryIfErr:             func(*fasthttp.Request, int, error) (bool, bool) { return false, false },
	}
	if insecure {
		hc.TLSConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // asked for with --insecure
	}
	return &restClient{hc: hc, sign: auth.NewSigner(key)}
}

func (c *restClient) close() { c.hc.CloseIdleConnections() }

// xmsDate is the x-ms-date header, formatted once per second.
func (c *restClient) xmsDate() string {
	now := time.Now().Unix()
	if d := c.date.Load(); d != nil && d.unix == now {
		return d.s
	}
	d := &cachedDate{unix: now, s: time.Unix(now, 0).UTC().Format(http.TimeFormat)}
	c.date.Store(d)
	return d.s
}

// request is one REST call.
type request struct {
	method           string
	path             string // escaped, starts with "/"
	resType, resLink string // signing inputs (link unescaped)
	pk               string // x-ms-documentdb-partitionkey, "" for none
	contentType      string
	query            bool
	upsert           bool
	minimal          bool // Prefer: return=minimal
	consistency      string
	sessionToken     string
	syncRegions      string
	continuation     string
	body             []byte
}

// reply is the outcome of a request.
type reply struct {
	status, substatus int
	sessionToken      string
	region            string // x-meridian-region
	continuation      string
	body              []byte // kept only when asked, or on errors
	err               error  // transport error (status 0)
	// server is the server's own time (x-ms-request-duration-ms); -1 if
	// it sent none.
	server time.Duration
}

// class is the error class of r ("" for a 2xx).
func (r reply) class() string {
	switch {
	case r.err != nil:
		var ne net.Error
		if errors.Is(r.err, context.DeadlineExceeded) || errors.Is(r.err, fasthttp.ErrTimeout) ||
			(errors.As(r.err, &ne) && ne.Timeout()) {
			return ErrTimeout
		}
		if errors.Is(r.err, context.Canceled) {
			return "canceled"
		}
		return ErrNetwork
	case r.status/100 == 2:
		return ""
	case r.substatus != 0:
		return strconv.Itoa(r.status) + "/" + strconv.Itoa(r.substatus)
	default:
		return strconv.Itoa(r.status)
	}
}

func (r reply) error() error {
	if r.err != nil {
		return r.err
	}
	if r.status/100 == 2 {
		return nil
	}
	var e struct{ Code, Message string }
	_ = json.Unmarshal(r.body, &e)
	msg := e.Message
	if msg == "" {
		msg = strings.TrimSpace(string(r.body))
	}
	if len(msg) > 300 {
		msg = msg[:300] + "..."
	}
	return fmt.Errorf("%s: %s", r.class(), msg)
}

// do sends r to the endpoint base ("scheme://host:port", no slash). The
// request ends at ctx's deadline; a request already sent is not abandoned
// when ctx is canceled without one (a run waits for the operations in flight).
func (c *restClient) do(ctx context.Context, base string, r request, keepBody bool) reply {
	if err := ctx.Err(); err != nil {
		return reply{err: err}
	}
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(base + r.path)
	req.URI().DisablePathNormalizing = true
	req.Header.SetMethod(r.method)
	date := c.xmsDate()
	h := &req.Header
	h.Set("x-ms-date", date)
	h.Set("x-ms-version", "2020-11-05")
	h.Set("Authorization", c.sign.Sign(r.method, r.resType, r.resLink, date))
	if r.pk != "" {
		h.Set("x-ms-documentdb-partitionkey", r.pk)
	}
	if r.contentType != "" {
		h.SetContentType(r.contentType)
	}
	if r.query {
		h.Set("x-ms-documentdb-isquery", "True")
		h.Set("x-ms-max-item-count", "100")
	}
	if r.upsert {
		h.Set("x-ms-documentdb-is-upsert", "True")
	}
	if r.minimal {
		h.Set("Prefer", "return=minimal")
	}
	if r.consistency != "" {
		h.Set("x-ms-consistency-level", r.consistency)
	}
	if r.sessionToken != "" {
		h.Set("x-ms-session-token", r.sessionToken)
	}
	if r.syncRegions != "" {
		h.Set("x-meridian-sync-regions", r.syncRegions)
	}
	if r.continuation != "" {
		h.Set("x-ms-continuation", r.continuation)
	}
	if r.body != nil {
		req.SetBodyRaw(r.body)
	}
	var err error
	if dl, ok := ctx.Deadline(); ok {
		err = c.hc.DoDeadline(req, resp, dl)
	} else {
		err = c.hc.Do(req, resp)
	}
	if err != nil {
		if errors.Is(err, fasthttp.ErrTimeout) && ctx.Err() != nil {
			err = fmt.Errorf("%w: %w", ctx.Err(), err)
		}
		return reply{err: err}
	}
	status := resp.StatusCode()
	out := reply{
		status:       status,
		sessionToken: string(resp.Header.Peek("x-ms-session-token")),
		region:       string(resp.Header.Peek("x-meridian-region")),
		continuation: string(resp.Header.Peek("x-ms-continuation")),
	}
	if s := resp.Header.Peek("x-ms-substatus"); len(s) > 0 {
		out.substatus, _ = strconv.Atoi(string(s))
	}
	out.server = serverTime(resp.Header.Peek("x-ms-request-duration-ms"))
	if keepBody || status/100 != 2 {
		out.body = bytes.Clone(resp.Body())
		if out.body == nil {
			out.body = []byte{}
		}
	}
	return out
}

// serverTime parses x-ms-request-duration-ms (milliseconds, with a
// fraction); -1 if it is absent or not a sane duration.
func serverTime(v []byte) time.Duration {
	if len(v) == 0 {
		return -1
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil || !(f >= 0 && f < float64(histMax)/1000) {
		return -1
	}
	return time.Duration(f * float64(time.Millisecond))
}

// baseOf turns "http://host:port/..." into "http://host:port".
func baseOf(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("endpoint %q: want a URL such as http://127.0.0.1:8081/", endpoint)
	}
	return u.Scheme + "://" + u.Host, nil
}

// discover reads the account document (GET /) and returns its regions,
// readable order, with the writable ones marked. An account that lists no
// locations (a plain one-region server) is one region at endpoint.
func (c *restClient) discover(ctx context.Context, endpoint string) ([]Region, error) {
	base, err := baseOf(endpoint)
	if err != nil {
		return nil, err
	}
	rep := c.do(ctx, base, request{method: http.MethodGet, path: "/"}, true)
	if err := rep.error(); err != nil {
		return nil, fmt.Errorf("GET %s/: %w", base, err)
	}
	type loc struct {
		Name     string `json:"name"`
		Endpoint string `json:"databaseAccountEndpoint"`
	}
	var acct struct {
		Writable []loc `json:"writableLocations"`
		Readable []loc `json:"readableLocations"`
	}
	if err := json.Unmarshal(rep.body, &acct); err != nil {
		return nil, fmt.Errorf("GET %s/: account document: %w", base, err)
	}
	if len(acct.Readable) == 0 {
		name := rep.region
		if name == "" {
			name = "default"
		}
		return []Region{{Name: name, Endpoint: base + "/", Write: true}}, nil
	}
	write := map[string]bool{}
	for _, w := range acct.Writable {
		write[canonical(w.Name)] = true
	}
	out := make([]Region, 0, len(acct.Readable))
	for _, r := range acct.Readable {
		ep := r.Endpoint
		if ep == "" {
			ep = base + "/"
		}
		out = append(out, Region{Name: r.Name, Endpoint: ep, Write: write[canonical(r.Name)]})
	}
	return out, nil
}

// canonical compares region names as the SDKs do: case and spaces ignored.
func canonical(name string) string { return topology.Canonical(name) }

// findRegion returns the region called name.
func findRegion(regions []Region, name string) (Region, error) {
	var names []string
	for _, r := range regions {
		if canonical(r.Name) == canonical(name) {
			return r, nil
		}
		names = append(names, strconv.Quote(r.Name))
	}
	return Region{}, fmt.Errorf("the account has no region %q; its regions: %s", name, strings.Join(names, ", "))
}

// ensureContainer creates the database and the container (partition key
// /pk) in the write region if they do not exist, then waits until every
// region in regions knows the container.
func (c *restClient) ensureContainer(ctx context.Context, write Region, regions []Region, db, coll string) error {
	wbase, err := baseOf(write.Endpoint)
	if err != nil {
		return err
	}
	dbBody, _ := json.Marshal(map[string]string{"id": db})
	rep := c.do(ctx, wbase, request{method: http.MethodPost, path: "/dbs", resType: "dbs",
		contentType: "application/json", body: dbBody}, false)
	if rep.status != http.StatusConflict {
		if err := rep.error(); err != nil {
			return fmt.Errorf("create database %q: %w", db, err)
		}
	}
	dbLink := "dbs/" + db
	collBody, _ := json.Marshal(map[string]any{"id": coll,
		"partitionKey": map[string]any{"paths": []string{"/pk"}, "kind": "Hash", "version": 2}})
	rep = c.do(ctx, wbase, request{method: http.MethodPost, path: "/" + escLink(dbLink) + "/colls",
		resType: "colls", resLink: dbLink, contentType: "application/json", body: collBody}, false)
	if rep.status != http.StatusConflict {
		if err := rep.error(); err != nil {
			return fmt.Errorf("create container %q: %w", coll, err)
		}
	}
	collLink := dbLink + "/colls/" + coll
	for _, r := range regions {
		base, err := baseOf(r.Endpoint)
		if err != nil {
			return err
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			rep := c.do(ctx, base, request{method: http.MethodGet, path: "/" + escLink(collLink),
				resType: "colls", resLink: collLink}, false)
			if rep.status == http.StatusOK {
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("container %s not readable in %s: %v", collLink, r.Name, rep.error())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

// escLink escapes each segment of a resource link.
func escLink(link string) string {
	segs := strings.Split(link, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}
