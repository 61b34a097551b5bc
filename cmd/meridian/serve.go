package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/meridiandb/meridian/internal/auth"
	"github.com/meridiandb/meridian/internal/region"
	"github.com/meridiandb/meridian/internal/server"
	"github.com/meridiandb/meridian/internal/session"
	"github.com/meridiandb/meridian/internal/topology"
	"github.com/meridiandb/meridian/internal/wan"
)

// accountFlags are the flags shared by serve and dev.
type accountFlags struct {
	data, key, readOnlyKey                 string
	tlsCert, tlsKey, consistency, logLevel string
	stalenessK, stalenessT                 int64
	sessionWait                            time.Duration
	spaceReserve                           int64
	failoverTimeout                        time.Duration
	pprof                                  string
}

func (f *accountFlags) register(fs *flag.FlagSet, defaultData string) {
	fs.StringVar(&f.data, "data", defaultData, "data directory")
	fs.StringVar(&f.key, "key", auth.EmulatorKey, "base64 master key (default: the Cosmos DB emulator's well-known key)")
	fs.StringVar(&f.readOnlyKey, "read-only-key", "", "base64 key that may read but not write")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "PEM certificate file (enables HTTPS with --tls-key)")
	fs.StringVar(&f.tlsKey, "tls-key", "", "PEM private key file")
	fs.StringVar(&f.consistency, "consistency", "Session", "default consistency: Strong, BoundedStaleness, Session, ConsistentPrefix, Eventual")
	fs.Int64Var(&f.stalenessK, "staleness-prefix", 100, "bounded staleness: max versions behind (K)")
	fs.Int64Var(&f.stalenessT, "staleness-seconds", 5, "bounded staleness: max seconds behind (T)")
	fs.DurationVar(&f.sessionWait, "session-wait", 5*time.Second, "how long a session read waits for replication before 404/1002")
	fs.Int64Var(&f.spaceReserve, "space-reserve", 0, "free bytes on the data volume below which writes are refused with 507 (0: 2 memtables + 64 MiB; -1: off)")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.DurationVar(&f.failoverTimeout, "failover-timeout", 3*time.Second,
		"multi-region: how long the write region may be unreachable before the others fail over (0: automatic failover off)")
	fs.StringVar(&f.pprof, "pprof", "", "serve Go's /debug/pprof on this address (host:port; unauthenticated: keep it on loopback)")
}

func (f *accountFlags) logger(stderr io.Writer) (*slog.Logger, error) {
	var ll slog.Level
	if err := ll.UnmarshalText([]byte(f.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: ll})), nil
}

// config is a server.Config with the shared fields set.
func (f *accountFlags) config(stderr io.Writer) (server.Config, error) {
	lvl, err := session.ParseLevel(f.consistency)
	if err != nil {
		return server.Config{}, fmt.Errorf("--consistency: %w", err)
	}
	logger, err := f.logger(stderr)
	if err != nil {
		return server.Config{}, err
	}
	detect := f.failoverTimeout
	switch {
	case detect < 0:
		return server.Config{}, errors.New("--failover-timeout must not be negative")
	case detect == 0:
		detect = -1 // off
	}
	return server.Config{
		DataDir: f.data, Key: f.key, ReadOnlyKey: f.readOnlyKey,
		TLSCert: f.tlsCert, TLSKey: f.tlsKey, Consistency: lvl,
		MaxStalenessPrefix: f.stalenessK, MaxIntervalSeconds: f.stalenessT, SessionWait: f.sessionWait, SpaceReserve: f.spaceReserve,
		Logger: logger, Control: region.ControlConfig{DetectTimeout: detect},
	}, nil
}

const serveUsage = `Usage:
  meridian serve [flags]                                one-region account
  meridian serve --topology FILE --region NAME [flags]  one region of a multi-region account

With --topology, the region's endpoint, peer address, the write region and
the consistency policy come from the file (see deploy/topology-3regions.json);
--listen, --consistency and --staleness-* are refused. Each process owns a
simulated WAN for the connections it dials, configured from the file's links
(--wan=false for real networks); 'meridian link' and 'meridian partition'
change it at run time in both regions of a pair.

Flags:
`

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, serveUsage); fs.PrintDefaults() }
	var f accountFlags
	f.register(fs, "")
	listen := fs.String("listen", "127.0.0.1:8081", "client address (host:port), one-region account only")
	regionName := fs.String("region", "West US", "region name (with --topology: one of the file's regions)")
	topoPath := fs.String("topology", "", "topology file (JSON) of a multi-region account")
	useWAN := fs.Bool("wan", true, "with --topology: route the connections this region dials through a simulated WAN")
	clockOffset := testClockOffsetFlag(fs) // hidden, test only (clock skew, torture F11)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
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
	cfg.Region = *regionName
	cfg.Clock = func() time.Time { return time.Now().Add(*clockOffset) }
	var network *wan.Network
	if *topoPath == "" {
		cfg.Listen = *listen
	} else {
		set := setFlags(fs)
		for _, name := range []string{"listen", "consistency", "staleness-prefix", "staleness-seconds"} {
			if set[name] {
				return fmt.Errorf("--%s cannot be used with --topology: set it in the topology file", name)
			}
		}
		if !set["region"] {
			return errors.New("--region is required with --topology")
		}
		topo, err := topology.Load(*topoPath)
		if err != nil {
			return err
		}
		self, ok := topo.Region(*regionName)
		if !ok {
			return fmt.Errorf("--region %q is not a region of %s", *regionName, *topoPath)
		}
		cfg.Topology, cfg.Region = topo, self.Name
		if cfg.DataDir == "" {
			cfg.DataDir = self.DataDir
		}
		if cfg.DataDir == "" {
			return fmt.Errorf("--data is required: region %q of %s has no dataDir", self.Name, *topoPath)
		}
		if *useWAN && len(topo.Regions) > 1 {
			network = wan.NewNetwork(cfg.Logger.With("region", self.Name))
			applyLinks(network, topo, 1, nil)
			cfg.WAN = network
		}
	}
	s, err := server.New(cfg)
	if err != nil {
		if network != nil {
			network.Close()
		}
		return err
	}
	s.Start()
	fmt.Fprintf(stdout, "region %q serving at %s\n", cfg.Region, s.Endpoint())
	if cfg.Topology != nil && len(cfg.Topology.Regions) > 1 {
		// A multi-region account serves its roles once the control plane
		// (a majority of the regions) is up: say when.
		go func() {
			if err := s.WaitReady(ctx); err == nil {
				fmt.Fprintf(stdout, "region %q ready: control plane up, write region %q\n", cfg.Region, s.Region().WriteRegion())
			}
		}()
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = s.Close(sctx)
	if network != nil {
		network.Close()
	}
	return err
}

// applyLinks configures n from the topology's links: each round trip
// times scale, or rtt for every link when it is set.
func applyLinks(n *wan.Network, topo *topology.Topology, scale float64, rtt *time.Duration) {
	for _, l := range topo.Links {
		a, _ := topo.Region(l.A)
		b, _ := topo.Region(l.B)
		d := time.Duration(float64(l.RTT) * scale)
		if rtt != nil {
			d = *rtt
		}
		if l.Jitter > 0 {
			for _, k := range [][2]string{{a.Name, b.Name}, {b.Name, a.Name}} {
				n.SetLink(k[0], k[1], wan.LinkConfig{Jitter: time.Duration(float64(l.Jitter) * scale)})
			}
		}
		n.SetRTT(a.Name, b.Name, d)
	}
}

// setFlags returns the names of the flags set on the command line.
func setFlags(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}
