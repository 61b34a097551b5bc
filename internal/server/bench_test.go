package server

// End-to-end benchmarks of one in-process region over its REST API, driven
// by a lean hand-written signed HTTP client with 32 concurrent clients.
//
//	go test -run xxx -bench . -benchtime 5s ./internal/server/
//
// Each benchmark reports ops/s and the p50/p99 per-operation latency in ms.
// These are closed-loop figures (32 clients, each sending its next request
// when the previous one returns), so the latencies are the latencies at the
// throughput reached, not at a fixed offered load: by Little's law the mean
// latency is 32 / throughput (2 ms at 16,000 ops/s). The client runs in the
// same process and competes for the same CPUs as the server.
//
// MERIDIAN_BENCH_CLIENTS=n changes the number of concurrent clients.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meridiandb/meridian/internal/auth"
)

// benchClients is the number of concurrent clients.
var benchClients = func() int {
	if n, err := strconv.Atoi(os.Getenv("MERIDIAN_BENCH_CLIENTS")); err == nil && n > 0 {
		return n
	}
	return 32
}()

const (
	benchDB        = "bench"
	benchColl      = "c"
	benchItemBytes = 1024
	benchReadItems = 10_000
	benchReadPKs   = 100
	benchQueryPK   = "qp"
	benchQueryN    = 1000
	benchQueryCats = 100 // 10 items per category
)

// benchClient is a minimal Cosmos REST client: net/http, master-key signing,
// an x-ms-date recomputed once per second.
type benchClient struct {
	base string // "http://127.0.0.1:1234" (no trailing slash)
	key  []byte
	hc   *http.Client
	date atomic.Pointer[benchDate]
}

type benchDate struct {
	unix int64
	s    string
}

func newBenchClient(endpoint string) *benchClient {
	tr := &http.Transport{
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &benchClient{
		base: strings.TrimSuffix(endpoint, "/"),
		key:  auth.MustDecodeKey(auth.EmulatorKey),
		hc:   &http.Client{Transport: tr, Timeout: 60 * time.Second},
	}
}

func (c *benchClient) xmsDate() string {
	now := time.Now().Unix()
	if d := c.date.Load(); d != nil && d.unix == now {
		return d.s
	}
	d := &benchDate{unix: now, s: time.Unix(now, 0).UTC().Format(http.TimeFormat)}
	c.date.Store(d)
	return d.s
}

// benchReq is one REST call.
type benchReq struct {
	method, path     string // path is URL-escaped, starts with "/"
	resType, resLink string // signing inputs (resLink unescaped)
	pk               string // partition key JSON array, e.g. `["p1"]`; "" for none
	contentType      string
	query            bool
	minimal          bool
	continuation     string
	body             []byte
}

// do sends r and returns the status and, if keepBody, the body.
func (c *benchClient) do(r benchReq, keepBody bool) (int, []byte, error) {
	st, b, _, err := c.doCont(r, keepBody)
	return st, b, err
}

// doCont is do that also returns the x-ms-continuation response header.
func (c *benchClient) doCont(r benchReq, keepBody bool) (int, []byte, string, error) {
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequest(r.method, c.base+r.path, body)
	if err != nil {
		return 0, nil, "", err
	}
	date := c.xmsDate()
	h := req.Header
	h["X-Ms-Date"] = []string{date}
	h["X-Ms-Version"] = []string{"2020-11-05"}
	h["Authorization"] = []string{auth.Sign(c.key, r.method, r.resType, r.resLink, date)}
	if r.pk != "" {
		h["X-Ms-Documentdb-Partitionkey"] = []string{r.pk}
	}
	if r.contentType != "" {
		h["Content-Type"] = []string{r.contentType}
	}
	if r.query {
		h["X-Ms-Documentdb-Query"] = []string{"True"}
	}
	if r.minimal {
		h["Prefer"] = []string{"return=minimal"}
	}
	if r.continuation != "" {
		h["X-Ms-Continuation"] = []string{r.continuation}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	next := resp.Header.Get("X-Ms-Continuation")
	if keepBody || resp.StatusCode >= 300 {
		b, err := io.ReadAll(resp.Body)
		if resp.StatusCode >= 300 {
			return resp.StatusCode, b, next, fmt.Errorf("%s %s: %d %s", r.method, r.path, resp.StatusCode, b)
		}
		return resp.StatusCode, b, next, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil, next, err
}

var benchCollLink = "dbs/" + benchDB + "/colls/" + benchColl

func (c *benchClient) createItem(pk string, doc []byte) error {
	_, _, err := c.do(benchReq{
		method: http.MethodPost, path: "/" + benchCollLink + "/docs",
		resType: "docs", resLink: benchCollLink,
		pk: pkHeader(pk), contentType: "application/json", minimal: true, body: doc,
	}, false)
	return err
}

func (c *benchClient) readItem(pk, id string) ([]byte, error) {
	_, b, err := c.do(benchReq{
		method: http.MethodGet, path: "/" + benchCollLink + "/docs/" + id,
		resType: "docs", resLink: benchCollLink + "/docs/" + id,
		pk: pkHeader(pk),
	}, true)
	return b, err
}

// queryAll runs a single-partition query, following continuations, and
// returns the number of documents.
func (c *benchClient) queryAll(pk string, body []byte) (int, error) {
	n := 0
	cont := ""
	for {
		_, b, next, err := c.doCont(benchReq{
			method: http.MethodPost, path: "/" + benchCollLink + "/docs",
			resType: "docs", resLink: benchCollLink,
			pk: pkHeader(pk), contentType: "application/query+json", query: true,
			continuation: cont, body: body,
		}, true)
		if err != nil {
			return 0, err
		}
		var page struct {
			Count int `json:"_count"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			return 0, fmt.Errorf("query page: %w", err)
		}
		n += page.Count
		if next == "" {
			return n, nil
		}
		cont = next
	}
}

func pkHeader(pk string) string { return `["` + pk + `"]` }

// benchDoc returns a JSON document of exactly benchItemBytes bytes.
func benchDoc(id, pk string, extra string) []byte {
	head := fmt.Sprintf(`{"id":%q,"pk":%q,%s"payload":"`, id, pk, extra)
	tail := `"}`
	pad := benchItemBytes - len(head) - len(tail)
	if pad < 0 {
		pad = 0
	}
	b := make([]byte, 0, benchItemBytes)
	b = append(b, head...)
	for i := 0; i < pad; i++ {
		b = append(b, 'a'+byte(i%26))
	}
	return append(b, tail...)
}

// newBenchServer starts an in-process region with a database and a
// container (/pk) and returns a client for it. Everything is torn down when
// the benchmark run ends.
func newBenchServer(b *testing.B) *benchClient {
	b.Helper()
	s, err := New(Config{
		Listen:  "127.0.0.1:0",
		DataDir: b.TempDir(),
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatalf("New: %v", err)
	}
	s.Start()
	c := newBenchClient(s.Endpoint())
	b.Cleanup(func() {
		c.hc.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			b.Errorf("Close: %v", err)
		}
	})
	if _, _, err := c.do(benchReq{
		method: http.MethodPost, path: "/dbs", resType: "dbs", resLink: "",
		contentType: "application/json", body: []byte(`{"id":"` + benchDB + `"}`),
	}, false); err != nil {
		b.Fatalf("create database: %v", err)
	}
	if _, _, err := c.do(benchReq{
		method: http.MethodPost, path: "/dbs/" + benchDB + "/colls", resType: "colls", resLink: "dbs/" + benchDB,
		contentType: "application/json",
		body:        []byte(`{"id":"` + benchColl + `","partitionKey":{"paths":["/pk"],"kind":"Hash","version":2}}`),
	}, false); err != nil {
		b.Fatalf("create container: %v", err)
	}
	return c
}

// preload writes n documents with benchClients concurrent writers.
func preload(b *testing.B, n int, doc func(i int) (pk string, body []byte), c *benchClient) {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr error
	var once sync.Once
	for w := 0; w < 2*benchClients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				pk, body := doc(i)
				if err := c.createItem(pk, body); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		b.Fatalf("preload: %v", firstErr)
	}
}

// runClients runs op from benchClients goroutines for b.N operations in
// total and reports ops/s and p50/p99 latency. op gets a unique sequence
// number.
func runClients(b *testing.B, op func(seq int64) error) {
	b.Helper()
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((benchClients + procs - 1) / procs)
	var (
		seq      atomic.Int64
		mu       sync.Mutex
		lats     = make([]time.Duration, 0, b.N)
		errCount atomic.Int64
		firstErr atomic.Pointer[error]
	)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		local := make([]time.Duration, 0, 256)
		for pb.Next() {
			i := seq.Add(1) - 1
			t0 := time.Now()
			err := op(i)
			local = append(local, time.Since(t0))
			if err != nil {
				errCount.Add(1)
				firstErr.CompareAndSwap(nil, &err)
			}
		}
		mu.Lock()
		lats = append(lats, local...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if n := errCount.Load(); n > 0 {
		b.Fatalf("%d of %d operations failed; first: %v", n, b.N, *firstErr.Load())
	}
	slices.Sort(lats)
	pct := func(p float64) float64 {
		if len(lats) == 0 {
			return 0
		}
		i := int(float64(len(lats))*p+0.5) - 1
		i = max(0, min(i, len(lats)-1))
		return float64(lats[i]) / float64(time.Millisecond)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ops/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

// BenchmarkPointWrite creates 1 KB documents with unique ids over 256
// logical partitions. Writes are acknowledged only after an fsync.
func BenchmarkPointWrite(b *testing.B) {
	c := newBenchServer(b)
	runNonce := time.Now().UnixNano()
	runClients(b, func(seq int64) error {
		id := fmt.Sprintf("w%d-%d", runNonce, seq)
		pk := fmt.Sprintf("pk%03d", seq%256)
		return c.createItem(pk, benchDoc(id, pk, ""))
	})
}

// BenchmarkPointRead reads random 1 KB documents out of 10,000 preloaded
// ones (100 logical partitions).
func BenchmarkPointRead(b *testing.B) {
	c := newBenchServer(b)
	// The testing package calls this function several times (b.N = 1, then
	// its estimates) and only the last run is reported; keep the short
	// calibration runs cheap by preloading fewer items for them.
	items := benchReadItems
	if b.N < 1000 {
		items = 1000
	}
	preload(b, items, func(i int) (string, []byte) {
		pk := fmt.Sprintf("pk%03d", i%benchReadPKs)
		return pk, benchDoc(fmt.Sprintf("r%05d", i), pk, "")
	}, c)
	// Warm the connection pool and check one read.
	got, err := c.readItem("pk000", "r00000")
	if err != nil || len(got) < benchItemBytes {
		b.Fatalf("read check: %d bytes, %v", len(got), err)
	}
	runClients(b, func(seq int64) error {
		i := int((uint64(seq) * 2654435761) % uint64(items)) // scattered
		body, err := c.readItem(fmt.Sprintf("pk%03d", i%benchReadPKs), fmt.Sprintf("r%05d", i))
		if err == nil && len(body) < benchItemBytes {
			err = fmt.Errorf("short read: %d bytes", len(body))
		}
		return err
	})
}

// BenchmarkQueryFiltered runs a single-partition query with an equality
// filter over 1,000 documents in one logical partition; each query returns
// 10 documents.
func BenchmarkQueryFiltered(b *testing.B) {
	c := newBenchServer(b)
	preload(b, benchQueryN, func(i int) (string, []byte) {
		return benchQueryPK, benchDoc(fmt.Sprintf("q%04d", i), benchQueryPK,
			fmt.Sprintf(`"category":"cat-%02d","n":%d,`, i%benchQueryCats, i))
	}, c)
	bodies := make([][]byte, benchQueryCats)
	for i := range bodies {
		bodies[i] = []byte(fmt.Sprintf(
			`{"query":"SELECT * FROM c WHERE c.category = @cat","parameters":[{"name":"@cat","value":"cat-%02d"}]}`, i))
	}
	want := benchQueryN / benchQueryCats
	if n, err := c.queryAll(benchQueryPK, bodies[0]); err != nil || n != want {
		b.Fatalf("query check: %d documents, %v; want %d", n, err, want)
	}
	runClients(b, func(seq int64) error {
		n, err := c.queryAll(benchQueryPK, bodies[seq%benchQueryCats])
		if err == nil && n != want {
			err = fmt.Errorf("query returned %d documents, want %d", n, want)
		}
		return err
	})
}
