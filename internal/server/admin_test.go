package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meridiandb/meridian/internal/admin"
	"github.com/meridiandb/meridian/internal/auth"
	"github.com/meridiandb/meridian/internal/server"
	"github.com/meridiandb/meridian/internal/topology"
	"github.com/meridiandb/meridian/internal/wan"
)

const (
	west = "West US"
	east = "East US"
)

var readOnlyKey = base64.StdEncoding.EncodeToString([]byte("meridian server test read-only key"))

// twoRegions starts West US (write) and East US in this process, joined by
// one simulated WAN with perfect links, and returns their endpoints.
func twoRegions(t *testing.T) (n *wan.Network, endpoints map[string]string) {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	topo := &topology.Topology{WriteRegion: west}
	lns := map[string][2]net.Listener{}
	for i, name := range []string{west, east} {
		cl, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		pl, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		topo.Regions = append(topo.Regions, topology.Region{Name: name, ID: uint32(i + 1), Endpoint: cl.Addr().String(), Peer: pl.Addr().String()})
		lns[name] = [2]net.Listener{cl, pl}
	}
	topo.Defaults()
	require.NoError(t, topo.Validate())
	n = wan.NewNetwork(logger)
	endpoints = map[string]string{}
	var servers []*server.Server
	for _, r := range topo.Regions {
		s, err := server.New(server.Config{
			DataDir: t.TempDir(), Region: r.Name, Topology: topo, WAN: n, ReadOnlyKey: readOnlyKey,
			Listener: lns[r.Name][0], PeerListener: lns[r.Name][1], Logger: logger,
		})
		require.NoError(t, err)
		s.Start()
		servers = append(servers, s)
		endpoints[r.Name] = s.Endpoint()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, s := range servers {
		require.NoError(t, s.WaitReady(ctx))
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, s := range servers {
			require.NoError(t, s.Close(ctx))
		}
		n.Close()
	})
	return n, endpoints
}

// call sends a signed request (resource type "", link = path without the
// leading slash and unescaped) and decodes a 2xx JSON answer into out.
func call(t *testing.T, key, method, endpoint, link string, body any, out any) int {
	t.Helper()
	var rd io.Reader = http.NoBody
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	path := strings.ReplaceAll(link, " ", "%20")
	req, err := http.NewRequestWithContext(t.Context(), method, endpoint+path, rd)
	require.NoError(t, err)
	date := time.Now().UTC().Format(http.TimeFormat)
	req.Header.Set("x-ms-date", date)
	req.Header.Set("Authorization", auth.Sign(auth.MustDecodeKey(key), method, "", link, date))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if resp.StatusCode/100 == 2 && out != nil {
		require.NoError(t, json.Unmarshal(b, out), string(b))
	}
	return resp.StatusCode
}

func status(t *testing.T, endpoint string) admin.Status {
	t.Helper()
	var st admin.Status
	require.Equal(t, http.StatusOK, call(t, auth.EmulatorKey, "GET", endpoint, "_meridian/status", nil, &st))
	return st
}

// eventually polls cond until it holds (the test binary's timeout bounds it).
func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-t.Context().Done():
			t.Fatal("test ended while waiting")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func TestAdminNeedsMasterKey(t *testing.T) {
	_, ep := twoRegions(t)
	require.Equal(t, http.StatusForbidden, call(t, readOnlyKey, "GET", ep[west], "_meridian/status", nil, nil))
	require.Equal(t, http.StatusForbidden, call(t, readOnlyKey, "POST", ep[east], "_meridian/regions/East US/offline", nil, nil))
	require.Equal(t, http.StatusOK, call(t, readOnlyKey, "GET", ep[west], "", nil, nil), "the read-only key still reads the data plane")

	req, err := http.NewRequestWithContext(t.Context(), "GET", ep[west]+"_meridian/status", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

// withContainer creates database "db" and container "c" (/pk) with one
// item through the write region; in the status, partition 1 is "c" (0 is
// the catalog, which the control plane replicates).
func withContainer(t *testing.T, ep map[string]string) {
	t.Helper()
	require.Equal(t, http.StatusCreated, dataCall(t, "POST", ep[west], "dbs", "dbs", "", map[string]string{"id": "db"}))
	require.Equal(t, http.StatusCreated, dataCall(t, "POST", ep[west], "dbs/db/colls", "colls", "dbs/db",
		map[string]any{"id": "c", "partitionKey": map[string]any{"paths": []string{"/pk"}, "kind": "Hash"}}))
	eventually(t, func() bool {
		return len(status(t, ep[west]).Partitions) == 2 && len(status(t, ep[east]).Partitions) == 2
	})
}

func TestStatusReportsReplication(t *testing.T) {
	_, ep := twoRegions(t)
	withContainer(t, ep)
	eventually(t, func() bool {
		w := status(t, ep[west])
		p := w.Partitions[1]
		return len(p.Peers) == 1 && p.Peers[0].Acked == p.Applied && p.Peers[0].Connected
	})
	w := status(t, ep[west])
	require.Equal(t, admin.RoleWrite, w.Role)
	require.Equal(t, west, w.Region)
	require.True(t, w.WAN)
	peer := w.Partitions[1].Peers[0]
	require.Equal(t, east, peer.Region)
	require.Zero(t, peer.LagOps)
	require.Zero(t, peer.LagMs)
	require.True(t, peer.Reachable)

	e := status(t, ep[east])
	require.Equal(t, admin.RoleRead, e.Role)
	require.Equal(t, w.Partitions[0].Applied, e.Partitions[0].Applied, "the catalog is at the same position of the control log")
	require.Equal(t, w.Partitions[1].Applied, e.Partitions[1].Applied)
	require.NotNil(t, e.Partitions[1].Upstream)
	require.Equal(t, west, e.Partitions[1].Upstream.Region)
}

func TestOfflineRegionRefusesClientsButReplicates(t *testing.T) {
	_, ep := twoRegions(t)
	var rs admin.RegionState
	require.Equal(t, http.StatusBadRequest, call(t, auth.EmulatorKey, "POST", ep[west], "_meridian/regions/East US/offline", nil, nil),
		"only East US's own process switches it")
	require.Equal(t, http.StatusNotFound, call(t, auth.EmulatorKey, "POST", ep[east], "_meridian/regions/Mars/offline", nil, nil))
	require.Equal(t, http.StatusOK, call(t, auth.EmulatorKey, "POST", ep[east], "_meridian/regions/eastus/offline", nil, &rs))
	require.Equal(t, admin.RegionState{Region: east, Offline: true}, rs)

	require.Equal(t, http.StatusServiceUnavailable, dataCall(t, "GET", ep[east], "", "", "", nil))
	require.Equal(t, http.StatusServiceUnavailable, dataCall(t, "GET", ep[east], "dbs", "dbs", "", nil))
	require.True(t, status(t, ep[east]).Offline)

	// It keeps replicating.
	require.Equal(t, http.StatusCreated, dataCall(t, "POST", ep[west], "dbs", "dbs", "", map[string]string{"id": "db"}))
	head := status(t, ep[west]).Partitions[0].Applied
	eventually(t, func() bool { return status(t, ep[east]).Partitions[0].Applied >= head })

	require.Equal(t, http.StatusOK, call(t, auth.EmulatorKey, "POST", ep[east], "_meridian/regions/East US/online", nil, &rs))
	require.False(t, rs.Offline)
	require.Equal(t, http.StatusOK, dataCall(t, "GET", ep[east], "dbs/db", "dbs", "dbs/db", nil))
}

func TestLinkChangesDriveTheWAN(t *testing.T) {
	n, ep := twoRegions(t)
	withContainer(t, ep)
	var links admin.Links
	require.Equal(t, http.StatusOK, call(t, auth.EmulatorKey, "POST", ep[west], "_meridian/links",
		map[string]any{"a": "westus", "b": east, "rtt": "60ms", "jitter": "4ms", "partitioned": true}, &links))
	ab, ba := n.Links()[[2]string{west, east}], n.Links()[[2]string{east, west}]
	require.Equal(t, wan.LinkConfig{Delay: 30 * time.Millisecond, Jitter: 4 * time.Millisecond, Partitioned: true}, ab)
	require.Equal(t, wan.LinkConfig{Delay: 30 * time.Millisecond, Jitter: 4 * time.Millisecond, Partitioned: true}, ba)
	require.Equal(t, []admin.Link{{A: west, B: east, RTT: topology.Duration(60 * time.Millisecond),
		Jitter: topology.Duration(4 * time.Millisecond), Partitioned: true}}, links.Links)
	require.False(t, status(t, ep[west]).Partitions[1].Peers[0].Reachable)

	// Leaving fields out keeps them.
	require.Equal(t, http.StatusOK, call(t, auth.EmulatorKey, "POST", ep[east], "_meridian/links",
		map[string]any{"a": west, "b": east, "rtt": "10ms"}, nil))
	require.Equal(t, wan.LinkConfig{Delay: 5 * time.Millisecond, Jitter: 4 * time.Millisecond, Partitioned: true}, n.Links()[[2]string{west, east}])

	require.Equal(t, http.StatusOK, call(t, auth.EmulatorKey, "POST", ep[west], "_meridian/heal", nil, &links))
	require.False(t, n.Link(west, east).Partitioned)
	require.False(t, n.Link(east, west).Partitioned)
	require.Equal(t, 5*time.Millisecond, n.Link(west, east).Delay)

	require.Equal(t, http.StatusNotFound, call(t, auth.EmulatorKey, "POST", ep[west], "_meridian/links",
		map[string]any{"a": west, "b": "Mars", "partitioned": true}, nil))
	require.Equal(t, http.StatusBadRequest, call(t, auth.EmulatorKey, "POST", ep[west], "_meridian/links",
		map[string]any{"a": west, "b": "West US", "partitioned": true}, nil))
}

func TestLinksWithoutWAN(t *testing.T) {
	s, err := server.New(server.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	s.Start()
	t.Cleanup(func() { require.NoError(t, s.Close(context.Background())) })
	require.Equal(t, http.StatusBadRequest, call(t, auth.EmulatorKey, "POST", s.Endpoint(), "_meridian/links",
		map[string]any{"a": west, "b": east, "rtt": "1ms"}, nil))
	require.Equal(t, http.StatusOK, call(t, auth.EmulatorKey, "POST", s.Endpoint(), "_meridian/heal", nil, nil))
	st := status(t, s.Endpoint())
	require.False(t, st.WAN)
	require.Equal(t, admin.RoleWrite, st.Role)
	require.Len(t, st.Regions, 1)
}

// dataCall sends a signed data-plane request and returns the status.
func dataCall(t *testing.T, method, endpoint, path, resType, link string, body any) int {
	t.Helper()
	var rd io.Reader = http.NoBody
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, endpoint+path, rd)
	require.NoError(t, err)
	date := time.Now().UTC().Format(http.TimeFormat)
	req.Header.Set("x-ms-date", date)
	req.Header.Set("x-ms-version", "2020-11-05")
	req.Header.Set("Authorization", auth.Sign(auth.MustDecodeKey(auth.EmulatorKey), method, resType, link, date))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func TestLagWhilePartitioned(t *testing.T) {
	n, ep := twoRegions(t)
	withContainer(t, ep)
	n.Partition(west, east)
	// Item writes go on in the write region (automatic failover is off);
	// catalog changes would need the control plane's majority.
	require.Equal(t, http.StatusCreated, dataCall(t, "POST", ep[west], "dbs/db/colls/c/docs", "docs", "dbs/db/colls/c", map[string]string{"id": "a", "pk": "p"}))
	peer := status(t, ep[west]).Partitions[1].Peers[0]
	require.Equal(t, int64(1), peer.LagOps)
	require.GreaterOrEqual(t, peer.LagMs, int64(0))
	require.False(t, peer.Reachable)
	require.False(t, status(t, ep[east]).Partitions[1].Upstream.Reachable)

	require.Equal(t, http.StatusOK, call(t, auth.EmulatorKey, "POST", ep[east], "_meridian/heal", nil, nil))
	eventually(t, func() bool { return status(t, ep[west]).Partitions[1].Peers[0].LagOps == 0 })
	require.Zero(t, status(t, ep[west]).Partitions[1].Peers[0].LagMs)
}

func TestOneWayPartition(t *testing.T) {
	n, ep := twoRegions(t)
	require.Equal(t, http.StatusOK, call(t, auth.EmulatorKey, "POST", ep[west], "_meridian/links",
		map[string]any{"a": west, "b": east, "partitioned": true, "oneWay": true}, nil))
	require.True(t, n.Link(west, east).Partitioned, "a→b held")
	require.False(t, n.Link(east, west).Partitioned, "b→a still flows")
	require.Equal(t, http.StatusOK, call(t, auth.EmulatorKey, "POST", ep[west], "_meridian/links",
		map[string]any{"a": west, "b": east, "partitioned": false, "oneWay": true}, nil))
	require.False(t, n.Link(west, east).Partitioned)
}

// TestControlPlaneMetrics: a multi-region region exports its Raft node's
// state and the account epoch at /metrics.
func TestControlPlaneMetrics(t *testing.T) {
	_, ep := twoRegions(t)
	resp, err := http.Get(ep[west] + "metrics")
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	text := string(b)
	for _, want := range []string{
		`meridian_raft_is_leader{region="West US"}`,
		`meridian_raft_term{region="West US"}`,
		`meridian_control_epoch{region="West US"} 1`,
		`meridian_failovers{kind="Automatic",region="West US"} 0`,
	} {
		require.Contains(t, text, want)
	}
}
