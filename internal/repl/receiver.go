package repl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"

	"github.com/meridiandb/meridian/api/replpb"
	"github.com/meridiandb/meridian/internal/peerconn"
	"github.com/meridiandb/meridian/internal/replog"
)

const (
	// minBackoff is the first reconnect delay of a subscription.
	minBackoff = 50 * time.Millisecond
	// warnEvery limits a failing subscription's warnings.
	warnEvery = 10 * time.Second
)

var errHeartbeatTimeout = errors.New("repl: no message from sender within heartbeat timeout")

// snapshotRequiredError ends a session whose sender no longer has the
// entries it needs.
type snapshotRequiredError struct{ first int64 }

func (e *snapshotRequiredError) Error() string {
	return fmt.Sprintf("repl: snapshot required (log starts at %d)", e.first)
}

// Receiver is the read-region side of replication: one subscription per
// partition to the current write region.
type Receiver struct {
	cfg Config
	log *slog.Logger

	// ctx is cancelled by Close.
	ctx    context.Context
	cancel context.CancelFunc

	// mu guards closed, follows, conns and progress, and orders wg.Add
	// against Close's wg.Wait.
	mu       sync.Mutex
	closed   bool
	follows  map[followKey]*follow
	conns    map[string]*peerConn // by connKey(peerRegion, addr)
	progress map[uint64]*progressState
	// wg counts the subscription goroutines.
	wg sync.WaitGroup
}

// peerConn is the one client connection to a sender address, shared by
// every partition that follows it.
type peerConn struct {
	key    string
	cc     *grpc.ClientConn
	client replpb.ReplicationClient
	refs   int // follows using it; guarded by Receiver.mu
}

type progressState struct {
	p Progress
	// heads says when this region learned each head (bounded staleness:
	// CoveredAt).
	heads headSamples
	// changed is closed (and replaced) on every update.
	changed chan struct{}
}

// followKey names a subscription: the partition's only one (source "",
// single-write: to the write region), or one per source region
// (multi-write: FollowFrom).
type followKey struct {
	partition uint64
	source    string
}

// follow is one partition's subscription; its fields are immutable.
type follow struct {
	r          *Receiver
	partition  uint64
	peerRegion string
	addr       string
	app        Applier
	conn       *peerConn
	log        *slog.Logger
	cancel     context.CancelFunc
	done       chan struct{} // closed when run returns
}

// NewReceiver returns a Receiver with no subscriptions. It panics if cfg
// (after Defaults) is invalid; call cfg.Validate first to get an error
// instead.
func NewReceiver(cfg Config) *Receiver {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	r := &Receiver{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "repl-receiver", "region", cfg.Region),
		follows:  make(map[followKey]*follow),
		conns:    make(map[string]*peerConn),
		progress: make(map[uint64]*progressState),
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	return r
}

func connKey(peerRegion, addr string) string { return peerRegion + "\x00" + addr }

// Follow starts (or retargets) the subscription of partition to the sender
// at addr (peerRegion is its region name, for the dialer). It reconnects
// with backoff on any error, resubscribes from app.Applied() after a gap or
// reconnect, installs a snapshot when told SnapshotRequired, and acks
// app.Applied() after each durable apply. Following the same target with
// the same app again is a no-op; a retarget starts only after the previous
// subscription has stopped, so app is never called concurrently. It does
// nothing after Close.
func (r *Receiver) Follow(partition uint64, peerRegion, addr string, app Applier) {
	r.follow(followKey{partition: partition}, peerRegion, addr, app)
}

// FollowFrom starts a subscription of partition to peerRegion's log that
// runs beside the partition's other ones (multi-region writes: every region
// follows every other; app is the partition's applier of that source's
// log). Like Follow, it is idempotent and does nothing after Close.
func (r *Receiver) FollowFrom(partition uint64, peerRegion, addr string, app Applier) {
	r.follow(followKey{partition: partition, source: peerRegion}, peerRegion, addr, app)
}

func (r *Receiver) follow(key followKey, peerRegion, addr string, app Applier) {
	partition := key.partition
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	old := r.follows[key]
	if old != nil && old.peerRegion == peerRegion && old.addr == addr && sameApplier(old.app, app) {
		return
	}
	pc, err := r.connLocked(peerRegion, addr)
	if err != nil {
		// Only a malformed target gets here; there is nobody to return it to.
		r.log.Error("cannot create replication client", "partition", partition, "peer", peerRegion, "addr", addr, "err", err)
		return
	}
	var prev <-chan struct{}
	if old != nil {
		old.cancel()
		prev = old.done
	}
	ctx, cancel := context.WithCancel(r.ctx)
	f := &follow{
		r:          r,
		partition:  partition,
		peerRegion: peerRegion,
		addr:       addr,
		app:        app,
		conn:       pc,
		log:        r.log.With("partition", partition, "peer", peerRegion),
		cancel:     cancel,
		done:       make(chan struct{}),
	}
	r.follows[key] = f
	r.wg.Add(1)
	go f.run(ctx, prev)
}

// Unfollow stops every subscription of partition and waits until they no
// longer call their Appliers.
func (r *Receiver) Unfollow(partition uint64) {
	r.mu.Lock()
	var fs []*follow
	for k, f := range r.follows {
		if k.partition == partition {
			fs = append(fs, f)
			delete(r.follows, k)
		}
	}
	r.mu.Unlock()
	for _, f := range fs {
		f.cancel()
	}
	for _, f := range fs {
		<-f.done
	}
}

// sameApplier compares appliers; a comparable value type (a per-source
// applier) compares by value.
func sameApplier(a, b Applier) bool {
	type equaler interface{ Equal(any) bool }
	if e, ok := a.(equaler); ok {
		return e.Equal(b)
	}
	return a == b
}

// Close stops all subscriptions, waits for their goroutines and closes the
// connections. It is idempotent.
func (r *Receiver) Close() {
	r.mu.Lock()
	r.closed = true
	r.follows = make(map[followKey]*follow)
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()
	// Every follow released its connection; this is for safety only.
	r.mu.Lock()
	conns := r.conns
	r.conns = make(map[string]*peerConn)
	r.mu.Unlock()
	for _, pc := range conns {
		_ = pc.cc.Close()
	}
}

// connLocked returns the shared connection to addr, creating it, and takes
// a reference. r.mu is held.
func (r *Receiver) connLocked(peerRegion, addr string) (*peerConn, error) {
	key := connKey(peerRegion, addr)
	if pc := r.conns[key]; pc != nil {
		pc.refs++
		return pc, nil
	}
	cc, err := peerconn.New(peerRegion, addr, peerconn.Dialer(r.cfg.Dial),
		peerconn.Options{MaxBackoff: max(r.cfg.MaxBackoff, minBackoff), MaxRecvMsgBytes: maxRecvMsgBytes},
		grpc.WithPerRPCCredentials(perRPCCredential{
			region: r.cfg.Region,
			secret: append([]byte(nil), r.cfg.Secret...),
			clock:  r.cfg.Clock,
		}))
	if err != nil {
		return nil, fmt.Errorf("new client for %s at %s: %w", peerRegion, addr, err)
	}
	pc := &peerConn{key: key, cc: cc, client: replpb.NewReplicationClient(cc), refs: 1}
	r.conns[key] = pc
	return pc, nil
}

// release drops a reference to pc and closes it when unused.
func (r *Receiver) release(pc *peerConn) {
	r.mu.Lock()
	pc.refs--
	unused := pc.refs == 0 && r.conns[pc.key] == pc
	if unused {
		delete(r.conns, pc.key)
	}
	r.mu.Unlock()
	if unused {
		_ = pc.cc.Close()
	}
}

// Progress returns what this region last heard from the sender of
// partition (head, committed, epoch, quorum, when); false if nothing yet.
func (r *Receiver) Progress(partition uint64) (Progress, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ps := r.progress[partition]
	if ps == nil || ps.p.HeardAt.IsZero() {
		return Progress{}, false
	}
	p := ps.p
	p.Quorum = slices.Clone(p.Quorum)
	return p, true
}

// CoveredAt returns the latest time by which this region, having applied
// the partition's log up to applied, holds every write the write region
// had acknowledged; false if it is behind every head it has heard of.
// Bounded staleness serves a read only if that time is within T.
func (r *Receiver) CoveredAt(partition uint64, applied int64) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ps := r.progress[partition]
	if ps == nil {
		return time.Time{}, false
	}
	return ps.heads.coveredAt(applied)
}

// WaitProgress blocks until Progress(partition).Committed >= committed or
// ctx ends (or the Receiver is closed: ErrClosed).
func (r *Receiver) WaitProgress(ctx context.Context, partition uint64, committed int64) error {
	for {
		r.mu.Lock()
		ps := r.progressLocked(partition)
		ok, ch := ps.p.Committed >= committed, ps.changed
		r.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("wait committed %d@%d: %w", partition, committed, ctx.Err())
		case <-r.ctx.Done():
			return ErrClosed
		}
	}
}

func (r *Receiver) progressLocked(partition uint64) *progressState {
	ps := r.progress[partition]
	if ps == nil {
		ps = &progressState{changed: make(chan struct{})}
		r.progress[partition] = ps
	}
	return ps
}

// heard records a Progress message (nil: only the connection state).
func (r *Receiver) heard(partition uint64, m *replpb.Progress, connected bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ps := r.progressLocked(partition)
	ps.p.Connected = connected
	if m != nil {
		now := r.cfg.Clock()
		if m.Epoch != ps.p.Epoch {
			ps.heads = headSamples{} // another write region's log: its heads start over
		}
		ps.p.Head = m.HeadLsn
		ps.p.Committed = max(ps.p.Committed, m.CommittedLsn)
		ps.p.Epoch = m.Epoch
		ps.p.Quorum = m.Quorum
		ps.p.QuorumLSN = m.QuorumLsn
		ps.p.HeardAt = now
		at := now
		if sent := time.Unix(0, m.SentUnixNanos); m.SentUnixNanos != 0 && sent.Before(at) {
			at = sent // a message held up in the network says what was true when it was sent
		}
		ps.heads.add(m.HeadLsn, at)
		if sent := time.Unix(0, m.SentUnixNanos); sent.After(ps.p.SentAt) {
			ps.p.SentAt = sent
		}
	}
	close(ps.changed)
	ps.changed = make(chan struct{})
}

// run keeps the subscription alive until ctx ends. prev, if not nil, is
// the previous subscription of the partition, which must stop first.
func (f *follow) run(ctx context.Context, prev <-chan struct{}) {
	defer f.r.wg.Done()
	defer close(f.done)
	defer f.r.release(f.conn)
	if prev != nil {
		select {
		case <-prev:
		case <-ctx.Done():
			return
		}
	}
	defer f.r.heard(f.partition, nil, false /* connected */)
	f.log.Info("replication subscription started", "addr", f.addr)
	delay := minBackoff
	var (
		lastWarn   time.Time
		suppressed int
	)
	for {
		start := time.Now()
		applied, err := f.session(ctx)
		f.r.heard(f.partition, nil, false /* connected */)
		if ctx.Err() != nil {
			f.log.Info("replication subscription stopped")
			return
		}
		var ns interface{ NeedsSnapshot() bool }
		if errors.As(err, &ns) && ns.NeedsSnapshot() {
			// The applier cannot continue from this log (multi-write: an
			// origin's writes it lacks were trimmed or merged elsewhere).
			err = &snapshotRequiredError{}
		}
		if snap, ok := errors.AsType[*snapshotRequiredError](err); ok {
			f.log.Info("installing snapshot", "log_first", snap.first, "applied", f.app.Applied())
			if err = f.installSnapshot(ctx); err == nil {
				delay = minBackoff
				continue
			}
			if ctx.Err() != nil {
				return
			}
		}
		if applied || time.Since(start) > f.r.cfg.HeartbeatTimeout {
			delay = minBackoff
		}
		if time.Since(lastWarn) >= warnEvery {
			f.log.Warn("replication stream failed; reconnecting", "err", err, "suppressed", suppressed, "applied", f.app.Applied())
			lastWarn, suppressed = time.Now(), 0
		} else {
			suppressed++
			f.log.Debug("replication stream failed; reconnecting", "err", err)
		}
		// Full jitter in [delay/2, delay].
		d := delay/2 + rand.N(delay/2+1)
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return
		}
		delay = min(2*delay, max(f.r.cfg.MaxBackoff, minBackoff))
	}
}

// session runs one Subscribe stream. It reports whether it applied
// anything, and why it ended.
func (f *follow) session(ctx context.Context) (applied bool, err error) {
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	nctx, nonce := newNonce(sctx)
	stream, err := f.conn.client.Subscribe(nctx)
	if err != nil {
		return false, fmt.Errorf("subscribe: %w", err)
	}
	after := f.app.Applied()
	err = stream.Send(&replpb.ReceiverMessage{Msg: &replpb.ReceiverMessage_Subscribe{Subscribe: &replpb.Subscribe{
		Region:    f.r.cfg.Region,
		Partition: f.partition,
		AfterLsn:  after,
	}}})
	if err != nil && !errors.Is(err, io.EOF) { // on io.EOF, Recv returns the stream's status
		return false, fmt.Errorf("send subscribe: %w", err)
	}
	timeout := f.r.cfg.HeartbeatTimeout
	proven := false
	entries := make([]*replog.Entry, 0, f.r.cfg.MaxBatch)
	// With a PipelinedApplier the batches are queued as they arrive and an
	// acker goroutine waits for each to be durable, in order, and acks it;
	// otherwise each batch is applied and acked before the next is read.
	pipe, _ := f.app.(PipelinedApplier)
	var ack *acker
	if pipe != nil {
		ack = newAcker(stream, f.app, cancel)
		defer ack.stop()
	}
	for {
		timer := time.AfterFunc(timeout, func() { cancel(errHeartbeatTimeout) })
		m, err := stream.Recv()
		timer.Stop()
		if err != nil {
			if ack != nil {
				if aerr := ack.stop(); aerr != nil {
					return applied || ack.progressed.Load(), aerr
				}
				applied = applied || ack.progressed.Load()
			}
			if cause := context.Cause(sctx); errors.Is(cause, errHeartbeatTimeout) {
				return applied, errHeartbeatTimeout
			}
			return applied, fmt.Errorf("receive: %w", err)
		}
		if !proven {
			if err := checkProof(f.r.cfg.Secret, stream, replpb.Replication_Subscribe_FullMethodName, nonce); err != nil {
				return applied, err
			}
			proven = true
		}
		switch msg := m.Msg.(type) {
		case *replpb.SenderMessage_Heartbeat:
			f.r.heard(f.partition, msg.Heartbeat.GetProgress(), true /* connected */)
		case *replpb.SenderMessage_Batch:
			f.r.heard(f.partition, msg.Batch.GetProgress(), true /* connected */)
			if pipe != nil {
				// A queued batch stays referenced until it is applied.
				entries = make([]*replog.Entry, 0, len(msg.Batch.Entries))
			}
			entries = entries[:0]
			for i, b := range msg.Batch.Entries {
				e, err := replog.Decode(b)
				if err != nil {
					return applied, fmt.Errorf("decode entry %d of batch: %w", i, err)
				}
				if i > 0 && e.LSN != entries[i-1].LSN+1 {
					return applied, fmt.Errorf("batch entry %d follows %d: %w", e.LSN, entries[i-1].LSN, ErrGap)
				}
				entries = append(entries, e)
			}
			if len(entries) == 0 {
				continue
			}
			if pipe != nil {
				wait, err := pipe.QueueReplicated(sctx, entries)
				if err != nil {
					return applied || ack.progressed.Load(), fmt.Errorf("apply %d..%d: %w", entries[0].LSN, entries[len(entries)-1].LSN, err)
				}
				// If the acker has failed, it has canceled the session and
				// the next Recv reports why.
				ack.add(sctx, queuedBatch{first: entries[0].LSN, last: entries[len(entries)-1].LSN, wait: wait})
				continue
			}
			if err := f.app.ApplyReplicated(sctx, entries); err != nil {
				return applied, fmt.Errorf("apply %d..%d: %w", entries[0].LSN, entries[len(entries)-1].LSN, err)
			}
			applied = true
			err = stream.Send(&replpb.ReceiverMessage{Msg: &replpb.ReceiverMessage_Ack{Ack: &replpb.Ack{
				DurableLsn: f.app.Applied(),
			}}})
			if err != nil && !errors.Is(err, io.EOF) {
				return applied, fmt.Errorf("send ack: %w", err)
			}
		case *replpb.SenderMessage_SnapshotRequired:
			return applied, &snapshotRequiredError{first: msg.SnapshotRequired.FirstLsn}
		default:
			return applied, fmt.Errorf("repl: unexpected sender message %T", m.Msg)
		}
	}
}

// maxQueuedBatches bounds the batches a pipelined session has queued and
// not yet acked; the receive loop waits when they are all in flight.
const maxQueuedBatches = 16

// errApplyFailed ends a session whose queued batch failed.
var errApplyFailed = errors.New("repl: queued batch failed")

// queuedBatch is a batch queued on a PipelinedApplier.
type queuedBatch struct {
	first, last int64
	wait        func() error
}

// acker waits for a session's queued batches in order and acks each once it
// is durable. It owns the stream's send side while it runs.
type acker struct {
	stream     replpb.Replication_SubscribeClient
	app        Applier
	cancel     context.CancelCauseFunc
	queue      chan queuedBatch
	done       chan struct{}
	err        error // set before done is closed
	progressed atomic.Bool
	stopOnce   sync.Once
}

func newAcker(stream replpb.Replication_SubscribeClient, app Applier, cancel context.CancelCauseFunc) *acker {
	a := &acker{stream: stream, app: app, cancel: cancel,
		queue: make(chan queuedBatch, maxQueuedBatches), done: make(chan struct{})}
	go a.run()
	return a
}

// add queues b for acking. It waits while maxQueuedBatches are queued,
// and gives up when ctx ends (the session is over: the queued batch is
// still applied, and answered to nobody).
func (a *acker) add(ctx context.Context, b queuedBatch) {
	select {
	case a.queue <- b:
	case <-ctx.Done():
	}
}

// stop waits until every queued batch has its outcome and returns the first
// failure (nil if none). It may be called more than once.
func (a *acker) stop() error {
	a.stopOnce.Do(func() { close(a.queue) })
	<-a.done
	return a.err
}

func (a *acker) run() {
	defer close(a.done)
	for b := range a.queue {
		if a.err != nil {
			_ = b.wait() // every queued batch is answered; its outcome no longer matters
			continue
		}
		if err := b.wait(); err != nil {
			a.err = fmt.Errorf("apply %d..%d: %w", b.first, b.last, err)
			a.cancel(errApplyFailed)
			continue
		}
		a.progressed.Store(true)
		err := a.stream.Send(&replpb.ReceiverMessage{Msg: &replpb.ReceiverMessage_Ack{Ack: &replpb.Ack{
			DurableLsn: a.app.Applied(),
		}}})
		if err != nil && !errors.Is(err, io.EOF) {
			a.err = fmt.Errorf("send ack: %w", err)
			a.cancel(errApplyFailed)
		}
	}
}
