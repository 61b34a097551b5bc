package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc"

	"github.com/meridiandb/meridian/internal/auth"
	"github.com/meridiandb/meridian/internal/raftnode"
	"github.com/meridiandb/meridian/internal/repl"
	"github.com/meridiandb/meridian/internal/server"
	"github.com/meridiandb/meridian/internal/storage"
	"github.com/meridiandb/meridian/internal/topology"
)

const witnessUsage = `Usage: meridian witness --topology FILE [--data DIR] [--key KEY]

Runs the witness of a two-region account: a control-plane voter that holds
no data, so that the control plane keeps a majority — and can fail over —
when either region is lost. The topology file names it:

  "witness": {"name": "witness", "peer": "10.0.0.3:9000"}

Flags:
`

func runWitness(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("witness", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, witnessUsage); fs.PrintDefaults() }
	topoPath := fs.String("topology", "", "topology file (JSON) of the account; must have a witness")
	data := fs.String("data", "", "data directory (default: ./<witness name>.data)")
	key := fs.String("key", auth.EmulatorKey, "base64 master key of the account (the peer secret derives from it unless the file sets peerSecret)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *topoPath == "" {
		fs.Usage()
		return errors.New("witness: --topology is required")
	}
	topo, err := topology.Load(*topoPath)
	if err != nil {
		return err
	}
	w := topo.Witness
	if w == nil {
		return fmt.Errorf("witness: %s has no \"witness\"", *topoPath)
	}
	dir := *data
	if dir == "" {
		dir = w.Name + ".data"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--data: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	db, err := storage.Open(storage.Options{Dir: filepath.Join(dir, "pebble"), Logger: logger})
	if err != nil {
		return err
	}
	defer db.Close()
	ln, err := net.Listen("tcp", w.Peer)
	if err != nil {
		return fmt.Errorf("witness: listen on %s: %w", w.Peer, err)
	}
	secret := server.PeerSecret(*key, topo.PeerSecret)
	g := grpc.NewServer(repl.ServerOptions(secret)...)
	var peers []raftnode.Peer
	for _, r := range topo.Regions {
		peers = append(peers, raftnode.Peer{ID: r.Name, Addr: r.Peer, Voter: true})
	}
	peers = append(peers, raftnode.Peer{ID: w.Name, Addr: w.Peer, Voter: true})
	node, err := raftnode.NewWitness(raftnode.Config{
		ID: w.Name, Addr: w.Peer, Dir: filepath.Join(dir, "raft"), DB: db, Peers: peers, Bootstrap: true,
		Secret: secret, Logger: logger,
	}, g)
	if err != nil {
		_ = ln.Close()
		return err
	}
	served := make(chan error, 1)
	go func() { served <- g.Serve(ln) }()
	if err := node.Start(); err != nil {
		g.Stop()
		return err
	}
	fmt.Fprintf(stdout, "witness %q voting at %s\n", w.Name, w.Peer)
	// The failover driver runs in the regions: a witness that wins an
	// election hands leadership to a region at once.
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err := <-served:
			logger.Error("witness listener stopped", "err", err)
			break loop
		case <-tick.C:
			if node.IsLeader() {
				tctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				if err := node.TransferLeadership(tctx, "", ""); err != nil {
					logger.Debug("handing leadership to a region failed", "err", err)
				}
				cancel()
			}
		}
	}
	cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = node.Close(cctx)
	g.Stop()
	return err
}
