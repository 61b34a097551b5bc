package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/meridiandb/meridian/internal/admin"
	"github.com/meridiandb/meridian/internal/server"
	"github.com/meridiandb/meridian/internal/topology"
	"github.com/meridiandb/meridian/internal/wan"
)

const (
	devRegions = "West US,East US,North Europe"
	// devOtherRTT is the round trip between regions whose distance the
	// dev layout does not know (custom --regions names).
	devOtherRTT = 100 * time.Millisecond
	// devHost is where dev regions listen: clients and peers on loopback.
	devHost = "127.0.0.1"
)

const devUsage = `Usage: meridian dev [flags]

Runs a whole account in this process: by default West US (write region) on
port 8081, East US on 8082 and North Europe on 8083, peers (gRPC) on
base+1000+i, all on loopback, joined by a simulated WAN with realistic round
trips (West US-East US 60ms, West US-North Europe 140ms, East US-North Europe
80ms). Each region keeps its data in <data>/<region name>.

Flags:
`

// devAccount is a running dev account. It supervises its regions, so it
// carries out the management API's outage drills (admin.Drills): kill a
// region as a crash, restore it on its data.
type devAccount struct {
	topo *topology.Topology
	net  *wan.Network // nil with --rtt 0
	// mu guards servers (nil while a region is killed) and cfgs.
	mu      sync.Mutex
	servers []*server.Server
	cfgs    []server.Config // each region's config, to restore it
	// killing counts the kill drills still shutting a region down; close
	// waits for them.
	killing sync.WaitGroup
}

var _ admin.Drills = (*devAccount)(nil)

func (a *devAccount) index(region string) (int, error) {
	for i, r := range a.topo.Regions {
		if topology.Canonical(r.Name) == topology.Canonical(region) {
			return i, nil
		}
	}
	return -1, fmt.Errorf("no region %q", region)
}

// Kill crashes a region: its listeners close at once, requests in flight
// are cut, its control-plane voter stops without handing leadership over.
// Every acknowledged write was already synced.
func (a *devAccount) Kill(_ context.Context, region string) error {
	i, err := a.index(region)
	if err != nil {
		return err
	}
	a.mu.Lock()
	s := a.servers[i]
	a.servers[i] = nil
	a.mu.Unlock()
	if s == nil {
		return fmt.Errorf("region %q is already down", region)
	}
	// Asynchronously: the request that asked may be served by this region.
	a.killing.Go(func() { _ = s.Kill() })
	return nil
}

// Restore starts a killed region again on its data and addresses.
func (a *devAccount) Restore(_ context.Context, region string) error {
	i, err := a.index(region)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.servers[i] != nil {
		return fmt.Errorf("region %q is not down", region)
	}
	cfg := a.cfgs[i]
	r := a.topo.Regions[i]
	var cl, pl net.Listener
	deadline := time.Now().Add(5 * time.Second)
	for {
		// The killed server releases its ports as it finishes closing.
		if cl, err = net.Listen("tcp", r.Endpoint); err == nil {
			if pl, err = net.Listen("tcp", r.Peer); err == nil {
				break
			}
			_ = cl.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("restore %q: %w", region, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cfg.Listener, cfg.PeerListener = cl, pl
	s, err := server.New(cfg)
	if err != nil {
		_ = cl.Close()
		_ = pl.Close()
		return fmt.Errorf("restore %q: %w", region, err)
	}
	s.Start()
	a.servers[i] = s
	return nil
}

func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, devUsage); fs.PrintDefaults() }
	var f accountFlags
	home, _ := os.UserHomeDir()
	f.register(fs, filepath.Join(home, ".meridian", "dev"))
	regions := fs.String("regions", devRegions, "comma-separated region names; the first is the write region unless --write-region says otherwise")
	basePort := fs.Int("base-port", 8081, "client port of the first region; region i listens on base+i and base+1000+i (peers); 0 picks free ports")
	writeRegion := fs.String("write-region", "", "the write region (default: the first of --regions)")
	rttFlag := fs.String("rtt", "", `round trip of every link, e.g. "50ms" (default: realistic per pair); "0" turns the simulated WAN off`)
	multiWrite := fs.Bool("multi-write", false, "every region accepts writes (enableMultipleWriteLocations); conflicts are resolved by each container's conflict resolution policy; not with --consistency Strong")
	rttScale := fs.Float64("rtt-scale", 1, "multiplies the default round trips (0.1 for fast experiments; 0 keeps a WAN without delay that can still be partitioned)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("dev: unexpected argument %q", fs.Arg(0))
	}
	cfg, err := f.config(stderr)
	if err != nil {
		return err
	}
	if f.pprof != "" {
		stopPprof, err := servePprof(f.pprof)
		if err != nil {
			return err
		}
		defer stopPprof()
	}
	var rtt *time.Duration
	if *rttFlag != "" {
		d, err := time.ParseDuration(*rttFlag)
		if err != nil || d < 0 {
			return fmt.Errorf("--rtt %q: want a duration such as 60ms, or 0", *rttFlag)
		}
		rtt = &d
	}
	if *rttScale < 0 {
		return errors.New("--rtt-scale must not be negative")
	}
	if *basePort < 0 || *basePort+1000+strings.Count(*regions, ",") > 65535 {
		return fmt.Errorf("--base-port %d: the ports do not fit", *basePort)
	}
	topo, err := devTopology(splitList(*regions), *writeRegion, *basePort)
	if err != nil {
		return err
	}
	topo.Consistency = cfg.Consistency.String()
	topo.MultiWrite = *multiWrite
	topo.MaxStalenessPrefix, topo.MaxIntervalSeconds = f.stalenessK, f.stalenessT
	if err := topo.Validate(); err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("--data: %w", err)
	}
	acc, err := startDev(topo, cfg, rtt, *rttScale, *basePort == 0)
	if err != nil {
		return err
	}
	printDev(stdout, acc, cfg)
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return acc.close(sctx)
}

// devTopology lays out the dev account: region i on base+i, its peer on
// base+1000+i; round trips from topology.Dev for the pairs it knows.
func devTopology(names []string, write string, base int) (*topology.Topology, error) {
	if len(names) == 0 {
		return nil, errors.New("--regions: at least one region is required")
	}
	known := topology.Dev(base, devHost)
	rtts := map[[2]string]topology.Duration{}
	for _, l := range known.Links {
		a, b := topology.Canonical(l.A), topology.Canonical(l.B)
		rtts[[2]string{a, b}], rtts[[2]string{b, a}] = l.RTT, l.RTT
	}
	t := &topology.Topology{Account: known.Account, WriteRegion: write}
	for i, name := range names {
		t.Regions = append(t.Regions, topology.Region{
			Name: name, ID: uint32(i + 1), Priority: i,
			Endpoint: fmt.Sprintf("%s:%d", devHost, base+i),
			Peer:     fmt.Sprintf("%s:%d", devHost, base+1000+i),
		})
		for _, prev := range names[:i] {
			d, ok := rtts[[2]string{topology.Canonical(prev), topology.Canonical(name)}]
			if !ok {
				d = topology.Duration(devOtherRTT)
			}
			t.Links = append(t.Links, topology.Link{A: prev, B: name, RTT: d})
		}
	}
	t.Defaults()
	w, ok := t.Region(t.WriteRegion)
	if !ok {
		return nil, fmt.Errorf("--write-region %q is not one of --regions", write)
	}
	t.WriteRegion = w.Name
	return t, nil
}

// startDev binds every listener first (with freePorts, on port 0, and the
// topology then carries the real addresses), builds the WAN and starts
// every region.
func startDev(topo *topology.Topology, base server.Config, rtt *time.Duration, scale float64, freePorts bool) (acc *devAccount, err error) {
	acc = &devAccount{topo: topo}
	type pair struct{ client, peer net.Listener }
	lns := make([]pair, len(topo.Regions))
	defer func() {
		if err != nil {
			for _, l := range lns {
				for _, ln := range []net.Listener{l.client, l.peer} {
					if ln != nil {
						_ = ln.Close()
					}
				}
			}
			_ = acc.close(context.Background())
		}
	}()
	listen := func(addr string) (net.Listener, error) {
		if freePorts {
			addr = devHost + ":0"
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("listen on %s (--base-port 0 picks free ports): %w", addr, err)
		}
		return ln, nil
	}
	for i := range topo.Regions {
		r := &topo.Regions[i]
		if lns[i].client, err = listen(r.Endpoint); err != nil {
			return nil, err
		}
		r.Endpoint = lns[i].client.Addr().String()
		if len(topo.Regions) > 1 {
			if lns[i].peer, err = listen(r.Peer); err != nil {
				return nil, err
			}
			r.Peer = lns[i].peer.Addr().String()
		}
	}
	if rtt == nil || *rtt > 0 {
		acc.net = wan.NewNetwork(base.Logger)
		applyLinks(acc.net, topo, scale, rtt)
	}
	for i, r := range topo.Regions {
		cfg := base
		cfg.Topology, cfg.Region = topo, r.Name
		cfg.DataDir = filepath.Join(base.DataDir, r.Name)
		cfg.Listener, cfg.PeerListener = lns[i].client, lns[i].peer
		cfg.WAN = acc.net
		cfg.Drills = acc
		acc.cfgs = append(acc.cfgs, cfg)
		s, err := server.New(cfg)
		if err != nil {
			return nil, fmt.Errorf("region %s: %w", r.Name, err) // the deferred cleanup closes lns[i] (again)
		}
		lns[i] = pair{} // the server owns them now
		acc.servers = append(acc.servers, s)
	}
	for _, s := range acc.servers {
		s.Start()
	}
	// Serve only once the control plane has elected a leader and the
	// write region holds its write lease.
	rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, s := range acc.servers {
		if err = s.WaitReady(rctx); err != nil {
			return nil, err
		}
	}
	return acc, nil
}

// close stops every region at once, then the WAN.
func (a *devAccount) close(ctx context.Context) error {
	a.mu.Lock()
	servers := slices.Clone(a.servers)
	a.mu.Unlock()
	defer a.killing.Wait()
	errs := make([]error, len(servers))
	var wg sync.WaitGroup
	for i, s := range servers {
		if s == nil {
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = s.Close(ctx) }()
	}
	wg.Wait()
	if a.net != nil {
		a.net.Close()
	}
	return errors.Join(errs...)
}

func printDev(w io.Writer, acc *devAccount, cfg server.Config) {
	t := acc.topo
	mode := ""
	if t.MultiWrite {
		mode = ", multi-write (every region accepts writes)"
	}
	fmt.Fprintf(w, "Meridian dev account %q is up: %d regions, consistency %s%s.\n", t.Account, len(t.Regions), t.Consistency, mode)
	width := 0
	for _, r := range t.Regions {
		width = max(width, len(r.Name))
	}
	// The control plane's write region (a failover before a restart may
	// have moved it away from the topology's).
	writer := t.WriteRegion
	if w := acc.servers[0].Region().WriteRegion(); w != "" {
		writer = w
	}
	for i, r := range t.Regions {
		role := ""
		if r.Name == writer || t.MultiWrite {
			role = "  (write region)"
		}
		fmt.Fprintf(w, "  %-*s  %s%s\n", width, r.Name, acc.servers[i].Endpoint(), role)
	}
	fmt.Fprintf(w, "  key   %s\n  data  %s\n", cfg.Key, cfg.DataDir)
	if acc.net == nil {
		fmt.Fprintf(w, "  WAN   off (--rtt 0)\n")
	} else {
		var links []string
		for _, l := range t.Links {
			d := acc.net.Link(l.A, l.B).Delay + acc.net.Link(l.B, l.A).Delay
			links = append(links, fmt.Sprintf("%s-%s %s", l.A, l.B, d))
		}
		fmt.Fprintf(w, "  WAN   %s\n", strings.Join(links, ", "))
	}
	ep := ""
	if s := acc.servers[0].Endpoint(); s != defaultEndpoint {
		ep = " --endpoint " + s
	}
	fmt.Fprintf(w, "Manage it: meridian status%s; meridian region offline NAME; meridian partition --a A --b B; meridian heal\n", ep)
	if t.MultiWrite {
		fmt.Fprintf(w, "Drill it:  meridian region kill NAME (a crash) · meridian region restore NAME\n")
	} else {
		fmt.Fprintf(w, "Drill it:  meridian region kill NAME (a crash) · meridian region restore NAME · meridian failover --write-region NAME\n")
	}
	fmt.Fprintf(w, "Watch it:  %s_meridian/console (live topology, lag, drills)  ·  metrics at %smetrics\n",
		acc.servers[0].Endpoint(), acc.servers[0].Endpoint())
	fmt.Fprintln(w, "Press Ctrl-C to stop.")
}

func splitList(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
