package raftnode

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc"
)

// FSM is the replicated state machine a Node drives. Its methods are
// called from one goroutine at a time, never concurrently with each other.
//
// Contract:
//   - Apply is deterministic: the same commands in the same order give
//     the same state and results on every node. It must not read clocks,
//     randomness or local configuration. index strictly increases between
//     Restores.
//   - Apply's error is part of the result, not a failure of the node: it
//     reaches the proposer as an *FSMError carrying only its message.
//   - The node does not persist the FSM. On start it calls Restore with
//     the latest snapshot (if any) and then Apply for every later
//     committed entry, so an in-memory FSM is rebuilt exactly. An FSM that
//     keeps its own durable state must let Restore replace that state and
//     must apply the replayed entries again (or skip those it holds, by
//     index, if its state came from a later point than the snapshot).
//   - Snapshot returns the whole state (it runs between two Applies, so
//     it should be quick); Restore replaces the whole state with it.
type FSM interface {
	Apply(index uint64, cmd []byte) ([]byte, error)
	Snapshot() ([]byte, error)
	Restore(data []byte) error
}

// FSMError is the error an FSM's Apply returned for a proposal. Only the
// message crosses the network, so callers compare messages (or, better,
// encode outcomes in the result), never error identity.
type FSMError struct{ Msg string }

func (e *FSMError) Error() string { return e.Msg }

// WitnessFSM is the state machine of a witness: a voter that holds the
// log (and so counts toward quorum and elections) but no account data.
type WitnessFSM struct{}

var _ FSM = WitnessFSM{}

// Apply does nothing.
func (WitnessFSM) Apply(uint64, []byte) ([]byte, error) { return nil, nil }

// Snapshot is empty.
func (WitnessFSM) Snapshot() ([]byte, error) { return nil, nil }

// Restore does nothing.
func (WitnessFSM) Restore([]byte) error { return nil }

// Proposal envelope: version(1) id(16) command.
const (
	envelopeVersion = 1
	idLen           = 16
	envelopeHeader  = 1 + idLen
)

type proposalID [idLen]byte

func encodeEnvelope(id proposalID, cmd []byte) []byte {
	b := make([]byte, 0, envelopeHeader+len(cmd))
	b = append(b, envelopeVersion)
	b = append(b, id[:]...)
	return append(b, cmd...)
}

var errBadEnvelope = errors.New("raftnode: malformed proposal")

func decodeEnvelope(b []byte) (proposalID, []byte, error) {
	var id proposalID
	if len(b) < envelopeHeader || b[0] != envelopeVersion {
		return id, nil, errBadEnvelope
	}
	copy(id[:], b[1:envelopeHeader])
	return id, b[envelopeHeader:], nil
}

// applyResult is the outcome of one proposal, the response of raft's
// ApplyFuture.
type applyResult struct {
	Index  uint64
	Result []byte
	Failed bool
	Error  string
}

func (r applyResult) err() error {
	if r.Failed {
		return &FSMError{Msg: r.Error}
	}
	return nil
}

// fsmAdapter wraps an FSM as raft's FSM. It dedupes proposals by id over
// a window of recent ones (so a proposal retried across a leader change
// applies at most once), tracks the applied index, and wraps snapshots
// with both.
type fsmAdapter struct {
	fsm    FSM
	window int

	// Only raft's FSM goroutine touches recent and order.
	recent map[proposalID]applyResult
	order  []proposalID // FIFO of recent's keys

	applied atomic.Uint64
	// mu guards appliedCh, closed and replaced on every applied index
	// change, and waiters: the proposals of this node in flight, each told
	// its result when this node applies it.
	mu        sync.Mutex
	appliedCh chan struct{}
	waiters   map[proposalID]chan applyResult
}

var (
	_ raft.FSM                = (*fsmAdapter)(nil)
	_ raft.ConfigurationStore = (*fsmAdapter)(nil)
)

func newFSMAdapter(fsm FSM, window int) *fsmAdapter {
	return &fsmAdapter{
		fsm:       fsm,
		window:    window,
		recent:    make(map[proposalID]applyResult),
		appliedCh: make(chan struct{}),
		waiters:   make(map[proposalID]chan applyResult),
	}
}

// register returns the channel that receives the result of proposal id
// when this node applies it (once); unregister removes it.
func (a *fsmAdapter) register(id proposalID) <-chan applyResult {
	ch := make(chan applyResult, 1)
	a.mu.Lock()
	a.waiters[id] = ch
	a.mu.Unlock()
	return ch
}

func (a *fsmAdapter) unregister(id proposalID) {
	a.mu.Lock()
	delete(a.waiters, id)
	a.mu.Unlock()
}

// trigger tells proposal id's waiter, if any, its result.
func (a *fsmAdapter) trigger(id proposalID, r applyResult) {
	a.mu.Lock()
	ch := a.waiters[id]
	a.mu.Unlock()
	if ch != nil {
		select {
		case ch <- r:
		default: // told already (a deduplicated retry)
		}
	}
}

// Apply applies one committed command entry.
func (a *fsmAdapter) Apply(l *raft.Log) any {
	res := a.apply(l)
	a.setApplied(l.Index)
	return res
}

func (a *fsmAdapter) apply(l *raft.Log) applyResult {
	id, cmd, err := decodeEnvelope(l.Data)
	if err != nil {
		return applyResult{Index: l.Index, Failed: true, Error: err.Error()}
	}
	if r, ok := a.recent[id]; ok {
		r.Index = l.Index
		a.trigger(id, r)
		return r
	}
	out, err := a.fsm.Apply(l.Index, cmd)
	r := applyResult{Index: l.Index, Result: out}
	if err != nil {
		r.Failed, r.Error = true, err.Error()
	}
	a.remember(id, r)
	a.trigger(id, r)
	return r
}

func (a *fsmAdapter) remember(id proposalID, r applyResult) {
	if a.window == 0 {
		return
	}
	if len(a.order) >= a.window {
		delete(a.recent, a.order[0])
		a.order = a.order[1:]
	}
	a.recent[id] = r
	a.order = append(a.order, id)
}

// StoreConfiguration advances the applied index past a configuration
// entry, so that WaitApplied on its index returns.
func (a *fsmAdapter) StoreConfiguration(index uint64, _ raft.Configuration) {
	a.setApplied(index)
}

func (a *fsmAdapter) setApplied(index uint64) {
	a.applied.Store(index)
	a.mu.Lock()
	close(a.appliedCh)
	a.appliedCh = make(chan struct{})
	a.mu.Unlock()
}

// appliedChanged returns a channel closed at the next applied change.
func (a *fsmAdapter) appliedChanged() <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.appliedCh
}

// snapshotState is the adapter's snapshot: the FSM's state, the applied
// index it reflects and the dedupe window.
type snapshotState struct {
	Version int
	Applied uint64
	IDs     []proposalID
	Results []applyResult
	State   []byte
}

const snapshotVersion = 1

// Snapshot captures the state between two Applies.
func (a *fsmAdapter) Snapshot() (raft.FSMSnapshot, error) {
	state, err := a.fsm.Snapshot()
	if err != nil {
		return nil, fmt.Errorf("fsm snapshot: %w", err)
	}
	s := snapshotState{
		Version: snapshotVersion,
		Applied: a.applied.Load(),
		IDs:     append([]proposalID(nil), a.order...),
		Results: make([]applyResult, len(a.order)),
		State:   state,
	}
	for i, id := range a.order {
		s.Results[i] = a.recent[id]
	}
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(&s); err != nil {
		return nil, fmt.Errorf("encode snapshot: %w", err)
	}
	return snapshotBytes(b.Bytes()), nil
}

// Restore replaces the state with a snapshot's.
func (a *fsmAdapter) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var s snapshotState
	if err := gob.NewDecoder(rc).Decode(&s); err != nil {
		return fmt.Errorf("decode snapshot: %w", err)
	}
	if s.Version != snapshotVersion || len(s.IDs) != len(s.Results) {
		return fmt.Errorf("raftnode: unsupported snapshot version %d", s.Version)
	}
	if err := a.fsm.Restore(s.State); err != nil {
		return fmt.Errorf("fsm restore: %w", err)
	}
	a.recent = make(map[proposalID]applyResult, len(s.IDs))
	a.order = a.order[:0]
	for i, id := range s.IDs {
		a.remember(id, s.Results[i])
		a.trigger(id, s.Results[i])
	}
	a.setApplied(s.Applied)
	return nil
}

// snapshotBytes is an encoded snapshot, persisted as is.
type snapshotBytes []byte

func (s snapshotBytes) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s); err != nil {
		_ = sink.Cancel() // the write error is the one to report
		return fmt.Errorf("write snapshot: %w", err)
	}
	return sink.Close()
}

func (snapshotBytes) Release() {}

// NewWitness builds a witness node: New with WitnessFSM. Start and Close
// it like any Node; it needs its own DB and Dir, and never a Propose.
func NewWitness(cfg Config, g *grpc.Server) (*Node, error) {
	return New(cfg, WitnessFSM{}, g)
}
