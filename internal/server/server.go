package server

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"google.golang.org/grpc"

	"github.com/meridiandb/meridian/internal/admin"
	"github.com/meridiandb/meridian/internal/auth"
	"github.com/meridiandb/meridian/internal/httpapi"
	"github.com/meridiandb/meridian/internal/metrics"
	"github.com/meridiandb/meridian/internal/raftnode"
	"github.com/meridiandb/meridian/internal/region"
	"github.com/meridiandb/meridian/internal/repl"
	"github.com/meridiandb/meridian/internal/session"
	"github.com/meridiandb/meridian/internal/storage"
	"github.com/meridiandb/meridian/internal/topology"
	"github.com/meridiandb/meridian/internal/wan"
)

// Config configures one region process.
type Config struct {
	// Listen is the client address (default 127.0.0.1:8081; port 0 picks one).
	Listen string
	// DataDir holds the region's data. Required.
	DataDir string
	// FS overrides the filesystem (tests: vfs.NewMem or a crash FS).
	FS vfs.FS
	// Region is the region name (default "West US").
	Region string
	// RegionID is the region's number in the account (default 1).
	RegionID uint32
	// AccountID names the account (default "meridian").
	AccountID string
	// Key is the base64 master key (default: the Cosmos DB emulator's key).
	Key string
	// ReadOnlyKey, if set, is a base64 key that may read but not write.
	ReadOnlyKey string
	// TLSCert and TLSKey are PEM files; when both are set the server speaks HTTPS.
	TLSCert, TLSKey string
	// Consistency is the account's default level (default Session).
	Consistency session.Level
	// MaxStalenessPrefix and MaxIntervalSeconds are bounded-staleness K and T.
	MaxStalenessPrefix int64
	MaxIntervalSeconds int64
	// SessionWait bounds a session read's wait for replication (default 5 s).
	SessionWait time.Duration
	// SyncTimeout bounds a write's wait for the regions that must hold it
	// (Strong, x-meridian-sync-regions). Default 10 s.
	SyncTimeout time.Duration
	Logger      *slog.Logger

	// Topology, when set, is the multi-region account layout and Region
	// names this process's region in it; Listen is then taken from the
	// region's endpoint unless Listener is given. Without it the process
	// is a one-region account built from the fields above.
	Topology *topology.Topology
	// Listener and PeerListener, when set, are already-bound client and
	// inter-region listeners (tests bind port 0 first).
	Listener, PeerListener net.Listener
	// Dial opens inter-region connections; the simulated WAN wraps it.
	// Default: through WAN when it is set, else plain TCP.
	Dial func(ctx context.Context, peerRegion, addr string) (net.Conn, error)
	// WAN, when set, is the simulated WAN this region's outbound
	// inter-region connections cross (shared by every region in `meridian
	// dev`; one per process with `serve --topology`). The management API's
	// link and heal calls change it. The caller owns it: Close does not
	// close it.
	WAN *wan.Network
	// PurgeInterval is the TTL purge period (default 1 s).
	PurgeInterval time.Duration
	// LogRetention is how many log entries each partition keeps for
	// catching up other regions (default 100,000).
	LogRetention int64
	// SpaceReserve is the free space (bytes) on the data volume below which
	// writes are refused with 507 (0: the storage default; -1: off).
	SpaceReserve int64
	// MetricsAuth makes GET /metrics require the master key (or the
	// read-only key); by default it is open, like most exporters. See
	// metrics.go. [observability]
	MetricsAuth bool
	// Control tunes failover (multi-region accounts): detection timeout,
	// write lease.
	Control region.ControlConfig
	// Drills, when set, carries out the management API's kill and restore
	// drills (meridian dev supervises every region).
	Drills admin.Drills
	// RaftHeartbeat is the control plane's Raft heartbeat timeout (default
	// 500 ms): how long followers wait for the leader before an election.
	// It bounds how fast a lost write region that led the control plane is
	// noticed, so it is part of the failover time.
	RaftHeartbeat time.Duration
	// Clock is the region's clock (default time.Now). Tests and the
	// verification suite offset it to simulate clock skew between regions.
	Clock func() time.Time
}

// Defaults fills zero fields.
func (c *Config) Defaults() {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8081"
	}
	if c.Region == "" {
		c.Region = "West US"
	}
	if c.RegionID == 0 {
		c.RegionID = 1
	}
	if c.Key == "" {
		c.Key = auth.EmulatorKey
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.RaftHeartbeat == 0 {
		c.RaftHeartbeat = 500 * time.Millisecond
	}
}

// Validate reports a configuration error naming the field.
func (c *Config) Validate() error {
	if c.DataDir == "" {
		return errors.New("server: DataDir is required (--data)")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("server: TLSCert and TLSKey must be set together (--tls-cert, --tls-key)")
	}
	return nil
}

// shutdownGrace bounds how long Close waits for client requests in flight.
const shutdownGrace = 2 * time.Second

// Server is a running region process.
type Server struct {
	cfg    Config
	log    *slog.Logger
	topo   *topology.Topology // the account layout (one region without Config.Topology)
	db     *storage.DB
	region *region.Region
	ln     net.Listener
	http   *http.Server
	scheme string
	peerLn net.Listener // nil in a one-region account
	grpc   *grpc.Server
	repl   *repl.Service
	raft   *raftnode.Node // the control plane's voter; nil in a one-region account

	// offline makes the REST edge answer 503 to data-plane requests.
	offline atomic.Bool
	// linkMu serializes this server's read-modify-write changes of WAN links.
	linkMu sync.Mutex
	// metrics is the region's Prometheus registry (metrics.go). [observability]
	metrics *metrics.Metrics

	closeOnce sync.Once
	closeErr  error
	// serving tracks the listener goroutines; Close waits for them.
	serving sync.WaitGroup
}

// New opens storage and the region and binds the listeners. Call Start to
// serve.
func New(cfg Config) (*Server, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, scheme: "http"}
	if err := s.open(); err != nil {
		s.cleanup()
		return nil, err
	}
	return s, nil
}

func (s *Server) open() error {
	cfg := &s.cfg
	s.log = cfg.Logger.With("region", cfg.Region)
	verifier, err := auth.NewVerifier(cfg.Key, cfg.ReadOnlyKey)
	if err != nil {
		return fmt.Errorf("server: keys: %w", err)
	}
	topo := cfg.Topology
	if topo != nil {
		self, ok := topo.Region(cfg.Region)
		if !ok {
			return fmt.Errorf("server: region %q is not in the topology", cfg.Region)
		}
		cfg.Region = self.Name // the topology's spelling names the region everywhere
		s.log = cfg.Logger.With("region", cfg.Region)
		if cfg.Listener == nil {
			cfg.Listen = self.Endpoint
		}
		if len(topo.Regions) > 1 {
			if s.peerLn = cfg.PeerListener; s.peerLn == nil {
				if s.peerLn, err = net.Listen("tcp", self.Peer); err != nil {
					return fmt.Errorf("server: listen for peers on %s: %w", self.Peer, err)
				}
			}
		}
	}
	if s.ln = cfg.Listener; s.ln == nil {
		if s.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
			return fmt.Errorf("server: listen %s: %w", cfg.Listen, err)
		}
	}
	if topo == nil {
		topo = &topology.Topology{
			Account: cfg.AccountID, WriteRegion: cfg.Region, Consistency: cfg.Consistency.String(),
			MaxStalenessPrefix: cfg.MaxStalenessPrefix, MaxIntervalSeconds: cfg.MaxIntervalSeconds,
			Regions: []topology.Region{{Name: cfg.Region, ID: cfg.RegionID, Endpoint: s.ln.Addr().String()}},
		}
		topo.Defaults()
		if err := topo.Validate(); err != nil {
			return fmt.Errorf("server: %w", err)
		}
	}
	s.topo = topo
	if cfg.Dial == nil && cfg.WAN != nil {
		self, network := cfg.Region, cfg.WAN
		cfg.Dial = func(ctx context.Context, peer, addr string) (net.Conn, error) {
			return network.Dial(ctx, self, peer, addr)
		}
	}
	secret := PeerSecret(cfg.Key, topo.PeerSecret)
	if s.db, err = storage.Open(storage.Options{Dir: cfg.DataDir, FS: cfg.FS, Logger: s.log, SpaceReserve: cfg.SpaceReserve}); err != nil {
		return err
	}
	s.region, err = region.Open(region.Config{
		Topology: topo, Self: cfg.Region, DB: s.db, SessionWait: cfg.SessionWait, SyncTimeout: cfg.SyncTimeout,
		PeerSecret: secret, Dial: cfg.Dial, Clock: cfg.Clock, Logger: s.log, PurgeInterval: cfg.PurgeInterval, LogRetention: cfg.LogRetention,
		// Metrics are built after the region (they read its status), so
		// the hook looks them up when it fires.
		OnCommit:   func(n int, d time.Duration) { s.metrics.ObserveCommit(n, d) },
		OnConflict: func(kind string, fed bool) { s.metrics.ObserveConflict(kind, fed) },
		Control:    cfg.Control,
	})
	if err != nil {
		return err
	}
	h, err := httpapi.New(httpapi.Config{Logger: s.log, Verifier: verifier, RegionName: cfg.Region, Admin: s}, s.region)
	if err != nil {
		return err
	}
	handler, err := s.observe(h) // [observability] /metrics, the console, request metrics (metrics.go)
	if err != nil {
		return err
	}
	s.http = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("server: load TLS pair: %w", err)
		}
		s.http.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		s.scheme = "https"
	}
	if s.peerLn != nil {
		rc := repl.Config{Region: cfg.Region, Secret: secret, Logger: s.log}
		rc.Defaults()
		if err := rc.Validate(); err != nil {
			return fmt.Errorf("server: replication: %w", err)
		}
		s.grpc = grpc.NewServer(repl.ServerOptions(secret)...)
		s.repl = repl.NewService(rc, s.region, s.region.Tracker())
		s.repl.Register(s.grpc)
		if s.raft, err = raftnode.New(s.raftConfig(topo, secret), s.region.ControlFSM(), s.grpc); err != nil {
			return fmt.Errorf("server: control plane: %w", err)
		}
		s.region.AttachControl(s.raft)
	}
	return nil
}

// raftConfig is this region's control-plane voter: every region (and the
// witness, if any) votes.
func (s *Server) raftConfig(topo *topology.Topology, secret []byte) raftnode.Config {
	self, _ := topo.Region(s.cfg.Region)
	var peers []raftnode.Peer
	for _, r := range topo.Regions {
		peers = append(peers, raftnode.Peer{ID: r.Name, Addr: r.Peer, Voter: true})
	}
	if w := topo.Witness; w != nil {
		peers = append(peers, raftnode.Peer{ID: w.Name, Addr: w.Peer, Voter: true})
	}
	return raftnode.Config{
		ID: self.Name, Addr: self.Peer, Dir: filepath.Join(s.cfg.DataDir, "raft"), DB: s.db,
		Peers: peers, Bootstrap: true, Secret: secret, Dial: s.cfg.Dial, Logger: s.log,
		HeartbeatTimeout: s.cfg.RaftHeartbeat, ElectionTimeout: s.cfg.RaftHeartbeat,
	}
}

// cleanup releases what open acquired when it failed half-way.
func (s *Server) cleanup() {
	if s.region != nil {
		s.region.Close()
	}
	if s.db != nil {
		_ = s.db.Close()
	}
	if s.ln != nil {
		_ = s.ln.Close()
	}
	if s.peerLn != nil {
		_ = s.peerLn.Close()
	}
}

// PeerSecret is the secret that authenticates inter-region traffic: the
// topology's, or one derived from the master key (the witness uses it too).
func PeerSecret(masterKey, configured string) []byte {
	if configured != "" {
		return []byte(configured)
	}
	m := hmac.New(sha256.New, []byte(masterKey))
	m.Write([]byte("meridian inter-region v1"))
	return m.Sum(nil)
}

// Start serves client and peer requests in the background and starts
// replication.
func (s *Server) Start() {
	if s.grpc != nil {
		s.serving.Add(1)
		go func() {
			defer s.serving.Done()
			if err := s.grpc.Serve(s.peerLn); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
				s.log.Error("peer listener stopped serving", "err", err)
			}
		}()
	}
	if s.raft != nil {
		if err := s.raft.Start(); err != nil {
			s.log.Error("control plane did not start", "err", err)
		}
	}
	s.region.Start()
	s.serving.Add(1)
	go func() {
		defer s.serving.Done()
		var err error
		if s.scheme == "https" {
			err = s.http.ServeTLS(s.ln, "", "")
		} else {
			err = s.http.Serve(s.ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("client listener stopped serving", "err", err)
		}
	}()
	s.log.Info("region serving", "endpoint", s.Endpoint())
}

// Endpoint is the URL clients use, e.g. "http://127.0.0.1:8081/".
func (s *Server) Endpoint() string { return s.scheme + "://" + s.ln.Addr().String() + "/" }

// Addr is the client listener's address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close shuts the region down in order. It is idempotent.
func (s *Server) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		var errs []error
		// Let requests in flight finish for a moment, then cut the rest:
		// net/http counts a connection that never sent a request as
		// active for seconds, which would stall every shutdown.
		hctx, hcancel := context.WithTimeout(ctx, shutdownGrace)
		if err := s.http.Shutdown(hctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err))
		}
		hcancel()
		_ = s.http.Close()
		s.region.StopControl()
		if s.raft != nil {
			rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			if err := s.raft.Close(rctx); err != nil {
				errs = append(errs, fmt.Errorf("control plane close: %w", err))
			}
			cancel()
		}
		if s.grpc != nil {
			// Replication streams never end by themselves: cancel them,
			// then stop the gRPC server.
			rctx, cancel := context.WithTimeout(ctx, time.Second)
			_ = s.repl.Close(rctx)
			cancel()
			s.grpc.Stop()
		}
		s.serving.Wait()
		s.region.Close()
		if err := s.db.Close(); err != nil {
			errs = append(errs, fmt.Errorf("storage close: %w", err))
		}
		s.closeErr = errors.Join(errs...)
		s.log.Info("region stopped")
	})
	return s.closeErr
}

// Kill stops the region as a crash would: listeners closed at once, no
// grace for requests in flight, no Raft leadership hand-over. Every
// acknowledged write is already durable. It is Close with no time.
func (s *Server) Kill() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return s.Close(ctx)
}

// WaitReady blocks until the region can serve its role (multi-region: the
// control plane has a leader and the write region holds its lease).
func (s *Server) WaitReady(ctx context.Context) error { return s.region.WaitReady(ctx) }

// Region is the region this server runs (for tests and tools in-process).
func (s *Server) Region() *region.Region { return s.region }
