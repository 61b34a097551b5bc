// Package metrics is the Prometheus instrumentation of one region process:
// a registry of its own (never the global default registry, so the regions
// of `meridian dev` each report only themselves), request counters and
// latency histograms fed by the REST edge (httpapi.Instrument), and
// collectors that read the region's replication state (the same
// admin.Status the management API serves) and Pebble's counters when
// Prometheus scrapes, instead of instrumenting the write and replication
// paths.
//
// Every Meridian series carries region, the region that reports it. The
// names, labels and meaning of every series are in names.go.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/meridiandb/meridian/internal/admin"
	"github.com/meridiandb/meridian/internal/session"
	"github.com/meridiandb/meridian/internal/storage"
)

// Operations, the values of the op label of the request series. They
// follow the Cosmos DB operation types; a path the REST API does not serve
// is OpOther and the management API is OpAdmin.
const (
	OpRead       = "read"
	OpCreate     = "create"
	OpUpsert     = "upsert"
	OpReplace    = "replace"
	OpDelete     = "delete"
	OpPatch      = "patch"
	OpQuery      = "query" // queries, query plans and read-feed scans of items
	OpBatch      = "batch"
	OpChangeFeed = "changefeed"
	OpMetadata   = "metadata" // account, databases, containers, offers, pkranges, conflicts
	OpAdmin      = "admin"    // /_meridian/...
	OpOther      = "other"    // unknown paths and methods
)

// Ops lists every op label value.
var Ops = []string{OpRead, OpCreate, OpUpsert, OpReplace, OpDelete, OpPatch, OpQuery, OpBatch, OpChangeFeed, OpMetadata, OpAdmin, OpOther}

// Options configure a region's metrics.
type Options struct {
	// Region names the region; every Meridian series carries it.
	Region string
	// Consistency is the account's default level: the consistency label of
	// a request that sends no x-ms-consistency-level.
	Consistency string
	// Status, if set, is called at scrape time for the replication series
	// (the server passes its management API status, which adds the
	// offline switch and the WAN).
	Status func() admin.Status
	// Storage, if set, is called at scrape time for the Pebble series.
	Storage func() storage.Metrics
	// Raft, if set, is called at scrape time for the meridian_raft_*
	// series (false: this region runs no control plane).
	Raft func() (RaftState, bool)
	// NoProcessMetrics leaves out the Go runtime and process collectors
	// (go_*, process_*).
	NoProcessMetrics bool
}

// Metrics is one region's registry and its request instruments. It is safe
// for concurrent use.
type Metrics struct {
	commitLatency prometheus.Histogram
	commitEntries prometheus.Histogram
	conflicts     *prometheus.CounterVec

	reg         *prometheus.Registry
	region      string
	consistency string

	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	sessionReads *prometheus.CounterVec
	sessionBy    map[string]map[string]prometheus.Counter // op -> outcome -> counter
	sessionWait  prometheus.Histogram
	sessionMiss  prometheus.Counter
	throttled    *prometheus.CounterVec

	// instr caches the request instruments by label values: the vectors'
	// own lookup hashes and validates the labels on every request.
	instr sync.Map // reqKey -> *reqInstr

	raftMu sync.Mutex
	raft   RaftState
}

type reqKey struct {
	op     string
	status int
	level  string
}

type reqInstr struct {
	count   prometheus.Counter
	latency prometheus.Observer
}

// Buckets of the group-commit latency histogram, in seconds: 50 µs to 1 s.
var commitBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1}

// ObserveCommit records one group commit: how many log entries it carried
// and how long the synced batch took.
func (m *Metrics) ObserveCommit(entries int, d time.Duration) {
	if m == nil {
		return
	}
	m.commitLatency.Observe(d.Seconds())
	m.commitEntries.Observe(float64(entries))
}

// ObserveConflict counts one multi-region-write conflict resolved in this
// region, by type (insert/insert, replace/replace, replace/delete,
// delete/delete) and whether the loser went to the conflicts feed (Custom
// policy) or was only counted (LastWriterWins).
func (m *Metrics) ObserveConflict(kind string, fed bool) {
	if m == nil {
		return
	}
	m.conflicts.WithLabelValues(kind, strconv.FormatBool(fed)).Inc()
}

// Buckets of the request latency histogram, in seconds: 0.5 ms to 10 s.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Buckets of the session-read wait histogram, in seconds: 1 ms to the
// default SessionWait (5 s) and past it.
var waitBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// New returns the metrics of one region with a registry of its own.
func New(o Options) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), region: o.Region, consistency: canonicalLevel(o.Consistency, "")}
	if m.consistency == "" || m.consistency == levelInvalid {
		m.consistency = session.Session.String()
	}
	region := prometheus.Labels{"region": o.Region}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: NameRequests, ConstLabels: region,
		Help: "Client requests served by the region's REST edge, by operation, HTTP status code and consistency level.",
	}, []string{"op", "status", "consistency"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: NameRequestDuration, ConstLabels: region, Buckets: latencyBuckets,
		Help: "Latency of client requests from the first header read to the last byte written, by operation, HTTP status code and consistency level.",
	}, []string{"op", "status", "consistency"})
	m.sessionReads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: NameSessionReads, ConstLabels: region,
		Help: "Reads (read, query, change feed) that carried an x-ms-session-token, by outcome: ok, not_available (404/1002: the region did not reach the token within SessionWait) or error.",
	}, []string{"op", "outcome"})
	m.sessionWait = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: NameSessionReadWait, ConstLabels: region, Buckets: waitBuckets,
		Help: "Latency of reads that carried an x-ms-session-token: an upper bound of the time they were held waiting for replication (derived at the REST edge).",
	})
	m.sessionMiss = prometheus.NewCounter(prometheus.CounterOpts{
		Name: NameSessionNotAvailable, ConstLabels: region,
		Help: "Reads answered 404 with substatus 1002 (read session not available).",
	})
	m.throttled = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: NameThrottled, ConstLabels: region,
		Help: "Requests answered 429 (bounded-staleness write admission or throttling), by operation.",
	}, []string{"op"})
	m.commitLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: NameGroupCommitDuration, ConstLabels: region, Buckets: commitBuckets,
		Help: "Time to commit one write group (its synced Pebble batch: the fsync the group shares), per partition commit.",
	})
	m.commitEntries = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: NameGroupCommitEntries, ConstLabels: region, Buckets: prometheus.ExponentialBuckets(1, 2, 10),
		Help: "Log entries (writes or replicated entries) committed together in one synced batch: the group-commit batch size.",
	})
	m.conflicts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: NameConflicts, ConstLabels: region,
		Help: "Multi-region-write conflicts resolved in this region, by type and by whether the loser went to the conflicts feed (Custom policy; false: LastWriterWins, counted only). Regions may count a conflict differently (a version overwritten by its own successor before a concurrent one arrives is no conflict there).",
	}, []string{"type", "fed"})
	m.reg.MustRegister(m.conflicts)
	m.reg.MustRegister(m.requests, m.latency, m.sessionReads, m.sessionWait, m.sessionMiss, m.throttled, m.commitLatency, m.commitEntries)
	m.sessionBy = map[string]map[string]prometheus.Counter{}
	for _, op := range []string{OpRead, OpQuery, OpChangeFeed} {
		m.sessionBy[op] = map[string]prometheus.Counter{}
		for _, outcome := range []string{outcomeOK, outcomeNotAvailable, outcomeError} {
			m.sessionBy[op][outcome] = m.sessionReads.WithLabelValues(op, outcome)
		}
	}
	// Pre-create the zero series that dashboards and alerts divide by, so
	// they exist before the first 429 or 404/1002.
	for _, op := range Ops {
		m.throttled.WithLabelValues(op)
	}
	m.reg.MustRegister(&stateCollector{m: m, status: o.Status, storage: o.Storage, raft: o.Raft})
	if !o.NoProcessMetrics {
		// The scheduler's metrics include go_sched_latencies_seconds, how
		// long goroutines wait to run once runnable: the sign of a region
		// short of CPU, which shows in write latency before anything else.
		m.reg.MustRegister(collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(collectors.MetricsScheduler)),
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return m
}

// Registry is the region's registry, to register more collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text (or OpenMetrics)
// exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, EnableOpenMetrics: true, ErrorHandling: promhttp.ContinueOnError})
}

// Request is one served client request, as the REST edge saw it.
type Request struct {
	// Op is one of the Op constants.
	Op string
	// Status and Substatus are the response's HTTP status and
	// x-ms-substatus (0: none).
	Status, Substatus int
	// Consistency is the request's x-ms-consistency-level header, as sent
	// (empty: the account default).
	Consistency string
	// SessionToken is true if the request carried x-ms-session-token.
	SessionToken bool
	// Duration is the time from the request's arrival to the response.
	Duration time.Duration
}

// ObserveRequest records one request. Session-read and 429 series are
// derived from the same sample.
func (m *Metrics) ObserveRequest(r Request) {
	if m == nil {
		return
	}
	op := r.Op
	if op == "" {
		op = OpOther
	}
	key := reqKey{op, r.Status, canonicalLevel(r.Consistency, m.consistency)}
	in, ok := m.instr.Load(key)
	if !ok {
		status := strconv.Itoa(r.Status)
		in, _ = m.instr.LoadOrStore(key, &reqInstr{
			count:   m.requests.WithLabelValues(op, status, key.level),
			latency: m.latency.WithLabelValues(op, status, key.level),
		})
	}
	secs := r.Duration.Seconds()
	in.(*reqInstr).count.Inc()
	in.(*reqInstr).latency.Observe(secs)
	if r.Status == http.StatusTooManyRequests {
		m.throttled.WithLabelValues(op).Inc()
	}
	notAvailable := r.Status == http.StatusNotFound && r.Substatus == 1002
	if notAvailable {
		m.sessionMiss.Inc()
	}
	if byOutcome, ok := m.sessionBy[op]; ok && r.SessionToken {
		outcome := outcomeOK
		switch {
		case notAvailable:
			outcome = outcomeNotAvailable
		case r.Status >= 400 && r.Status != http.StatusNotFound && r.Status != http.StatusNotModified:
			// 404 (absent item) and 304 (no changes) are answers, not errors.
			outcome = outcomeError
		}
		byOutcome[outcome].Inc()
		m.sessionWait.Observe(secs)
	}
}

// Outcomes of a session read.
const (
	outcomeOK           = "ok"
	outcomeNotAvailable = "not_available"
	outcomeError        = "error"
)

const levelInvalid = "invalid"

// canonicalLevel spells a consistency header the way the SDKs name levels
// (bounded label values whatever the client sends): def if empty,
// "invalid" if not a level.
func canonicalLevel(h, def string) string {
	if h == "" {
		return def
	}
	l, err := session.ParseLevel(h)
	if err != nil || l == session.LevelUnset {
		return levelInvalid
	}
	return l.String()
}

// RaftState is the control plane's view of this region's Raft node, for
// the meridian_raft_* series: read at scrape time through Options.Raft, or
// pushed with SetRaftState; absent in a one-region account.
type RaftState struct {
	// Leader names the region whose node leads (empty: no leader known).
	Leader string
	// IsLeader is true if this region's node is the leader.
	IsLeader bool
	// Term is the current Raft term.
	Term uint64
	// CommitIndex and AppliedIndex are the node's Raft log indexes.
	CommitIndex, AppliedIndex uint64
	set                       bool
}

// SetRaftState records the region's Raft state; the next scrape reports
// it. Call it on every leadership or term change (or periodically).
func (m *Metrics) SetRaftState(s RaftState) {
	if m == nil {
		return
	}
	s.set = true
	m.raftMu.Lock()
	m.raft = s
	m.raftMu.Unlock()
}

func (m *Metrics) raftState() RaftState {
	m.raftMu.Lock()
	defer m.raftMu.Unlock()
	return m.raft
}
