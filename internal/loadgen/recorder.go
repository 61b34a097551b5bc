package loadgen

import (
	"cmp"
	"slices"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Histograms are in microseconds from 1 µs to 60 s with 3 significant
// digits. A latency above the range (only possible with a --timeout near
// a minute) is clamped to the top, never dropped (testing.md pitfall 21).
const (
	histMin    = 1
	histMax    = 60_000_000
	histDigits = 3
)

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(histMin, histMax, histDigits) }

func recordHist(h *hdrhistogram.Histogram, d time.Duration) {
	_ = h.RecordValue(min(max(d.Microseconds(), histMin), histMax))
}

// AllRegions is the region of the rows that add up every region, and of
// the customsync rows that time the whole sequence.
const AllRegions = "*"

// Operation names.
const (
	OpRead       = "read"
	OpUpdate     = "update"
	OpInsert     = "insert"
	OpScan       = "scan"
	OpRMW        = "rmw"
	OpCustomSync = "customsync"
	OpTotal      = "total" // every operation (the customsync legs excepted)
)

var opOrder = map[string]int{OpRead: 0, OpUpdate: 1, OpInsert: 2, OpScan: 3, OpRMW: 4, OpCustomSync: 5, OpTotal: 6}

// Error classes besides "STATUS" and "STATUS/SUBSTATUS".
const (
	ErrTimeout = "timeout"  // the request (or sequence) hit --timeout
	ErrNetwork = "network"  // connection refused, reset, ...
	ErrBadBody = "bad-body" // a 2xx answer the generator could not use
)

type seriesKey struct{ op, region string }

// series is one operation type in one region.
type series struct {
	ok   *hdrhistogram.Histogram // successful operations
	all  *hdrhistogram.Histogram // successes and errors (timeouts at their timeout value)
	srv  *hdrhistogram.Histogram // the server's own time of successful single requests
	errs map[string]int64
}

func newSeries() *series {
	return &series{ok: newHist(), all: newHist(), srv: newHist(), errs: map[string]int64{}}
}

func (s *series) merge(o *series) {
	s.ok.Merge(o.ok)
	s.all.Merge(o.all)
	s.srv.Merge(o.srv)
	for k, v := range o.errs {
		s.errs[k] += v
	}
}

// Recorder collects outcomes: per operation type and region for the
// measured window, and an interval histogram (every operation, warm-up
// included) for the live progress line. It is safe for concurrent use.
type Recorder struct {
	mu     sync.Mutex
	series map[seriesKey]*series

	intervalHist *hdrhistogram.Histogram
	intervalOK   int64
	intervalErrs int64
	totalErrs    int64
}

// NewRecorder returns an empty recorder.
func NewRecorder() *Recorder {
	return &Recorder{series: map[seriesKey]*series{}, intervalHist: newHist()}
}

// Record adds one outcome. lat is measured from the operation's due time;
// class is "" for a success, else the error class. Only measured outcomes
// enter the results; all feed the progress line. The "customsync" legs
// (region != AllRegions) do not count in the progress line's totals.
func (r *Recorder) Record(op, region string, lat time.Duration, class string, measured bool) {
	r.RecordServer(op, region, lat, -1, class, measured)
}

// RecordServer is Record with the server's own time for the operation, as
// it reported it in x-ms-request-duration-ms (negative: not reported, or
// the operation took more than one request).
func (r *Recorder) RecordServer(op, region string, lat, srv time.Duration, class string, measured bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if op != OpCustomSync || region == AllRegions {
		if class == "" {
			r.intervalOK++
			recordHist(r.intervalHist, lat)
		} else {
			r.intervalErrs++
			r.totalErrs++
		}
	}
	if !measured {
		return
	}
	k := seriesKey{op, region}
	s := r.series[k]
	if s == nil {
		s = newSeries()
		r.series[k] = s
	}
	recordHist(s.all, lat)
	if class == "" {
		recordHist(s.ok, lat)
		if srv >= 0 {
			recordHist(s.srv, srv)
		}
	} else {
		s.errs[class]++
	}
}

// Interval is one progress sample.
type Interval struct {
	OK, Errors, TotalErrors int64
	P99                     time.Duration
}

// TakeInterval returns the counts and p99 since the previous call and
// starts a new interval.
func (r *Recorder) TakeInterval() Interval {
	r.mu.Lock()
	defer r.mu.Unlock()
	iv := Interval{OK: r.intervalOK, Errors: r.intervalErrs, TotalErrors: r.totalErrs,
		P99: time.Duration(r.intervalHist.ValueAtQuantile(99)) * time.Microsecond}
	r.intervalHist.Reset()
	r.intervalOK, r.intervalErrs = 0, 0
	return iv
}

// OpStats is one row of the results: one operation type in one region
// (Region "*": every region).
type OpStats struct {
	Op     string `json:"op"`
	Region string `json:"region"`
	// OK and Errors count the outcomes of the operations due in the
	// measured window; ErrorsByClass splits Errors ("404/1002", "429",
	// "timeout", ...).
	OK            int64            `json:"ok"`
	Errors        int64            `json:"errors"`
	ErrorsByClass map[string]int64 `json:"errorsByClass,omitempty"`
	// Throughput is OK per second of the measured window.
	Throughput float64 `json:"throughput"`
	// Latencies of successful operations in milliseconds, from the due
	// time (open loop).
	P50  float64 `json:"p50Ms"`
	P90  float64 `json:"p90Ms"`
	P99  float64 `json:"p99Ms"`
	P999 float64 `json:"p999Ms"`
	Max  float64 `json:"maxMs"`
	Mean float64 `json:"meanMs"`
	// P99All and MaxAll include the errors, timeouts at their timeout value.
	P99All float64 `json:"p99AllMs"`
	MaxAll float64 `json:"maxAllMs"`
	// Server* are the server's own times (x-ms-request-duration-ms: from
	// its handler's start to its status line) of the successful operations
	// that were one request and reported it; ServerCount says how many.
	// What the latencies add to them is the network, the kernels, the
	// HTTP stacks and the generator's own delay.
	ServerCount int64   `json:"serverCount,omitempty"`
	ServerP50   float64 `json:"serverP50Ms,omitempty"`
	ServerP99   float64 `json:"serverP99Ms,omitempty"`
	ServerP999  float64 `json:"serverP999Ms,omitempty"`
}

func ms(us int64) float64 { return float64(us) / 1000 }

func statsOf(op, region string, s *series, window time.Duration) OpStats {
	st := OpStats{Op: op, Region: region, OK: s.ok.TotalCount(),
		P50: ms(s.ok.ValueAtQuantile(50)), P90: ms(s.ok.ValueAtQuantile(90)),
		P99: ms(s.ok.ValueAtQuantile(99)), P999: ms(s.ok.ValueAtQuantile(99.9)),
		Max: ms(s.ok.Max()), Mean: s.ok.Mean() / 1000,
		P99All: ms(s.all.ValueAtQuantile(99)), MaxAll: ms(s.all.Max()),
	}
	if st.OK == 0 {
		st.Max, st.Mean = 0, 0
	}
	if n := s.srv.TotalCount(); n > 0 {
		st.ServerCount = n
		st.ServerP50, st.ServerP99 = ms(s.srv.ValueAtQuantile(50)), ms(s.srv.ValueAtQuantile(99))
		st.ServerP999 = ms(s.srv.ValueAtQuantile(99.9))
	}
	if s.all.TotalCount() == 0 {
		st.MaxAll = 0
	}
	for _, v := range s.errs {
		st.Errors += v
	}
	if st.Errors > 0 {
		st.ErrorsByClass = s.errs
	}
	if window > 0 {
		st.Throughput = float64(st.OK) / window.Seconds()
	}
	return st
}

// Stats aggregates the measured outcomes over a window of the given
// length: a row per operation type and region; for operation types seen in
// more than one region, a row over every region; and a "total" row over
// every operation except the customsync rows (whose sequences contain
// writes and reads counted in their own rows). Rows are sorted by
// operation (read, update, insert, scan, rmw, customsync, total), then
// region ("*" first).
func (r *Recorder) Stats(window time.Duration) []OpStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	perOp := map[string]*series{}
	regions := map[string]int{}
	total := newSeries()
	var rows []OpStats
	for k, s := range r.series {
		rows = append(rows, statsOf(k.op, k.region, s, window))
		if k.region == AllRegions {
			continue
		}
		regions[k.op]++
		if perOp[k.op] == nil {
			perOp[k.op] = newSeries()
		}
		perOp[k.op].merge(s)
		if k.op != OpCustomSync {
			total.merge(s)
		}
	}
	for op, s := range perOp {
		if regions[op] > 1 && op != OpCustomSync {
			rows = append(rows, statsOf(op, AllRegions, s, window))
		}
	}
	if len(r.series) > 0 {
		rows = append(rows, statsOf(OpTotal, AllRegions, total, window))
	}
	slices.SortFunc(rows, func(a, b OpStats) int {
		if c := cmp.Compare(opRank(a.Op), opRank(b.Op)); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Op, b.Op); c != 0 {
			return c
		}
		if (a.Region == AllRegions) != (b.Region == AllRegions) {
			if a.Region == AllRegions {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.Region, b.Region)
	})
	return rows
}

func opRank(op string) int {
	if r, ok := opOrder[op]; ok {
		return r
	}
	return len(opOrder)
}
