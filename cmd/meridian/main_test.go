package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meridiandb/meridian/internal/auth"
	"github.com/meridiandb/meridian/internal/topology"
)

// output is a concurrency-safe writer that tests wait on.
type output struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newOutput() *output { return &output{changed: make(chan struct{})} }

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n, err := o.buf.Write(p)
	close(o.changed)
	o.changed = make(chan struct{})
	return n, err
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// waitFor blocks until the output contains s, or run returned early.
func (o *output) waitFor(t *testing.T, s string, done <-chan error) string {
	t.Helper()
	for {
		o.mu.Lock()
		text, ch := o.buf.String(), o.changed
		o.mu.Unlock()
		if strings.Contains(text, s) {
			return text
		}
		select {
		case <-ch:
		case err := <-done:
			t.Fatalf("command returned (%v) before printing %q; output:\n%s", err, s, text)
		case <-t.Context().Done():
			t.Fatal("test ended while waiting")
		}
	}
}

// start runs the command in the background until the test's cleanup.
func start(t *testing.T, args ...string) (stdout *output, stop func() error, done <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := newOutput(), newOutput()
	ch := make(chan error, 1)
	go func() { ch <- run(ctx, args, stdout, stderr) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			err = <-ch
			if t.Failed() {
				t.Logf("%s stderr:\n%s", args[0], stderr.String())
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stdout, stop, ch
}

// cli runs a management command to completion.
func cli(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), args, &stdout, &stderr)
	return stdout.String() + stderr.String(), err
}

type account struct {
	Writable []struct{ Name string } `json:"writableLocations"`
	Readable []struct{ Name string } `json:"readableLocations"`
}

// rest sends a signed REST request and returns the status and body.
func rest(t *testing.T, method, url, resType, link string, body string, hdr map[string]string) (int, []byte) {
	t.Helper()
	var rd io.Reader = http.NoBody
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	require.NoError(t, err)
	date := time.Now().UTC().Format(http.TimeFormat)
	req.Header.Set("x-ms-date", date)
	req.Header.Set("x-ms-version", "2020-11-05")
	req.Header.Set("Authorization", auth.Sign(auth.MustDecodeKey(auth.EmulatorKey), method, resType, link, date))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

func names(locs []struct{ Name string }) []string {
	var out []string
	for _, l := range locs {
		out = append(out, l.Name)
	}
	return out
}

var endpointLine = regexp.MustCompile(`(?m)^  (\S.*?)\s+(http://\S+/)`)

func TestDevStartsThreeRegions(t *testing.T) {
	out, stop, done := start(t, "dev", "--base-port", "0", "--data", t.TempDir(), "--rtt-scale", "0.1", "--log-level", "error")
	text := out.waitFor(t, "Press Ctrl-C", done)
	require.Contains(t, text, "key   "+auth.EmulatorKey)
	m := endpointLine.FindAllStringSubmatch(text, -1)
	require.Len(t, m, 3, text)
	all := []string{"West US", "East US", "North Europe"}
	for i, sm := range m {
		require.Equal(t, all[i], sm[1])
		status, body := rest(t, "GET", sm[2], "", "", "", nil)
		require.Equal(t, http.StatusOK, status, string(body))
		var a account
		require.NoError(t, json.Unmarshal(body, &a))
		require.Equal(t, all, names(a.Readable), "account document of %s", sm[1])
		require.Equal(t, []string{"West US"}, names(a.Writable), "account document of %s", sm[1])
	}

	st, err := cli(t, "status", "--endpoint", m[1][2])
	require.NoError(t, err, st)
	for _, r := range all {
		require.Contains(t, st, r)
	}
	require.Regexp(t, `West US - North Europe\s+14ms`, st) // 140 ms scaled by 0.1

	require.NoError(t, stop(), "dev stops cleanly when its ctx ends")
}

func TestDevWithoutWAN(t *testing.T) {
	out, stop, done := start(t, "dev", "--base-port", "0", "--data", t.TempDir(), "--rtt", "0",
		"--regions", "Mars,Venus", "--write-region", "venus", "--log-level", "error")
	text := out.waitFor(t, "Press Ctrl-C", done)
	require.Contains(t, text, "WAN   off")
	m := endpointLine.FindAllStringSubmatch(text, -1)
	require.Len(t, m, 2, text)
	_, body := rest(t, "GET", m[0][2], "", "", "", nil)
	var a account
	require.NoError(t, json.Unmarshal(body, &a))
	require.Equal(t, []string{"Venus"}, names(a.Writable))

	msg, err := cli(t, "partition", "--endpoint", m[0][2], "--a", "Mars", "--b", "Venus")
	require.Error(t, err)
	require.Contains(t, msg, "without a simulated WAN")
	require.NoError(t, stop())
}

func TestDevFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"dev", "--rtt", "fast"},
		{"dev", "--write-region", "Mars", "--base-port", "0"},
		{"dev", "--consistency", "Sometimes"},
		{"serve", "--topology", "x.json"},                                          // no --region
		{"serve", "--topology", "x.json", "--region", "West US", "--listen", ":1"}, // endpoint is in the file
	} {
		_, err := cli(t, append(args, "--data", t.TempDir())...)
		require.Error(t, err, "%v", args)
	}
}

// freeAddrs returns n loopback addresses that were free a moment ago.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		lns = append(lns, ln)
		out = append(out, ln.Addr().String())
	}
	for _, ln := range lns {
		require.NoError(t, ln.Close())
	}
	return out
}

func TestServeTopologyReplicates(t *testing.T) {
	addrs := freeAddrs(t, 6)
	dir := t.TempDir()
	all := []string{"West US", "East US", "North Europe"}
	var regions []string
	for i, name := range all {
		regions = append(regions, fmt.Sprintf(`{"name":%q,"endpoint":%q,"peer":%q,"dataDir":%q}`,
			name, addrs[i], addrs[3+i], filepath.Join(dir, fmt.Sprint(i))))
	}
	topo := filepath.Join(dir, "topology.json")
	require.NoError(t, os.WriteFile(topo, []byte(`{"writeRegion":"West US","regions":[`+strings.Join(regions, ",")+
		`],"links":[{"a":"West US","b":"East US","rtt":"6ms"},{"a":"West US","b":"North Europe","rtt":"14ms"}]}`), 0o644))
	var outs []*output
	var dones []<-chan error
	for _, name := range all {
		out, _, done := start(t, "serve", "--topology", topo, "--region", strings.ToLower(name), "--log-level", "error")
		out.waitFor(t, "serving at", done)
		outs, dones = append(outs, out), append(dones, done)
	}
	for i := range outs {
		outs[i].waitFor(t, "ready: control plane up", dones[i])
	}
	url := func(i int, path string) string { return "http://" + addrs[i] + path }

	status, body := rest(t, "POST", url(0, "/dbs"), "dbs", "", `{"id":"db"}`, nil)
	require.Equal(t, http.StatusCreated, status, string(body))
	status, body = rest(t, "POST", url(0, "/dbs/db/colls"), "colls", "dbs/db", `{"id":"c","partitionKey":{"paths":["/pk"],"kind":"Hash"}}`, nil)
	require.Equal(t, http.StatusCreated, status, string(body))
	pk := map[string]string{"x-ms-documentdb-partitionkey": `["a"]`}
	status, body = rest(t, "POST", url(0, "/dbs/db/colls/c/docs"), "docs", "dbs/db/colls/c", `{"id":"x1","pk":"a"}`, pk)
	require.Equal(t, http.StatusCreated, status, string(body))
	for i := 1; i < 3; i++ {
		for {
			status, body = rest(t, "GET", url(i, "/dbs/db/colls/c/docs/x1"), "docs", "dbs/db/colls/c/docs/x1", "", pk)
			if status == http.StatusOK {
				break
			}
			select {
			case <-t.Context().Done():
				t.Fatalf("the write never reached %s: %d %s", all[i], status, body)
			case <-time.After(10 * time.Millisecond):
			}
		}
		require.Contains(t, string(body), `"id":"x1"`)
	}

	// The management commands reach every process.
	msg, err := cli(t, "partition", "--endpoint", url(1, "/"), "--a", "West US", "--b", "East US")
	require.NoError(t, err, msg)
	require.Contains(t, msg, "West US: West US - East US  rtt 6ms  jitter 0s  partitioned")
	require.Contains(t, msg, "East US: West US - East US  rtt 6ms  jitter 0s  partitioned")
	msg, err = cli(t, "region", "offline", "North Europe", "--endpoint", url(0, "/"))
	require.NoError(t, err, msg)
	status, _ = rest(t, "GET", url(2, "/"), "", "", "", nil)
	require.Equal(t, http.StatusServiceUnavailable, status)
	msg, err = cli(t, "status", "--endpoint", url(2, "/")) // learns the regions from an offline region
	require.NoError(t, err, msg)
	require.Regexp(t, `North Europe\s+read\s+offline`, msg)
	require.Regexp(t, `West US - East US\s+6ms\s+0s\s+partitioned`, msg)
	msg, err = cli(t, "heal", "--endpoint", url(0, "/"))
	require.NoError(t, err, msg)
	msg, err = cli(t, "region", "online", "North Europe", "--endpoint", url(0, "/"))
	require.NoError(t, err, msg)
	status, _ = rest(t, "GET", url(2, "/"), "", "", "", nil)
	require.Equal(t, http.StatusOK, status)
}

func TestSampleTopologyLoads(t *testing.T) {
	topo, err := topology.Load(filepath.Join("..", "..", "deploy", "topology-3regions.json"))
	require.NoError(t, err)
	require.Len(t, topo.Regions, 3)
	require.Equal(t, "West US", topo.WriteRegion)
	require.Len(t, topo.Links, 3)
}
