package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/meridiandb/meridian/internal/auth"
	"github.com/meridiandb/meridian/internal/resource"
)

// Handler serves the Cosmos DB REST API over a Backend.
type Handler struct {
	cfg Config
	b   Backend
	log *slog.Logger
}

var _ http.Handler = (*Handler)(nil)

// New returns a Handler for cfg (after cfg.Defaults()) over b.
func New(cfg Config, b Backend) (*Handler, error) {
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if b == nil {
		return nil, errors.New("httpapi: Backend is required")
	}
	return &Handler{cfg: cfg, b: b, log: cfg.Logger}, nil
}

// call is one request in flight.
type call struct {
	w          *respWriter
	r          *http.Request
	ctx        context.Context
	activityID string
	segs       []string // unescaped path segments
	perm       auth.Perm
}

// respWriter remembers whether the header was written, so that a late error
// or a recovered panic does not write a second status line.
// It also stamps x-ms-request-duration-ms, the server's time from the
// handler's start to the status line, as Cosmos DB does: it lets a client
// tell the server's share of a latency from the network's and its own.
type respWriter struct {
	http.ResponseWriter
	start       time.Time
	wroteHeader bool
	status      int
}

func (w *respWriter) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	w.wroteHeader, w.status = true, code
	ms := float64(time.Since(w.start)) / float64(time.Millisecond)
	setHeader(w.ResponseWriter.Header(), hdrRequestDuration, strconv.FormatFloat(ms, 'f', 3, 64))
	w.ResponseWriter.WriteHeader(code)
}

func (w *respWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	c := &call{w: &respWriter{ResponseWriter: w, start: start}, r: r, ctx: r.Context(), activityID: activityID(r)}
	hdr := c.w.Header()
	setHeader(hdr, hdrActivityID, c.activityID)
	setHeader(hdr, "Content-Type", "application/json")
	setHeader(hdr, hdrGatewayVersion, gatewayVersion)
	setHeader(hdr, hdrServiceVersion, serviceVersion)
	setHeader(hdr, hdrVersion, apiVersion(r))
	// No Date here: net/http writes it on the wire when the handler sets
	// none, without a map entry. A response carries about 15 headers, and
	// the sixteenth map entry makes the header map (and net/http's clone
	// of it) grow: 1.3 KB more garbage per request.
	if h.cfg.RegionName != "" {
		// Every response names the region that served it (D-12); data-plane
		// responses set it again from the backend's metadata.
		setHeader(hdr, hdrRegion, h.cfg.RegionName)
	}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			h.log.Error("panic serving request", "activity_id", c.activityID, "method", r.Method,
				"path", r.URL.EscapedPath(), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			h.writeError(c, fmt.Errorf("panic: %v", p))
		}
		if h.log.Enabled(c.ctx, slog.LevelDebug) {
			h.log.Debug("request", append(logAttrs(c, c.w.status), slog.Duration("dur", time.Since(start)))...)
		}
	}()
	if err := h.serve(c); err != nil {
		h.writeError(c, err)
	}
}

// endpoint is a routed request: what the client signed, whether it
// writes, and the function that serves it.
type endpoint struct {
	resType, resLink string
	write            bool
	fn               func(*call) error
}

func (h *Handler) serve(c *call) error {
	segs, err := splitPath(c.r.URL.EscapedPath())
	if err != nil {
		return err
	}
	c.segs = segs
	if err := h.checkOnline(c); err != nil {
		return err
	}
	ep, err := h.route(c)
	if err != nil {
		return err
	}
	if err := h.authenticate(c, ep); err != nil {
		return err
	}
	return ep.fn(c)
}

func (h *Handler) authenticate(c *call, ep endpoint) error {
	if h.cfg.DisableAuth {
		c.perm = auth.Write
		return nil
	}
	date := c.r.Header.Get("x-ms-date")
	if date == "" {
		date = c.r.Header.Get("Date")
	}
	perm, err := h.cfg.Verifier.Verify(c.r.Method, ep.resType, ep.resLink, c.r.Header.Get("Authorization"), date)
	if err != nil {
		return err
	}
	c.perm = perm
	if ep.write && perm != auth.Write {
		return errorf(resource.KindForbidden, "The request was signed with the read-only key, which cannot be used for write operations. Use the master key.")
	}
	return nil
}

// splitPath splits an escaped URL path on '/' and percent-decodes each
// segment once. Leading and trailing slashes are ignored ("/offers/x/" is
// ["offers","x"]); an empty segment inside the path is a 404.
func splitPath(escaped string) ([]string, error) {
	p := strings.Trim(escaped, "/")
	if p == "" {
		return nil, nil
	}
	raw := strings.Split(p, "/")
	segs := make([]string, len(raw))
	for i, s := range raw {
		if s == "" {
			return nil, errorf(resource.KindNotFound, "The path %q has an empty segment.", escaped)
		}
		u, err := url.PathUnescape(s)
		if err != nil {
			return nil, resource.BadRequestf("The request path segment %q is not validly percent-encoded.", s)
		}
		segs[i] = u
	}
	return segs, nil
}

// authTarget is the resource type and link a client signs for a path (see
// cosmos-wire-protocol.md §3): a path ending in a type (odd length) signs
// that type and its parent link, a path ending in an id signs the type
// before it and the whole link. Offers sign the lower-cased offer RID.
func authTarget(segs []string) (resType, link string) {
	n := len(segs)
	switch {
	case n == 0:
		return "", ""
	case segs[0] == "offers":
		if n == 1 {
			return "offers", ""
		}
		return "offers", strings.ToLower(segs[1])
	case n%2 == 1:
		return segs[n-1], strings.Join(segs[:n-1], "/")
	default:
		return segs[n-2], strings.Join(segs, "/")
	}
}

// unsupportedTypes are Cosmos resources Meridian refuses explicitly.
var unsupportedTypes = map[string]string{
	"sprocs":               "stored procedures",
	"triggers":             "triggers",
	"udfs":                 "user-defined functions",
	"users":                "users",
	"permissions":          "permissions",
	"attachments":          "attachments",
	"clientencryptionkeys": "client encryption keys",
	"operations":           "partition-key delete operations",
}

func unsupported(what string) error {
	return resource.BadRequestf("Meridian does not support %s. See the Meridian documentation for the supported Cosmos DB API surface.", what)
}

// route picks the endpoint for c.segs and the method. Unknown paths are
// 404 and known paths with a wrong method are 405, both before
// authentication.
func (h *Handler) route(c *call) (endpoint, error) {
	segs, m := c.segs, c.r.Method
	if len(segs) > 0 && segs[0] == adminRoot {
		return h.routeAdmin(c)
	}
	for i := 2; i < len(segs); i += 2 {
		if what, ok := unsupportedTypes[segs[i]]; ok {
			return endpoint{}, unsupported(what)
		}
	}
	if len(segs) > 0 {
		if what, ok := unsupportedTypes[segs[0]]; ok {
			return endpoint{}, unsupported(what)
		}
	}
	resType, link := authTarget(segs)
	ep := func(write bool, fn func(*call) error) (endpoint, error) {
		return endpoint{resType: resType, resLink: link, write: write, fn: fn}, nil
	}
	n := len(segs)
	switch {
	case n == 0:
		if m == http.MethodGet {
			return ep(false, h.getAccount)
		}
		return notAllowed(c, "GET")
	case segs[0] == "offers":
		switch {
		case n == 1 && m == http.MethodGet:
			return ep(false, h.listOffers)
		case n == 1 && m == http.MethodPost:
			return ep(false, h.queryOffers)
		case n == 1:
			return notAllowed(c, "GET, POST")
		case n == 2 && m == http.MethodGet:
			return ep(false, h.readOffer)
		case n == 2 && m == http.MethodPut:
			return ep(true, h.replaceOffer)
		case n == 2:
			return notAllowed(c, "GET, PUT")
		}
	case segs[0] != "dbs":
	case n == 1:
		switch m {
		case http.MethodGet:
			return ep(false, h.listDatabases)
		case http.MethodPost:
			if isQuery(c.r) {
				return ep(false, h.queryDatabases)
			}
			return ep(true, h.createDatabase)
		}
		return notAllowed(c, "GET, POST")
	case n == 2:
		switch m {
		case http.MethodGet:
			return ep(false, h.readDatabase)
		case http.MethodDelete:
			return ep(true, h.deleteDatabase)
		}
		return notAllowed(c, "GET, DELETE")
	case segs[2] != "colls":
	case n == 3:
		switch m {
		case http.MethodGet:
			return ep(false, h.listContainers)
		case http.MethodPost:
			if isQuery(c.r) {
				return ep(false, h.queryContainers)
			}
			return ep(true, h.createContainer)
		}
		return notAllowed(c, "GET, POST")
	case n == 4:
		switch m {
		case http.MethodGet:
			return ep(false, h.readContainer)
		case http.MethodPut:
			return ep(true, h.replaceContainer)
		case http.MethodDelete:
			return ep(true, h.deleteContainer)
		}
		return notAllowed(c, "GET, PUT, DELETE")
	case segs[4] == "docs":
		return h.routeDocs(c, ep)
	case segs[4] == "pkranges":
		if n > 6 {
			break
		}
		if m == http.MethodGet {
			return ep(false, h.readPKRanges)
		}
		return notAllowed(c, "GET")
	case segs[4] == "conflicts":
		switch {
		case n == 5 && m == http.MethodGet:
			return ep(false, h.listConflicts)
		case n == 5 && m == http.MethodPost:
			return ep(false, h.queryConflicts)
		case n == 5:
			return notAllowed(c, "GET, POST")
		case n == 6 && m == http.MethodGet:
			return ep(false, h.readConflict)
		case n == 6 && m == http.MethodDelete:
			return ep(true, h.deleteConflict)
		case n == 6:
			return notAllowed(c, "GET, DELETE")
		}
	}
	return endpoint{}, errorf(resource.KindNotFound, "The resource path %q does not exist.", c.r.URL.EscapedPath())
}

func (h *Handler) routeDocs(c *call, ep func(bool, func(*call) error) (endpoint, error)) (endpoint, error) {
	m := c.r.Method
	switch len(c.segs) {
	case 5:
		switch m {
		case http.MethodGet:
			if c.r.Header.Get(hdrAIM) != "" {
				return ep(false, h.changeFeed)
			}
			return ep(false, h.readDocFeed)
		case http.MethodPost:
			// Order matters: a query-plan request carries the query content
			// type but must not run; a batch is neither query nor create.
			for _, name := range []string{hdrIsQueryPlan, hdrIsBatch, hdrIsQuery, hdrIsQueryAlt} {
				if _, err := headerBool(c.r, name); err != nil {
					return endpoint{}, err
				}
			}
			if headerTrue(c.r, hdrIsQueryPlan) {
				return ep(false, h.queryPlan)
			}
			if headerTrue(c.r, hdrIsBatch) {
				return ep(true, h.batch)
			}
			if isQuery(c.r) {
				return ep(false, h.queryDocs)
			}
			return ep(true, h.createDoc)
		}
		return notAllowed(c, "GET, POST")
	case 6:
		switch m {
		case http.MethodGet:
			return ep(false, h.readDoc)
		case http.MethodPut:
			return ep(true, h.replaceDoc)
		case http.MethodDelete:
			return ep(true, h.deleteDoc)
		case http.MethodPatch:
			return ep(true, h.patchDoc)
		}
		return notAllowed(c, "GET, PUT, DELETE, PATCH")
	}
	return endpoint{}, errorf(resource.KindNotFound, "The resource path %q does not exist.", c.r.URL.EscapedPath())
}

func notAllowed(c *call, allow string) (endpoint, error) {
	setHeader(c.w.Header(), "Allow", allow)
	return endpoint{}, errorf(resource.KindMethodNotAllowed, "The method %s is not allowed on %q; allowed: %s.", c.r.Method, c.r.URL.EscapedPath(), allow)
}

// activityID echoes a sane x-ms-activity-id or makes a new one.
func activityID(r *http.Request) string {
	if id := r.Header.Get(hdrActivityID); id != "" && len(id) <= 64 && utf8.ValidString(id) && !strings.ContainsFunc(id, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return id
	}
	return uuid.NewString()
}

func apiVersion(r *http.Request) string {
	if v := r.Header.Get(hdrVersion); v != "" && len(v) <= 16 && !strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r >= 0x7f }) {
		return v
	}
	return "2020-11-05"
}
