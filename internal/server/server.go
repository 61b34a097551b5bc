package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/meridiandb/meridian/internal/auth"
	"github.com/meridiandb/meridian/internal/httpapi"
	"github.com/meridiandb/meridian/internal/region"
	"github.com/meridiandb/meridian/internal/session"
	"github.com/meridiandb/meridian/internal/storage"
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
	Logger      *slog.Logger
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

// Server is a running region process.
type Server struct {
	cfg    Config
	log    *slog.Logger
	db     *storage.DB
	region *region.Region
	ln     net.Listener
	http   *http.Server
	scheme string

	closeOnce sync.Once
	closeErr  error
	serveErr  chan error
}

// New opens storage and the region and binds the client listener. Call
// Start to serve.
func New(cfg Config) (*Server, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger.With("region", cfg.Region)
	verifier, err := auth.NewVerifier(cfg.Key, cfg.ReadOnlyKey)
	if err != nil {
		return nil, fmt.Errorf("server: keys: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("server: listen %s: %w", cfg.Listen, err)
	}
	db, err := storage.Open(storage.Options{Dir: cfg.DataDir, FS: cfg.FS, Logger: log})
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	reg, err := region.Open(region.Config{
		AccountID: cfg.AccountID, Name: cfg.Region, ID: cfg.RegionID, Endpoint: ln.Addr().String(),
		DB: db, Consistency: cfg.Consistency, MaxStalenessPrefix: cfg.MaxStalenessPrefix,
		MaxIntervalSeconds: cfg.MaxIntervalSeconds, SessionWait: cfg.SessionWait, Logger: log,
	})
	if err != nil {
		_ = db.Close()
		_ = ln.Close()
		return nil, err
	}
	h, err := httpapi.New(httpapi.Config{Logger: log, Verifier: verifier, RegionName: cfg.Region}, reg)
	if err != nil {
		reg.Close()
		_ = db.Close()
		_ = ln.Close()
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, db: db, region: reg, ln: ln, scheme: "http", serveErr: make(chan error, 1)}
	s.http = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			_ = s.Close(context.Background())
			return nil, fmt.Errorf("server: load TLS pair: %w", err)
		}
		s.http.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		s.scheme = "https"
	}
	return s, nil
}

// Start serves client requests in the background.
func (s *Server) Start() {
	go func() {
		var err error
		if s.scheme == "https" {
			err = s.http.ServeTLS(s.ln, "", "")
		} else {
			err = s.http.Serve(s.ln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.serveErr <- err
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
		if err := s.http.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err))
			_ = s.http.Close()
		}
		s.region.Close()
		if err := s.db.Close(); err != nil {
			errs = append(errs, fmt.Errorf("storage close: %w", err))
		}
		s.closeErr = errors.Join(errs...)
		s.log.Info("region stopped")
	})
	return s.closeErr
}
