package geo_test

// Helpers for the consistency-level tests (strong_test.go, bounded_test.go,
// session_test.go, prefix_eventual_test.go): raw requests that keep the
// body and go to exactly one region (no SDK fallback), region-pinned
// reads, full dumps of a region's items and change feed, a client-side
// session token merge, and polling with deadlines.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meridiandb/meridian/internal/auth"
	"github.com/meridiandb/meridian/internal/testcluster"
)

// rawResp is one region's answer to a raw request.
type rawResp struct {
	Status    int
	Substatus string
	Header    http.Header
	Body      []byte
	Took      time.Duration
}

func (r rawResp) String() string {
	return fmt.Sprintf("%d/%s %s", r.Status, r.Substatus, truncate(string(r.Body), 300))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// rawHTTP is the client for raw requests; its timeout bounds every call
// so that a hung server fails the test instead of stalling it.
var rawHTTP = &http.Client{Timeout: 15 * time.Second}

// rawDo sends a signed REST request to one region and keeps the body.
func rawDo(t testing.TB, c *testcluster.Cluster, region, method, resType, resLink, path string, body []byte, hdr map[string]string) rawResp {
	t.Helper()
	req, err := http.NewRequest(method, strings.TrimSuffix(c.Endpoint(region), "/")+path, bytes.NewReader(body))
	require.NoError(t, err)
	date := time.Now().UTC().Format(http.TimeFormat)
	req.Header.Set("x-ms-date", date)
	req.Header.Set("x-ms-version", "2020-11-05")
	req.Header.Set("Authorization", auth.Sign(auth.MustDecodeKey(auth.EmulatorKey), method, resType, resLink, date))
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	start := time.Now()
	resp, err := rawHTTP.Do(req)
	require.NoError(t, err, "%s %s in %s", method, path, region)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return rawResp{Status: resp.StatusCode, Substatus: resp.Header.Get("x-ms-substatus"), Header: resp.Header, Body: b, Took: time.Since(start)}
}

func pkHeader(p string) string { return `["` + p + `"]` }

// readRaw reads item id (partition key p) in exactly one region. level ""
// uses the account default; token "" sends none.
func readRaw(t testing.TB, c *testcluster.Cluster, region, p, id, level, token string) rawResp {
	t.Helper()
	h := map[string]string{"x-ms-documentdb-partitionkey": pkHeader(p)}
	if level != "" {
		h["x-ms-consistency-level"] = level
	}
	if token != "" {
		h["x-ms-session-token"] = token
	}
	return rawDo(t, c, region, http.MethodGet, "docs", "dbs/db/colls/c/docs/"+id, "/dbs/db/colls/c/docs/"+url.PathEscape(id), nil, h)
}

// upsertRaw upserts doc (JSON) in one region, with extra headers.
func upsertRaw(t testing.TB, c *testcluster.Cluster, region, p string, doc []byte, hdr map[string]string) rawResp {
	t.Helper()
	h := map[string]string{"x-ms-documentdb-partitionkey": pkHeader(p), "x-ms-documentdb-is-upsert": "true"}
	for k, v := range hdr {
		h[k] = v
	}
	return rawDo(t, c, region, http.MethodPost, "docs", "dbs/db/colls/c", "/dbs/db/colls/c/docs", doc, h)
}

// valDoc is an item body {"id","pk","v"}.
func valDoc(id, p string, v int) []byte {
	return []byte(fmt.Sprintf(`{"id":%q,"pk":%q,"v":%d}`, id, p, v))
}

// valueOf decodes the "v" of an item body.
func valueOf(t testing.TB, body []byte) int {
	t.Helper()
	var d struct {
		V *int `json:"v"`
	}
	require.NoError(t, json.Unmarshal(body, &d), "body %s", body)
	require.NotNil(t, d.V, "item without v: %s", body)
	return *d.V
}

// readVal reads id in one region: (value, true) on 200, (0, false) on 404
// (not found, substatus 0); any other answer is returned for the caller to
// judge.
func readVal(t testing.TB, c *testcluster.Cluster, region, p, id, level, token string) (int, bool, rawResp) {
	t.Helper()
	r := readRaw(t, c, region, p, id, level, token)
	if r.Status == 200 {
		return valueOf(t, r.Body), true, r
	}
	return 0, false, r
}

// queryRaw runs a query in exactly one region and returns every document's
// raw bytes (all pages).
func queryRaw(t testing.TB, c *testcluster.Cluster, region, q string, hdr map[string]string) ([]json.RawMessage, rawResp) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": q, "parameters": []any{}})
	require.NoError(t, err)
	var docs []json.RawMessage
	cont := ""
	for {
		h := map[string]string{
			"x-ms-documentdb-isquery":                    "true",
			"Content-Type":                               "application/query+json",
			"x-ms-documentdb-query-enablecrosspartition": "true",
			"x-ms-max-item-count":                        "1000",
		}
		for k, v := range hdr {
			h[k] = v
		}
		if cont != "" {
			h["x-ms-continuation"] = cont
		}
		r := rawDo(t, c, region, http.MethodPost, "docs", "dbs/db/colls/c", "/dbs/db/colls/c/docs", body, h)
		if r.Status != 200 {
			return nil, r
		}
		var page struct {
			Documents []json.RawMessage `json:"Documents"`
		}
		require.NoError(t, json.Unmarshal(r.Body, &page), "query page %s", r.Body)
		docs = append(docs, page.Documents...)
		cont = r.Header.Get("x-ms-continuation")
		if cont == "" {
			return docs, r
		}
	}
}

// dumpAll returns SELECT * FROM c ORDER BY c.id in a region, documents as
// stored (raw bytes); ok is false if the region did not answer 200.
func dumpAll(t testing.TB, c *testcluster.Cluster, region string) ([]json.RawMessage, bool) {
	t.Helper()
	docs, r := queryRaw(t, c, region, "SELECT * FROM c ORDER BY c.id", map[string]string{"x-ms-consistency-level": "Eventual"})
	return docs, r.Status == 200
}

// changeFeedAll reads a region's whole latest-version change feed from the
// beginning (every page until 304).
func changeFeedAll(t testing.TB, c *testcluster.Cluster, region string) []json.RawMessage {
	t.Helper()
	var docs []json.RawMessage
	etag := ""
	for range 10000 {
		h := map[string]string{"A-IM": "Incremental Feed", "x-ms-documentdb-partitionkeyrangeid": "0", "x-ms-max-item-count": "500",
			"x-ms-consistency-level": "Eventual"}
		if etag != "" {
			h["If-None-Match"] = etag
		}
		r := rawDo(t, c, region, http.MethodGet, "docs", "dbs/db/colls/c", "/dbs/db/colls/c/docs", nil, h)
		if r.Status == http.StatusNotModified {
			return docs
		}
		require.Equal(t, 200, r.Status, "change feed in %s: %s", region, r)
		var page struct {
			Documents []json.RawMessage `json:"Documents"`
		}
		require.NoError(t, json.Unmarshal(r.Body, &page))
		require.NotEmpty(t, page.Documents, "a 200 change feed page must not be empty")
		docs = append(docs, page.Documents...)
		require.NotEqual(t, etag, r.Header.Get("Etag"), "the change feed continuation must advance")
		etag = r.Header.Get("Etag")
	}
	t.Fatalf("change feed in %s never ended", region)
	return nil
}

// idsOf returns the "id" of each document.
func idsOf(t testing.TB, docs []json.RawMessage) []string {
	t.Helper()
	out := make([]string, len(docs))
	for i, d := range docs {
		var v struct {
			ID string `json:"id"`
		}
		require.NoError(t, json.Unmarshal(d, &v))
		out[i] = v.ID
	}
	return out
}

// sameDocs reports whether two dumps are byte-identical, and describes the
// first difference.
func sameDocs(a, b []json.RawMessage) (bool, string) {
	if len(a) != len(b) {
		return false, fmt.Sprintf("%d documents against %d", len(a), len(b))
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false, fmt.Sprintf("document %d differs:\n  %s\n  %s", i, a[i], b[i])
		}
	}
	return true, ""
}

// awaitConverged polls until every region's full dump is byte-identical to
// the write region's (which is read last in each round, so the check is
// against its current state) and returns that dump.
func awaitConverged(t testing.TB, c *testcluster.Cluster, within time.Duration) []json.RawMessage {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ref, ok := dumpAll(t, c, c.WriteRegion())
		same, why := ok, "write region did not answer"
		for _, r := range c.Topo.Regions {
			if !same || r.Name == c.WriteRegion() {
				continue
			}
			var d []json.RawMessage
			d, ok = dumpAll(t, c, r.Name)
			if !ok {
				same, why = false, r.Name+" did not answer the query"
				break
			}
			if same, why = sameDocs(ref, d); !same {
				why = r.Name + " against " + c.WriteRegion() + ": " + why
			}
		}
		if same {
			return ref
		}
		if time.Now().After(deadline) {
			t.Fatalf("regions did not converge within %v: %s", within, why)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// eventually polls cond every step until it holds or within passes.
func eventually(t testing.TB, within, step time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %v (last: %s)", what, within, last)
		}
		time.Sleep(step)
	}
}

// tokenLSN parses a single-range session token "0:<version>#<lsn>" (or the
// legacy "0:<lsn>") into its version and global LSN.
func tokenLSN(t testing.TB, tok string) (version, lsn int64) {
	t.Helper()
	_, rest, ok := strings.Cut(tok, ":")
	require.True(t, ok, "session token %q has no range id", tok)
	fields := strings.Split(rest, "#")
	var err error
	if len(fields) == 1 {
		lsn, err = strconv.ParseInt(fields[0], 10, 64)
		require.NoError(t, err, "token %q", tok)
		return -1, lsn
	}
	version, err = strconv.ParseInt(fields[0], 10, 64)
	require.NoError(t, err, "token %q", tok)
	lsn, err = strconv.ParseInt(fields[1], 10, 64)
	require.NoError(t, err, "token %q", tok)
	return version, lsn
}

// mergeTokens merges single-write session tokens of range 0 as a client's
// session container does: the higher version, and the higher global LSN.
// It is the test's own implementation, independent of the server's.
func mergeTokens(t testing.TB, toks ...string) string {
	t.Helper()
	best, bv, bl := "", int64(0), int64(0)
	for _, tok := range toks {
		if tok == "" {
			continue
		}
		v, l := tokenLSN(t, tok)
		if best == "" {
			best, bv, bl = tok, v, l
			continue
		}
		bv, bl = max(bv, v), max(bl, l)
		best = fmt.Sprintf("0:%d#%d", bv, bl)
	}
	return best
}

// regionList names every region of the cluster, the write region first.
func regionList(c *testcluster.Cluster) []string {
	out := []string{c.WriteRegion()}
	for _, r := range c.Topo.Regions {
		if r.Name != c.WriteRegion() {
			out = append(out, r.Name)
		}
	}
	return out
}

// syncAll writes a marker item that every other region must hold durably
// before the write returns: afterwards every region has acknowledged the
// whole log so far.
func syncAll(t testing.TB, c *testcluster.Cluster, id string) rawResp {
	t.Helper()
	others := slices.DeleteFunc(regionList(c), func(r string) bool { return r == c.WriteRegion() })
	r := upsertRaw(t, c, c.WriteRegion(), "sync", valDoc(id, "sync", 0), map[string]string{"x-meridian-sync-regions": strings.Join(others, ", ")})
	require.Contains(t, []int{200, 201}, r.Status, "sync write: %s", r)
	return r
}

// background runs a test's concurrent clients: Stop (also run at cleanup,
// before the cluster closes) ends them and waits for them.
type background struct {
	stop chan struct{}
	once sync.Once
	wg   sync.WaitGroup
}

func newBackground(t testing.TB) *background {
	b := &background{stop: make(chan struct{})}
	t.Cleanup(b.Stop)
	return b
}

// Go runs f until it returns; f should return once Stopped.
func (b *background) Go(f func()) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		f()
	}()
}

func (b *background) Stopped() bool {
	select {
	case <-b.stop:
		return true
	default:
		return false
	}
}

func (b *background) Stop() {
	b.once.Do(func() { close(b.stop) })
	b.wg.Wait()
}

// timedRead is a read that returned value v, invoked at inv, returning at
// ret.
type timedRead struct {
	v        int
	inv, ret time.Time
}

// nonMonotonic returns the first few pairs of reads where one finished
// before the other began and returned a larger value (values are assumed
// to grow over time: a monotonic-reads violation).
func nonMonotonic(reads []timedRead) []string {
	byRet := slices.Clone(reads)
	slices.SortFunc(byRet, func(a, b timedRead) int { return a.ret.Compare(b.ret) })
	prefMax := make([]int, len(byRet)) // index of the max value among byRet[:i+1]
	for i := range byRet {
		prefMax[i] = i
		if i > 0 && byRet[prefMax[i-1]].v >= byRet[i].v {
			prefMax[i] = prefMax[i-1]
		}
	}
	var bad []string
	for _, r := range reads {
		n, _ := slices.BinarySearchFunc(byRet, r.inv, func(a timedRead, t time.Time) int {
			if a.ret.Before(t) {
				return -1
			}
			return 1
		})
		if n == 0 {
			continue
		}
		if p := byRet[prefMax[n-1]]; p.v > r.v {
			bad = append(bad, fmt.Sprintf("a read returned %d at %s; a read invoked at %s returned %d",
				p.v, p.ret.Format("15:04:05.000000"), r.inv.Format("15:04:05.000000"), r.v))
			if len(bad) == 5 {
				break
			}
		}
	}
	return bad
}
