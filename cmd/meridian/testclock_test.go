package main

import (
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestServeTestClockOffset checks that --test-clock-offset is hidden from
// `serve -h`, and that it moves the region's clock: an item's _ts is
// stamped from it.
func TestServeTestClockOffset(t *testing.T) {
	help, err := cli(t, "serve", "-h")
	require.True(t, errors.Is(err, flag.ErrHelp), "serve -h: %v", err)
	require.Contains(t, help, "-topology")
	require.NotContains(t, help, "test-clock-offset")
	require.NotContains(t, help, "TEST ONLY")

	_, err = cli(t, "serve", "--test-clock-offset", "soon")
	require.Error(t, err)

	addr := freeAddrs(t, 1)[0]
	out, _, done := start(t, "serve", "--listen", addr, "--data", filepath.Join(t.TempDir(), "d"), "--log-level", "error",
		"--test-clock-offset", "-2h")
	out.waitFor(t, "serving at", done)
	url := "http://" + addr
	status, body := rest(t, "POST", url+"/dbs", "dbs", "", `{"id":"db"}`, nil)
	require.Equal(t, http.StatusCreated, status, string(body))
	status, body = rest(t, "POST", url+"/dbs/db/colls", "colls", "dbs/db", `{"id":"c","partitionKey":{"paths":["/pk"],"kind":"Hash"}}`, nil)
	require.Equal(t, http.StatusCreated, status, string(body))
	status, body = rest(t, "POST", url+"/dbs/db/colls/c/docs", "docs", "dbs/db/colls/c", `{"id":"x","pk":"a"}`,
		map[string]string{"x-ms-documentdb-partitionkey": `["a"]`})
	require.Equal(t, http.StatusCreated, status, string(body))
	var item struct {
		TS int64 `json:"_ts"`
	}
	require.NoError(t, json.Unmarshal(body, &item))
	skew := time.Since(time.Unix(item.TS, 0))
	require.InDelta(t, (2 * time.Hour).Seconds(), skew.Seconds(), 60, "_ts %d is %s behind the real clock, want about 2h", item.TS, skew)
}
