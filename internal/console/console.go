// Package console is Meridian's live topology console: one web page
// (HTML, vanilla JavaScript and inline SVG, embedded in the binary; no
// build step) that every region serves at /_meridian/console.
//
// The page itself is public and holds no data. It asks for the master key
// in a password field and, in the browser, signs its management API
// requests exactly as the Cosmos DB SDKs sign theirs (resource type "",
// resource link "_meridian/<rest>", HMAC-SHA256 with WebCrypto, or a
// built-in SHA-256 where the page is not a secure context). The key never
// leaves the browser: it is kept in sessionStorage for the tab.
//
// It discovers the account's regions from GET / (readableLocations) and
// the status of the region that served it, polls every region's
// /_meridian/status and /metrics about once a second, and draws the
// regions on a world map with their links, configured round trips, live
// replication lag and request rates. Its drill buttons call the existing
// management API: region offline/online, partition/heal a pair, change a
// round trip, heal everything.
//
// For local use and tests the key may be given in the URL fragment
// (/_meridian/console#key=BASE64KEY; the fragment is never sent to a
// server); do not share such links.
//
// The regions of an account listen on different origins, so the page's
// requests to the other regions are cross-origin: CORS answers them, for
// the origins of the account's own regions only.
package console

import (
	_ "embed"
	"net"
	"net/http"
	"strings"
)

// Path is where every region serves the console.
const Path = "/_meridian/console"

//go:embed console.html
var page []byte

// Page returns the console's HTML.
func Page() []byte { return page }

// Handler serves the page for GET and HEAD.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		// Inline script and style only; fetches go to the account's
		// regions, which may be on any host.
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src http: https:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(page)
	})
}

// IsPath reports whether an escaped URL path is the console's.
func IsPath(p string) bool { return p == Path || p == Path+"/" }

// CORS lets the console, served by one region, call the others: it
// answers preflight requests and adds the CORS response headers for
// origins in its allow list, on the paths the console uses (GET /, the
// management API and /metrics). Other requests pass through untouched,
// and a disallowed origin gets no CORS headers (the browser then refuses
// the response).
type CORS struct {
	allowed map[string]bool
}

// NewCORS allows the origins scheme://endpoint of the given host:port
// endpoints (the account's regions). A loopback endpoint also allows its
// other loopback spellings (127.0.0.1, localhost, [::1]), so the console
// opened at localhost can reach regions advertised as 127.0.0.1.
func NewCORS(scheme string, endpoints ...string) *CORS {
	c := &CORS{allowed: map[string]bool{}}
	for _, ep := range endpoints {
		host, port, err := net.SplitHostPort(ep)
		if err != nil {
			continue
		}
		hosts := []string{host}
		if ip := net.ParseIP(host); (ip != nil && ip.IsLoopback()) || strings.EqualFold(host, "localhost") {
			hosts = []string{"127.0.0.1", "localhost", "::1"}
		}
		for _, h := range hosts {
			c.allowed[strings.ToLower(scheme+"://"+net.JoinHostPort(h, port))] = true
		}
	}
	return c
}

// Allowed reports whether a request from origin may read responses.
func (c *CORS) Allowed(origin string) bool { return c.allowed[strings.ToLower(origin)] }

// corsPath reports whether the console calls an escaped path
// cross-origin.
func corsPath(p string) bool {
	return p == "/" || p == "" || p == "/metrics" || strings.HasPrefix(p, "/_meridian/")
}

// Wrap adds CORS to next.
func (c *CORS) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" || !corsPath(r.URL.EscapedPath()) || !c.Allowed(origin) {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, POST")
			h.Set("Access-Control-Allow-Headers", "authorization, x-ms-date, x-ms-version, content-type")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.Set("Access-Control-Expose-Headers", "x-meridian-region, x-ms-substatus, x-ms-activity-id")
		next.ServeHTTP(w, r)
	})
}
