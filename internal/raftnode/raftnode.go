package raftnode

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/meridiandb/meridian/api/controlpb"
)

var (
	// ErrClosed is returned by calls on a Node that is closing or closed.
	ErrClosed = errors.New("raftnode: node closed")
	// ErrNotStarted is returned by calls that need Start first.
	ErrNotStarted = errors.New("raftnode: node not started")
	// ErrNotLeader is returned by leader-only calls on another node.
	ErrNotLeader = errors.New("raftnode: not the leader")
	// ErrCommandTooLarge is returned for a command over MaxCommandBytes.
	ErrCommandTooLarge = errors.New("raftnode: command too large")

	// errNoLeader and errLeaderChanged make Propose retry.
	errNoLeader      = errors.New("raftnode: no known leader")
	errLeaderChanged = errors.New("raftnode: leadership changed during the proposal")
	// errRejected is a proposal the leader refused as invalid.
	errRejected = errors.New("raftnode: proposal rejected")
)

const (
	// snapshotsRetained is how many snapshot files Dir keeps.
	snapshotsRetained = 2
	// logCacheSize is how many recent log entries stay in memory.
	logCacheSize = 512
	// minRetry and maxRetry bound Propose's wait between attempts when
	// it sees no leader change.
	minRetry = 20 * time.Millisecond
	maxRetry = time.Second
	// votersRefresh is how often the cached configuration is reloaded
	// besides on every leader or peer change.
	votersRefresh = time.Second
)

// Node is one member of the account's control plane: a hashicorp/raft
// node with its log in Pebble, a gRPC transport through the WAN dialer,
// propose-and-wait with leader forwarding, and lease checks for fencing.
type Node struct {
	cfg   Config
	log   *slog.Logger
	auth  authenticator
	fsm   *fsmAdapter
	store *store
	trans *transport
	snaps raft.SnapshotStore

	// raft is set by Start.
	raft atomic.Pointer[raft.Raft]
	// leadership carries the latest "this node is leader" value.
	leadership chan bool

	// ctx is cancelled when Close begins.
	ctx    context.Context
	cancel context.CancelFunc

	// mu guards started, closed, observer, leaderCh and voters, and orders
	// wg.Add against Close's wg.Wait.
	mu       sync.Mutex
	started  bool
	closed   bool
	observer *raft.Observer
	// leaderCh is closed (and replaced) whenever the leader may have
	// changed.
	leaderCh chan struct{}
	// voters are the voter IDs of the latest configuration.
	voters []string
	// wg counts the monitor and the goroutines that wait on raft futures.
	wg sync.WaitGroup

	// closeDone is closed when Close has finished; closeErr is its result.
	closeDone chan struct{}
	closeErr  error
}

// New builds a Node and registers the Raft service on g (the region's peer
// gRPC server). Call Start once g serves. The service is live from here
// on: RPCs that arrive before Start wait, and after Close they fail.
func New(cfg Config, fsm FSM, g *grpc.Server) (*Node, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if fsm == nil || g == nil {
		return nil, errors.New("raftnode: New needs an FSM and a gRPC server")
	}
	cfg.Secret = append([]byte(nil), cfg.Secret...)
	cfg.Peers = append([]Peer(nil), cfg.Peers...)
	log := cfg.Logger.With("component", "raftnode", "node", cfg.ID)
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.Dir, snapshotsRetained, newHCLog(log, "raft-snapshots"))
	if err != nil {
		return nil, fmt.Errorf("open snapshot store %s: %w", cfg.Dir, err)
	}
	auth := authenticator{id: cfg.ID, secret: cfg.Secret, clock: time.Now}
	n := &Node{
		cfg:        cfg,
		log:        log,
		auth:       auth,
		fsm:        newFSMAdapter(fsm, cfg.DedupeWindow),
		store:      newStore(cfg.DB),
		trans:      newTransport(&cfg, auth, log),
		snaps:      snaps,
		leadership: make(chan bool, 1),
		leaderCh:   make(chan struct{}),
		closeDone:  make(chan struct{}),
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	controlpb.RegisterRaftServer(g, &service{t: n.trans, n: n})
	return n, nil
}

// Start starts Raft: it loads the log and the latest snapshot (Restore,
// then Apply of the later committed entries, as they become known),
// bootstraps the configuration if Bootstrap is set and there is no state,
// and starts the background monitor.
func (n *Node) Start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case n.closed:
		return ErrClosed
	case n.started:
		return errors.New("raftnode: Start called twice")
	}
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(n.cfg.ID)
	rc.HeartbeatTimeout = n.cfg.HeartbeatTimeout
	rc.ElectionTimeout = n.cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = n.cfg.LeaderLeaseTimeout
	rc.CommitTimeout = n.cfg.CommitTimeout
	rc.MaxAppendEntries = maxAppendEntries
	rc.SnapshotThreshold = n.cfg.SnapshotThreshold
	rc.SnapshotInterval = n.cfg.SnapshotInterval
	rc.TrailingLogs = n.cfg.TrailingLogs
	rc.NoLegacyTelemetry = true
	rc.Logger = newHCLog(n.log, "raft")
	logs, err := raft.NewLogCache(logCacheSize, n.store)
	if err != nil {
		return fmt.Errorf("raft log cache: %w", err)
	}
	r, err := raft.NewRaft(rc, n.fsm, logs, n.store, n.snaps, n.trans)
	if err != nil {
		return fmt.Errorf("start raft: %w", err)
	}
	if n.cfg.Bootstrap {
		err := r.BootstrapCluster(n.configuration()).Error()
		if err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
			_ = r.Shutdown().Error() // the bootstrap error is the one to report
			return fmt.Errorf("bootstrap raft: %w", err)
		}
	}
	obsCh := make(chan raft.Observation, 64)
	n.observer = raft.NewObserver(obsCh, false /* blocking */, func(o *raft.Observation) bool {
		switch o.Data.(type) {
		case raft.LeaderObservation, raft.PeerObservation:
			return true
		}
		return false
	})
	r.RegisterObserver(n.observer)
	n.raft.Store(r)
	n.started = true
	n.wg.Add(1)
	go n.monitor(r, obsCh)
	n.log.Info("raft node started", "addr", n.cfg.Addr, "bootstrap", n.cfg.Bootstrap)
	return nil
}

func (n *Node) configuration() raft.Configuration {
	var c raft.Configuration
	for _, p := range n.cfg.Peers {
		s := raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.Addr)}
		if !p.Voter {
			s.Suffrage = raft.Nonvoter
		}
		c.Servers = append(c.Servers, s)
	}
	return c
}

// monitor follows leader and membership changes until Close.
func (n *Node) monitor(r *raft.Raft, obsCh <-chan raft.Observation) {
	defer n.wg.Done()
	tick := time.NewTicker(votersRefresh)
	defer tick.Stop()
	n.refreshVoters(r)
	for {
		select {
		case o := <-obsCh:
			if lo, ok := o.Data.(raft.LeaderObservation); ok {
				n.log.Info("raft leader changed", "leader", string(lo.LeaderID))
				n.signalLeader()
			}
			n.refreshVoters(r)
		case isLeader := <-r.LeaderCh():
			select { // keep only the latest value
			case <-n.leadership:
			default:
			}
			n.leadership <- isLeader
			n.signalLeader()
			n.refreshVoters(r)
		case <-tick.C:
			n.refreshVoters(r)
		case <-n.ctx.Done():
			return
		}
	}
}

func (n *Node) signalLeader() {
	n.mu.Lock()
	close(n.leaderCh)
	n.leaderCh = make(chan struct{})
	n.mu.Unlock()
}

func (n *Node) leaderChanged() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.leaderCh
}

func (n *Node) refreshVoters(r *raft.Raft) {
	f := r.GetConfiguration()
	if f.Error() != nil {
		return // shutting down; the next refresh retries otherwise
	}
	var voters []string
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == raft.Voter {
			voters = append(voters, string(s.ID))
		}
	}
	n.mu.Lock()
	n.voters = voters
	n.mu.Unlock()
}

func (n *Node) votersSnapshot() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.voters
}

// goTracked runs f in a goroutine that Close waits for; it reports false
// (and does not run f) once Close has begun.
func (n *Node) goTracked(f func()) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return false
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		f()
	}()
	return true
}

// await waits for a raft future (resolved by raft at the latest when it
// shuts down), ctx or Close.
func (n *Node) await(ctx context.Context, f raft.Future) error {
	done := make(chan error, 1)
	if !n.goTracked(func() { done <- f.Error() }) {
		return ErrClosed
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-n.ctx.Done():
		return ErrClosed
	}
}

func (n *Node) running() (*raft.Raft, error) {
	if n.ctx.Err() != nil {
		return nil, ErrClosed
	}
	r := n.raft.Load()
	if r == nil {
		return nil, ErrNotStarted
	}
	return r, nil
}

// raftError maps raft's errors to this package's.
func raftError(err error) error {
	switch {
	case errors.Is(err, raft.ErrRaftShutdown):
		return ErrClosed
	case errors.Is(err, raft.ErrNotLeader):
		return ErrNotLeader
	case errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrLeadershipTransferInProgress),
		errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("%w: %w", errLeaderChanged, err)
	}
	return err
}

// Propose replicates cmd and returns the FSM's result once the entry is
// applied on this node (read-your-writes on the proposing node). On a
// follower it forwards cmd to the leader, then waits for its own FSM to
// apply the entry and returns that FSM's result (results are
// deterministic; a witness leader has none). It retries across leader
// changes until ctx ends; a retry reuses the proposal's id, and the FSM
// applies an id at most once (within Config.DedupeWindow recent
// proposals), so a retry never applies the command twice.
//
// An FSM error is returned as *FSMError, carrying the message only (the
// same on every node, and after a snapshot restore): compare results or
// messages, not error identity. When ctx ends the command may or may not
// have been applied. Do not propose on a witness: its FSM has no results.
func (n *Node) Propose(ctx context.Context, cmd []byte) ([]byte, error) {
	res, _, err := n.ProposeIndex(ctx, cmd)
	return res, err
}

// ProposeIndex is Propose that also returns the log index of the entry
// whose application produced the result, for WaitApplied on other nodes.
func (n *Node) ProposeIndex(ctx context.Context, cmd []byte) ([]byte, uint64, error) {
	if len(cmd) > n.cfg.MaxCommandBytes {
		return nil, 0, fmt.Errorf("%w: %d bytes, limit %d", ErrCommandTooLarge, len(cmd), n.cfg.MaxCommandBytes)
	}
	r, err := n.running()
	if err != nil {
		return nil, 0, err
	}
	var id proposalID
	_, _ = rand.Read(id[:]) // crypto/rand.Read never fails
	applied := n.fsm.register(id)
	defer n.fsm.unregister(id)
	wait := minRetry
	for {
		changed := n.leaderChanged()
		addr, leader := r.LeaderWithID()
		switch {
		case leader == "":
			err = errNoLeader
		case string(leader) == n.cfg.ID:
			var res applyResult
			if res, err = n.applyLocal(ctx, r, id, cmd); err == nil {
				return res.Result, res.Index, res.err()
			}
		default:
			var index uint64
			if index, err = n.forward(ctx, leader, addr, id, cmd); err == nil {
				return n.awaitLocal(ctx, applied, index)
			}
		}
		if !retryable(err) {
			return nil, 0, err
		}
		if ctx.Err() != nil {
			return nil, 0, fmt.Errorf("propose (outcome unknown): %w", ctx.Err())
		}
		n.log.Debug("propose retry", "err", err, "leader", string(leader))
		t := time.NewTimer(wait)
		select {
		case res := <-applied: // an earlier attempt committed after all
			t.Stop()
			return res.Result, res.Index, res.err()
		case <-changed:
			wait = minRetry
		case <-t.C:
			wait = min(2*wait, maxRetry)
		case <-ctx.Done():
		case <-n.ctx.Done():
		}
		t.Stop()
		if n.ctx.Err() != nil {
			return nil, 0, ErrClosed
		}
	}
}

// errResultUnavailable: the entry reached this node inside a snapshot
// that no longer remembers the proposal's result.
var errResultUnavailable = errors.New("raftnode: proposal applied from a snapshot, its result is no longer known")

// awaitLocal waits until this node applied the proposal the leader
// applied at index, and returns this node's result.
func (n *Node) awaitLocal(ctx context.Context, applied <-chan applyResult, index uint64) ([]byte, uint64, error) {
	for {
		changed := n.fsm.appliedChanged()
		select {
		case res := <-applied:
			return res.Result, res.Index, res.err()
		default:
		}
		if n.fsm.applied.Load() >= index {
			// The FSM triggers the waiter before it publishes the index.
			select {
			case res := <-applied:
				return res.Result, res.Index, res.err()
			default:
				return nil, index, errResultUnavailable
			}
		}
		select {
		case res := <-applied:
			return res.Result, res.Index, res.err()
		case <-changed:
		case <-ctx.Done():
			return nil, index, fmt.Errorf("raftnode: committed at index %d, not yet applied here: %w", index, ctx.Err())
		case <-n.ctx.Done():
			return nil, index, ErrClosed
		}
	}
}

// retryable reports whether a failed attempt may be retried with the
// same proposal id.
func retryable(err error) bool {
	return !errors.Is(err, ErrClosed) && !errors.Is(err, ErrUnauthenticated) &&
		!errors.Is(err, ErrCommandTooLarge) && !errors.Is(err, errRejected)
}

// applyLocal proposes on this node, which believes it is the leader, and
// waits until its FSM applied the entry.
func (n *Node) applyLocal(ctx context.Context, r *raft.Raft, id proposalID, cmd []byte) (applyResult, error) {
	enqueue := n.cfg.RPCTimeout
	if dl, ok := ctx.Deadline(); ok {
		enqueue = min(enqueue, max(time.Until(dl), time.Millisecond))
	}
	f := r.Apply(encodeEnvelope(id, cmd), enqueue)
	if err := n.await(ctx, f); err != nil {
		return applyResult{}, raftError(err)
	}
	res, ok := f.Response().(applyResult)
	if !ok {
		return applyResult{}, fmt.Errorf("raftnode: unexpected apply response %T", f.Response())
	}
	return res, nil
}

// forward sends one proposal attempt to the leader and returns the index
// at which the leader applied it.
func (n *Node) forward(ctx context.Context, leader raft.ServerID, addr raft.ServerAddress, id proposalID, cmd []byte) (uint64, error) {
	const method = controlpb.Raft_Propose_FullMethodName
	cc, err := n.trans.conn(leader, addr)
	if err != nil {
		if errors.Is(err, errTransportClosed) {
			return 0, ErrClosed
		}
		return 0, err
	}
	actx, cancel := context.WithTimeout(ctx, n.cfg.ForwardTimeout)
	defer cancel()
	stop := context.AfterFunc(n.ctx, cancel)
	defer stop()
	actx, nonce := n.auth.sign(actx, method)
	var hdr metadata.MD
	out, err := controlpb.NewRaftClient(cc).Propose(actx, &controlpb.ProposeRequest{Id: id[:], Command: cmd}, grpc.Header(&hdr))
	if err != nil {
		switch status.Code(err) {
		case codes.Unauthenticated:
			return 0, fmt.Errorf("%w: leader %s rejected this node's credential", ErrUnauthenticated, leader)
		case codes.InvalidArgument:
			return 0, fmt.Errorf("%w by leader %s: %s", errRejected, leader, status.Convert(err).Message())
		}
		return 0, fmt.Errorf("forward to leader %s: %w", leader, err)
	}
	if err := n.auth.checkProof(hdr, method, string(leader), nonce); err != nil {
		return 0, fmt.Errorf("%w: leader %s did not prove the shared secret", err, leader)
	}
	return out.GetIndex(), nil
}

// Propose is the leader's side of forwarding.
func (s *service) Propose(ctx context.Context, req *controlpb.ProposeRequest) (*controlpb.ProposeResponse, error) {
	n := s.n
	if err := n.auth.verifyUnary(ctx, controlpb.Raft_Propose_FullMethodName); err != nil {
		return nil, err
	}
	var id proposalID
	switch {
	case len(req.GetId()) != idLen:
		return nil, status.Error(codes.InvalidArgument, "raftnode: proposal id must be 16 bytes")
	case len(req.GetCommand()) > n.cfg.MaxCommandBytes:
		return nil, status.Errorf(codes.InvalidArgument, "%v: %d bytes, limit %d", ErrCommandTooLarge, len(req.GetCommand()), n.cfg.MaxCommandBytes)
	}
	copy(id[:], req.GetId())
	r, err := n.running()
	if err != nil {
		return nil, status.Error(codes.Unavailable, err.Error())
	}
	if r.State() != raft.Leader {
		return nil, status.Error(codes.FailedPrecondition, ErrNotLeader.Error())
	}
	res, err := n.applyLocal(ctx, r, id, req.GetCommand())
	if err != nil {
		return nil, toStatus(err)
	}
	return &controlpb.ProposeResponse{Index: res.Index}, nil
}

// toStatus is the one translation of this package's errors to gRPC.
func toStatus(err error) error {
	switch {
	case errors.Is(err, ErrClosed):
		return status.Error(codes.Unavailable, err.Error())
	case errors.Is(err, ErrNotLeader), errors.Is(err, errLeaderChanged):
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return status.FromContextError(err).Err()
	}
	return status.Error(codes.Unknown, err.Error())
}

// AppliedIndex is the index of the last entry this node's FSM applied
// (commands and configuration changes; a leader's no-op entries are
// counted when the next command applies).
func (n *Node) AppliedIndex() uint64 { return n.fsm.applied.Load() }

// Stats are the node's current term and commit index (zero before Start).
func (n *Node) Stats() (term, commitIndex uint64) {
	r := n.raft.Load()
	if r == nil {
		return 0, 0
	}
	return r.CurrentTerm(), r.CommitIndex()
}

// WaitApplied waits until this node applied index (from ProposeIndex,
// Barrier or another node's AppliedIndex), ctx ends or the node closes.
func (n *Node) WaitApplied(ctx context.Context, index uint64) error {
	for {
		changed := n.fsm.appliedChanged()
		if n.fsm.applied.Load() >= index {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		case <-n.ctx.Done():
			return ErrClosed
		}
	}
}

// Barrier waits on the leader until every entry committed before it is
// applied, and returns the applied index: a caller that then reads the
// FSM (or waits for that index on another node) sees every write
// committed before Barrier was called. It returns ErrNotLeader elsewhere.
func (n *Node) Barrier(ctx context.Context) (uint64, error) {
	r, err := n.running()
	if err != nil {
		return 0, err
	}
	timeout := n.cfg.RPCTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, max(time.Until(dl), time.Millisecond))
	}
	if err := n.await(ctx, r.Barrier(timeout)); err != nil {
		return 0, raftError(err)
	}
	return n.AppliedIndex(), nil
}

// IsLeader reports whether this node is the leader.
func (n *Node) IsLeader() bool {
	r := n.raft.Load()
	return r != nil && r.State() == raft.Leader
}

// Leader returns the current leader's ID as this node knows it.
func (n *Node) Leader() (id string, ok bool) {
	r := n.raft.Load()
	if r == nil {
		return "", false
	}
	_, lid := r.LeaderWithID()
	return string(lid), lid != ""
}

// LeaderContact is, on a follower, the time since it last heard from the
// leader (math.MaxInt64 if it never did); 0 on the leader.
func (n *Node) LeaderContact() time.Duration {
	r := n.raft.Load()
	if r == nil {
		return math.MaxInt64
	}
	if r.State() == raft.Leader {
		return 0
	}
	lc := r.LastContact()
	if lc.IsZero() {
		return math.MaxInt64
	}
	return time.Since(lc)
}

// FollowerContact is, on the leader, when each peer last acknowledged
// this leader's term: the send time of the latest AppendEntries (or
// heartbeat) it answered in the current term. It is empty on a follower.
func (n *Node) FollowerContact() map[string]time.Time {
	out := make(map[string]time.Time)
	r := n.raft.Load()
	if r == nil || r.State() != raft.Leader {
		return out
	}
	term := r.CurrentTerm()
	for id, c := range n.trans.contactsSnapshot() {
		if c.term == term {
			out[string(id)] = c.sent
		}
	}
	return out
}

// HasLease reports whether this node is in contact with the control
// plane's quorum within d. On the leader: it is leader and a majority of
// the voters (itself included) acknowledged its current term in requests
// it sent within the last d. On a follower: it knows a leader and heard
// from it within d. A write region uses it to fence itself when it loses
// the control plane.
//
// With d <= HeartbeatTimeout (less a margin for clock-rate drift) the
// leader's lease is safe: a voter that acknowledged it at time s refuses
// to vote for anyone else until HeartbeatTimeout after s, so no other
// leader can be elected while HasLease(d) is true here. An isolated
// leader also steps down after LeaderLeaseTimeout, and HasLease is false
// from then on.
func (n *Node) HasLease(d time.Duration) bool {
	r := n.raft.Load()
	if r == nil || n.ctx.Err() != nil {
		return false
	}
	now := time.Now()
	switch r.State() {
	case raft.Leader:
		term := r.CurrentTerm()
		voters := n.votersSnapshot()
		contacts := n.trans.contactsSnapshot()
		acked := 0
		for _, v := range voters {
			if v == n.cfg.ID {
				acked++
				continue
			}
			if c, ok := contacts[raft.ServerID(v)]; ok && c.term == term && now.Sub(c.sent) <= d {
				acked++
			}
		}
		return acked > len(voters)/2 && r.State() == raft.Leader && r.CurrentTerm() == term
	case raft.Follower:
		if _, lid := r.LeaderWithID(); lid == "" {
			return false
		}
		lc := r.LastContact()
		return !lc.IsZero() && now.Sub(lc) <= d
	}
	return false
}

// TransferLeadership hands leadership to the voter id at addr (id "": to
// the most up-to-date other voter); leader only. The write region asks for it so that it leads the control plane:
// its write lease then depends on a majority of voters, not on one other
// region staying up.
func (n *Node) TransferLeadership(ctx context.Context, id, addr string) error {
	r := n.raft.Load()
	if r == nil {
		return ErrNotStarted
	}
	if r.State() != raft.Leader {
		return ErrNotLeader
	}
	var f raft.Future
	if id == "" {
		f = r.LeadershipTransfer() // to the most up-to-date voter
	} else {
		f = r.LeadershipTransferToServer(raft.ServerID(id), raft.ServerAddress(addr))
	}
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// LeadershipChanges delivers whether this node is the leader each time
// that changes. It has one buffered slot holding the latest value:
// a slow reader misses intermediate flips, never the current state. One
// reader only.
func (n *Node) LeadershipChanges() <-chan bool { return n.leadership }

// AddVoter adds (or promotes) a voting member; leader only.
func (n *Node) AddVoter(ctx context.Context, id, addr string) error {
	return n.changeConfig(ctx, func(r *raft.Raft, timeout time.Duration) raft.Future {
		return r.AddVoter(raft.ServerID(id), raft.ServerAddress(addr), 0, timeout)
	})
}

// AddNonvoter adds a member that receives the log without voting; leader
// only.
func (n *Node) AddNonvoter(ctx context.Context, id, addr string) error {
	return n.changeConfig(ctx, func(r *raft.Raft, timeout time.Duration) raft.Future {
		return r.AddNonvoter(raft.ServerID(id), raft.ServerAddress(addr), 0, timeout)
	})
}

// RemoveServer removes a member; leader only. A leader that removes
// itself steps down and shuts its Raft down.
func (n *Node) RemoveServer(ctx context.Context, id string) error {
	return n.changeConfig(ctx, func(r *raft.Raft, timeout time.Duration) raft.Future {
		return r.RemoveServer(raft.ServerID(id), 0, timeout)
	})
}

func (n *Node) changeConfig(ctx context.Context, change func(*raft.Raft, time.Duration) raft.Future) error {
	r, err := n.running()
	if err != nil {
		return err
	}
	if r.State() != raft.Leader {
		return ErrNotLeader
	}
	timeout := n.cfg.RPCTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, max(time.Until(dl), time.Millisecond))
	}
	if err := n.await(ctx, change(r, timeout)); err != nil {
		return raftError(err)
	}
	n.refreshVoters(r)
	return nil
}

// Close stops the node: if it leads and there are other voters it first
// tries to hand leadership over (within ctx), then shuts Raft down, closes
// the transport and waits for every goroutine. The Raft service stays
// registered on the gRPC server and answers Unavailable. Close is
// idempotent; it does not close Config.DB.
func (n *Node) Close(ctx context.Context) error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		<-n.closeDone
		return n.closeErr
	}
	n.closed = true
	obs := n.observer
	voters := n.voters
	n.mu.Unlock()
	defer close(n.closeDone)

	r := n.raft.Load()
	if r != nil && r.State() == raft.Leader && len(voters) > 1 && ctx.Err() == nil {
		done := make(chan error, 1)
		f := r.LeadershipTransfer()
		n.wg.Add(1) // Close itself waits below, so this cannot race wg.Wait
		go func() {
			defer n.wg.Done()
			done <- f.Error()
		}()
		select {
		case err := <-done:
			if err != nil {
				n.log.Warn("leadership transfer on close failed", "err", err)
			}
		case <-ctx.Done():
		}
	}
	n.cancel()
	var err error
	if r != nil {
		if serr := r.Shutdown().Error(); serr != nil {
			err = fmt.Errorf("shutdown raft: %w", serr)
		}
		r.DeregisterObserver(obs)
	}
	_ = n.trans.Close() // never fails
	n.wg.Wait()
	n.closeErr = err
	n.log.Info("raft node closed")
	return err
}
