package wan

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"math"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// RetransmitTimeout is the extra delay a "lost" segment suffers (see
// LinkConfig.Loss): the minimum TCP retransmission timeout on Linux.
const RetransmitTimeout = 200 * time.Millisecond

// ErrClosed is returned by dials through a Network that has been closed.
var ErrClosed = errors.New("wan: network closed")

// LinkConfig describes one direction of the link between two regions.
type LinkConfig struct {
	// Delay is the one-way delay. It is a floor: jitter only adds to it.
	Delay time.Duration
	// Jitter is the maximum extra delay, drawn uniformly from [0, Jitter]
	// for each segment. It never reorders bytes.
	Jitter time.Duration
	// Loss, in [0, 1], is the probability that a segment is delayed by an
	// extra RetransmitTimeout, modelling TCP loss. Bytes are never dropped.
	Loss float64
	// Partitioned makes the link a blackhole: bytes are held, not
	// delivered, and new dials block.
	Partitioned bool
}

// normalize clamps out-of-range fields and reports whether it had to.
func (c LinkConfig) normalize() (LinkConfig, bool) {
	orig := c
	c.Delay = max(c.Delay, 0)
	c.Jitter = max(c.Jitter, 0)
	if math.IsNaN(c.Loss) || c.Loss < 0 {
		c.Loss = 0
	}
	c.Loss = min(c.Loss, 1)
	return c, c != orig
}

// LinkStats counts the bytes that crossed one directed link, summed over
// all its connections.
type LinkStats struct {
	// BytesSent is the number of bytes that entered the link: written by
	// the sending region's application, or read from the peer's socket.
	BytesSent int64
	// BytesDelivered is the number of bytes that left the link: written to
	// the peer's socket, or returned by Read to the application.
	BytesDelivered int64
	// Held is the number of bytes in the link now: sent, not yet delivered,
	// whether waiting out the delay or held by a partition.
	Held int64
	// Discarded is the number of bytes that never arrived because their
	// connection was closed first (always so while partitioned).
	Discarded int64
}

// linkStats is the live form of LinkStats.
type linkStats struct {
	sent      atomic.Int64
	delivered atomic.Int64
	held      atomic.Int64
	discarded atomic.Int64
}

func (s *linkStats) enter(n int) {
	s.sent.Add(int64(n))
	s.held.Add(int64(n))
}

func (s *linkStats) leave(n int) {
	s.delivered.Add(int64(n))
	s.held.Add(-int64(n))
}

func (s *linkStats) discard(n int) {
	s.discarded.Add(int64(n))
	s.held.Add(-int64(n))
}

// linkTable is an immutable snapshot of the link configuration. Readers
// load it without locks; waiters select on changed to learn of the next one.
type linkTable struct {
	links    map[[2]string]LinkConfig
	isolated map[string]bool
	// changed is closed when a newer table replaces this one.
	changed chan struct{}
}

func (t *linkTable) link(key [2]string) LinkConfig {
	c := t.links[key]
	if key[0] != key[1] && (t.isolated[key[0]] || t.isolated[key[1]]) {
		c.Partitioned = true
	}
	return c
}

func (t *linkTable) partitioned(key [2]string) bool {
	return t.link(key).Partitioned
}

// Network is the simulated WAN of one process: a table of directed links
// between regions, and the connections that cross them. The zero value is
// not usable; call NewNetwork. All methods are safe for concurrent use.
type Network struct {
	logger *slog.Logger
	// done is closed by Close.
	done chan struct{}
	// table is the current configuration; replaced, never mutated.
	table atomic.Pointer[linkTable]

	// mu guards the fields below and serializes configuration changes, so
	// that each change publishes a complete new table. Lock order: mu
	// before any pipe.mu (newPipe); pipes never take mu.
	mu       sync.Mutex
	links    map[[2]string]LinkConfig
	isolated map[string]bool
	stats    map[[2]string]*linkStats
	conns    map[*conn]struct{}
	closed   bool
	seed     uint64
	rng      *rand.Rand // seeds each pipe's own generator
}

// NewNetwork returns a Network in which every link is perfect until
// configured. A nil logger discards. The random seed for jitter and loss is
// random; use SetSeed to reproduce a run.
func NewNetwork(logger *slog.Logger) *Network {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	n := &Network{
		logger:   logger,
		done:     make(chan struct{}),
		links:    make(map[[2]string]LinkConfig),
		isolated: make(map[string]bool),
		stats:    make(map[[2]string]*linkStats),
		conns:    make(map[*conn]struct{}),
	}
	n.mu.Lock()
	n.setSeedLocked(rand.Uint64())
	n.publishLocked()
	n.mu.Unlock()
	return n
}

// SetSeed reseeds the generator for jitter and loss. It affects connections
// created afterwards. Log or print the seed of a failing test to replay it.
func (n *Network) SetSeed(seed uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.setSeedLocked(seed)
}

// Seed returns the seed last set.
func (n *Network) Seed() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.seed
}

func (n *Network) setSeedLocked(seed uint64) {
	n.seed = seed
	n.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// publishLocked installs a snapshot of links and isolated and wakes every
// waiter on the previous one. Healed pipes are updated first, so that no
// reader of the new table sees a held byte as due.
func (n *Network) publishLocked() {
	t := &linkTable{
		links:    maps.Clone(n.links),
		isolated: maps.Clone(n.isolated),
		changed:  make(chan struct{}),
	}
	old := n.table.Load()
	if old != nil {
		now := time.Now()
		for c := range n.conns {
			c.out.retransmit(old, t, now)
			c.in.retransmit(old, t, now)
		}
	}
	n.table.Store(t)
	if old != nil {
		close(old.changed)
	}
}

func (n *Network) current() *linkTable { return n.table.Load() }

// SetLink replaces the configuration of the from→to direction. Out-of-range
// fields are clamped (negative durations to 0, Loss into [0, 1]).
func (n *Network) SetLink(from, to string, c LinkConfig) {
	c, clamped := c.normalize()
	if clamped {
		n.logger.Warn("wan link config clamped", "from", from, "to", to)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.links[[2]string{from, to}] = c
	n.publishLocked()
	n.logger.Info("wan link set", "from", from, "to", to, "delay", c.Delay,
		"jitter", c.Jitter, "loss", c.Loss, "partitioned", c.Partitioned)
}

// update applies f to the stored config of each directed pair and publishes
// the result in one step.
func (n *Network) update(f func(*LinkConfig), keys ...[2]string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, k := range keys {
		c := n.links[k]
		f(&c)
		n.links[k] = c
	}
	n.publishLocked()
}

// SetRTT sets the delay of both directions between a and b so that they
// add up to rtt (rtt/2 each), keeping jitter, loss and partition state.
func (n *Network) SetRTT(a, b string, rtt time.Duration) {
	rtt = max(rtt, 0)
	n.mu.Lock()
	defer n.mu.Unlock()
	ab, ba := [2]string{a, b}, [2]string{b, a}
	c := n.links[ab]
	c.Delay = rtt / 2
	n.links[ab] = c
	c = n.links[ba]
	c.Delay = rtt - rtt/2
	n.links[ba] = c
	n.publishLocked()
	n.logger.Info("wan rtt set", "a", a, "b", b, "rtt", rtt)
}

// Partition blackholes both directions between a and b.
func (n *Network) Partition(a, b string) {
	n.update(func(c *LinkConfig) { c.Partitioned = true }, [2]string{a, b}, [2]string{b, a})
	n.logger.Info("wan partition", "a", a, "b", b)
}

// PartitionOneWay blackholes the from→to direction only. Bytes from to to
// from still flow, but a new dial in either direction blocks, as a TCP
// handshake needs both.
func (n *Network) PartitionOneWay(from, to string) {
	n.update(func(c *LinkConfig) { c.Partitioned = true }, [2]string{from, to})
	n.logger.Info("wan partition one way", "from", from, "to", to)
}

// Heal ends the partition of both directions between a and b. It does not
// undo Isolate.
func (n *Network) Heal(a, b string) {
	n.update(func(c *LinkConfig) { c.Partitioned = false }, [2]string{a, b}, [2]string{b, a})
	n.logger.Info("wan heal", "a", a, "b", b)
}

// HealOneWay ends the partition of the from→to direction.
func (n *Network) HealOneWay(from, to string) {
	n.update(func(c *LinkConfig) { c.Partitioned = false }, [2]string{from, to})
	n.logger.Info("wan heal one way", "from", from, "to", to)
}

// Isolate partitions region from every other region (not from itself),
// including regions whose links are configured later, until Rejoin or
// HealAll. It is kept apart from the per-link Partitioned flags.
func (n *Network) Isolate(region string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.isolated[region] = true
	n.publishLocked()
	n.logger.Info("wan isolate", "region", region)
}

// Rejoin undoes Isolate(region). Links partitioned one by one stay so.
func (n *Network) Rejoin(region string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.isolated, region)
	n.publishLocked()
	n.logger.Info("wan rejoin", "region", region)
}

// HealAll ends every partition and isolation. Delays, jitter and loss stay.
func (n *Network) HealAll() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for k, c := range n.links {
		c.Partitioned = false
		n.links[k] = c
	}
	clear(n.isolated)
	n.publishLocked()
	n.logger.Info("wan heal all")
}

// Links returns a copy of the configured links, as set. Isolation is not
// folded in; Link reports the effective configuration of one direction.
func (n *Network) Links() map[[2]string]LinkConfig {
	return maps.Clone(n.current().links)
}

// Link returns the effective configuration of the from→to direction,
// with Partitioned set if either region is isolated.
func (n *Network) Link(from, to string) LinkConfig {
	return n.current().link([2]string{from, to})
}

// Stats returns the byte counts of the from→to direction.
func (n *Network) Stats(from, to string) LinkStats {
	n.mu.Lock()
	s := n.stats[[2]string{from, to}]
	n.mu.Unlock()
	if s == nil {
		return LinkStats{}
	}
	return LinkStats{
		BytesSent:      s.sent.Load(),
		BytesDelivered: s.delivered.Load(),
		Held:           s.held.Load(),
		Discarded:      s.discarded.Load(),
	}
}

// Close closes every connection through the Network at once, discarding
// queued bytes, and waits for their goroutines. Later dials fail with
// ErrClosed, and later Wraps return closed connections. Close is idempotent.
func (n *Network) Close() {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.closed = true
	close(n.done)
	conns := make([]*conn, 0, len(n.conns))
	for c := range n.conns {
		conns = append(conns, c)
	}
	n.mu.Unlock()
	for _, c := range conns {
		_ = c.Close() // the inner conn's close error is of no use here
	}
	n.logger.Info("wan closed", "conns", len(conns))
}

// Dialer returns a dial function for connections from region from to
// region to, usable directly as grpc.WithContextDialer(n.Dialer(from, to)).
func (n *Network) Dialer(from, to string) func(ctx context.Context, addr string) (net.Conn, error) {
	return func(ctx context.Context, addr string) (net.Conn, error) {
		return n.Dial(ctx, from, to, addr)
	}
}

// Dial connects to the TCP address addr as region from reaching region to,
// and returns the connection wrapped as by Wrap. It blocks while either
// direction between from and to is partitioned, and costs one round trip
// of link delay, like a TCP handshake. Errors from the ctx are returned as
// a *net.OpError wrapping ctx.Err().
func (n *Network) Dial(ctx context.Context, from, to, addr string) (net.Conn, error) {
	fwd, back := [2]string{from, to}, [2]string{to, from}
	opErr := func(err error) error {
		return &net.OpError{Op: "dial", Net: "tcp", Addr: dialAddr(addr), Err: err}
	}
	// SYN: travels from→to once the path is open.
	if err := n.awaitPath(ctx, fwd, back); err != nil {
		return nil, opErr(err)
	}
	if err := n.sleep(ctx, n.current().link(fwd).Delay); err != nil {
		return nil, opErr(err)
	}
	var d net.Dialer
	inner, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	// SYN-ACK: travels back, and is lost if a partition started meanwhile.
	err = n.sleep(ctx, n.current().link(back).Delay)
	if err == nil {
		err = n.awaitPath(ctx, fwd, back)
	}
	if err != nil {
		_ = inner.Close() // never handed out
		return nil, opErr(err)
	}
	c, ok := n.wrap(from, to, inner)
	if !ok {
		return nil, opErr(ErrClosed)
	}
	n.logger.Debug("wan dial", "from", from, "to", to, "addr", addr)
	return c, nil
}

// awaitPath waits until neither key is partitioned.
func (n *Network) awaitPath(ctx context.Context, keys ...[2]string) error {
	for {
		t := n.current()
		open := true
		for _, k := range keys {
			open = open && !t.partitioned(k)
		}
		if open {
			return nil
		}
		select {
		case <-t.changed:
		case <-ctx.Done():
			return ctx.Err()
		case <-n.done:
			return ErrClosed
		}
	}
}

// sleep waits for d, the ctx or Close.
func (n *Network) sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-n.done:
		return ErrClosed
	default:
	}
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-n.done:
		return ErrClosed
	}
}

// Wrap returns c with the from→to link applied to the bytes written to it
// and the to→from link applied to the bytes read from it. The wrapper owns
// c: closing it closes c. It starts two goroutines, stopped by Close or by
// Network.Close. After Network.Close, Wrap closes c and returns a closed
// connection.
func (n *Network) Wrap(from, to string, c net.Conn) net.Conn {
	w, _ := n.wrap(from, to, c)
	return w
}

// wrap is Wrap, and reports false if the Network was closed.
func (n *Network) wrap(from, to string, c net.Conn) (*conn, bool) {
	w := &conn{
		n:        n,
		inner:    c,
		pumpDone: make(chan struct{}),
	}
	n.mu.Lock()
	w.out = n.newPipeLocked([2]string{from, to})
	w.in = n.newPipeLocked([2]string{to, from})
	if n.closed {
		n.mu.Unlock()
		close(w.pumpDone)
		_ = w.Close() // returns c's close error, of no use to the caller
		return w, false
	}
	n.conns[w] = struct{}{}
	w.wg.Add(2)
	n.mu.Unlock()
	go w.pump()
	go w.receive()
	return w, true
}

func (n *Network) newPipeLocked(key [2]string) *pipe {
	s := n.stats[key]
	if s == nil {
		s = new(linkStats)
		n.stats[key] = s
	}
	return &pipe{
		n:     n,
		link:  key,
		stats: s,
		rng:   rand.New(rand.NewPCG(n.rng.Uint64(), n.rng.Uint64())),
		wake:  make(chan struct{}),
	}
}

func (n *Network) forget(c *conn) {
	n.mu.Lock()
	delete(n.conns, c)
	n.mu.Unlock()
}

// dialAddr is a net.Addr for an address that was never resolved.
type dialAddr string

func (a dialAddr) Network() string { return "tcp" }
func (a dialAddr) String() string  { return string(a) }
