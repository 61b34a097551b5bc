package httpapi

import (
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/meridiandb/meridian/internal/metrics"
)

// Instrument wraps the REST edge (a *Handler) with request metrics: one
// metrics.Request per request, with
//
//   - op: the operation, classified from the path, method and headers by
//     the same rules route uses (OperationOf), so the Handler itself is not
//     touched;
//   - status and x-ms-substatus of the response;
//   - x-ms-consistency-level as the client sent it (the account default
//     when absent);
//   - whether the request carried x-ms-session-token, and its latency.
//
// Session-read waits, 404/1002 and 429 are derived from those samples by
// the metrics package: a read carrying a session token is held at most
// SessionWait for replication, so its latency bounds its wait. That is an
// approximation: exact wait times need a hook in region.awaitSession.
func Instrument(next http.Handler, m *metrics.Metrics) http.Handler {
	if m == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		status := sw.status
		if status == 0 {
			status = http.StatusOK // nothing written: net/http sends 200
		}
		sub := 0
		if sw.substatus != "" {
			sub, _ = strconv.Atoi(sw.substatus)
		}
		m.ObserveRequest(metrics.Request{
			Op: OperationOf(r), Status: status, Substatus: sub,
			Consistency:  first(r.Header[keyConsistency]),
			SessionToken: first(r.Header[keySessionToken]) != "",
			Duration:     time.Since(start),
		})
	})
}

// Canonical header keys, looked up directly: Header.Get canonicalizes (and
// allocates) on every call.
var (
	keyConsistency  = textproto.CanonicalMIMEHeaderKey(hdrConsistency)
	keySessionToken = textproto.CanonicalMIMEHeaderKey(hdrSessionToken)
	keySubstatus    = textproto.CanonicalMIMEHeaderKey(hdrSubstatus)
)

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// statusWriter remembers the status and substatus the response started
// with.
type statusWriter struct {
	http.ResponseWriter
	status    int
	substatus string
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
		w.substatus = first(w.Header()[keySubstatus])
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush passes a flush through (streamed responses).
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		if w.status == 0 {
			w.status = http.StatusOK
		}
		f.Flush()
	}
}

// OperationOf classifies a request for the op label of the request
// metrics (metrics.Op*), following route and routeDocs: item reads,
// writes, queries (with query plans and read-feed scans), batches and
// change feeds; every other resource of the Cosmos API is metadata; the
// management API is admin; a path or method route refuses is other.
func OperationOf(r *http.Request) string {
	segs, err := splitPath(r.URL.EscapedPath())
	if err != nil {
		return metrics.OpOther
	}
	n, m := len(segs), r.Method
	switch {
	case n == 0:
		return metrics.OpMetadata
	case segs[0] == adminRoot:
		return metrics.OpAdmin
	case segs[0] == "offers":
		if n <= 2 {
			return metrics.OpMetadata
		}
		return metrics.OpOther
	case segs[0] != "dbs":
		return metrics.OpOther
	case n >= 3 && segs[2] != "colls":
		return metrics.OpOther // users, permissions: refused by route
	case n < 5:
		return metrics.OpMetadata
	}
	switch segs[4] {
	case "pkranges", "conflicts":
		if n <= 6 {
			return metrics.OpMetadata
		}
		return metrics.OpOther
	case "docs":
	default:
		return metrics.OpOther
	}
	switch {
	case n == 5 && m == http.MethodGet:
		if r.Header.Get(hdrAIM) != "" {
			return metrics.OpChangeFeed
		}
		return metrics.OpQuery // read feed
	case n == 5 && m == http.MethodPost:
		switch {
		case headerTrue(r, hdrIsQueryPlan):
			return metrics.OpQuery
		case headerTrue(r, hdrIsBatch):
			return metrics.OpBatch
		case isQuery(r):
			return metrics.OpQuery
		case headerTrue(r, hdrIsUpsert):
			return metrics.OpUpsert
		}
		return metrics.OpCreate
	case n == 6:
		switch strings.ToUpper(m) {
		case http.MethodGet:
			return metrics.OpRead
		case http.MethodPut:
			return metrics.OpReplace
		case http.MethodDelete:
			return metrics.OpDelete
		case http.MethodPatch:
			return metrics.OpPatch
		}
	}
	return metrics.OpOther
}
