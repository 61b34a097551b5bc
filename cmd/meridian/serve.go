package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/meridiandb/meridian/internal/auth"
	"github.com/meridiandb/meridian/internal/server"
	"github.com/meridiandb/meridian/internal/session"
)

// regionFlags are the flags shared by serve and dev.
type regionFlags struct {
	listen, data, region, key, readOnlyKey string
	tlsCert, tlsKey, consistency, logLevel string
	stalenessK, stalenessT                 int64
	sessionWait                            time.Duration
}

func (f *regionFlags) register(fs *flag.FlagSet, defaultData string) {
	fs.StringVar(&f.listen, "listen", "127.0.0.1:8081", "client address (host:port)")
	fs.StringVar(&f.data, "data", defaultData, "data directory")
	fs.StringVar(&f.region, "region", "West US", "region name")
	fs.StringVar(&f.key, "key", auth.EmulatorKey, "base64 master key (default: the Cosmos DB emulator's well-known key)")
	fs.StringVar(&f.readOnlyKey, "read-only-key", "", "base64 key that may read but not write")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "PEM certificate file (enables HTTPS with --tls-key)")
	fs.StringVar(&f.tlsKey, "tls-key", "", "PEM private key file")
	fs.StringVar(&f.consistency, "consistency", "Session", "default consistency: Strong, BoundedStaleness, Session, ConsistentPrefix, Eventual")
	fs.Int64Var(&f.stalenessK, "staleness-prefix", 100, "bounded staleness: max versions behind (K)")
	fs.Int64Var(&f.stalenessT, "staleness-seconds", 5, "bounded staleness: max seconds behind (T)")
	fs.DurationVar(&f.sessionWait, "session-wait", 5*time.Second, "how long a session read waits for replication before 404/1002")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
}

func (f *regionFlags) config(stderr io.Writer) (server.Config, error) {
	lvl, err := session.ParseLevel(f.consistency)
	if err != nil {
		return server.Config{}, fmt.Errorf("--consistency: %w", err)
	}
	var ll slog.Level
	if err := ll.UnmarshalText([]byte(f.logLevel)); err != nil {
		return server.Config{}, fmt.Errorf("--log-level: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: ll}))
	return server.Config{
		Listen: f.listen, DataDir: f.data, Region: f.region, Key: f.key, ReadOnlyKey: f.readOnlyKey,
		TLSCert: f.tlsCert, TLSKey: f.tlsKey, Consistency: lvl,
		MaxStalenessPrefix: f.stalenessK, MaxIntervalSeconds: f.stalenessT, SessionWait: f.sessionWait,
		Logger: logger,
	}, nil
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f regionFlags
	f.register(fs, "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := f.config(stderr)
	if err != nil {
		return err
	}
	s, err := server.New(cfg)
	if err != nil {
		return err
	}
	s.Start()
	fmt.Fprintf(stdout, "region %q serving at %s\n", cfg.Region, s.Endpoint())
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.Close(sctx)
}
