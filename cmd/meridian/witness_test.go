package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestWitnessTwoRegionFailover: a two-region account with a witness keeps a
// control-plane majority when its write region goes away, so East US takes
// over; the witness stores no data. Then a planned failover back to West US
// (through `meridian failover`) loses nothing.
func TestWitnessTwoRegionFailover(t *testing.T) {
	addrs := freeAddrs(t, 5)
	dir := t.TempDir()
	topo := filepath.Join(dir, "topology.json")
	require.NoError(t, os.WriteFile(topo, fmt.Appendf(nil, `{"writeRegion":"West US","regions":[
		{"name":"West US","endpoint":%q,"peer":%q,"dataDir":%q},
		{"name":"East US","endpoint":%q,"peer":%q,"dataDir":%q}],
		"witness":{"name":"witness","peer":%q}}`,
		addrs[0], addrs[1], filepath.Join(dir, "w"), addrs[2], addrs[3], filepath.Join(dir, "e"), addrs[4]), 0o644))
	wout, _, wdone := start(t, "witness", "--topology", topo, "--data", filepath.Join(dir, "witness"))
	wout.waitFor(t, "voting at", wdone)
	west, stopWest, westDone := start(t, "serve", "--topology", topo, "--region", "West US", "--log-level", "error", "--failover-timeout", "1s")
	east, _, eastDone := start(t, "serve", "--topology", topo, "--region", "East US", "--log-level", "error", "--failover-timeout", "1s")
	west.waitFor(t, "ready: control plane up", westDone)
	east.waitFor(t, "ready: control plane up", eastDone)
	url := func(i int, path string) string { return "http://" + addrs[i] + path }

	status, body := rest(t, "POST", url(0, "/dbs"), "dbs", "", `{"id":"db"}`, nil)
	require.Equal(t, http.StatusCreated, status, string(body))
	status, body = rest(t, "POST", url(0, "/dbs/db/colls"), "colls", "dbs/db", `{"id":"c","partitionKey":{"paths":["/pk"],"kind":"Hash"}}`, nil)
	require.Equal(t, http.StatusCreated, status, string(body))
	hdr := map[string]string{"x-ms-documentdb-partitionkey": `["p"]`, "x-meridian-sync-regions": "East US"}
	for i := range 10 {
		status, body = rest(t, "POST", url(0, "/dbs/db/colls/c/docs"), "docs", "dbs/db/colls/c", fmt.Sprintf(`{"id":"a%d","pk":"p"}`, i), hdr)
		require.Equal(t, http.StatusCreated, status, string(body))
	}

	// West goes away; East and the witness are a majority and fail over.
	require.NoError(t, stopWest())
	deadline := time.Now().Add(20 * time.Second)
	for {
		status, body = rest(t, "POST", url(2, "/dbs/db/colls/c/docs"), "docs", "dbs/db/colls/c", `{"id":"b0","pk":"p"}`,
			map[string]string{"x-ms-documentdb-partitionkey": `["p"]`})
		if status == http.StatusCreated {
			break
		}
		require.True(t, time.Now().Before(deadline), "East US never took over: %d %s", status, body)
		time.Sleep(50 * time.Millisecond)
	}
	for i := range 10 {
		status, body = rest(t, "GET", url(2, fmt.Sprintf("/dbs/db/colls/c/docs/a%d", i)), "docs", fmt.Sprintf("dbs/db/colls/c/docs/a%d", i), "",
			map[string]string{"x-ms-documentdb-partitionkey": `["p"]`})
		require.Equal(t, http.StatusOK, status, "synced write a%d lost: %s", i, body)
	}

	// West returns as a read region; a planned failover moves the write
	// region back.
	west, _, westDone = start(t, "serve", "--topology", topo, "--region", "West US", "--log-level", "error", "--failover-timeout", "1s")
	west.waitFor(t, "ready: control plane up", westDone)
	deadline = time.Now().Add(20 * time.Second)
	for {
		out, err := cli(t, "failover", "--write-region", "West US", "--endpoint", url(2, "/"))
		if err == nil {
			require.Contains(t, out, "write region is now West US")
			break
		}
		require.True(t, time.Now().Before(deadline), "planned failover back never succeeded: %v %s", err, out)
		time.Sleep(200 * time.Millisecond)
	}
	var st struct {
		Role  string `json:"role"`
		Epoch int64  `json:"epoch"`
	}
	deadline = time.Now().Add(5 * time.Second)
	for {
		status, body = rest(t, "GET", url(0, "/_meridian/status"), "", "_meridian/status", "", nil)
		require.Equal(t, http.StatusOK, status, string(body))
		require.NoError(t, json.Unmarshal(body, &st))
		if st.Role == "write" {
			break
		}
		require.True(t, time.Now().Before(deadline), "West US never took the write role back: %s", body)
		time.Sleep(20 * time.Millisecond)
	}
	require.Equal(t, int64(3), st.Epoch, "two failovers: epoch 1 → 3")
	status, body = rest(t, "GET", url(0, "/dbs/db/colls/c/docs/b0"), "docs", "dbs/db/colls/c/docs/b0", "",
		map[string]string{"x-ms-documentdb-partitionkey": `["p"]`})
	require.Equal(t, http.StatusOK, status, "the write made in East US must survive the failover back: %s", body)
}
