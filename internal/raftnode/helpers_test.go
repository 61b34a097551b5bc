package raftnode

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"

	"github.com/meridiandb/meridian/internal/storage"
	"github.com/meridiandb/meridian/internal/wan"
)

// testFSM appends every command to a slice. A command "fail:x" makes
// Apply return an error. It records any index that does not increase.
type testFSM struct {
	mu        sync.Mutex
	Entries   []testEntry
	restores  int
	violation string
}

type testEntry struct {
	Index uint64
	Cmd   string
}

func (f *testFSM) Apply(index uint64, cmd []byte) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n := len(f.Entries); n > 0 && index <= f.Entries[n-1].Index && f.violation == "" {
		f.violation = fmt.Sprintf("apply index %d after %d", index, f.Entries[n-1].Index)
	}
	f.Entries = append(f.Entries, testEntry{index, string(cmd)})
	if msg, ok := strings.CutPrefix(string(cmd), "fail:"); ok {
		return nil, errors.New("boom " + msg)
	}
	return fmt.Appendf(nil, "#%d %s", len(f.Entries), cmd), nil
}

func (f *testFSM) Snapshot() ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return json.Marshal(f.Entries)
}

func (f *testFSM) Restore(data []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.restores++
	f.Entries = nil
	return json.Unmarshal(data, &f.Entries)
}

func (f *testFSM) cmds() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, len(f.Entries))
	for i, e := range f.Entries {
		out[i] = e.Cmd
	}
	return out
}

func (f *testFSM) check(t *testing.T) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	require.Empty(t, f.violation)
}

// member is one node of a test cluster with its own Pebble, snapshot dir,
// listener and gRPC server.
type member struct {
	id, addr string
	voter    bool
	dir      string
	fsm      FSM
	db       *storage.DB
	gs       *grpc.Server
	served   chan struct{}
	node     *Node
}

func (m *member) data() *testFSM { return m.fsm.(*testFSM) }

type cluster struct {
	t       *testing.T
	net     *wan.Network
	secret  []byte
	members []*member
	tweak   func(*Config)
}

// testLogger is silent; RAFTNODE_DEBUG=1 logs everything.
func testLogger() *slog.Logger {
	level := slog.LevelError + 4
	if os.Getenv("RAFTNODE_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// newCluster starts voters (and a witness if witness is set) on loopback
// through a WAN with rtt between every pair, bootstrapped together.
func newCluster(t *testing.T, ids []string, witness string, rtt time.Duration, tweak func(*Config)) *cluster {
	t.Helper()
	c := &cluster{t: t, net: wan.NewNetwork(nil), secret: []byte("test-secret"), tweak: tweak}
	all := append([]string(nil), ids...)
	if witness != "" {
		all = append(all, witness)
	}
	for i, a := range all {
		for _, b := range all[i+1:] {
			c.net.SetRTT(a, b, rtt)
		}
	}
	for _, id := range all {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		var fsm FSM = &testFSM{}
		if id == witness {
			fsm = WitnessFSM{} // as NewWitness
		}
		m := &member{id: id, addr: ln.Addr().String(), voter: true, dir: t.TempDir(), fsm: fsm}
		require.NoError(t, ln.Close()) // reopened by start on the same port
		c.members = append(c.members, m)
	}
	for _, m := range c.members {
		c.start(m)
	}
	t.Cleanup(c.close)
	return c
}

func (c *cluster) peers() []Peer {
	var ps []Peer
	for _, m := range c.members {
		ps = append(ps, Peer{ID: m.id, Addr: m.addr, Voter: m.voter})
	}
	return ps
}

func (c *cluster) config(m *member) Config {
	cfg := Config{
		ID:        m.id,
		Addr:      m.addr,
		Dir:       filepath.Join(m.dir, "raft"),
		DB:        m.db,
		Peers:     c.peers(),
		Bootstrap: true,
		Secret:    c.secret,
		Dial: func(ctx context.Context, peerID, addr string) (net.Conn, error) {
			return c.net.Dial(ctx, m.id, peerID, addr)
		},
		Logger: testLogger(),
	}
	if c.tweak != nil {
		c.tweak(&cfg)
	}
	return cfg
}

// start opens m's storage, serves its gRPC server and starts its node.
func (c *cluster) start(m *member) {
	t := c.t
	t.Helper()
	db, err := storage.Open(storage.Options{Dir: filepath.Join(m.dir, "db"), Logger: testLogger()})
	require.NoError(t, err)
	m.db = db
	require.NoError(t, os.MkdirAll(filepath.Join(m.dir, "raft"), 0o755))
	var ln net.Listener
	require.Eventually(t, func() bool {
		ln, err = net.Listen("tcp", m.addr)
		return err == nil
	}, 5*time.Second, 20*time.Millisecond)
	m.gs = grpc.NewServer(grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
		MinTime:             5 * time.Second,
		PermitWithoutStream: true,
	}))
	node, err := New(c.config(m), m.fsm, m.gs)
	require.NoError(t, err)
	m.node = node
	m.served = make(chan struct{})
	go func() {
		defer close(m.served)
		_ = m.gs.Serve(ln)
	}()
	require.NoError(t, node.Start())
}

// stop closes m's node, server and storage (a crash-free restart).
func (c *cluster) stop(m *member) {
	if m.node == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(c.t, m.node.Close(ctx))
	m.gs.Stop()
	<-m.served
	require.NoError(c.t, m.db.Close())
	m.node = nil
}

func (c *cluster) close() {
	// Followers first, so the leader's transfer attempt is short.
	for _, m := range c.members {
		if m.node != nil && !m.node.IsLeader() {
			c.stop(m)
		}
	}
	for _, m := range c.members {
		c.stop(m)
	}
	c.net.Close()
}

func (c *cluster) member(id string) *member {
	for _, m := range c.members {
		if m.id == id {
			return m
		}
	}
	c.t.Fatalf("no member %s", id)
	return nil
}

// waitLeader waits until every running member in among agrees on one
// leader, and returns it.
func (c *cluster) waitLeader(among ...*member) *member {
	c.t.Helper()
	if len(among) == 0 {
		among = c.members
	}
	var leader string
	require.Eventually(c.t, func() bool {
		leader = ""
		for _, m := range among {
			if m.node == nil {
				continue
			}
			id, ok := m.node.Leader()
			if !ok || (leader != "" && id != leader) {
				return false
			}
			leader = id
		}
		return leader != "" && c.member(leader).node != nil && c.member(leader).node.IsLeader()
	}, 20*time.Second, 20*time.Millisecond)
	return c.member(leader)
}

// waitSame waits until every running data member applied want.
func (c *cluster) waitSame(want []string) {
	c.t.Helper()
	for _, m := range c.members {
		if m.node == nil {
			continue
		}
		f, ok := m.fsm.(*testFSM)
		if !ok {
			continue
		}
		require.Eventually(c.t, func() bool { return equal(f.cmds(), want) }, 20*time.Second, 20*time.Millisecond,
			"member %s has %v, want %v", m.id, f.cmds(), want)
		f.check(c.t)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// incoming turns an outgoing ctx's metadata into a server's incoming ctx.
func incoming(ctx context.Context) context.Context {
	md, _ := metadata.FromOutgoingContext(ctx)
	return metadata.NewIncomingContext(context.Background(), md)
}
