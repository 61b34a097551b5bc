package torture

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/meridiandb/meridian/internal/admin"
	"github.com/meridiandb/meridian/internal/topology"
)

// ClusterOptions configures StartCluster.
type ClusterOptions struct {
	// Binary is the meridian executable to run (`serve --topology`).
	Binary string
	// Dir receives topology.json and, per region, its data directory and
	// log (<region>.data, <region>.log).
	Dir string
	// Regions are the region names (default r1, r2, r3); the first is the
	// write region.
	Regions []string
	// Consistency is the account's default level; K and T its bounded
	// staleness bounds (maxStalenessPrefix, maxIntervalInSeconds).
	Consistency string
	K           int64
	T           int64
	// Failpoints is GOFAIL_FAILPOINTS for every region process.
	Failpoints string
	// RTT is the simulated WAN round trip of every pair (default 20ms).
	RTT time.Duration
	// LogLevel of the servers (default warn).
	LogLevel string
	// ClockOffsets skews regions' clocks (`serve --test-clock-offset`):
	// region name -> offset, for the whole run, restarts included.
	ClockOffsets map[string]time.Duration
	// FailoverTimeout turns automatic failover on (`serve
	// --failover-timeout`); 0 leaves it off, so that scenarios that cut
	// the write region off for seconds do not fail over.
	FailoverTimeout time.Duration
	// MultiWrite makes every region a write region (topology multiWrite:
	// all-to-all replication, conflicts resolved by each container's
	// policy).
	MultiWrite bool
}

// Cluster is a multi-region account of separate `meridian serve
// --topology` processes on loopback ports picked free.
type Cluster struct {
	opts     ClusterOptions
	Topo     *topology.Topology
	topoPath string
	hc       *http.Client

	mu    sync.Mutex
	procs map[string]*proc
	// writeRegion is set once a failover moved the write region.
	writeRegion string
}

// proc is one region's child process.
type proc struct {
	cmd  *exec.Cmd
	log  *os.File
	done chan struct{}
	err  error
}

// StartCluster writes the topology and starts every region.
func StartCluster(ctx context.Context, o ClusterOptions) (*Cluster, error) {
	if len(o.Regions) == 0 {
		o.Regions = []string{"r1", "r2", "r3"}
	}
	if o.RTT == 0 {
		o.RTT = 20 * time.Millisecond
	}
	if o.LogLevel == "" {
		o.LogLevel = "warn"
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, err
	}
	addrs, err := freeAddrs(2 * len(o.Regions))
	if err != nil {
		return nil, err
	}
	topo := &topology.Topology{
		Account:            "meridian-torture",
		WriteRegion:        o.Regions[0],
		Consistency:        o.Consistency,
		MaxStalenessPrefix: o.K,
		MaxIntervalSeconds: o.T,
		MultiWrite:         o.MultiWrite,
	}
	for i, name := range o.Regions {
		topo.Regions = append(topo.Regions, topology.Region{Name: name, ID: uint32(i + 1), Priority: i,
			Endpoint: addrs[2*i], Peer: addrs[2*i+1]})
		for _, other := range o.Regions[i+1:] {
			topo.Links = append(topo.Links, topology.Link{A: name, B: other, RTT: topology.Duration(o.RTT)})
		}
	}
	topo.Defaults()
	if err := topo.Validate(); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(topo, "", "  ")
	if err != nil {
		return nil, err
	}
	c := &Cluster{opts: o, Topo: topo, topoPath: filepath.Join(o.Dir, "topology.json"),
		hc: &http.Client{Timeout: 5 * time.Second}, procs: map[string]*proc{}}
	if err := os.WriteFile(c.topoPath, b, 0o644); err != nil {
		return nil, err
	}
	errs := make([]error, len(o.Regions))
	var wg sync.WaitGroup
	for i, name := range o.Regions {
		wg.Go(func() { errs[i] = c.Restart(ctx, name) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		c.Close()
		return nil, err
	}
	if err := c.WaitReady(ctx, 30*time.Second); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// WaitReady waits until the control plane is up and some region holds the
// write role (the regions elect a Raft leader and the write region takes
// its write lease after start).
func (c *Cluster) WaitReady(ctx context.Context, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	for {
		for _, r := range c.Topo.Regions {
			st, err := regionStatus(ctx, c.hc, "http://"+r.Endpoint+"/")
			if err == nil && st.Role == admin.RoleWrite && st.Control != nil && st.Control.Leader != "" {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the account has no write region ready after %v", within)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func freeAddrs(n int) ([]string, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			_ = ln.Close()
		}
	}()
	var out []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().String())
	}
	return out, nil
}

// WriteRegion is the account's write region as the harness last learned
// it (the topology's until a failover scenario moves it: SetWriteRegion).
func (c *Cluster) WriteRegion() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.writeRegion != "" {
		return c.writeRegion
	}
	return c.Topo.WriteRegion
}

// SetWriteRegion records where writes go after a failover.
func (c *Cluster) SetWriteRegion(r string) {
	c.mu.Lock()
	c.writeRegion = r
	c.mu.Unlock()
}

// AwaitWriteRegion waits until a running region other than not reports the
// write role and returns it.
func (c *Cluster) AwaitWriteRegion(ctx context.Context, not string, within time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	for {
		for _, r := range c.opts.Regions {
			if r == not {
				continue
			}
			if _, err := c.proc(r); err != nil {
				continue
			}
			if st, err := regionStatus(ctx, c.hc, c.Endpoint(r)); err == nil && st.Role == admin.RoleWrite {
				return r, nil
			}
		}
		select {
		case <-ctx.Done():
			if not == "" {
				return "", fmt.Errorf("no region took the write role within %v", within)
			}
			return "", fmt.Errorf("no region other than %s took the write role within %v", not, within)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Failover asks for a planned failover to target (through target's
// management API).
func (c *Cluster) Failover(ctx context.Context, target string) error {
	return c.admin(ctx, target, "failover", admin.FailoverRequest{WriteRegion: target})
}

// Regions lists the region names, the write region first.
func (c *Cluster) Regions() []string { return c.opts.Regions }

// Endpoint is a region's client URL (with a trailing slash).
func (c *Cluster) Endpoint(region string) string {
	r, _ := c.Topo.Region(region)
	return "http://" + r.Endpoint + "/"
}

// DataDir is a region's data directory.
func (c *Cluster) DataDir(region string) string {
	return filepath.Join(c.opts.Dir, region+".data")
}

// Restart starts region's process on its data directory (after Kill, or
// the first time) and waits until GET / answers. It retries briefly while
// the old ports are being released.
func (c *Cluster) Restart(ctx context.Context, region string) error {
	var err error
	for attempt := range 5 {
		if attempt > 0 {
			time.Sleep(300 * time.Millisecond)
		}
		if err = c.start(ctx, region); err == nil {
			return nil
		}
	}
	return fmt.Errorf("start %s: %w", region, err)
}

func (c *Cluster) start(ctx context.Context, region string) error {
	c.mu.Lock()
	if p := c.procs[region]; p != nil && p.alive() {
		c.mu.Unlock()
		return fmt.Errorf("%s is already running", region)
	}
	c.mu.Unlock()
	lf, err := os.OpenFile(filepath.Join(c.opts.Dir, region+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	args := []string{"serve", "--topology", c.topoPath, "--region", region,
		"--data", c.DataDir(region), "--log-level", c.opts.LogLevel}
	if off := c.opts.ClockOffsets[region]; off != 0 {
		args = append(args, "--test-clock-offset", off.String())
	}
	args = append(args, "--failover-timeout", c.opts.FailoverTimeout.String())
	fmt.Fprintf(lf, "=== torture: start %s at %s: %s\n", region, time.Now().Format(time.RFC3339Nano), strings.Join(args, " "))
	cmd := exec.Command(c.opts.Binary, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	if c.opts.Failpoints != "" {
		cmd.Env = append(os.Environ(), "GOFAIL_FAILPOINTS="+c.opts.Failpoints)
	}
	orphanGuard(cmd)
	if err := cmd.Start(); err != nil {
		lf.Close()
		return err
	}
	p := &proc{cmd: cmd, log: lf, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		lf.Close()
		close(p.done)
	}()
	c.mu.Lock()
	c.procs[region] = p
	c.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := c.hc.Get(c.Endpoint(region))
		if err == nil {
			_ = resp.Body.Close()
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited while starting: %v (see %s.log)", region, p.err, region)
		case <-ctx.Done():
			p.kill()
			return ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.kill()
			return fmt.Errorf("%s: GET / did not answer within 30s: %v", region, err)
		}
	}
}

func (p *proc) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

func (p *proc) kill() {
	if !p.alive() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func (c *Cluster) proc(region string) (*proc, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.procs[region]
	if p == nil || !p.alive() {
		return nil, fmt.Errorf("%s is not running", region)
	}
	return p, nil
}

// Kill SIGKILLs region's process and waits for it to exit.
func (c *Cluster) Kill(region string) error {
	p, err := c.proc(region)
	if err != nil {
		return err
	}
	p.kill()
	return nil
}

// Stop SIGSTOPs region's process (it keeps its sockets, answers nothing).
func (c *Cluster) Stop(region string) error { return c.signal(region, syscall.SIGSTOP) }

// Cont SIGCONTs region's process.
func (c *Cluster) Cont(region string) error { return c.signal(region, syscall.SIGCONT) }

func (c *Cluster) signal(region string, sig syscall.Signal) error {
	p, err := c.proc(region)
	if err != nil {
		return err
	}
	return p.cmd.Process.Signal(sig)
}

// Close kills every process (continuing stopped ones first).
func (c *Cluster) Close() {
	c.mu.Lock()
	ps := make([]*proc, 0, len(c.procs))
	for _, p := range c.procs {
		ps = append(ps, p)
	}
	c.mu.Unlock()
	for _, p := range ps {
		if p.alive() {
			_ = p.cmd.Process.Signal(syscall.SIGCONT)
		}
		p.kill()
	}
}

// The simulated WAN. With `serve --topology` each process owns the WAN of
// the connections it dials, so a change of the pair a-b goes to both
// processes (see cmd/meridian/manage.go).

// Partition blackholes both directions between a and b in both processes.
func (c *Cluster) Partition(ctx context.Context, a, b string) error {
	t := true
	return c.changeLink(ctx, []string{a, b}, admin.LinkChange{A: a, B: b, Partitioned: &t})
}

// PartitionOneWay holds the bytes travelling from -> to (in both processes:
// each emulates the links of the connections it dials), while to -> from
// keeps flowing: an asymmetric partition.
func (c *Cluster) PartitionOneWay(ctx context.Context, from, to string) error {
	t := true
	return c.changeLink(ctx, []string{from, to}, admin.LinkChange{A: from, B: to, Partitioned: &t, OneWay: true})
}

// SetLink changes the round trip and jitter of a-b in both processes.
func (c *Cluster) SetLink(ctx context.Context, a, b string, rtt, jitter time.Duration) error {
	r, j := topology.Duration(rtt), topology.Duration(jitter)
	return c.changeLink(ctx, []string{a, b}, admin.LinkChange{A: a, B: b, RTT: &r, Jitter: &j})
}

// Heal ends every partition in every running process (delays stay).
func (c *Cluster) Heal(ctx context.Context) error {
	var errs []error
	for _, r := range c.opts.Regions {
		if _, err := c.proc(r); err != nil {
			continue
		}
		errs = append(errs, c.admin(ctx, r, "heal", nil))
	}
	return errors.Join(errs...)
}

func (c *Cluster) changeLink(ctx context.Context, in []string, ch admin.LinkChange) error {
	var errs []error
	for _, r := range in {
		errs = append(errs, c.admin(ctx, r, "links", ch))
	}
	return errors.Join(errs...)
}

func (c *Cluster) admin(ctx context.Context, region, what string, body any) error {
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return err
		}
	}
	r := adminDo(ctx, c.hc, c.Endpoint(region), what, b)
	if r.Err != nil {
		return fmt.Errorf("%s: POST /_meridian/%s: %w", region, what, r.Err)
	}
	if r.Status/100 != 2 {
		return fmt.Errorf("%s: POST /_meridian/%s: %s", region, what, r)
	}
	return nil
}
