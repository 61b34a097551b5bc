package wan

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Timing assertions are lower bounds on every sample. A loaded 2-core
// machine may stall any single sample, so the only upper bound is on the
// fastest of several samples, with 500 ms of slack: it catches a link that
// is always far too slow without flaking on a stall.
const slack = 500 * time.Millisecond

// server is a TCP server on loopback that runs handle on each connection.
type server struct {
	ln       net.Listener
	accepted atomic.Int64
	wg       sync.WaitGroup

	// mu guards conns.
	mu    sync.Mutex
	conns []net.Conn
}

func startServer(t testing.TB, handle func(net.Conn)) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &server{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepted.Add(1)
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			_ = c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *server) addr() string { return s.ln.Addr().String() }

func echo(c net.Conn) { _, _ = io.Copy(c, c) }

func startEcho(t testing.TB) *server { return startServer(t, echo) }

func newNet(t testing.TB) *Network {
	t.Helper()
	n := NewNetwork(nil)
	t.Cleanup(n.Close)
	t.Logf("wan seed %d", n.Seed())
	return n
}

func dial(t testing.TB, n *Network, from, to, addr string) net.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := n.Dial(ctx, from, to, addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// roundTrip writes msg and reads the echo, returning the elapsed time.
func roundTrip(t testing.TB, c net.Conn, msg []byte) time.Duration {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	start := time.Now()
	_, err := c.Write(msg)
	require.NoError(t, err)
	got := make([]byte, len(msg))
	_, err = io.ReadFull(c, got)
	require.NoError(t, err)
	elapsed := time.Since(start)
	require.Equal(t, msg, got)
	return elapsed
}

// eventually polls cond in the test's goroutine (require.Eventually would
// add one, which upsets goroutine counts) and fails with every goroutine's
// stack if it stays false for 5 s.
func eventually(t testing.TB, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("condition not met in 5 s; goroutines:\n%s", buf[:runtime.Stack(buf, true)])
		}
	}
}

func requireTimeout(t testing.TB, err error) {
	t.Helper()
	require.Error(t, err)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	require.True(t, ne.Timeout(), "not a timeout: %v", err)
}

func TestRTTLowerBound(t *testing.T) {
	srv := startEcho(t)
	n := newNet(t)

	base := roundTrip(t, dial(t, n, "a", "b", srv.addr()), []byte("x"))
	t.Logf("0 ms link: rtt %v", base)

	n.SetLink("a", "b", LinkConfig{Delay: 20 * time.Millisecond})
	n.SetLink("b", "a", LinkConfig{Delay: 20 * time.Millisecond})
	start := time.Now()
	c := dial(t, n, "a", "b", srv.addr())
	require.GreaterOrEqual(t, time.Since(start), 40*time.Millisecond, "dial costs a handshake RTT")
	fastest := time.Hour
	for range 3 {
		rtt := roundTrip(t, c, []byte("ping"))
		t.Logf("20 ms each way: rtt %v", rtt)
		require.GreaterOrEqual(t, rtt, 40*time.Millisecond)
		fastest = min(fastest, rtt)
	}
	require.Less(t, fastest, 40*time.Millisecond+slack)
}

func TestConfigChangeAppliesToOpenConn(t *testing.T) {
	srv := startEcho(t)
	n := newNet(t)
	c := dial(t, n, "a", "b", srv.addr())
	roundTrip(t, c, []byte("warm"))

	n.SetRTT("a", "b", 60*time.Millisecond)
	require.Equal(t, 30*time.Millisecond, n.Link("a", "b").Delay)
	require.Equal(t, 30*time.Millisecond, n.Link("b", "a").Delay)
	require.GreaterOrEqual(t, roundTrip(t, c, []byte("slow")), 60*time.Millisecond)

	n.SetRTT("a", "b", 0)
	c2 := dial(t, n, "a", "b", srv.addr())
	roundTrip(t, c2, []byte("fast")) // no lower bound to check; must just work
	require.Len(t, n.Links(), 2)
}

func TestOrderPreservedUnderJitterAndLoss(t *testing.T) {
	const total = 10_000
	srv := startEcho(t)
	n := newNet(t)
	cfg := LinkConfig{Delay: time.Millisecond, Jitter: 10 * time.Millisecond, Loss: 0.01}
	n.SetLink("a", "b", cfg)
	n.SetLink("b", "a", cfg)
	c := dial(t, n, "a", "b", srv.addr())
	require.NoError(t, c.SetReadDeadline(time.Now().Add(8*time.Second)))

	errc := make(chan error, 1)
	go func() {
		seq := 0
		for seq < total {
			k := min(1+seq%7, total-seq) // many small writes
			b := make([]byte, k)
			for i := range b {
				b[i] = byte(seq + i)
			}
			if _, err := c.Write(b); err != nil {
				errc <- err
				return
			}
			seq += k
		}
		errc <- nil
	}()

	got := make([]byte, 0, total)
	buf := make([]byte, 1024)
	for len(got) < total {
		k, err := c.Read(buf)
		require.NoError(t, err)
		got = append(got, buf[:k]...)
	}
	require.NoError(t, <-errc)
	for i, b := range got {
		if b != byte(i) {
			t.Fatalf("byte %d is %d, want %d", i, b, byte(i))
		}
	}
	s := n.Stats("a", "b")
	require.Equal(t, int64(total), s.BytesSent)
	require.Equal(t, int64(total), s.BytesDelivered)
	require.Zero(t, s.Held)
}

func TestPartitionHoldsThenHealReleases(t *testing.T) {
	srv := startEcho(t)
	n := newNet(t)
	n.SetRTT("a", "b", 20*time.Millisecond)
	c := dial(t, n, "a", "b", srv.addr())
	roundTrip(t, c, []byte("before"))

	n.Partition("a", "b")
	require.True(t, n.Link("a", "b").Partitioned)
	require.True(t, n.Link("b", "a").Partitioned)
	msg := []byte("during the partition")
	_, err := c.Write(msg) // returns at once: queued, like a send buffer
	require.NoError(t, err)

	require.NoError(t, c.SetReadDeadline(time.Now().Add(150*time.Millisecond)))
	_, err = c.Read(make([]byte, 64))
	requireTimeout(t, err)
	require.Equal(t, int64(len(msg)), n.Stats("a", "b").Held, "held, not delivered")

	healed := time.Now()
	n.Heal("a", "b")
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	got := make([]byte, len(msg))
	_, err = io.ReadFull(c, got)
	require.NoError(t, err)
	require.Equal(t, msg, got)
	require.GreaterOrEqual(t, time.Since(healed), 20*time.Millisecond, "retransmitted over the link after the heal")
	require.Zero(t, n.Stats("a", "b").Held)
}

func TestPartitionHoldsPeerBytes(t *testing.T) {
	// The server sends without being asked; a partition of b→a must hold
	// those bytes on the dialing side, too.
	release := make(chan struct{})
	srv := startServer(t, func(c net.Conn) {
		<-release
		_, _ = c.Write([]byte("push"))
		_, _ = io.Copy(io.Discard, c)
	})
	n := newNet(t)
	n.SetRTT("a", "b", 60*time.Millisecond)
	c := dial(t, n, "a", "b", srv.addr())
	n.PartitionOneWay("b", "a")
	close(release)

	// Once the bytes have reached the wrapper, they are due within 30 ms,
	// well before the heal below (which follows a 150 ms read timeout), so
	// they are lost in the partition rather than still in flight.
	eventually(t, func() bool { return n.Stats("b", "a").BytesSent == 4 })
	require.NoError(t, c.SetReadDeadline(time.Now().Add(150*time.Millisecond)))
	_, err := c.Read(make([]byte, 4))
	requireTimeout(t, err)
	// The other direction still flows.
	_, err = c.Write([]byte("up"))
	require.NoError(t, err)
	eventually(t, func() bool { return n.Stats("a", "b").BytesDelivered == 2 })

	// Nobody is reading at the heal; the held bytes still cross the link
	// once more after it.
	healed := time.Now()
	n.HealOneWay("b", "a")
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	got := make([]byte, 4)
	_, err = io.ReadFull(c, got)
	require.NoError(t, err)
	require.Equal(t, "push", string(got))
	require.GreaterOrEqual(t, time.Since(healed), 30*time.Millisecond)
}

func TestDialDuringPartitionTimesOut(t *testing.T) {
	srv := startEcho(t)
	n := newNet(t)
	n.PartitionOneWay("b", "a") // one direction is enough to stop a handshake

	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	_, err := n.Dial(ctx, "a", "b", srv.addr())
	require.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)
	requireTimeout(t, err)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Zero(t, srv.accepted.Load(), "a blackhole, not a refusal: no connection is made")

	// Cancellation also ends the wait, and healing lets dials through.
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	_, err = n.Dial(ctx2, "a", "b", srv.addr())
	require.ErrorIs(t, err, context.Canceled)

	n.HealAll()
	roundTrip(t, dial(t, n, "a", "b", srv.addr()), []byte("ok"))
}

func TestIsolate(t *testing.T) {
	srv := startEcho(t)
	n := newNet(t)
	c := dial(t, n, "a", "b", srv.addr())
	n.Isolate("b")
	require.True(t, n.Link("a", "b").Partitioned)
	require.True(t, n.Link("c", "b").Partitioned, "covers links never configured")
	require.False(t, n.Link("a", "c").Partitioned)
	require.False(t, n.Link("b", "b").Partitioned, "not from itself")

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := n.Dial(ctx, "c", "b", srv.addr())
	requireTimeout(t, err)

	_, err = c.Write([]byte("held"))
	require.NoError(t, err)
	n.Heal("a", "b") // does not undo isolation
	require.True(t, n.Link("a", "b").Partitioned)
	n.Rejoin("b")
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	got := make([]byte, 4)
	_, err = io.ReadFull(c, got)
	require.NoError(t, err)
	require.Equal(t, "held", string(got))
}

func TestReadDeadlineInterruptsWaitingRead(t *testing.T) {
	srv := startEcho(t)
	n := newNet(t)
	c := dial(t, n, "a", "b", srv.addr())
	n.SetRTT("a", "b", 10*time.Second) // the echo is never due during the test
	_, err := c.Write([]byte("slow"))
	require.NoError(t, err)

	errc := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 4))
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond) // let Read block; correctness does not depend on it
	require.NoError(t, c.SetReadDeadline(time.Now().Add(-time.Second)))
	err = <-errc
	requireTimeout(t, err)
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)

	// A deadline set before Read applies as well.
	require.NoError(t, c.SetReadDeadline(time.Now().Add(30*time.Millisecond)))
	_, err = c.Read(make([]byte, 4))
	requireTimeout(t, err)

	// The echo is still 5 s away; a plain Close would linger for it.
	n.Close()
}

func TestWriteBackpressureAndDeadline(t *testing.T) {
	srv := startEcho(t)
	n := newNet(t)
	c := dial(t, n, "a", "b", srv.addr())
	n.Partition("a", "b")

	// A full buffer's worth is queued at once, partition or not.
	k, err := c.Write(make([]byte, maxQueued))
	require.NoError(t, err)
	require.Equal(t, maxQueued, k)
	require.Equal(t, int64(maxQueued), n.Stats("a", "b").Held)

	// One byte more blocks until the deadline.
	require.NoError(t, c.SetWriteDeadline(time.Now().Add(50*time.Millisecond)))
	k, err = c.Write([]byte{1})
	requireTimeout(t, err)
	require.Zero(t, k)

	// Healing drains the queue, and writes flow again.
	n.Heal("a", "b")
	require.NoError(t, c.SetWriteDeadline(time.Time{}))
	_, err = c.Write([]byte{1})
	require.NoError(t, err)
	eventually(t, func() bool { return n.Stats("a", "b").BytesDelivered == maxQueued+1 })
}

func TestCloseUnblocksAndDiscardsHeld(t *testing.T) {
	srv := startEcho(t)
	n := newNet(t)
	c := dial(t, n, "a", "b", srv.addr())
	n.Partition("a", "b")

	readErr := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		readErr <- err
	}()
	writeErr := make(chan error, 1)
	go func() {
		_, err := c.Write(make([]byte, maxQueued+1))
		writeErr <- err
	}()
	eventually(t, func() bool { return n.Stats("a", "b").Held == maxQueued })

	require.NoError(t, c.Close())
	require.ErrorIs(t, <-readErr, net.ErrClosed)
	require.ErrorIs(t, <-writeErr, net.ErrClosed)
	s := n.Stats("a", "b")
	require.Zero(t, s.Held)
	require.Equal(t, int64(maxQueued), s.Discarded)
	require.Zero(t, s.BytesDelivered)

	_, err := c.Read(make([]byte, 1))
	require.ErrorIs(t, err, net.ErrClosed)
	_, err = c.Write([]byte("x"))
	require.ErrorIs(t, err, net.ErrClosed)
}

func TestCloseLingersUntilDelivered(t *testing.T) {
	got := make(chan []byte, 1)
	srv := startServer(t, func(c net.Conn) {
		b, _ := io.ReadAll(c)
		got <- b
	})
	n := newNet(t)
	n.SetRTT("a", "b", 60*time.Millisecond)
	c := dial(t, n, "a", "b", srv.addr())
	start := time.Now()
	_, err := c.Write([]byte("last words"))
	require.NoError(t, err)
	require.NoError(t, c.Close())
	require.GreaterOrEqual(t, time.Since(start), 30*time.Millisecond, "Close waited for the delivery")
	require.Equal(t, "last words", string(<-got))
}

func TestPeerCloseIsDelayedEOF(t *testing.T) {
	srv := startServer(t, func(c net.Conn) { _, _ = c.Write([]byte("bye")) })
	n := newNet(t)
	n.SetRTT("a", "b", 40*time.Millisecond)
	c := dial(t, n, "a", "b", srv.addr())
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	b, err := io.ReadAll(c)
	require.NoError(t, err)
	require.Equal(t, "bye", string(b))
	_, err = c.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF, "sticky")
}

func TestNetworkCloseStopsGoroutines(t *testing.T) {
	srv := startEcho(t)
	baseline := runtime.NumGoroutine()

	n := NewNetwork(nil)
	n.SetRTT("a", "b", 10*time.Millisecond)
	var conns []net.Conn
	for range 5 {
		c := dial(t, n, "a", "b", srv.addr())
		roundTrip(t, c, []byte("hi"))
		conns = append(conns, c)
	}
	conns[0].Close() // some closed by the user, the rest by the Network
	n.Partition("a", "b")
	_, err := conns[1].Write([]byte("held"))
	require.NoError(t, err)
	n.Close()
	n.Close() // idempotent

	_, err = conns[2].Read(make([]byte, 1))
	require.ErrorIs(t, err, net.ErrClosed)
	_, err = n.Dial(context.Background(), "a", "b", srv.addr())
	require.ErrorIs(t, err, ErrClosed)
	raw, err := net.Dial("tcp", srv.addr())
	require.NoError(t, err)
	w := n.Wrap("a", "b", raw)
	_, err = w.Write([]byte("x"))
	require.ErrorIs(t, err, net.ErrClosed)

	// The server's handlers end once they see EOF; poll, don't sleep.
	eventually(t, func() bool { return runtime.NumGoroutine() <= baseline })
}

func TestGRPCHealthThroughWAN(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	gs := grpc.NewServer()
	healthpb.RegisterHealthServer(gs, health.NewServer())
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = gs.Serve(ln)
	}()
	t.Cleanup(func() {
		gs.Stop()
		<-served
	})

	n := newNet(t)
	n.SetRTT("east", "west", 50*time.Millisecond)
	cc, err := grpc.NewClient("passthrough:///"+ln.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(n.Dialer("east", "west")))
	require.NoError(t, err)
	t.Cleanup(func() { _ = cc.Close() })
	client := healthpb.NewHealthClient(cc)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fastest := time.Hour
	for i := range 3 { // the first call also pays for the connection
		start := time.Now()
		resp, err := client.Check(ctx, &healthpb.HealthCheckRequest{})
		elapsed := time.Since(start)
		require.NoError(t, err)
		require.Equal(t, healthpb.HealthCheckResponse_SERVING, resp.GetStatus())
		t.Logf("health check %d: %v", i, elapsed)
		require.GreaterOrEqual(t, elapsed, 50*time.Millisecond)
		fastest = min(fastest, elapsed)
	}
	require.Less(t, fastest, 50*time.Millisecond+slack)
	require.Positive(t, n.Stats("east", "west").BytesDelivered)
	require.Positive(t, n.Stats("west", "east").BytesDelivered)
}

func TestLinkConfigClamped(t *testing.T) {
	n := newNet(t)
	n.SetLink("a", "b", LinkConfig{Delay: -1, Jitter: -1, Loss: 2})
	require.Equal(t, LinkConfig{Loss: 1}, n.Link("a", "b"))
	n.SetSeed(42)
	require.Equal(t, uint64(42), n.Seed())
}

// BenchmarkThroughputZeroDelay streams through an echo server over a
// 0-delay link, against a raw loopback connection as the baseline.
func BenchmarkThroughputZeroDelay(b *testing.B) {
	srv := startEcho(b)
	for _, size := range []int{64, 32 << 10} {
		b.Run(fmt.Sprintf("raw/%dB", size), func(b *testing.B) {
			c, err := net.Dial("tcp", srv.addr())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			benchStream(b, c, size)
		})
		b.Run(fmt.Sprintf("wan/%dB", size), func(b *testing.B) {
			n := NewNetwork(nil)
			defer n.Close()
			benchStream(b, dial(b, n, "a", "b", srv.addr()), size)
		})
	}
}

func benchStream(b *testing.B, c net.Conn, size int) {
	msg := bytes.Repeat([]byte{0xab}, size)
	done := make(chan error, 1)
	b.SetBytes(int64(size))
	b.ResetTimer()
	go func() {
		buf := make([]byte, size)
		for range b.N {
			if _, err := io.ReadFull(c, buf); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for range b.N {
		if _, err := c.Write(msg); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}
