package repl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"

	"github.com/meridiandb/meridian/internal/replog"
)

var testSecret = []byte("test-secret-0123456789")

// fakeSource is an in-memory partition log.
type fakeSource struct {
	// mu guards every field below.
	mu      sync.Mutex
	entries []*replog.Entry // entries[i].LSN == first+i
	first   int64
	applied int64
	epoch   int64
	items   map[string]string
	// notify is closed (and replaced) when applied advances.
	notify   chan struct{}
	valueLen int
}

func newFakeSource() *fakeSource {
	return &fakeSource{first: 1, epoch: 1, items: map[string]string{}, notify: make(chan struct{})}
}

// commit appends n entries and returns the last LSN. Every 7th LSN deletes
// a key; the others put one.
func (s *fakeSource) commit(n int) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		lsn := s.applied + 1
		key := fmt.Sprintf("k%03d", lsn%97)
		op := replog.Op{Kind: replog.OpPut, Key: []byte(key), Value: []byte(fmt.Sprintf("v%d%s", lsn, strings.Repeat("x", s.valueLen)))}
		if lsn%7 == 0 {
			op = replog.Op{Kind: replog.OpDelete, Key: []byte(key)}
		}
		applyOp(s.items, op)
		s.entries = append(s.entries, &replog.Entry{LSN: lsn, Epoch: s.epoch, Origin: 1, TS: lsn, Ops: []replog.Op{op}})
		s.applied = lsn
	}
	close(s.notify)
	s.notify = make(chan struct{})
	return s.applied
}

func applyOp(items map[string]string, op replog.Op) {
	if op.Kind == replog.OpDelete {
		delete(items, string(op.Key))
	} else {
		items[string(op.Key)] = string(op.Value)
	}
}

// trim drops the entries below floor.
func (s *fakeSource) trim(floor int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.entries) > 0 && s.entries[0].LSN < floor {
		s.entries = s.entries[1:]
	}
	s.first = floor
}

func (s *fakeSource) snapshotItems() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.items)
}

func (s *fakeSource) ReadLog(after int64, limit int, fn func(*replog.Entry) bool) error {
	s.mu.Lock()
	var out []*replog.Entry
	if len(s.entries) > 0 {
		i := max(0, after+1-s.entries[0].LSN)
		if i < int64(len(s.entries)) {
			out = s.entries[i:]
		}
	}
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	s.mu.Unlock()
	for _, e := range out {
		if !fn(e) {
			break
		}
	}
	return nil
}

func (s *fakeSource) FirstLSN() (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.entries) == 0 {
		return 0, nil
	}
	return s.entries[0].LSN, nil
}

func (s *fakeSource) Applied() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.applied
}

func (s *fakeSource) Epoch() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.epoch
}

func (s *fakeSource) WaitApplied(ctx context.Context, lsn int64) error {
	for {
		s.mu.Lock()
		ok, ch := s.applied >= lsn, s.notify
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (s *fakeSource) Snapshot(ctx context.Context, fn func(key, value []byte) error) (int64, int64, error) {
	s.mu.Lock()
	items := maps.Clone(s.items)
	lsn, epoch := s.applied, s.epoch
	s.mu.Unlock()
	for _, k := range slices.Sorted(maps.Keys(items)) {
		if err := fn([]byte(k), []byte(items[k])); err != nil {
			return 0, 0, err
		}
	}
	return lsn, epoch, ctx.Err()
}

// fakeSources maps partitions to fake logs and counts lookups (one per
// Subscribe or Snapshot RPC).
type fakeSources struct {
	parts   map[uint64]*fakeSource
	lookups atomic.Int64
}

func (s *fakeSources) Source(p uint64) (Source, error) {
	s.lookups.Add(1)
	if src, ok := s.parts[p]; ok {
		return src, nil
	}
	return nil, errors.New("unknown partition")
}

// fakeApplier is an in-memory replica.
type fakeApplier struct {
	// mu guards every field below.
	mu       sync.Mutex
	applied  int64
	epoch    int64
	items    map[string]string
	counts   map[int64]int // times each LSN was applied
	gapAt    int64         // report ErrGap once on reaching this LSN
	gaps     int
	installs int
	delay    time.Duration // per ApplyReplicated call
	// gate, if not nil, blocks ApplyReplicated until closed.
	gate chan struct{}
	// waiting counts ApplyReplicated calls that reached the gate.
	waiting atomic.Int64
}

var _ Applier = (*fakeApplier)(nil)

func newFakeApplier() *fakeApplier {
	return &fakeApplier{items: map[string]string{}, counts: map[int64]int{}}
}

func (a *fakeApplier) Applied() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.applied
}

func (a *fakeApplier) ApplyReplicated(ctx context.Context, entries []*replog.Entry) error {
	a.mu.Lock()
	gate, delay := a.gate, a.delay
	a.mu.Unlock()
	if gate != nil {
		a.waiting.Add(1)
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if delay > 0 {
		time.Sleep(delay)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, e := range entries {
		if e.LSN <= a.applied {
			continue
		}
		if e.LSN > a.applied+1 {
			return fmt.Errorf("apply %d after %d: %w", e.LSN, a.applied, ErrGap)
		}
		if e.LSN == a.gapAt {
			a.gapAt = 0
			a.gaps++
			return fmt.Errorf("injected at %d: %w", e.LSN, ErrGap)
		}
		for _, op := range e.Ops {
			applyOp(a.items, op)
		}
		a.counts[e.LSN]++
		a.applied, a.epoch = e.LSN, e.Epoch
	}
	return nil
}

func (a *fakeApplier) InstallSnapshot(ctx context.Context, lsn, epoch int64, next func() ([]byte, []byte, bool, error)) error {
	items := map[string]string{}
	for {
		k, v, ok, err := next()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		items[string(k)] = string(v)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.items, a.applied, a.epoch = items, lsn, epoch
	a.installs++
	return ctx.Err()
}

func (a *fakeApplier) state() (applied int64, items map[string]string, counts map[int64]int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.applied, maps.Clone(a.items), maps.Clone(a.counts)
}

// requireAppliedOnce checks that every LSN in (from, to] was applied
// exactly once.
func requireAppliedOnce(t *testing.T, a *fakeApplier, from, to int64) {
	t.Helper()
	_, _, counts := a.state()
	for lsn := from + 1; lsn <= to; lsn++ {
		require.Equal(t, 1, counts[lsn], "lsn %d applied count", lsn)
	}
}

// testSender is a write region's gRPC server with the Service.
type testSender struct {
	addr  string
	srv   *grpc.Server
	svc   *Service
	tr    *Tracker
	srcs  *fakeSources
	serve chan struct{} // closed when Serve returns
}

// startSender serves srcs on addr ("" = a new loopback port). If srv is
// nil a server with ServerOptions(testSecret) is built.
func startSender(t *testing.T, addr string, srcs *fakeSources, tr *Tracker, cfg Config) *testSender {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var lis net.Listener
	waitFor(t, 10*time.Second, "listen on "+addr, func() bool {
		var err error
		lis, err = net.Listen("tcp", addr)
		return err == nil
	})
	if cfg.Region == "" {
		cfg.Region = "w"
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	if cfg.Secret == nil {
		cfg.Secret = testSecret
	}
	s := &testSender{
		addr:  lis.Addr().String(),
		srv:   grpc.NewServer(ServerOptions(testSecret)...),
		svc:   NewService(cfg, srcs, tr),
		tr:    tr,
		srcs:  srcs,
		serve: make(chan struct{}),
	}
	s.svc.Register(s.srv)
	go func() {
		defer close(s.serve)
		_ = s.srv.Serve(lis)
	}()
	t.Cleanup(s.stop)
	return s
}

// stop ends the sender like a region shutdown; it is idempotent.
func (s *testSender) stop() {
	stopServer(s.svc, s.srv, s.serve)
}

// stopServer shuts a sender down in the order a region server does.
func stopServer(svc *Service, srv *grpc.Server, served <-chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = svc.Close(ctx)
	srv.Stop()
	<-served
	_ = svc.Close(context.Background()) // every stream has ended now
}

func newTestReceiver(t *testing.T, region string, mod func(*Config)) *Receiver {
	t.Helper()
	cfg := Config{Region: region, Secret: testSecret, MaxBackoff: 200 * time.Millisecond, SpoolDir: t.TempDir(), Logger: testLogger(t)}
	if mod != nil {
		mod(&cfg)
	}
	r := NewReceiver(cfg)
	t.Cleanup(r.Close)
	return r
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func waitApplied(t *testing.T, a *fakeApplier, lsn int64) {
	t.Helper()
	waitFor(t, 15*time.Second, fmt.Sprintf("applied >= %d", lsn), func() bool { return a.Applied() >= lsn })
}

// checkNoLeaks fails the test if a goroutine of this package is still
// running after the test's cleanups (register it first).
func checkNoLeaks(t *testing.T) {
	t.Helper()
	t.Cleanup(func() {
		var leaked string
		deadline := time.Now().Add(5 * time.Second)
		for {
			leaked = ""
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			for g := range strings.SplitSeq(string(buf), "\n\n") {
				if strings.Contains(g, "internal/repl.(*") || strings.Contains(g, "internal/repl.waitNext") {
					leaked = g
					break
				}
			}
			if leaked == "" || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if leaked != "" {
			t.Errorf("goroutine leaked:\n%s", leaked)
		}
	})
}
