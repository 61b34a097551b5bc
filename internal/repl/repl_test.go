package repl

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/meridiandb/meridian/api/replpb"
	"github.com/meridiandb/meridian/internal/replog"
	"github.com/meridiandb/meridian/internal/wan"
)

const part = uint64(7)

func setup(t *testing.T) (*fakeSource, *testSender) {
	t.Helper()
	src := newFakeSource()
	s := startSender(t, "", &fakeSources{parts: map[uint64]*fakeSource{part: src}}, NewTracker(nil), Config{})
	return src, s
}

func TestStreamInOrderAppliedOnce(t *testing.T) {
	checkNoLeaks(t)
	src, s := setup(t)
	src.commit(1000) // backlog: shipped in coalesced batches
	r := newTestReceiver(t, "r1", func(c *Config) { c.MaxBatch = 100 })
	app := newFakeApplier()
	r.Follow(part, "w", s.addr, app)
	waitApplied(t, app, 1000)

	var last int64
	for range 50 { // tail: committed while the stream is open
		last = src.commit(10)
	}
	waitApplied(t, app, last)
	requireAppliedOnce(t, app, 0, last)
	_, items, _ := app.state()
	require.Equal(t, src.snapshotItems(), items)

	lsns, err := s.tr.WaitAcked(t.Context(), part, last, []string{"r1"}, 1)
	require.NoError(t, err)
	require.Equal(t, []string{"r1"}, lsns)
	acked, at := s.tr.Acked(part, "r1")
	require.Equal(t, last, acked)
	require.False(t, at.IsZero())
	peers := s.tr.Peers(part)
	require.True(t, peers["r1"].Connected)
	require.Equal(t, last, peers["r1"].Acked)

	waitFor(t, 5*time.Second, "progress head", func() bool {
		p, ok := r.Progress(part)
		return ok && p.Head == last && p.Connected && p.Epoch == 1
	})
	r.Close()
	waitFor(t, 5*time.Second, "peer disconnected", func() bool { return !s.tr.Peers(part)["r1"].Connected })
	p, ok := r.Progress(part)
	require.True(t, ok)
	require.False(t, p.Connected)
}

func TestWaitAckedNOfM(t *testing.T) {
	checkNoLeaks(t)
	src, s := setup(t)
	b, c := newFakeApplier(), newFakeApplier()
	gate := make(chan struct{})
	c.gate = gate
	rb, rc := newTestReceiver(t, "b", nil), newTestReceiver(t, "c", nil)
	rb.Follow(part, "w", s.addr, b)
	rc.Follow(part, "w", s.addr, c)
	lsn := src.commit(3)

	regions := []string{"b", "c"}
	got, err := s.tr.WaitAcked(t.Context(), part, lsn, regions, 1)
	require.NoError(t, err)
	require.Equal(t, []string{"b"}, got)

	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	got, err = s.tr.WaitAcked(ctx, part, lsn, regions, 2)
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, []string{"b"}, got, "a timed-out wait reports who acked")

	close(gate)
	got, err = s.tr.WaitAcked(t.Context(), part, lsn, regions, len(regions))
	require.NoError(t, err)
	require.Equal(t, regions, got)

	_, err = s.tr.WaitAcked(t.Context(), part, lsn, regions, 3)
	require.Error(t, err)
	got, err = s.tr.WaitAcked(t.Context(), part, lsn, regions, 0)
	require.NoError(t, err)
	require.Len(t, got, 2)
}

func TestReceiverRestartResumesWithoutDuplicates(t *testing.T) {
	checkNoLeaks(t)
	src, s := setup(t)
	src.commit(3000)
	app := newFakeApplier()
	app.delay = time.Millisecond
	slow := func(c *Config) { c.MaxBatch = 32 }
	r1 := newTestReceiver(t, "r1", slow)
	r1.Follow(part, "w", s.addr, app)
	waitApplied(t, app, 100)
	r1.Close() // most likely mid-stream
	stopped := app.Applied()
	t.Logf("receiver closed at applied=%d of 3000", stopped)

	last := src.commit(500)
	r2 := newTestReceiver(t, "r1", slow)
	r2.Follow(part, "w", s.addr, app)
	waitApplied(t, app, last)
	requireAppliedOnce(t, app, 0, last)
	_, items, _ := app.state()
	require.Equal(t, src.snapshotItems(), items)
	waitFor(t, 5*time.Second, "ack", func() bool { a, _ := s.tr.Acked(part, "r1"); return a == last })
}

func TestGapResubscribes(t *testing.T) {
	checkNoLeaks(t)
	src, s := setup(t)
	last := src.commit(200)
	app := newFakeApplier()
	app.gapAt = 50
	r := newTestReceiver(t, "r1", func(c *Config) { c.MaxBatch = 16 })
	r.Follow(part, "w", s.addr, app)
	waitApplied(t, app, last)
	requireAppliedOnce(t, app, 0, last)
	require.Equal(t, 1, app.gaps)
	require.GreaterOrEqual(t, s.srcs.lookups.Load(), int64(2), "resubscribed after the gap")
}

func TestSnapshotWhenLogTrimmed(t *testing.T) {
	checkNoLeaks(t)
	src, s := setup(t)
	src.commit(100)
	src.trim(61)
	app := newFakeApplier()
	r := newTestReceiver(t, "r1", nil)
	r.Follow(part, "w", s.addr, app)
	waitApplied(t, app, 100)
	_, items, counts := app.state()
	require.Equal(t, src.snapshotItems(), items)
	require.Empty(t, counts[100], "reached 100 by the snapshot, not the log")

	last := src.commit(50) // tailing continues after the snapshot
	waitApplied(t, app, last)
	requireAppliedOnce(t, app, 100, last)
	_, items, _ = app.state()
	require.Equal(t, src.snapshotItems(), items)
	app.mu.Lock()
	require.Equal(t, 1, app.installs)
	app.mu.Unlock()
	a, _ := s.tr.Acked(part, "r1")
	require.GreaterOrEqual(t, a, int64(100))
}

func TestSnapshotWhenLogEmptied(t *testing.T) {
	checkNoLeaks(t)
	src, s := setup(t)
	src.commit(2500) // several snapshot chunks
	src.trim(2501)   // nothing left in the log
	app := newFakeApplier()
	r := newTestReceiver(t, "r1", nil)
	r.Follow(part, "w", s.addr, app)
	waitApplied(t, app, 2500)
	_, items, _ := app.state()
	require.Equal(t, src.snapshotItems(), items)
	last := src.commit(5)
	waitApplied(t, app, last)
	requireAppliedOnce(t, app, 2500, last)
}

func TestAuthentication(t *testing.T) {
	checkNoLeaks(t)
	src, s := setup(t)
	src.commit(10)

	// A receiver with the wrong secret applies nothing.
	app := newFakeApplier()
	bad := newTestReceiver(t, "r1", func(c *Config) { c.Secret = []byte("wrong-secret") })
	bad.Follow(part, "w", s.addr, app)

	dialRaw := func(opts ...grpc.DialOption) replpb.ReplicationClient {
		cc, err := grpc.NewClient("passthrough:///"+s.addr, append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))...)
		require.NoError(t, err)
		t.Cleanup(func() { _ = cc.Close() })
		return replpb.NewReplicationClient(cc)
	}
	subscribe := func(c replpb.ReplicationClient, region string) error {
		st, err := c.Subscribe(t.Context())
		require.NoError(t, err)
		err = st.Send(&replpb.ReceiverMessage{Msg: &replpb.ReceiverMessage_Subscribe{Subscribe: &replpb.Subscribe{Region: region, Partition: part}}})
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		_, err = st.Recv()
		return err
	}
	cred := func(region string, secret []byte) grpc.DialOption {
		return grpc.WithPerRPCCredentials(perRPCCredential{region: region, secret: secret, clock: time.Now})
	}

	stranger := dialRaw()
	require.Equal(t, codes.Unauthenticated, status.Code(subscribe(stranger, "r1")))
	snap, err := stranger.Snapshot(t.Context(), &replpb.SnapshotRequest{Region: "r1", Partition: part})
	if err == nil {
		_, err = snap.Recv()
	}
	require.Equal(t, codes.Unauthenticated, status.Code(err))

	wrong := dialRaw(cred("r1", []byte("wrong-secret")))
	require.Equal(t, codes.Unauthenticated, status.Code(subscribe(wrong, "r1")))

	stale := dialRaw(grpc.WithPerRPCCredentials(perRPCCredential{region: "r1", secret: testSecret,
		clock: func() time.Time { return time.Now().Add(-time.Hour) }}))
	require.Equal(t, codes.Unauthenticated, status.Code(subscribe(stale, "r1")))

	good := dialRaw(cred("r1", testSecret))
	require.Equal(t, codes.PermissionDenied, status.Code(subscribe(good, "r2")), "a region may not pose as another")
	st, err := good.Subscribe(t.Context())
	require.NoError(t, err)
	require.NoError(t, st.Send(&replpb.ReceiverMessage{Msg: &replpb.ReceiverMessage_Subscribe{Subscribe: &replpb.Subscribe{Region: "r1", Partition: 999}}}))
	_, err = st.Recv()
	require.Equal(t, codes.NotFound, status.Code(err))

	// Give the bad receiver time for several attempts: it must not apply.
	time.Sleep(300 * time.Millisecond)
	require.Zero(t, app.Applied())
	_, ok := bad.Progress(part)
	require.False(t, ok)
	_, seen := s.tr.Peers(part)["r1"]
	require.False(t, seen, "an unauthenticated peer leaves no trace")
}

// rogueSender serves a valid-looking log without knowing the secret.
type rogueSender struct {
	replpb.UnimplementedReplicationServer
	calls atomic.Int64
}

func (g *rogueSender) Subscribe(stream replpb.Replication_SubscribeServer) error {
	g.calls.Add(1)
	if _, err := stream.Recv(); err != nil {
		return err
	}
	if g.calls.Load()%2 == 0 {
		return stream.Send(&replpb.SenderMessage{Msg: &replpb.SenderMessage_SnapshotRequired{SnapshotRequired: &replpb.SnapshotRequired{FirstLsn: 5}}})
	}
	e := (&replog.Entry{LSN: 1, Epoch: 1, Ops: []replog.Op{{Kind: replog.OpPut, Key: []byte("evil"), Value: []byte("x")}}}).Encode(nil)
	return stream.Send(&replpb.SenderMessage{Msg: &replpb.SenderMessage_Batch{Batch: &replpb.Batch{
		Entries: [][]byte{e}, Progress: &replpb.Progress{HeadLsn: 1, CommittedLsn: 1},
	}}})
}

func (g *rogueSender) Snapshot(_ *replpb.SnapshotRequest, stream replpb.Replication_SnapshotServer) error {
	return stream.Send(&replpb.SnapshotChunk{Lsn: 9, Epoch: 1, Last: true, Items: []*replpb.Item{{Key: []byte("evil"), Value: []byte("x")}}})
}

// A stranger at the sender's address cannot feed a receiver.
func TestRogueSenderCannotInject(t *testing.T) {
	checkNoLeaks(t)
	rogue := &rogueSender{}
	srv := grpc.NewServer()
	replpb.RegisterReplicationServer(srv, rogue)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(lis) }()
	t.Cleanup(func() { srv.Stop(); <-served })

	app := newFakeApplier()
	r := newTestReceiver(t, "r1", func(c *Config) { c.MaxBackoff = 20 * time.Millisecond })
	r.Follow(part, "w", lis.Addr().String(), app)
	waitFor(t, 10*time.Second, "several attempts", func() bool { return rogue.calls.Load() >= 4 })
	r.Unfollow(part)
	applied, items, _ := app.state()
	require.Zero(t, applied)
	require.Empty(t, items)
	app.mu.Lock()
	require.Zero(t, app.installs)
	app.mu.Unlock()
	_, ok := r.Progress(part)
	require.False(t, ok, "progress from a stranger is ignored")
}

// The Service checks credentials itself when the server lacks ServerOptions.
func TestServiceAuthenticatesWithoutInterceptor(t *testing.T) {
	checkNoLeaks(t)
	src := newFakeSource()
	src.commit(5)
	svc := NewService(Config{Region: "w", Secret: testSecret}, &fakeSources{parts: map[uint64]*fakeSource{part: src}}, NewTracker(nil))
	srv := grpc.NewServer()
	svc.Register(srv)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(lis) }()
	t.Cleanup(func() { stopServer(svc, srv, served) })

	good, bad := newFakeApplier(), newFakeApplier()
	newTestReceiver(t, "r1", nil).Follow(part, "w", lis.Addr().String(), good)
	newTestReceiver(t, "r2", func(c *Config) { c.Secret = []byte("nope") }).Follow(part, "w", lis.Addr().String(), bad)
	waitApplied(t, good, 5)
	time.Sleep(100 * time.Millisecond)
	require.Zero(t, bad.Applied())
}

func TestSenderRestartReconnects(t *testing.T) {
	checkNoLeaks(t)
	src := newFakeSource()
	srcs := &fakeSources{parts: map[uint64]*fakeSource{part: src}}
	s1 := startSender(t, "", srcs, NewTracker(nil), Config{})
	app := newFakeApplier()
	r := newTestReceiver(t, "r1", nil)
	r.Follow(part, "w", s1.addr, app)
	waitApplied(t, app, src.commit(100))

	s1.stop() // the write region's process dies
	waitFor(t, 10*time.Second, "disconnected", func() bool { p, _ := r.Progress(part); return !p.Connected })
	last := src.commit(100)

	tr2 := NewTracker(nil)
	startSender(t, s1.addr, srcs, tr2, Config{})
	waitApplied(t, app, last)
	requireAppliedOnce(t, app, 0, last)
	_, err := tr2.WaitAcked(t.Context(), part, last, []string{"r1"}, 1)
	require.NoError(t, err)
}

// A sender that accepts a stream and then says nothing is dropped after
// HeartbeatTimeout and the receiver resubscribes.
func TestHeartbeatTimeoutResubscribes(t *testing.T) {
	checkNoLeaks(t)
	src := newFakeSource()
	last := src.commit(20)
	svc := NewService(Config{Region: "w", Secret: testSecret}, &fakeSources{parts: map[uint64]*fakeSource{part: src}}, NewTracker(nil))
	mute := &muteOnce{Service: svc}
	srv := grpc.NewServer(ServerOptions(testSecret)...)
	replpb.RegisterReplicationServer(srv, mute)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(lis) }()
	t.Cleanup(func() { stopServer(svc, srv, served) })

	app := newFakeApplier()
	r := newTestReceiver(t, "r1", func(c *Config) {
		c.HeartbeatInterval = 20 * time.Millisecond
		c.HeartbeatTimeout = 300 * time.Millisecond
	})
	start := time.Now()
	r.Follow(part, "w", lis.Addr().String(), app)
	waitApplied(t, app, last)
	require.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond)
	require.True(t, mute.muted.Load())
}

// muteOnce swallows the first Subscribe stream without a word.
type muteOnce struct {
	*Service
	muted atomic.Bool
}

func (m *muteOnce) Subscribe(stream replpb.Replication_SubscribeServer) error {
	if !m.muted.Swap(true) {
		<-stream.Context().Done()
		return stream.Context().Err()
	}
	return m.Service.Subscribe(stream)
}

func TestCommittedAndQuorumProgress(t *testing.T) {
	checkNoLeaks(t)
	src, s := setup(t)
	src.commit(10)
	r := newTestReceiver(t, "r1", func(c *Config) { c.HeartbeatInterval = time.Hour; c.HeartbeatTimeout = 2 * time.Hour })
	r.Follow(part, "w", s.addr, newFakeApplier())

	done := make(chan error, 1)
	go func() { done <- r.WaitProgress(t.Context(), part, 8) }()
	// Pushed at once, not on the (hour-long) heartbeat.
	s.tr.SetQuorum(part, []string{"w", "r1"}, 0)
	s.tr.SetCommitted(part, 8)
	s.tr.SetCommitted(part, 3) // ignored: never goes down
	require.NoError(t, <-done)
	require.Equal(t, int64(8), s.tr.Committed(part))
	waitFor(t, 5*time.Second, "quorum", func() bool {
		p, _ := r.Progress(part)
		return len(p.Quorum) == 2 && p.Committed == 8
	})

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, r.WaitProgress(ctx, part, 9), context.DeadlineExceeded)
}

// With 20 ms each way between the regions, a commit's ack cannot arrive
// sooner than one round trip after the commit.
func TestAckLatencyOverWAN(t *testing.T) {
	checkNoLeaks(t)
	src, s := setup(t)
	n := wan.NewNetwork(slog.New(slog.DiscardHandler))
	t.Cleanup(n.Close)
	n.SetRTT("w", "r1", 40*time.Millisecond)
	app := newFakeApplier()
	r := newTestReceiver(t, "r1", func(c *Config) {
		c.Dial = func(ctx context.Context, peer, addr string) (net.Conn, error) { return n.Dial(ctx, "r1", peer, addr) }
	})
	r.Follow(part, "w", s.addr, app)
	waitFor(t, 10*time.Second, "connected", func() bool { p, _ := r.Progress(part); return p.Connected })

	for range 3 {
		start := time.Now()
		lsn := src.commit(1)
		_, err := s.tr.WaitAcked(t.Context(), part, lsn, []string{"r1"}, 1)
		require.NoError(t, err)
		took := time.Since(start)
		require.GreaterOrEqual(t, took, 40*time.Millisecond)
		t.Logf("commit→ack over 40 ms RTT: %v", took)
	}
}

func TestRetargetAndUnfollow(t *testing.T) {
	checkNoLeaks(t)
	src1, s1 := setup(t)
	src2, s2 := setup(t)
	src1.commit(30)
	src2.commit(60) // the new write region holds a longer log (same prefix shape)
	app := newFakeApplier()
	r := newTestReceiver(t, "r1", nil)
	r.Follow(part, "w", s1.addr, app)
	waitApplied(t, app, 30)
	r.Follow(part, "w", s1.addr, app) // no-op
	r.Follow(part, "w2", s2.addr, app)
	waitApplied(t, app, 60)
	requireAppliedOnce(t, app, 0, 60)
	r.Unfollow(part)
	src2.commit(5)
	time.Sleep(100 * time.Millisecond)
	require.Equal(t, int64(60), app.Applied(), "nothing applied after Unfollow")
	r.Unfollow(part) // idempotent
	r.Close()
	r.Close()
	r.Follow(part, "w", s1.addr, app) // ignored after Close
}

// Close cannot interrupt a Send blocked by a receiver that stopped
// reading; it returns at its deadline and the server's Stop ends the stream.
func TestCloseWithStalledReceiver(t *testing.T) {
	checkNoLeaks(t)
	src := newFakeSource()
	src.valueLen = 10_000
	src.commit(3000) // ~30 MB: more than any flow-control window
	srcs := &fakeSources{parts: map[uint64]*fakeSource{part: src}}
	s := startSender(t, "", srcs, NewTracker(nil), Config{})
	app := newFakeApplier()
	gate := make(chan struct{})
	app.gate = gate
	r := newTestReceiver(t, "r1", nil)
	r.Follow(part, "w", s.addr, app)
	waitFor(t, 10*time.Second, "receiver stalled", func() bool { return app.waiting.Load() > 0 })
	time.Sleep(200 * time.Millisecond) // let the sender fill the flow-control window

	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	err := s.svc.Close(ctx)
	if err != nil { // the usual case: the sender is stuck in Send
		require.ErrorIs(t, err, context.DeadlineExceeded)
	}
	t.Logf("Close with a stalled receiver: %v", err)
	s.srv.Stop()
	require.NoError(t, s.svc.Close(t.Context()))
	close(gate)
	r.Unfollow(part)
}

func TestConfigValidate(t *testing.T) {
	var c Config
	c.Defaults()
	require.ErrorContains(t, c.Validate(), "Region")
	c.Region = "r"
	require.ErrorContains(t, c.Validate(), "Secret")
	c.Secret = testSecret
	require.NoError(t, c.Validate())
	require.Equal(t, time.Second, c.HeartbeatTimeout)
	require.Equal(t, 512, c.MaxBatch)
	c.HeartbeatTimeout = c.HeartbeatInterval
	require.ErrorContains(t, c.Validate(), "HeartbeatTimeout")
	require.Panics(t, func() { NewReceiver(Config{Region: "r"}) })
}

func BenchmarkStream(b *testing.B) {
	src := newFakeSource()
	src.valueLen = 200
	srcs := &fakeSources{parts: map[uint64]*fakeSource{part: src}}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	tr := NewTracker(nil)
	svc := NewService(Config{Region: "w", Secret: testSecret, Logger: slog.New(slog.DiscardHandler)}, srcs, tr)
	srv := grpc.NewServer(ServerOptions(testSecret)...)
	svc.Register(srv)
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(lis) }()
	defer stopServer(svc, srv, served)
	r := NewReceiver(Config{Region: "r1", Secret: testSecret, Logger: slog.New(slog.DiscardHandler)})
	defer r.Close()
	app := newFakeApplier()
	last := src.commit(b.N)

	b.ResetTimer()
	r.Follow(part, "w", lis.Addr().String(), app)
	if _, err := tr.WaitAcked(context.Background(), part, last, []string{"r1"}, 1); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}
