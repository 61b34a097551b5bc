package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meridiandb/meridian/internal/auth"
	"github.com/meridiandb/meridian/internal/metrics"
	"github.com/meridiandb/meridian/internal/server"
)

// oneRegion starts a one-region server on 127.0.0.1:0.
func oneRegion(t *testing.T, mod func(*server.Config)) *server.Server {
	t.Helper()
	cfg := server.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler),
		SessionWait: 50 * time.Millisecond, ReadOnlyKey: readOnlyKey}
	if mod != nil {
		mod(&cfg)
	}
	s, err := server.New(cfg)
	require.NoError(t, err)
	s.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, s.Close(ctx))
	})
	return s
}

// dataReq sends a master-key-signed data-plane request and returns the
// status and the response headers.
func dataReq(t *testing.T, endpoint, method, path, resType, link, body string, hdr map[string]string) (int, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, endpoint+path, strings.NewReader(body))
	require.NoError(t, err)
	date := time.Now().UTC().Format(http.TimeFormat)
	req.Header.Set("x-ms-date", date)
	req.Header.Set("x-ms-version", "2020-11-05")
	req.Header.Set("Authorization", auth.Sign(auth.MustDecodeKey(auth.EmulatorKey), method, resType, link, date))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}

// scrape GETs /metrics with optional extra headers.
func scrape(t *testing.T, endpoint string, hdr map[string]string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", endpoint+"metrics", nil)
	require.NoError(t, err)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b), resp.Header
}

func requireSeries(t *testing.T, text string, want ...string) {
	t.Helper()
	for _, w := range want {
		require.Contains(t, text, w, "the exposition lacks a series")
	}
}

const shopDocs = "dbs/shop/colls/orders/docs"

func setupShop(t *testing.T, endpoint string) {
	t.Helper()
	code, _ := dataReq(t, endpoint, "POST", "dbs", "dbs", "", `{"id":"shop"}`, nil)
	require.Equal(t, http.StatusCreated, code)
	code, _ = dataReq(t, endpoint, "POST", "dbs/shop/colls", "colls", "dbs/shop", `{"id":"orders","partitionKey":{"paths":["/pk"],"kind":"Hash"}}`, nil)
	require.Equal(t, http.StatusCreated, code)
}

func pk(p string) map[string]string {
	return map[string]string{"x-ms-documentdb-partitionkey": `["` + p + `"]`}
}

func TestMetricsAfterTraffic(t *testing.T) {
	s := oneRegion(t, nil)
	ep := s.Endpoint()
	setupShop(t, ep)
	var token string
	for i := range 3 {
		code, h := dataReq(t, ep, "POST", shopDocs, "docs", "dbs/shop/colls/orders", fmt.Sprintf(`{"id":"o%d","pk":"a"}`, i), pk("a"))
		require.Equal(t, http.StatusCreated, code)
		token = h.Get("x-ms-session-token")
	}
	up := pk("a")
	up["x-ms-documentdb-is-upsert"] = "true"
	code, _ := dataReq(t, ep, "POST", shopDocs, "docs", "dbs/shop/colls/orders", `{"id":"o0","pk":"a","n":1}`, up)
	require.Equal(t, http.StatusOK, code)
	ev := pk("a")
	ev["x-ms-consistency-level"] = "Eventual"
	code, _ = dataReq(t, ep, "GET", shopDocs+"/o1", "docs", shopDocs+"/o1", "", ev)
	require.Equal(t, http.StatusOK, code)
	code, _ = dataReq(t, ep, "DELETE", shopDocs+"/o2", "docs", shopDocs+"/o2", "", pk("a"))
	require.Equal(t, http.StatusNoContent, code)
	// A session token the region has not reached: held SessionWait, then 404/1002.
	i := strings.LastIndex(token, "#")
	lsn, err := strconv.ParseInt(token[i+1:], 10, 64)
	require.NoError(t, err)
	ahead := pk("a")
	ahead["x-ms-session-token"] = token[:i+1] + strconv.FormatInt(lsn+1000, 10)
	code, h := dataReq(t, ep, "GET", shopDocs+"/o1", "docs", shopDocs+"/o1", "", ahead)
	require.Equal(t, http.StatusNotFound, code)
	require.Equal(t, "1002", h.Get("x-ms-substatus"))

	code, text, hdr := scrape(t, ep, nil)
	require.Equal(t, http.StatusOK, code, text)
	require.True(t, strings.HasPrefix(hdr.Get("Content-Type"), "text/plain"), hdr.Get("Content-Type"))
	requireSeries(t, text,
		`meridian_requests_total{consistency="Session",op="create",region="West US",status="201"} 3`,
		`meridian_requests_total{consistency="Session",op="upsert",region="West US",status="200"} 1`,
		`meridian_requests_total{consistency="Eventual",op="read",region="West US",status="200"} 1`,
		`meridian_requests_total{consistency="Session",op="delete",region="West US",status="204"} 1`,
		`meridian_requests_total{consistency="Session",op="metadata",region="West US",status="201"} 2`,
		`meridian_request_duration_seconds_bucket{consistency="Session",op="create",region="West US",status="201",le="10"} 3`,
		`meridian_session_not_available_total{region="West US"} 1`,
		`meridian_session_reads_total{op="read",outcome="not_available",region="West US"} 1`,
		`meridian_session_read_wait_seconds_count{region="West US"} 1`,
		`meridian_throttled_requests_total{op="create",region="West US"} 0`,
		`meridian_region_info{region="West US",role="write",write_region="West US"} 1`,
		`meridian_region_offline{region="West US"} 0`,
		`meridian_applied_lsn{partition="shop/orders",region="West US"} 5`,
		`meridian_applied_lsn{partition="catalog",region="West US"} `,
		`meridian_storage_wal_bytes{region="West US"} `,
		`meridian_storage_disk_bytes{region="West US"} `,
		`meridian_storage_memtable_bytes{region="West US"} `,
		`meridian_storage_compactions_total{region="West US"} `,
		"go_goroutines ",
	)
	// Scrapes are not requests of the REST API.
	_, again, _ := scrape(t, ep, nil)
	require.NotRegexp(t, `meridian_requests_total\{[^}]*op="other"`, again)

	// The Raft placeholder appears once the control plane reports.
	require.NotContains(t, text, metrics.NameRaftTerm)
	s.Metrics().SetRaftState(metrics.RaftState{Leader: "West US", IsLeader: true, Term: 3})
	_, text, _ = scrape(t, ep, nil)
	requireSeries(t, text, `meridian_raft_is_leader{region="West US"} 1`, `meridian_raft_term{region="West US"} 3`)
}

func TestMetricsOfflineAndConsole(t *testing.T) {
	s := oneRegion(t, nil)
	ep := s.Endpoint()
	require.Equal(t, http.StatusOK, call(t, auth.EmulatorKey, "POST", ep, "_meridian/regions/West US/offline", nil, nil))
	// The region refuses clients, but /metrics and the console stay up.
	code, _ := dataReq(t, ep, "GET", "dbs", "dbs", "", "", nil)
	require.Equal(t, http.StatusServiceUnavailable, code)
	code, text, _ := scrape(t, ep, nil)
	require.Equal(t, http.StatusOK, code)
	requireSeries(t, text, `meridian_region_offline{region="West US"} 1`,
		`meridian_requests_total{consistency="Session",op="metadata",region="West US",status="503"} 1`,
		`meridian_requests_total{consistency="Session",op="admin",region="West US",status="200"} 1`)

	resp, err := http.Get(ep + "_meridian/console")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	require.Contains(t, string(body), "Meridian")

	// The console of another region of the account may call this one.
	origin := strings.TrimSuffix(ep, "/")
	req, err := http.NewRequest(http.MethodOptions, ep+"_meridian/status", nil)
	require.NoError(t, err)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", "GET")
	req.Header.Set("Access-Control-Request-Headers", "authorization,x-ms-date")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	require.Equal(t, origin, resp.Header.Get("Access-Control-Allow-Origin"))
	req.Header.Set("Origin", "http://evil.example")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"))
}

func TestMetricsAuth(t *testing.T) {
	s := oneRegion(t, func(c *server.Config) { c.MetricsAuth = true })
	ep := s.Endpoint()
	signed := func(key string) map[string]string {
		date := time.Now().UTC().Format(http.TimeFormat)
		return map[string]string{"x-ms-date": date, "Authorization": auth.Sign(auth.MustDecodeKey(key), "GET", "", "metrics", date)}
	}
	for _, tc := range []struct {
		name string
		hdr  map[string]string
		want int
	}{
		{"none", nil, http.StatusUnauthorized},
		{"bearer master", map[string]string{"Authorization": "Bearer " + auth.EmulatorKey}, http.StatusOK},
		{"bearer read-only", map[string]string{"Authorization": "Bearer " + readOnlyKey}, http.StatusOK},
		{"bearer wrong", map[string]string{"Authorization": "Bearer " + readOnlyKey + "x"}, http.StatusUnauthorized},
		{"signed master", signed(auth.EmulatorKey), http.StatusOK},
		{"signed read-only", signed(readOnlyKey), http.StatusOK},
		{"signed other link", func() map[string]string {
			date := time.Now().UTC().Format(http.TimeFormat)
			return map[string]string{"x-ms-date": date, "Authorization": auth.Sign(auth.MustDecodeKey(auth.EmulatorKey), "GET", "", "_meridian/status", date)}
		}(), http.StatusUnauthorized},
	} {
		code, text, _ := scrape(t, ep, tc.hdr)
		require.Equal(t, tc.want, code, "%s: %s", tc.name, text)
		if code == http.StatusOK {
			require.Contains(t, text, "meridian_region_info")
		}
	}
}

func TestMetricsReplicationSeries(t *testing.T) {
	n, eps := twoRegions(t)
	setupShop(t, eps[west])
	for i := range 5 {
		code, _ := dataReq(t, eps[west], "POST", shopDocs, "docs", "dbs/shop/colls/orders", fmt.Sprintf(`{"id":"o%d","pk":"a"}`, i), pk("a"))
		require.Equal(t, http.StatusCreated, code)
	}
	eventually(t, func() bool {
		_, text, _ := scrape(t, eps[west], nil)
		return strings.Contains(text, `meridian_peer_acked_lsn{partition="shop/orders",peer="East US",region="West US"} 5`)
	})
	_, text, _ := scrape(t, eps[west], nil)
	requireSeries(t, text,
		`meridian_replication_lag_operations{partition="shop/orders",peer="East US",region="West US"} 0`,
		`meridian_replication_lag_seconds{partition="shop/orders",peer="East US",region="West US"} 0`,
		`meridian_replication_connected{partition="shop/orders",peer="East US",region="West US"} 1`,
		`meridian_replication_reachable{peer="East US",region="West US"} 1`,
		`meridian_wan_link_rtt_seconds{a="West US",b="East US",region="West US"} 0`,
		`meridian_wan_link_partitioned{a="West US",b="East US",region="West US"} 0`,
	)
	_, text, _ = scrape(t, eps[east], nil)
	requireSeries(t, text,
		`meridian_region_info{region="East US",role="read",write_region="West US"} 1`,
		`meridian_applied_lsn{partition="shop/orders",region="East US"} 5`,
		`meridian_upstream_head_lsn{partition="shop/orders",peer="West US",region="East US"} 5`,
		`meridian_committed_lsn{partition="shop/orders",region="East US"} `,
		`meridian_replication_behind_operations{partition="shop/orders",peer="West US",region="East US"} 0`,
		`meridian_replication_heard_ago_seconds{partition="shop/orders",peer="West US",region="East US"} `,
	)

	// Partitioned: writes pile up as lag in operations and seconds.
	n.Partition(west, east)
	for i := range 3 {
		code, _ := dataReq(t, eps[west], "POST", shopDocs, "docs", "dbs/shop/colls/orders", fmt.Sprintf(`{"id":"p%d","pk":"a"}`, i), pk("a"))
		require.Equal(t, http.StatusCreated, code)
	}
	time.Sleep(20 * time.Millisecond)
	_, text, _ = scrape(t, eps[west], nil)
	requireSeries(t, text,
		`meridian_replication_lag_operations{partition="shop/orders",peer="East US",region="West US"} 3`,
		`meridian_replication_reachable{peer="East US",region="West US"} 0`,
		`meridian_wan_link_partitioned{a="West US",b="East US",region="West US"} 1`,
	)
	require.NotContains(t, text, `meridian_replication_lag_seconds{partition="shop/orders",peer="East US",region="West US"} 0`+"\n")
}
