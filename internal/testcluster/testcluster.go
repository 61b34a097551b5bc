// Package testcluster starts a whole multi-region account in one process,
// for tests: one server per region, each with its own storage, all
// inter-region links through a simulated WAN (internal/wan) that tests can
// slow down, partition and heal, and regions that can be stopped and
// restarted on their data.
package testcluster

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/meridiandb/meridian/internal/auth"
	"github.com/meridiandb/meridian/internal/region"
	"github.com/meridiandb/meridian/internal/server"
	"github.com/meridiandb/meridian/internal/topology"
	"github.com/meridiandb/meridian/internal/wan"
)

// Options configure a cluster. Zero values give the dev layout (West US
// writes, East US, North Europe) with its round trips scaled by RTTScale.
type Options struct {
	// Topology overrides the layout (endpoints and peers are replaced).
	Topology *topology.Topology
	// Consistency overrides the default level.
	Consistency string
	// K and T override bounded staleness.
	K, T int64
	// RTTScale multiplies the layout's round trips (0: 1; use e.g. 0.25 to
	// speed tests up, or -1 to turn the WAN delays off).
	RTTScale    float64
	SessionWait time.Duration
	SyncTimeout time.Duration
	// LogRetention bounds each partition's log (small values force
	// snapshot catch-up).
	LogRetention int64
	// Logger receives every region's logs (default: discarded unless
	// MERIDIAN_TEST_LOG is set).
	Logger *slog.Logger
	// Control tunes failover (detection timeout, write lease). Unlike the
	// server, a test cluster has automatic failover OFF unless
	// Control.DetectTimeout is set (> 0), so that tests that cut the write
	// region off do not fail over by surprise.
	Control region.ControlConfig
	// RaftHeartbeat is the control plane's heartbeat timeout (default 1 s).
	RaftHeartbeat time.Duration
	// MultiWrite makes every region a write region.
	MultiWrite bool
	// FS runs a region's storage on this filesystem (e.g. Pebble's crash
	// FS for power-loss tests), by region name; RestartOn replaces it.
	FS map[string]vfs.FS
	// ClockOffset skews a region's wall clock (_ts, HLC, TTL), by region
	// name: the test-only clock skew of the verification plan (F11).
	ClockOffset map[string]time.Duration
}

// Cluster is a running in-process account.
type Cluster struct {
	t    testing.TB
	opts Options
	Net  *wan.Network
	Topo *topology.Topology

	mu      sync.Mutex
	servers map[string]*server.Server
	dirs    map[string]string
}

// Start starts every region and waits until each answers.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	topo := opts.Topology
	if topo == nil {
		topo = topology.Dev(0, "127.0.0.1")
	}
	cp := *topo
	cp.Regions = append([]topology.Region(nil), topo.Regions...)
	topo = &cp
	if opts.Consistency != "" {
		topo.Consistency = opts.Consistency
	}
	if opts.K != 0 {
		topo.MaxStalenessPrefix = opts.K
	}
	if opts.MultiWrite {
		topo.MultiWrite = true
	}
	if opts.T != 0 {
		topo.MaxIntervalSeconds = opts.T
	}
	if opts.Control.DetectTimeout == 0 {
		opts.Control.DetectTimeout = -1
	}
	if opts.Logger == nil {
		if os.Getenv("MERIDIAN_TEST_LOG") != "" {
			opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		} else {
			opts.Logger = slog.New(slog.DiscardHandler)
		}
	}
	c := &Cluster{t: t, opts: opts, Net: wan.NewNetwork(opts.Logger), Topo: topo, servers: map[string]*server.Server{}, dirs: map[string]string{}}
	// Bind every listener first so the topology carries real addresses.
	lns := map[string][2]net.Listener{}
	for i := range topo.Regions {
		cl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		pl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		topo.Regions[i].Endpoint, topo.Regions[i].Peer = cl.Addr().String(), pl.Addr().String()
		lns[topo.Regions[i].Name] = [2]net.Listener{cl, pl}
	}
	scale := opts.RTTScale
	if scale == 0 {
		scale = 1
	}
	if scale > 0 {
		for _, l := range topo.Links {
			c.Net.SetRTT(l.A, l.B, time.Duration(float64(l.RTT)*scale))
		}
	}
	if err := topo.Validate(); err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	for _, r := range topo.Regions {
		c.dirs[r.Name] = filepath.Join(base, topology.Canonical(r.Name))
		l := lns[r.Name]
		c.start(r.Name, l[0], l[1])
	}
	t.Cleanup(c.Close)
	c.WaitReady()
	return c
}

// WaitReady waits until every running region can serve its role: the
// control plane has a leader and the write region holds its lease.
func (c *Cluster) WaitReady() {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c.mu.Lock()
	servers := make([]*server.Server, 0, len(c.servers))
	for _, s := range c.servers {
		servers = append(servers, s)
	}
	c.mu.Unlock()
	for _, s := range servers {
		if err := s.WaitReady(ctx); err != nil {
			c.t.Fatalf("cluster not ready: %v", err)
		}
	}
}

func (c *Cluster) start(region string, cl, pl net.Listener) {
	c.t.Helper()
	self := region
	var clock func() time.Time
	if d := c.opts.ClockOffset[region]; d != 0 {
		clock = func() time.Time { return time.Now().Add(d) }
	}
	c.mu.Lock()
	fs := c.opts.FS[region]
	c.mu.Unlock()
	s, err := server.New(server.Config{
		Clock: clock, FS: fs,
		DataDir: c.dirs[region], Region: region, Topology: c.Topo, Listener: cl, PeerListener: pl,
		Logger: c.opts.Logger.With("test-region", region), SessionWait: c.opts.SessionWait, SyncTimeout: c.opts.SyncTimeout,
		PurgeInterval: 50 * time.Millisecond, WAN: c.Net, LogRetention: c.opts.LogRetention,
		Control: c.opts.Control, RaftHeartbeat: c.opts.RaftHeartbeat,
		Dial: func(ctx context.Context, peer, addr string) (net.Conn, error) {
			return c.Net.Dial(ctx, self, peer, addr)
		},
	})
	if err != nil {
		c.t.Fatalf("start region %s: %v", region, err)
	}
	s.Start()
	c.mu.Lock()
	c.servers[region] = s
	c.mu.Unlock()
}

// Stop shuts a region down (its data stays).
func (c *Cluster) Stop(region string) {
	c.mu.Lock()
	s := c.servers[region]
	delete(c.servers, region)
	c.mu.Unlock()
	if s != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Close(ctx)
	}
}

// Kill crashes a region: no grace for requests in flight, no Raft
// leadership hand-over, nothing flushed that was not already synced (every
// acknowledged write was). Its data stays for Restart.
func (c *Cluster) Kill(region string) {
	c.mu.Lock()
	s := c.servers[region]
	delete(c.servers, region)
	c.mu.Unlock()
	if s != nil {
		_ = s.Kill()
	}
}

// Restart starts a stopped region again on its data and addresses.
func (c *Cluster) Restart(region string) {
	c.t.Helper()
	r, ok := c.Topo.Region(region)
	if !ok {
		c.t.Fatalf("no region %s", region)
	}
	var cl, pl net.Listener
	var err error
	deadline := time.Now().Add(5 * time.Second)
	for {
		if cl, err = net.Listen("tcp", r.Endpoint); err == nil {
			if pl, err = net.Listen("tcp", r.Peer); err == nil {
				break
			}
			_ = cl.Close()
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("restart %s: %v", region, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.start(region, cl, pl)
}

// RestartOn starts a stopped region again on fs (the clone of a crash
// filesystem after a simulated power loss) at its addresses.
func (c *Cluster) RestartOn(region string, fs vfs.FS) {
	c.t.Helper()
	c.mu.Lock()
	if c.opts.FS == nil {
		c.opts.FS = map[string]vfs.FS{}
	}
	c.opts.FS[region] = fs
	c.mu.Unlock()
	c.Restart(region)
}

// Close stops every region and the WAN.
func (c *Cluster) Close() {
	c.mu.Lock()
	names := make([]string, 0, len(c.servers))
	for n := range c.servers {
		names = append(names, n)
	}
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Add(1)
		go func() { defer wg.Done(); c.Stop(n) }()
	}
	wg.Wait()
	c.Net.Close()
}

// Endpoint is a region's client URL.
func (c *Cluster) Endpoint(region string) string {
	r, ok := c.Topo.Region(region)
	if !ok {
		c.t.Fatalf("no region %s", region)
	}
	return "http://" + r.Endpoint + "/"
}

// Server returns a running region's server (nil if stopped).
func (c *Cluster) Server(region string) *server.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, _ := c.Topo.Region(region)
	return c.servers[r.Name]
}

// WriteRegion is the write region's name.
func (c *Cluster) WriteRegion() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.Topo.Regions {
		if s := c.servers[r.Name]; s != nil {
			if w := s.Region().WriteRegion(); w != "" {
				return w
			}
		}
	}
	return c.Topo.WriteRegion
}

// Client returns an azcosmos client that prefers the given regions (and
// bootstraps through the first of them).
func (c *Cluster) Client(preferred ...string) *azcosmos.Client {
	c.t.Helper()
	cred, err := azcosmos.NewKeyCredential(auth.EmulatorKey)
	if err != nil {
		c.t.Fatal(err)
	}
	endpoint := c.Endpoint(c.Topo.WriteRegion)
	if len(preferred) > 0 {
		endpoint = c.Endpoint(preferred[0])
	}
	cl, err := azcosmos.NewClientWithKey(endpoint, cred, &azcosmos.ClientOptions{
		PreferredRegions: preferred,
		ClientOptions:    policy.ClientOptions{Retry: policy.RetryOptions{MaxRetries: 2}},
	})
	if err != nil {
		c.t.Fatal(err)
	}
	return cl
}

// String describes the cluster for test logs.
func (c *Cluster) String() string {
	return fmt.Sprintf("cluster(%d regions, write %s)", len(c.Topo.Regions), c.Topo.WriteRegion)
}
