// Package peerconn builds the gRPC client connections regions open to each
// other (replication, Raft). All inter-region connections share one policy:
// they are dialed through the caller's dialer (the simulated WAN wraps it),
// kept alive across idle periods, reconnect quickly with jittered backoff,
// and use large HTTP/2 windows so flow control does not cap a stream at
// window/RTT on long links (64 KiB per 60 ms is about 1 MB/s).
package peerconn

import (
	"context"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
)

// HTTP/2 receive windows of inter-region connections.
const (
	StreamWindow = 16 << 20
	ConnWindow   = 64 << 20
)

// Dialer opens a connection to addr, the address of region peer.
type Dialer func(ctx context.Context, peer, addr string) (net.Conn, error)

// Options tune a connection; zero fields take the defaults.
type Options struct {
	MinConnectTimeout time.Duration // default 5 s
	MaxBackoff        time.Duration // default 1 s
	MaxRecvMsgBytes   int           // default 64 MiB
}

// New returns a client connection to addr (region peer) with the shared
// inter-region policy; extra options (credentials, ...) are appended.
func New(peer, addr string, dial Dialer, o Options, extra ...grpc.DialOption) (*grpc.ClientConn, error) {
	if o.MinConnectTimeout == 0 {
		o.MinConnectTimeout = 5 * time.Second
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = time.Second
	}
	if o.MaxRecvMsgBytes == 0 {
		o.MaxRecvMsgBytes = 64 << 20
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) {
			if dial != nil {
				return dial(ctx, peer, a)
			}
			var d net.Dialer
			return d.DialContext(ctx, "tcp", a)
		}),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{
			Time:                10 * time.Second,
			Timeout:             5 * time.Second,
			PermitWithoutStream: true,
		}),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: backoff.Config{
				BaseDelay:  50 * time.Millisecond,
				Multiplier: 1.6,
				Jitter:     0.2,
				MaxDelay:   o.MaxBackoff,
			},
			MinConnectTimeout: o.MinConnectTimeout,
		}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(o.MaxRecvMsgBytes)),
		grpc.WithInitialWindowSize(StreamWindow),
		grpc.WithInitialConnWindowSize(ConnWindow),
	}
	return grpc.NewClient("passthrough:///"+addr, append(opts, extra...)...)
}
