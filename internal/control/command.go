package control

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// CommandKind names a control-plane command.
type CommandKind string

// Command kinds.
const (
	KindFence           CommandKind = "Fence"
	KindPlan            CommandKind = "Plan"
	KindPromote         CommandKind = "Promote"
	KindManualFailover  CommandKind = "ManualFailover"
	KindCancelFailover  CommandKind = "CancelFailover"
	KindSetRegionStatus CommandKind = "SetRegionStatus"
	KindRejoin          CommandKind = "Rejoin"
	KindSetConsistency  CommandKind = "SetConsistency"
	KindAddRegion       CommandKind = "AddRegion"
	KindRemoveRegion    CommandKind = "RemoveRegion"
	KindReport          CommandKind = "Report"
)

// Command is a deterministic change of State. It carries everything Apply
// depends on, including the time (chosen by the proposer), so every replica
// of the control plane computes the same state.
type Command interface {
	Kind() CommandKind
}

// Fence opens epoch Epoch (which must be State.Epoch+1) and deposes the
// write region (§5.5 step 1). From then on the write region is "" and every
// replica refuses writes and replication of older epochs. Of two fences
// racing for the same epoch, the second is refused (ErrStaleEpoch).
type Fence struct {
	Epoch int64 `json:"epoch"`
	// Deposed must be the current write region.
	Deposed string `json:"deposed"`
	Reason  string `json:"reason,omitempty"`
	// Planned: the fence of a pending ManualFailover (the deposed region
	// is healthy and stays so). Without it the deposed region becomes
	// FencedOut and a pending manual request is superseded.
	Planned bool      `json:"planned,omitempty"`
	At      time.Time `json:"at"`
}

// Plan records the target and the catch-up plan of the failover of Epoch
// (§5.5 steps 2-4): ChooseTarget's or DrainPlan's output. It may be
// repeated (re-plan, e.g. the target died while catching up); a re-plan may
// not lower any partition's TargetLSN unless Forced.
type Plan struct {
	Epoch      int64               `json:"epoch"`
	Target     string              `json:"target"`
	Partitions map[uint64]PartPlan `json:"partitions"`
	// Drained: DrainPlan's output (manual failover, deposed region
	// acknowledged the fence); its Promote need not wait for the lease.
	Drained bool `json:"drained,omitempty"`
	// Forced: made without every required report (Unreported lists who was
	// missing) and/or below an established commit point.
	Forced     bool      `json:"forced,omitempty"`
	Unreported []string  `json:"unreported,omitempty"`
	At         time.Time `json:"at"`
}

// Promote makes Target the write region of Epoch (§5.5 steps 5-6), once it
// has caught up to the plan. StartLSN gives, for every planned partition,
// the first LSN of the new epoch: the plan's TargetLSN + 1 (commit point +
// 1). Unless the plan is Drained, At must not be before the deposed
// region's lease has certainly expired (Failover.SafeAt).
type Promote struct {
	Epoch    int64            `json:"epoch"`
	Target   string           `json:"target"`
	StartLSN map[uint64]int64 `json:"startLSN"`
	At       time.Time        `json:"at"`
}

// ManualFailover records an operator's request to move the write region to
// Target with every region healthy. The driver then fences (Planned),
// drains (DrainPlan), plans and promotes: zero loss.
type ManualFailover struct {
	Target string    `json:"target"`
	At     time.Time `json:"at"`
}

// CancelFailover abandons a manual failover that has not been fenced yet.
// A fenced failover cannot be cancelled: it ends only with a Promote.
type CancelFailover struct {
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at"`
}

// SetRegionStatus records the failure detector's or an operator's view of
// a region. FencedOut is set only by Fence and Promote, and cleared only by
// Rejoin.
type SetRegionStatus struct {
	Region string       `json:"region"`
	Status RegionStatus `json:"status"`
	At     time.Time    `json:"at"`
}

// Rejoin returns a FencedOut region to service (§5.5 step 7) after it has
// removed the suffix of its log no survivor had (Divergence), published it
// to the conflict feed, and adopted the current Epoch. Truncated records
// that suffix per partition for loss accounting; it is accepted once per
// fenced-out period, which makes it the idempotence key of the
// publication.
type Rejoin struct {
	Region string `json:"region"`
	// Epoch is the epoch the region adopted; it must be State.Epoch.
	Epoch     int64               `json:"epoch"`
	Truncated map[uint64]LSNRange `json:"truncated,omitempty"`
	At        time.Time           `json:"at"`
}

// Report records a region's final progress for the failover in progress
// (§5.5 step 2): what it holds durably per partition once it adopted the
// fence's epoch. The leader's driver waits for the reports ChooseTarget
// (or DrainPlan) needs. A region may report again (the latest counts); a
// report at another epoch than the failover's is refused.
type Report struct {
	Region   string         `json:"region"`
	Progress RegionProgress `json:"progress"`
	At       time.Time      `json:"at"`
}

// SetConsistency changes the default consistency policy. Strong is refused
// for multi-write accounts.
type SetConsistency struct {
	Policy ConsistencyPolicy `json:"policy"`
	At     time.Time         `json:"at"`
}

// AddRegion adds a healthy read region; regions stay sorted by priority.
type AddRegion struct {
	Region RegionSpec `json:"region"`
	At     time.Time  `json:"at"`
}

// RemoveRegion removes a region other than the write region.
type RemoveRegion struct {
	Region string    `json:"region"`
	At     time.Time `json:"at"`
}

func (Fence) Kind() CommandKind           { return KindFence }
func (Plan) Kind() CommandKind            { return KindPlan }
func (Promote) Kind() CommandKind         { return KindPromote }
func (ManualFailover) Kind() CommandKind  { return KindManualFailover }
func (CancelFailover) Kind() CommandKind  { return KindCancelFailover }
func (SetRegionStatus) Kind() CommandKind { return KindSetRegionStatus }
func (Rejoin) Kind() CommandKind          { return KindRejoin }
func (Report) Kind() CommandKind          { return KindReport }
func (SetConsistency) Kind() CommandKind  { return KindSetConsistency }
func (AddRegion) Kind() CommandKind       { return KindAddRegion }
func (RemoveRegion) Kind() CommandKind    { return KindRemoveRegion }

// envelope is the wire form of a command: {"kind":"Fence","cmd":{...}}.
type envelope struct {
	Kind CommandKind     `json:"kind"`
	Cmd  json.RawMessage `json:"cmd"`
}

// Encode serializes a command for the Raft log.
func Encode(cmd Command) ([]byte, error) {
	if cmd == nil {
		return nil, fmt.Errorf("%w: nil command", ErrInvalid)
	}
	body, err := json.Marshal(cmd)
	if err != nil {
		return nil, err
	}
	return json.Marshal(envelope{Kind: cmd.Kind(), Cmd: body})
}

// Decode parses Encode's output.
func Decode(b []byte) (Command, error) {
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	var cmd Command
	switch env.Kind {
	case KindFence:
		cmd = &Fence{}
	case KindPlan:
		cmd = &Plan{}
	case KindPromote:
		cmd = &Promote{}
	case KindManualFailover:
		cmd = &ManualFailover{}
	case KindCancelFailover:
		cmd = &CancelFailover{}
	case KindSetRegionStatus:
		cmd = &SetRegionStatus{}
	case KindRejoin:
		cmd = &Rejoin{}
	case KindReport:
		cmd = &Report{}
	case KindSetConsistency:
		cmd = &SetConsistency{}
	case KindAddRegion:
		cmd = &AddRegion{}
	case KindRemoveRegion:
		cmd = &RemoveRegion{}
	default:
		return nil, fmt.Errorf("%w: unknown command kind %q", ErrInvalid, env.Kind)
	}
	if err := json.Unmarshal(env.Cmd, cmd); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, env.Kind, err)
	}
	return deref(cmd), nil
}

// deref turns the pointer Decode filled into the value type Apply expects
// (Apply accepts both).
func deref(c Command) Command {
	switch c := c.(type) {
	case *Fence:
		return *c
	case *Plan:
		return *c
	case *Promote:
		return *c
	case *ManualFailover:
		return *c
	case *CancelFailover:
		return *c
	case *SetRegionStatus:
		return *c
	case *Rejoin:
		return *c
	case *Report:
		return *c
	case *SetConsistency:
		return *c
	case *AddRegion:
		return *c
	case *RemoveRegion:
		return *c
	}
	return c
}

// Result is what applying a command produced.
type Result struct {
	Kind        CommandKind `json:"kind"`
	Epoch       int64       `json:"epoch"`
	WriteRegion string      `json:"writeRegion"`
	// Phase is the phase the command left the failover in ("" if none).
	Phase Phase `json:"phase,omitempty"`
	// SafeAt (Fence) is when the deposed region's lease has certainly
	// expired: the earliest At of an undrained Promote.
	SafeAt time.Time `json:"safeAt,omitzero"`
}

// Apply validates cmd against s and applies it. It is deterministic and
// atomic: on error s is unchanged.
func (s *State) Apply(cmd Command) (Result, error) {
	if cmd == nil {
		return Result{}, fmt.Errorf("%w: nil command", ErrInvalid)
	}
	next := s.cloneForApply()
	var (
		res Result
		err error
	)
	switch c := deref(cmd).(type) {
	case Fence:
		res, err = next.fence(c)
	case Plan:
		res, err = next.plan(c)
	case Promote:
		res, err = next.promote(c)
	case ManualFailover:
		res, err = next.manualFailover(c)
	case CancelFailover:
		res, err = next.cancelFailover(c)
	case SetRegionStatus:
		res, err = next.setRegionStatus(c)
	case Rejoin:
		res, err = next.rejoin(c)
	case Report:
		res, err = next.report(c)
	case SetConsistency:
		res, err = next.setConsistency(c)
	case AddRegion:
		res, err = next.addRegion(c)
	case RemoveRegion:
		res, err = next.removeRegion(c)
	default:
		return Result{}, fmt.Errorf("%w: unknown command %T", ErrInvalid, cmd)
	}
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", cmd.Kind(), err)
	}
	if err := next.CheckInvariants(); err != nil {
		// A bug in Apply, never a caller's fault; refuse rather than
		// replicate a broken state.
		return Result{}, fmt.Errorf("%s: %w", cmd.Kind(), err)
	}
	next.Applied++
	*s = *next
	res.Kind, res.Epoch, res.WriteRegion = cmd.Kind(), s.Epoch, s.WriteRegion
	if s.Failover != nil && res.Phase == "" {
		res.Phase = s.Failover.Phase
	}
	return res, nil
}

func (s *State) singleWrite() error {
	if s.MultiWrite {
		return fmt.Errorf("%w: a multi-write account has no write region to fail over", ErrTransition)
	}
	return nil
}

// need resolves a region name or fails.
func (s *State) need(name string) (Region, error) {
	r, ok := s.region(name)
	if !ok {
		return Region{}, fmt.Errorf("%w: %q is not a region of this account", ErrInvalid, name)
	}
	return r, nil
}

func (s *State) setStatus(name string, st RegionStatus, at time.Time) {
	i := s.regionIndex(name)
	if s.Regions[i].Status != st {
		s.Regions[i].Status, s.Regions[i].Since = st, at
	}
}

func (s *State) fence(c Fence) (Result, error) {
	if err := s.singleWrite(); err != nil {
		return Result{}, err
	}
	if c.Epoch != s.Epoch+1 {
		return Result{}, fmt.Errorf("%w: fence epoch %d, but the next epoch is %d (another fence won the race or the proposer is stale)", ErrStaleEpoch, c.Epoch, s.Epoch+1)
	}
	f := s.Failover
	if f != nil && f.Phase != PhaseRequested {
		return Result{}, fmt.Errorf("%w: the failover to epoch %d is %s: re-plan it instead of fencing again", ErrTransition, f.Epoch, f.Phase)
	}
	dep, err := s.need(c.Deposed)
	if err != nil {
		return Result{}, err
	}
	if dep.Name != s.WriteRegion {
		return Result{}, fmt.Errorf("%w: %q is not the write region (%q)", ErrStaleEpoch, dep.Name, s.WriteRegion)
	}
	at := utc(c.At)
	if c.Planned {
		if f == nil {
			return Result{}, fmt.Errorf("%w: a planned fence needs a pending ManualFailover", ErrTransition)
		}
	} else {
		if f != nil {
			// The write region was lost during a manual failover's
			// preparation: it becomes an automatic one.
			f.Superseded, f.Target, f.Kind = f.Target, "", Automatic
		}
		s.setStatus(dep.Name, StatusFencedOut, at)
	}
	if f == nil {
		f = &Failover{Kind: Automatic, Deposed: dep.Name}
		s.Failover = f
	}
	s.Epoch = c.Epoch
	s.WriteRegion = ""
	f.Phase, f.Epoch, f.FencedAt, f.SafeAt = PhaseFenced, c.Epoch, at, FenceSafeAt(at, s.Lease.Timeout, s.Lease.MaxClockSkew)
	if c.Reason != "" {
		f.Reason = c.Reason
	}
	return Result{Phase: f.Phase, SafeAt: f.SafeAt}, nil
}

func (s *State) plan(c Plan) (Result, error) {
	if err := s.singleWrite(); err != nil {
		return Result{}, err
	}
	f := s.Failover
	if f == nil || (f.Phase != PhaseFenced && f.Phase != PhaseCatchingUp) {
		return Result{}, fmt.Errorf("%w: no fenced failover to plan (fence first)", ErrTransition)
	}
	if c.Epoch != f.Epoch {
		return Result{}, fmt.Errorf("%w: plan for epoch %d, but the failover in progress is epoch %d", ErrStaleEpoch, c.Epoch, f.Epoch)
	}
	tgt, err := s.need(c.Target)
	if err != nil {
		return Result{}, err
	}
	if tgt.Name == f.Deposed {
		return Result{}, fmt.Errorf("%w: the target %q is the deposed region", ErrUnsafe, tgt.Name)
	}
	if tgt.Status != StatusHealthy {
		return Result{}, fmt.Errorf("%w: the target %q is %s, not Healthy", ErrUnsafe, tgt.Name, tgt.Status)
	}
	if c.Drained && (f.Kind != Manual || c.Forced) {
		return Result{}, fmt.Errorf("%w: only an unforced manual failover can drain the deposed region", ErrTransition)
	}
	// An empty plan is valid: an account without containers has no log
	// to catch up (its catalog travels in the control plane's own log).
	parts := make(map[uint64]PartPlan, len(c.Partitions))
	below := map[uint64]LSNRange{}
	for _, p := range sortedKeys(c.Partitions) {
		pp := c.Partitions[p]
		src, err := s.need(pp.Source)
		if err != nil {
			return Result{}, fmt.Errorf("partition %d: %w", p, err)
		}
		if src.Name == f.Deposed && !c.Drained {
			// A deposed region that reported at the fenced epoch adopted
			// the fence (it stopped writing): its reported heads are final.
			rp, ok := f.Reports[f.Deposed]
			if !ok || rp.Epoch != f.Epoch || pp.TargetLSN > rp.Partitions[p].Durable {
				return Result{}, fmt.Errorf("%w: partition %d: the deposed region %q cannot be a catch-up source unless the plan drains it or it reported its final heads at epoch %d", ErrUnsafe, p, src.Name, f.Epoch)
			}
		}
		if pp.TargetLSN < 0 {
			return Result{}, fmt.Errorf("%w: partition %d: negative target LSN", ErrInvalid, p)
		}
		if committed := s.History.Committed(p); pp.TargetLSN < committed {
			if !c.Forced {
				return Result{}, fmt.Errorf("%w: partition %d: target LSN %d is below the commit point %d an earlier failover established", ErrUnsafe, p, pp.TargetLSN, committed)
			}
			below[p] = LSNRange{From: pp.TargetLSN + 1, To: committed}
		}
		if prev, ok := f.Plan[p]; ok && pp.TargetLSN < prev.TargetLSN && !c.Forced {
			return Result{}, fmt.Errorf("%w: partition %d: re-plan lowers the target LSN from %d to %d", ErrUnsafe, p, prev.TargetLSN, pp.TargetLSN)
		}
		pp.Source = src.Name
		parts[p] = pp
	}
	if !c.Forced {
		for _, p := range sortedKeys(f.Plan) {
			if _, ok := parts[p]; !ok {
				return Result{}, fmt.Errorf("%w: re-plan drops partition %d", ErrUnsafe, p)
			}
		}
	}
	if c.Forced && len(c.Unreported) == 0 && len(below) == 0 {
		return Result{}, fmt.Errorf("%w: a forced plan must name the unreported regions it gave up on", ErrInvalid)
	}
	var unreported []string
	for _, n := range c.Unreported {
		r, err := s.need(n)
		if err != nil {
			return Result{}, err
		}
		unreported = append(unreported, r.Name)
	}
	if f.Phase == PhaseCatchingUp {
		f.Replans++
	}
	f.Phase, f.Target, f.Plan, f.Drained, f.PlannedAt = PhaseCatchingUp, tgt.Name, parts, c.Drained, utc(c.At)
	if c.Forced {
		f.Forced = true
		for _, n := range unreported {
			if !slices.Contains(f.Unreported, n) {
				f.Unreported = append(f.Unreported, n)
			}
		}
		slices.Sort(f.Unreported)
	}
	if len(below) > 0 {
		f.BelowCommit = below
	} else {
		f.BelowCommit = nil
	}
	return Result{Phase: f.Phase}, nil
}

func (s *State) promote(c Promote) (Result, error) {
	if err := s.singleWrite(); err != nil {
		return Result{}, err
	}
	f := s.Failover
	if f == nil || f.Phase == PhaseRequested {
		return Result{}, fmt.Errorf("%w: promote of epoch %d without a fence of that epoch", ErrTransition, c.Epoch)
	}
	if c.Epoch != f.Epoch {
		return Result{}, fmt.Errorf("%w: promote for epoch %d, but the fenced epoch is %d", ErrStaleEpoch, c.Epoch, f.Epoch)
	}
	if w, ok := s.Writer(c.Epoch); ok {
		return Result{}, fmt.Errorf("%w: epoch %d already has write region %q", ErrUnsafe, c.Epoch, w)
	}
	tgt, err := s.need(c.Target)
	if err != nil {
		return Result{}, err
	}
	if tgt.Name == f.Deposed {
		return Result{}, fmt.Errorf("%w: %q is the deposed region", ErrUnsafe, tgt.Name)
	}
	if f.Phase != PhaseCatchingUp {
		return Result{}, fmt.Errorf("%w: promote before a catch-up plan was recorded", ErrTransition)
	}
	if tgt.Name != f.Target {
		return Result{}, fmt.Errorf("%w: promote of %q, but the plan's target is %q", ErrUnsafe, tgt.Name, f.Target)
	}
	if tgt.Status != StatusHealthy {
		return Result{}, fmt.Errorf("%w: the target %q is %s, not Healthy", ErrUnsafe, tgt.Name, tgt.Status)
	}
	at := utc(c.At)
	if !f.Drained && at.Before(f.SafeAt) {
		return Result{}, fmt.Errorf("%w: promote at %s, before the deposed region's lease has certainly expired (%s)", ErrUnsafe, at.Format(time.RFC3339Nano), f.SafeAt.Format(time.RFC3339Nano))
	}
	if len(c.StartLSN) != len(f.Plan) {
		return Result{}, fmt.Errorf("%w: promote names %d partitions, the plan %d", ErrInvalid, len(c.StartLSN), len(f.Plan))
	}
	for _, p := range sortedKeys(f.Plan) {
		st, ok := c.StartLSN[p]
		if !ok {
			return Result{}, fmt.Errorf("%w: promote does not name planned partition %d", ErrInvalid, p)
		}
		if want := f.Plan[p].TargetLSN + 1; st != want {
			return Result{}, fmt.Errorf("%w: partition %d: start LSN %d, but the commit point is %d so writes must start at %d", ErrUnsafe, p, st, want-1, want)
		}
	}
	for _, p := range sortedKeys(c.StartLSN) {
		s.History[p] = append(s.History[p], EpochStart{Epoch: c.Epoch, Start: c.StartLSN[p]})
	}
	if !f.Drained {
		// It may hold writes no survivor had: out until it rolls back.
		s.setStatus(f.Deposed, StatusFencedOut, at)
	}
	s.WriteRegion = tgt.Name
	s.Terms = append(s.Terms, Term{Epoch: c.Epoch, Writer: tgt.Name, Since: at})
	f.Phase, f.PromotedAt, f.EndedAt = PhasePromoted, at, at
	s.Past = append(s.Past, *f)
	s.Failover = nil
	return Result{Phase: PhasePromoted}, nil
}

func (s *State) manualFailover(c ManualFailover) (Result, error) {
	if err := s.singleWrite(); err != nil {
		return Result{}, err
	}
	if s.Failover != nil {
		return Result{}, fmt.Errorf("%w: a failover is already in progress (%s)", ErrTransition, s.Failover.Phase)
	}
	tgt, err := s.need(c.Target)
	if err != nil {
		return Result{}, err
	}
	if tgt.Name == s.WriteRegion {
		return Result{}, fmt.Errorf("%w: %q is already the write region", ErrInvalid, tgt.Name)
	}
	for _, r := range s.Regions {
		if r.Status != StatusHealthy {
			return Result{}, fmt.Errorf("%w: manual failover needs every region healthy; %q is %s", ErrUnsafe, r.Name, r.Status)
		}
	}
	at := utc(c.At)
	s.Failover = &Failover{Kind: Manual, Phase: PhaseRequested, Deposed: s.WriteRegion, Target: tgt.Name, RequestedAt: at, Reason: "manual failover to " + tgt.Name}
	return Result{Phase: PhaseRequested}, nil
}

func (s *State) cancelFailover(c CancelFailover) (Result, error) {
	f := s.Failover
	if f == nil {
		return Result{}, fmt.Errorf("%w: no failover in progress", ErrTransition)
	}
	if f.Phase != PhaseRequested {
		return Result{}, fmt.Errorf("%w: the failover to epoch %d is already fenced; it ends only with a Promote", ErrTransition, f.Epoch)
	}
	f.Phase, f.EndedAt = PhaseCancelled, utc(c.At)
	if c.Reason != "" {
		f.Reason += "; cancelled: " + c.Reason
	}
	s.Past = append(s.Past, *f)
	s.Failover = nil
	return Result{Phase: PhaseCancelled}, nil
}

func (s *State) setRegionStatus(c SetRegionStatus) (Result, error) {
	r, err := s.need(c.Region)
	if err != nil {
		return Result{}, err
	}
	switch {
	case !c.Status.valid():
		return Result{}, fmt.Errorf("%w: unknown status %q", ErrInvalid, c.Status)
	case c.Status == StatusFencedOut:
		return Result{}, fmt.Errorf("%w: only a Fence puts a region out", ErrTransition)
	case r.Status == StatusFencedOut:
		return Result{}, fmt.Errorf("%w: %q is fenced out; it returns only through Rejoin after removing its unreplicated suffix", ErrTransition, r.Name)
	case c.Status == StatusOfflineDrill && r.Name == s.WriteRegion:
		return Result{}, fmt.Errorf("%w: %q is the write region; fail it over before a drill", ErrTransition, r.Name)
	case c.Status == StatusOfflineDrill && s.Failover != nil && r.Name == s.Failover.Target:
		return Result{}, fmt.Errorf("%w: %q is the failover target", ErrTransition, r.Name)
	}
	s.setStatus(r.Name, c.Status, utc(c.At))
	return Result{}, nil
}

func (s *State) rejoin(c Rejoin) (Result, error) {
	r, err := s.need(c.Region)
	if err != nil {
		return Result{}, err
	}
	if r.Status != StatusFencedOut {
		return Result{}, fmt.Errorf("%w: %q is %s, not fenced out (a rejoin is accepted once)", ErrTransition, r.Name, r.Status)
	}
	if s.Failover != nil && s.Failover.Phase != PhaseRequested {
		return Result{}, fmt.Errorf("%w: a failover is in progress; rejoin after it", ErrTransition)
	}
	if c.Epoch != s.Epoch {
		return Result{}, fmt.Errorf("%w: %q adopted epoch %d, the current epoch is %d", ErrStaleEpoch, r.Name, c.Epoch, s.Epoch)
	}
	// The latest failover that deposed r.
	i := -1
	for j := len(s.Past) - 1; j >= 0; j-- {
		if s.Past[j].Deposed == r.Name && s.Past[j].Phase == PhasePromoted {
			i = j
			break
		}
	}
	if i < 0 {
		return Result{}, fmt.Errorf("%w: no failover deposed %q", ErrInvalid, r.Name)
	}
	rec := &s.Past[i]
	for _, p := range sortedKeys(c.Truncated) {
		rg := c.Truncated[p]
		if rg.From < 1 || rg.To < rg.From {
			return Result{}, fmt.Errorf("%w: partition %d: bad range %d..%d", ErrInvalid, p, rg.From, rg.To)
		}
		// The suffix starts right after the commit point of the deposed
		// epoch (Divergence): anything else is a bug in the rollback.
		if cp, ok := s.History.CommitPoint(p, rec.Epoch-1); ok && rg.From != cp+1 {
			return Result{}, fmt.Errorf("%w: partition %d: truncated suffix starts at %d, but epoch %d is committed up to %d", ErrInvalid, p, rg.From, rec.Epoch-1, cp)
		}
	}
	at := utc(c.At)
	if len(c.Truncated) > 0 {
		// Copy on write: Past records are shared with the previous state.
		m := make(map[uint64]LSNRange, len(rec.Truncated)+len(c.Truncated))
		maps.Copy(m, rec.Truncated)
		maps.Copy(m, c.Truncated)
		rec.Truncated = m
	}
	rec.RejoinedAt = at
	s.setStatus(r.Name, StatusHealthy, at)
	return Result{}, nil
}

func (s *State) report(c Report) (Result, error) {
	r, err := s.need(c.Region)
	if err != nil {
		return Result{}, err
	}
	f := s.Failover
	switch {
	case f == nil || (f.Phase != PhaseFenced && f.Phase != PhaseCatchingUp):
		return Result{}, fmt.Errorf("%w: no fenced failover is waiting for reports", ErrTransition)
	case c.Progress.Epoch != f.Epoch:
		return Result{}, fmt.Errorf("%w: %q reported at epoch %d, the failover's is %d", ErrStaleEpoch, r.Name, c.Progress.Epoch, f.Epoch)
	}
	for p, pp := range c.Progress.Partitions {
		if pp.Durable < 0 || pp.LastEpoch < 0 || pp.LastEpoch > f.Epoch || (pp.Durable > 0) != (pp.LastEpoch > 0) {
			return Result{}, fmt.Errorf("%w: partition %d: bad progress %+v", ErrInvalid, p, pp)
		}
	}
	// Copy on write: the map is shared with clones of the previous state.
	m := make(map[string]RegionProgress, len(f.Reports)+1)
	maps.Copy(m, f.Reports)
	m[r.Name] = RegionProgress{Epoch: c.Progress.Epoch, Partitions: maps.Clone(c.Progress.Partitions)}
	f.Reports = m
	return Result{Phase: f.Phase}, nil
}

func (s *State) setConsistency(c SetConsistency) (Result, error) {
	if s.Failover != nil {
		return Result{}, fmt.Errorf("%w: a failover is in progress", ErrTransition)
	}
	pol, err := c.Policy.validate(s.MultiWrite)
	if err != nil {
		return Result{}, err
	}
	s.Consistency = pol
	return Result{}, nil
}

func (s *State) addRegion(c AddRegion) (Result, error) {
	if s.Failover != nil {
		return Result{}, fmt.Errorf("%w: a failover is in progress", ErrTransition)
	}
	if err := s.checkNewRegion(c.Region); err != nil {
		return Result{}, err
	}
	s.Regions = append(s.Regions, Region{Name: strings.TrimSpace(c.Region.Name), ID: c.Region.ID, Priority: c.Region.Priority, Status: StatusHealthy, Since: utc(c.At)})
	s.sortRegions()
	return Result{}, nil
}

func (s *State) removeRegion(c RemoveRegion) (Result, error) {
	if s.Failover != nil {
		return Result{}, fmt.Errorf("%w: a failover is in progress", ErrTransition)
	}
	i := s.regionIndex(c.Region)
	if i < 0 {
		return Result{}, fmt.Errorf("%w: %q is not a region of this account", ErrInvalid, c.Region)
	}
	if s.Regions[i].Name == s.WriteRegion {
		return Result{}, fmt.Errorf("%w: %q is the write region; fail over first", ErrTransition, s.Regions[i].Name)
	}
	if len(s.Regions) == 1 {
		return Result{}, fmt.Errorf("%w: the last region cannot be removed", ErrTransition)
	}
	s.Regions = slices.Delete(s.Regions, i, i+1)
	return Result{}, nil
}
