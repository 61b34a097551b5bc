package repl

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"time"
)

// Config configures a Service or a Receiver.
type Config struct {
	// Region is this region's name. Required.
	Region string
	// Secret is the shared secret of the account's regions: every RPC
	// carries an HMAC-based credential derived from it. Required.
	Secret []byte
	// Dial is the inter-region dialer (the simulated WAN wraps it);
	// nil dials plain TCP.
	Dial func(ctx context.Context, peerRegion, addr string) (net.Conn, error)
	// Logger receives lifecycle events and stream failures. Default
	// slog.Default().
	Logger *slog.Logger
	// HeartbeatInterval is how often an idle sender sends progress.
	// Default 50 ms.
	HeartbeatInterval time.Duration
	// HeartbeatTimeout is how long a receiver waits for any message
	// before it drops the stream and resubscribes. Default
	// 10 × HeartbeatInterval, at least 1 s.
	HeartbeatTimeout time.Duration
	// MaxBatch is the most entries per Batch message. Default 512.
	MaxBatch int
	// MaxBackoff caps the receiver's reconnect backoff (which starts at
	// 50 ms and doubles). Default 2 s.
	MaxBackoff time.Duration
	// SpoolDir is where a receiver spools an incoming snapshot before it
	// installs it. Default os.TempDir().
	SpoolDir string
	// Clock gives the wall time for progress stamps and credentials.
	// Default time.Now.
	Clock func() time.Time
}

// Defaults fills zero fields.
func (c *Config) Defaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = 50 * time.Millisecond
	}
	if c.HeartbeatTimeout == 0 {
		c.HeartbeatTimeout = max(10*c.HeartbeatInterval, time.Second)
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = 512
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = 2 * time.Second
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
}

// Validate reports a configuration error naming the field.
func (c *Config) Validate() error {
	switch {
	case c.Region == "":
		return errors.New("repl: Config.Region is required")
	case len(c.Secret) == 0:
		return errors.New("repl: Config.Secret is required")
	case c.HeartbeatInterval < 0:
		return errors.New("repl: Config.HeartbeatInterval must not be negative")
	case c.HeartbeatTimeout <= c.HeartbeatInterval:
		return errors.New("repl: Config.HeartbeatTimeout must exceed HeartbeatInterval")
	case c.MaxBatch < 0:
		return errors.New("repl: Config.MaxBatch must not be negative")
	case c.MaxBackoff < 0:
		return errors.New("repl: Config.MaxBackoff must not be negative")
	}
	return nil
}
