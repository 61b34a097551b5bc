package server

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/meridiandb/meridian/internal/admin"
	"github.com/meridiandb/meridian/internal/auth"
	"github.com/meridiandb/meridian/internal/console"
	"github.com/meridiandb/meridian/internal/httpapi"
	"github.com/meridiandb/meridian/internal/metrics"
)

// Observability: every region's client listener serves, next to the REST
// API,
//
//	GET /metrics              Prometheus exposition of this region's registry
//	GET /_meridian/console    the live topology console (public page; it
//	                          signs its API calls with the key typed in)
//
// and the REST API is wrapped with request metrics and with CORS for the
// console (allowed origins: the account's own regions).
//
// /metrics is unauthenticated, like most exporters, unless
// Config.MetricsAuth is set. It then needs one of
//
//	Authorization: Bearer <master key>      (Prometheus: authorization.credentials)
//	Authorization: <Cosmos signature>       GET, resource type "", link "metrics", with x-ms-date
//
// The read-only key is accepted in both forms too: a scrape only reads.

// MetricsPath is where each region serves Prometheus metrics.
const MetricsPath = "/metrics"

// observe builds the region's metrics and wraps the REST edge h. Called
// once by open, after the region and storage are open.
func (s *Server) observe(h http.Handler) (http.Handler, error) {
	s.metrics = metrics.New(metrics.Options{
		Region: s.cfg.Region, Consistency: s.topo.Consistency,
		Status:  s.scrapeStatus,
		Storage: s.db.Metrics,
		Raft:    s.scrapeRaft,
	})
	verifier, err := auth.NewVerifier(s.cfg.Key, s.cfg.ReadOnlyKey)
	if err != nil {
		return nil, err
	}
	var endpoints []string
	for _, r := range s.topo.Regions {
		endpoints = append(endpoints, r.Endpoint)
	}
	endpoints = append(endpoints, s.ln.Addr().String())
	scheme := "http" // s.scheme is only set once open has loaded the TLS pair
	if s.cfg.TLSCert != "" {
		scheme = "https"
	}
	cors := console.NewCORS(scheme, endpoints...)
	api := cors.Wrap(httpapi.Instrument(h, s.metrics))
	metricsH := cors.Wrap(s.metricsHandler(verifier))
	page := console.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.EscapedPath(); {
		case p == MetricsPath:
			metricsH.ServeHTTP(w, r)
		case console.IsPath(p):
			page.ServeHTTP(w, r)
		default:
			api.ServeHTTP(w, r)
		}
	}), nil
}

// Metrics is the region's Prometheus registry and instruments. The control
// plane reports its Raft state through Metrics().SetRaftState.
func (s *Server) Metrics() *metrics.Metrics { return s.metrics }

// scrapeRaft is the control plane's Raft state (none in a one-region
// account), read when Prometheus scrapes.
func (s *Server) scrapeRaft() (metrics.RaftState, bool) {
	if s.raft == nil {
		return metrics.RaftState{}, false
	}
	leader, _ := s.raft.Leader()
	term, commit := s.raft.Stats()
	return metrics.RaftState{Leader: leader, IsLeader: s.raft.IsLeader(), Term: term, CommitIndex: commit, AppliedIndex: s.raft.AppliedIndex()}, true
}

// scrapeStatus is the management API status, read when Prometheus scrapes.
func (s *Server) scrapeStatus() admin.Status {
	st, _ := s.Status(context.Background())
	return st
}

func (s *Server) metricsHandler(v *auth.Verifier) http.Handler {
	prom := s.metrics.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if s.cfg.MetricsAuth && !s.metricsAuthorized(v, r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="meridian metrics"`)
			http.Error(w, "401 Unauthorized: /metrics requires the master key (Authorization: Bearer <key>, or a master-key signature of GET, type \"\", link \"metrics\")", http.StatusUnauthorized)
			return
		}
		prom.ServeHTTP(w, r)
	})
}

func (s *Server) metricsAuthorized(v *auth.Verifier, r *http.Request) bool {
	authz := r.Header.Get("Authorization")
	if tok, ok := strings.CutPrefix(authz, "Bearer "); ok {
		tok = strings.TrimSpace(tok)
		for _, k := range []string{s.cfg.Key, s.cfg.ReadOnlyKey} {
			if k != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(k)) == 1 {
				return true
			}
		}
		return false
	}
	date := r.Header.Get("x-ms-date")
	if date == "" {
		date = r.Header.Get("Date")
	}
	perm, err := v.Verify(r.Method, "", "metrics", authz, date)
	return err == nil && perm != auth.None
}
