package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/meridiandb/meridian/internal/auth"
	"github.com/meridiandb/meridian/internal/metrics"
)

func TestOperationOf(t *testing.T) {
	docs := "/dbs/d/colls/c/docs"
	for _, tc := range []struct {
		method, path string
		hdr          map[string]string
		want         string
	}{
		{"GET", "/", nil, metrics.OpMetadata},
		{"GET", "/dbs", nil, metrics.OpMetadata},
		{"POST", "/dbs", nil, metrics.OpMetadata},
		{"GET", "/dbs/d/colls/c", nil, metrics.OpMetadata},
		{"GET", "/dbs/d/colls/c/pkranges", nil, metrics.OpMetadata},
		{"GET", "/offers/abc", nil, metrics.OpMetadata},
		{"GET", "/dbs/d/users/u", nil, metrics.OpOther},
		{"GET", "/dbs/d/colls/c/sprocs/s", nil, metrics.OpOther},
		{"GET", "/nope", nil, metrics.OpOther},
		{"GET", "/dbs//x", nil, metrics.OpOther},
		{"GET", "/_meridian/status", nil, metrics.OpAdmin},
		{"POST", "/_meridian/regions/East%20US/offline", nil, metrics.OpAdmin},
		{"GET", docs + "/x", nil, metrics.OpRead},
		{"PUT", docs + "/x", nil, metrics.OpReplace},
		{"DELETE", docs + "/x", nil, metrics.OpDelete},
		{"PATCH", docs + "/x", nil, metrics.OpPatch},
		{"POST", docs + "/x", nil, metrics.OpOther},
		{"POST", docs, nil, metrics.OpCreate},
		{"POST", docs, map[string]string{hdrIsUpsert: "True"}, metrics.OpUpsert},
		{"POST", docs, map[string]string{"Content-Type": queryContentType}, metrics.OpQuery},
		{"POST", docs, map[string]string{hdrIsQuery: "true"}, metrics.OpQuery},
		{"POST", docs, map[string]string{hdrIsQueryPlan: "true", "Content-Type": queryContentType}, metrics.OpQuery},
		{"POST", docs, map[string]string{hdrIsBatch: "true", hdrIsUpsert: "true"}, metrics.OpBatch},
		{"GET", docs, nil, metrics.OpQuery},
		{"GET", docs, map[string]string{hdrAIM: "Incremental feed"}, metrics.OpChangeFeed},
	} {
		r := httptest.NewRequest(tc.method, tc.path, nil)
		for k, v := range tc.hdr {
			r.Header.Set(k, v)
		}
		if got := OperationOf(r); got != tc.want {
			t.Errorf("%s %s %v: %q, want %q", tc.method, tc.path, tc.hdr, got, tc.want)
		}
	}
}

// TestInstrument runs the REST edge (over the fake backend) behind the
// middleware and checks what it recorded.
func TestInstrument(t *testing.T) {
	e := newEnv(t)
	m := metrics.New(metrics.Options{Region: "West US", Consistency: "Session", NoProcessMetrics: true})
	h := Instrument(e.h, m)
	send := func(method, path, resType, link, body string, hdr map[string]string) {
		r := httptest.NewRequest(method, "http://127.0.0.1:8081"+path, strings.NewReader(body))
		date := time.Now().UTC().Format(http.TimeFormat)
		r.Header.Set("x-ms-date", date)
		r.Header.Set("Authorization", auth.Sign(masterKey, method, resType, link, date))
		if body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	send("POST", "/dbs", "dbs", "", `{"id":"db1"}`, nil)
	send("GET", "/dbs/db1", "dbs", "dbs/db1", "", map[string]string{hdrConsistency: "Eventual"})
	send("GET", "/dbs/missing", "dbs", "dbs/missing", "", map[string]string{hdrSessionToken: "0:1#5"})
	send("GET", "/nope", "", "", "", nil)

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	got := rec.Body.String()
	for _, want := range []string{
		`meridian_requests_total{consistency="Session",op="metadata",region="West US",status="201"} 1`,
		`meridian_requests_total{consistency="Eventual",op="metadata",region="West US",status="200"} 1`,
		`meridian_requests_total{consistency="Session",op="metadata",region="West US",status="404"} 1`,
		`meridian_requests_total{consistency="Session",op="other",region="West US",status="404"} 1`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("metrics lack %s\n%s", want, got)
		}
	}
}

// TestStatusWriter checks the status and substatus capture, including an
// implicit 200.
func TestStatusWriter(t *testing.T) {
	m := metrics.New(metrics.Options{Region: "R", NoProcessMetrics: true})
	h := Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/dbs/d/colls/c/docs/x":
			w.Header().Set(hdrSubstatus, "1002")
			w.WriteHeader(http.StatusNotFound)
		case "/dbs":
			_, _ = w.Write([]byte("{}"))
		}
	}), m)
	for _, p := range []string{"/dbs/d/colls/c/docs/x", "/dbs", "/"} {
		r := httptest.NewRequest("GET", p, nil)
		r.Header.Set(hdrSessionToken, "0:1#9")
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	got := rec.Body.String()
	for _, want := range []string{
		`meridian_session_not_available_total{region="R"} 1`,
		`meridian_session_reads_total{op="read",outcome="not_available",region="R"} 1`,
		`meridian_requests_total{consistency="Session",op="metadata",region="R",status="200"} 2`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("metrics lack %s\n%s", want, got)
		}
	}
}

// BenchmarkInstrumentOverhead is the cost the middleware adds to a request
// (classification, status capture, two label lookups and observations).
func BenchmarkInstrumentOverhead(b *testing.B) {
	m := metrics.New(metrics.Options{Region: "West US", NoProcessMetrics: true})
	h := Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }), m)
	r := httptest.NewRequest("GET", "/dbs/shop/colls/orders/docs/o1", nil)
	r.Header.Set(hdrSessionToken, "0:1#5")
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}

// BenchmarkInstrumentBaseline is BenchmarkInstrumentOverhead without the
// middleware.
func BenchmarkInstrumentBaseline(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	r := httptest.NewRequest("GET", "/dbs/shop/colls/orders/docs/o1", nil)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}
