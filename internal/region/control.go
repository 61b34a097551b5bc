package region

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/meridiandb/meridian/internal/catalog"
	"github.com/meridiandb/meridian/internal/control"
	"github.com/meridiandb/meridian/internal/raftnode"
	"github.com/meridiandb/meridian/internal/topology"
)

// The control plane (multi-region accounts). Every region runs a Raft voter
// (internal/raftnode) whose state machine is control.State: the regions,
// the write region, the epoch and the failover in progress. This file is
// the adapter (controlFSM) and the region's view of it (roleView); the
// reconciliation that makes the region's partitions follow that state is
// in roles.go, the failover driver on the Raft leader in failover.go.

// ControlConfig tunes failover. Zero fields take defaults.
type ControlConfig struct {
	// DetectTimeout is how long the write region may be silent to the
	// control plane before the survivors fail over. Default 3 s; negative
	// turns automatic failover off.
	DetectTimeout time.Duration
	// WriteLease is how recently the write region must have been in
	// contact with the control plane's quorum to accept a write (a cut-off
	// write region stops writing after it). Default 500 ms; at most the
	// Raft heartbeat timeout.
	WriteLease time.Duration
	// MaxClockSkew is the assumed bound on clock-rate disagreement over a
	// lease. Default 100 ms.
	MaxClockSkew time.Duration
}

func (c *ControlConfig) defaults() {
	if c.DetectTimeout == 0 {
		c.DetectTimeout = 3 * time.Second
	}
	if c.WriteLease == 0 {
		c.WriteLease = 500 * time.Millisecond
	}
	if c.MaxClockSkew == 0 {
		c.MaxClockSkew = 100 * time.Millisecond
	}
}

// lease is the control-plane lease rule the failover driver plans with: a
// write region admits a write only while HasLease(WriteLease) holds, and a
// write admitted just before it lapsed may still take a moment to commit,
// hence the margin.
func (c *ControlConfig) lease() control.Lease {
	return control.Lease{Timeout: c.WriteLease + c.WriteLease/5, MaxClockSkew: c.MaxClockSkew}
}

// controlEpoch is the fixed time of the initial control state: every region
// must build the identical state from the topology.
var controlEpoch = time.Unix(0, 0).UTC()

// controlFSM is the Raft state machine: control.State behind a mutex,
// with a notification whenever it changes, and the account's catalog
// (databases, containers, offers), which the same log carries (catalog.go).
type controlFSM struct {
	mu      sync.Mutex
	st      *control.State
	changed chan struct{} // buffered(1): a change happened since the last read
	// cat is the region's catalog, applied from the log (set by Open).
	cat *catalog.Catalog
}

func newControlFSM(st *control.State) *controlFSM {
	return &controlFSM{st: st, changed: make(chan struct{}, 1)}
}

func (f *controlFSM) kick() {
	select {
	case f.changed <- struct{}{}:
	default:
	}
}

// Apply implements raftnode.FSM.
func (f *controlFSM) Apply(index uint64, b []byte) ([]byte, error) {
	if isLeaseCmd(b) {
		return nil, nil // a lease renewal or barrier: reads, changes nothing
	}
	if isCatalogCmd(b) {
		return f.applyCatalog(index, b)
	}
	cmd, err := control.Decode(b)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	res, err := f.st.Apply(cmd)
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	f.kick()
	return json.Marshal(res)
}

// fsmSnapshot is the Raft snapshot: the control state and the catalog.
type fsmSnapshot struct {
	Control json.RawMessage  `json:"control"`
	Catalog *catalogSnapshot `json:"catalog,omitempty"`
}

// Snapshot implements raftnode.FSM.
func (f *controlFSM) Snapshot() ([]byte, error) {
	f.mu.Lock()
	st, err := f.st.Snapshot()
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	snap := fsmSnapshot{Control: st}
	if f.cat != nil {
		if snap.Catalog, err = snapshotCatalog(f.cat); err != nil {
			return nil, err
		}
	}
	return json.Marshal(snap)
}

// Restore implements raftnode.FSM. The catalog is durable on its own: it is
// replaced only when the snapshot is ahead of it (a region that fell behind
// the leader's log); at start-up, when Raft restores its own latest
// snapshot, the catalog is already at or past it and is kept.
func (f *controlFSM) Restore(b []byte) error {
	var snap fsmSnapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		return fmt.Errorf("control snapshot: %w", err)
	}
	st, err := control.Restore(snap.Control)
	if err != nil {
		return err
	}
	if snap.Catalog != nil && f.cat != nil && snap.Catalog.Applied > f.cat.Applied() {
		if err := restoreCatalog(f.cat, snap.Catalog); err != nil {
			return err
		}
	}
	f.mu.Lock()
	f.st = st
	f.mu.Unlock()
	f.kick()
	return nil
}

// state returns a copy of the current state.
func (f *controlFSM) state() *control.State {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st.Clone()
}

// roleView is what the data path needs of the control state, swapped
// atomically by the reconciler (roles.go).
type roleView struct {
	// writer is the write region as the control plane names it ("" while
	// a failover is between fence and promote).
	writer string
	// epoch is the account epoch this region has adopted: the session-token
	// version of its writes and the bound on the epochs of its entries.
	epoch int64
	// history is the per-partition epoch history (commit points).
	history control.History
	// active: this region is the write region and its partitions are
	// promoted into epoch.
	active bool
	// diverged: this region was deposed and may hold writes the failover
	// removed; it serves nothing until it has rejoined.
	diverged bool
	// failover is the failover in progress, if any (for the account
	// document and the status page).
	failover *control.Failover
}

// ControlFSM returns the state machine the region's Raft node must run, or
// nil for a one-region account (no control plane).
func (r *Region) ControlFSM() raftnode.FSM {
	if r.fsm == nil {
		return nil
	}
	return r.fsm
}

// AttachControl gives the region its started-or-not Raft node; call it
// before Start.
func (r *Region) AttachControl(n *raftnode.Node) { r.node = n }

// ControlState returns a copy of the control-plane state (nil without one).
func (r *Region) ControlState() *control.State {
	if r.fsm == nil {
		return nil
	}
	return r.fsm.state()
}

// propose replicates a control command and returns its result.
func (r *Region) propose(ctx context.Context, cmd control.Command) (control.Result, error) {
	if r.node == nil {
		return control.Result{}, errors.New("region: no control plane in a one-region account")
	}
	b, err := control.Encode(cmd)
	if err != nil {
		return control.Result{}, err
	}
	out, err := r.node.Propose(ctx, b)
	if err != nil {
		return control.Result{}, err
	}
	var res control.Result
	if len(out) > 0 {
		if err := json.Unmarshal(out, &res); err != nil {
			return control.Result{}, fmt.Errorf("control result: %w", err)
		}
	}
	return res, nil
}

// ManualFailover asks the control plane to move the write region to target
// with every region healthy (drain, then switch: nothing is lost), and
// waits until target accepts writes or ctx ends.
func (r *Region) ManualFailover(ctx context.Context, target string) (*control.State, error) {
	if r.mw {
		return nil, fmt.Errorf("%w: every region of a multi-write account is a write region; there is nothing to fail over (take a region offline instead)", control.ErrInvalid)
	}
	reg, ok := r.topo.Region(target)
	if !ok {
		return nil, fmt.Errorf("%w: %q is not a region of this account", control.ErrInvalid, target)
	}
	if _, err := r.propose(ctx, control.ManualFailover{Target: reg.Name, At: r.cfg.Clock()}); err != nil {
		return nil, err
	}
	for {
		st := r.fsm.state()
		if st.WriteRegion == reg.Name {
			return st, nil
		}
		if st.Failover == nil && st.WriteRegion != "" {
			// Cancelled, or superseded by an automatic failover that
			// chose another region.
			return st, fmt.Errorf("%w: the failover ended with %q as the write region", control.ErrTransition, st.WriteRegion)
		}
		if err := r.waitControl(ctx, 50*time.Millisecond); err != nil {
			return st, err
		}
	}
}

// waitControl waits for a control-state change seen by this region's
// reconciler, or d, or ctx.
func (r *Region) waitControl(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// WaitReady blocks until the region can serve its role: in a multi-region
// account, until the control plane has a leader and, in the write region,
// until it holds its write lease and has promoted its partitions.
func (r *Region) WaitReady(ctx context.Context) error {
	if r.node == nil {
		return nil
	}
	for {
		v := r.view.Load()
		if _, ok := r.node.Leader(); ok && v != nil {
			if r.mw || v.writer != r.self.Name || (v.active && r.holdsLease()) {
				return nil
			}
		}
		if err := r.waitControl(ctx, 20*time.Millisecond); err != nil {
			return fmt.Errorf("region %s: control plane not ready: %w", r.self.Name, err)
		}
	}
}

// writerName is the region clients should send writes to: the write region,
// or during a failover the planned target (else the deposed region).
func (v *roleView) writerName() string {
	switch {
	case v.writer != "":
		return v.writer
	case v.failover != nil && v.failover.Target != "":
		return v.failover.Target
	case v.failover != nil:
		return v.failover.Deposed
	}
	return ""
}

// WriteRegion is the region clients should send writes to, as this region
// knows it (during a failover: the planned target, else the deposed one).
func (r *Region) WriteRegion() string { return r.view.Load().writerName() }

func sameRegion(a, b string) bool { return topology.Canonical(a) == topology.Canonical(b) }
