package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/meridiandb/meridian/internal/session"
	"github.com/meridiandb/meridian/internal/topology"
)

// Errors. Every error Apply and the planning functions return wraps one of
// these (errors.Is), with a message naming what was wrong.
var (
	// ErrInvalid: the command is malformed or names an unknown region.
	ErrInvalid = errors.New("control: invalid command")
	// ErrStaleEpoch: the command's epoch is not the one it must act on
	// (e.g. the second of two racing fences, a Promote of another epoch).
	ErrStaleEpoch = errors.New("control: wrong epoch")
	// ErrTransition: the command is not allowed in the current phase.
	ErrTransition = errors.New("control: transition not allowed")
	// ErrUnsafe: acting now could lose committed or synced writes, or
	// split the write region.
	ErrUnsafe = errors.New("control: unsafe")
)

// RegionStatus is the control plane's view of a region.
type RegionStatus string

// Region statuses.
const (
	// StatusHealthy: reachable; a failover candidate.
	StatusHealthy RegionStatus = "Healthy"
	// StatusSuspected: the failure detector has doubts; not a candidate,
	// but its progress must still be collected before a failover.
	StatusSuspected RegionStatus = "Suspected"
	// StatusFencedOut: a deposed write region that may hold writes the
	// failover truncated. Only Rejoin (after it removed them) clears it.
	StatusFencedOut RegionStatus = "FencedOut"
	// StatusOfflineDrill: deliberately offline for a drill; not a
	// candidate, but it must still report before a failover (it may have
	// acknowledged sync reads before it went offline).
	StatusOfflineDrill RegionStatus = "OfflineDrill"
)

func (s RegionStatus) valid() bool {
	switch s {
	case StatusHealthy, StatusSuspected, StatusFencedOut, StatusOfflineDrill:
		return true
	}
	return false
}

// Region is one region of the account as the control plane sees it.
type Region struct {
	Name string `json:"name"`
	ID   uint32 `json:"id"`
	// Priority orders failover: lower is preferred; unique in the account.
	Priority int          `json:"priority"`
	Status   RegionStatus `json:"status"`
	// Since is when Status last changed.
	Since time.Time `json:"since,omitzero"`
}

// ConsistencyPolicy is the account's default consistency.
type ConsistencyPolicy struct {
	// Level is a session.Level name: Strong, BoundedStaleness, Session,
	// ConsistentPrefix, Eventual.
	Level string `json:"level"`
	// MaxStalenessPrefix (K) and MaxIntervalSeconds (T) bound Bounded
	// Staleness; both must be positive at that level.
	MaxStalenessPrefix int64 `json:"maxStalenessPrefix,omitempty"`
	MaxIntervalSeconds int64 `json:"maxIntervalInSeconds,omitempty"`
}

func (c ConsistencyPolicy) validate(multiWrite bool) (ConsistencyPolicy, error) {
	lvl, err := session.ParseLevel(c.Level)
	if err != nil || lvl == session.LevelUnset {
		return c, fmt.Errorf("%w: consistency level %q: use Strong, BoundedStaleness, Session, ConsistentPrefix or Eventual", ErrInvalid, c.Level)
	}
	c.Level = lvl.String()
	if lvl == session.Strong && multiWrite {
		return c, fmt.Errorf("%w: Strong consistency is not allowed for a multi-write account", ErrInvalid)
	}
	if lvl == session.BoundedStaleness && (c.MaxStalenessPrefix < 1 || c.MaxIntervalSeconds < 1) {
		return c, fmt.Errorf("%w: BoundedStaleness needs a positive maxStalenessPrefix (K) and maxIntervalInSeconds (T)", ErrInvalid)
	}
	if lvl != session.BoundedStaleness {
		c.MaxStalenessPrefix, c.MaxIntervalSeconds = 0, 0
	}
	return c, nil
}

// Lease is the write-lease timing the data plane uses: a write region
// accepts writes only while it holds a lease the control plane renewed
// (timed by the holder from before it asked), so a fenced write region
// stops writing at most Timeout after its last renewal, plus clock error.
type Lease struct {
	Timeout      time.Duration `json:"timeout"`
	MaxClockSkew time.Duration `json:"maxClockSkew"`
}

// Term records which region wrote in an epoch: at most one per epoch.
type Term struct {
	Epoch  int64     `json:"epoch"`
	Writer string    `json:"writer"`
	Since  time.Time `json:"since,omitzero"`
}

// PartPlan is the catch-up plan of one partition: before the target
// accepts writes, it pulls the log up to TargetLSN from Source.
// TargetLSN becomes the partition's commit point.
type PartPlan struct {
	TargetLSN int64  `json:"targetLSN"`
	Source    string `json:"source"`
}

// LSNRange is an inclusive range of LSNs.
type LSNRange struct {
	From int64 `json:"from"`
	To   int64 `json:"to"`
}

// Len is the number of LSNs in r.
func (r LSNRange) Len() int64 { return max(0, r.To-r.From+1) }

// FailoverKind says why a failover started.
type FailoverKind string

// Failover kinds.
const (
	// Automatic: the write region was lost (service-managed failover).
	Automatic FailoverKind = "Automatic"
	// Manual: an operator moved the write region with every region
	// healthy; the target drains the old write region: zero loss.
	Manual FailoverKind = "Manual"
)

// Phase is a failover's progress.
type Phase string

// Failover phases, in order. Requested exists only for manual failovers;
// Cancelled only ends a Requested one.
const (
	PhaseRequested  Phase = "Requested"
	PhaseFenced     Phase = "Fenced"
	PhaseCatchingUp Phase = "CatchingUp"
	PhasePromoted   Phase = "Promoted"
	PhaseCancelled  Phase = "Cancelled"
)

// Failover is one failover, in progress (State.Failover) or past
// (State.Past).
type Failover struct {
	Kind  FailoverKind `json:"kind"`
	Phase Phase        `json:"phase"`
	// Epoch is the epoch the fence opened (0 while Requested).
	Epoch int64 `json:"epoch,omitempty"`
	// Deposed is the old write region.
	Deposed string `json:"deposed"`
	// Target is the requested region (Manual) and then the planned one.
	Target string `json:"target,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Plan is the current catch-up plan; at Promote its TargetLSNs are the
	// commit points.
	Plan map[uint64]PartPlan `json:"plan,omitempty"`
	// Drained: the plan drains the deposed region, which acknowledged the
	// fence and reported its final heads (manual failover only).
	Drained bool `json:"drained,omitempty"`
	// Forced: a plan was made without every required report, or below an
	// established commit point; Unreported lists who was missing.
	Forced     bool     `json:"forced,omitempty"`
	Unreported []string `json:"unreported,omitempty"`
	// Replans counts plans after the first (e.g. the target died while
	// catching up).
	Replans int `json:"replans,omitempty"`
	// Superseded is set when an automatic fence replaced a pending manual
	// request (its target).
	Superseded string `json:"superseded,omitempty"`

	RequestedAt time.Time `json:"requestedAt,omitzero"`
	FencedAt    time.Time `json:"fencedAt,omitzero"`
	// SafeAt is when the deposed region's write lease has certainly
	// expired (FenceSafeAt); an undrained Promote is refused before it.
	SafeAt     time.Time `json:"safeAt,omitzero"`
	PlannedAt  time.Time `json:"plannedAt,omitzero"`
	PromotedAt time.Time `json:"promotedAt,omitzero"`
	EndedAt    time.Time `json:"endedAt,omitzero"`

	// Loss accounting. Truncated: per partition, the suffix of the deposed
	// region's log the failover removed (reported by Rejoin; published to
	// the conflict feed). BelowCommit: per partition, LSNs a forced plan
	// gave up although an earlier failover had committed them.
	Truncated   map[uint64]LSNRange `json:"truncated,omitempty"`
	BelowCommit map[uint64]LSNRange `json:"belowCommit,omitempty"`
	RejoinedAt  time.Time           `json:"rejoinedAt,omitzero"`
	// Reports holds each region's latest report for this failover
	// (Report commands), the driver's input to ChooseTarget and DrainPlan.
	Reports map[string]RegionProgress `json:"reports,omitempty"`
}

// LostWrites is the number of log entries the failover is known to have
// truncated (Truncated plus BelowCommit).
func (f *Failover) LostWrites() int64 {
	var n int64
	for _, r := range f.Truncated {
		n += r.Len()
	}
	for _, r := range f.BelowCommit {
		n += r.Len()
	}
	return n
}

func (f *Failover) clone() *Failover {
	if f == nil {
		return nil
	}
	c := *f
	c.Plan = cloneMap(f.Plan)
	c.Unreported = slices.Clone(f.Unreported)
	c.Truncated = cloneMap(f.Truncated)
	c.BelowCommit = cloneMap(f.BelowCommit)
	return &c
}

func cloneMap[K comparable, V any](m map[K]V) map[K]V {
	if m == nil {
		return nil
	}
	return maps.Clone(m)
}

// State is the control-plane state the Raft log replicates. It changes only
// through Apply, which is deterministic: the same commands applied to the
// same state give the same state and results everywhere.
type State struct {
	// Regions in failover-priority order (lowest Priority first).
	Regions []Region `json:"regions"`
	// WriteRegion is "" while a failover is between Fence and Promote.
	WriteRegion string `json:"writeRegion"`
	MultiWrite  bool   `json:"multiWrite,omitempty"`
	// Epoch starts at 1 and grows by one with every Fence. It is the
	// session-token Version of every partition.
	Epoch int64 `json:"epoch"`
	// Terms lists the write region of every epoch that had one.
	Terms       []Term            `json:"terms"`
	History     History           `json:"history"`
	Consistency ConsistencyPolicy `json:"consistency"`
	Lease       Lease             `json:"lease"`
	// Failover is the failover in progress, if any.
	Failover *Failover `json:"failover,omitempty"`
	// Past lists finished failovers, oldest first.
	Past []Failover `json:"past,omitempty"`
	// Applied counts the commands applied.
	Applied uint64 `json:"applied"`
}

// RegionSpec describes a region for New and AddRegion.
type RegionSpec struct {
	Name     string `json:"name"`
	ID       uint32 `json:"id"`
	Priority int    `json:"priority"`
}

// Config is the initial state of an account.
type Config struct {
	Regions []RegionSpec
	// WriteRegion defaults to the region with the lowest priority number.
	// Multi-write accounts have none.
	WriteRegion string
	MultiWrite  bool
	Consistency ConsistencyPolicy
	Lease       Lease
	At          time.Time
}

// New returns the initial state: epoch 1, every region healthy.
func New(cfg Config) (*State, error) {
	if len(cfg.Regions) == 0 {
		return nil, fmt.Errorf("%w: at least one region is required", ErrInvalid)
	}
	if cfg.Lease.Timeout <= 0 || cfg.Lease.MaxClockSkew < 0 {
		return nil, fmt.Errorf("%w: the lease timeout must be positive and the clock skew bound not negative", ErrInvalid)
	}
	at := utc(cfg.At)
	s := &State{Epoch: 1, History: History{}, Lease: cfg.Lease, MultiWrite: cfg.MultiWrite}
	for _, r := range cfg.Regions {
		if err := s.checkNewRegion(r); err != nil {
			return nil, err
		}
		s.Regions = append(s.Regions, Region{Name: strings.TrimSpace(r.Name), ID: r.ID, Priority: r.Priority, Status: StatusHealthy, Since: at})
		s.sortRegions()
	}
	pol, err := cfg.Consistency.validate(cfg.MultiWrite)
	if err != nil {
		return nil, err
	}
	s.Consistency = pol
	if !cfg.MultiWrite {
		w := cfg.WriteRegion
		if w == "" {
			w = s.Regions[0].Name
		}
		r, ok := s.region(w)
		if !ok {
			return nil, fmt.Errorf("%w: write region %q is not one of the regions", ErrInvalid, w)
		}
		s.WriteRegion = r.Name
		s.Terms = []Term{{Epoch: 1, Writer: r.Name, Since: at}}
	} else if cfg.WriteRegion != "" {
		return nil, fmt.Errorf("%w: a multi-write account has no single write region", ErrInvalid)
	}
	return s, s.CheckInvariants()
}

// FromTopology builds the initial state of a topology file's account.
func FromTopology(t *topology.Topology, lease Lease, at time.Time) (*State, error) {
	cfg := Config{WriteRegion: t.WriteRegion, Lease: lease, At: at, Consistency: ConsistencyPolicy{
		Level: t.Consistency, MaxStalenessPrefix: t.MaxStalenessPrefix, MaxIntervalSeconds: t.MaxIntervalSeconds,
	}}
	for _, r := range t.Regions {
		cfg.Regions = append(cfg.Regions, RegionSpec{Name: r.Name, ID: r.ID, Priority: r.Priority})
	}
	return New(cfg)
}

func (s *State) checkNewRegion(r RegionSpec) error {
	switch {
	case topology.Canonical(r.Name) == "":
		return fmt.Errorf("%w: a region name is required", ErrInvalid)
	case r.ID == 0 || r.ID > 255:
		return fmt.Errorf("%w: region %q: id must be in 1..255", ErrInvalid, r.Name)
	case r.Priority < 0:
		return fmt.Errorf("%w: region %q: priority must not be negative", ErrInvalid, r.Name)
	}
	for _, o := range s.Regions {
		switch {
		case topology.Canonical(o.Name) == topology.Canonical(r.Name):
			return fmt.Errorf("%w: region %q already exists", ErrInvalid, r.Name)
		case o.ID == r.ID:
			return fmt.Errorf("%w: region id %d is already used by %q", ErrInvalid, r.ID, o.Name)
		case o.Priority == r.Priority:
			return fmt.Errorf("%w: failover priority %d is already used by %q", ErrInvalid, r.Priority, o.Name)
		}
	}
	return nil
}

func (s *State) sortRegions() {
	slices.SortStableFunc(s.Regions, func(a, b Region) int { return a.Priority - b.Priority })
}

// region finds a region by name, compared canonically ("West US" ==
// "westus"), and returns it with its index.
func (s *State) region(name string) (Region, bool) {
	i := s.regionIndex(name)
	if i < 0 {
		return Region{}, false
	}
	return s.Regions[i], true
}

func (s *State) regionIndex(name string) int {
	c := topology.Canonical(name)
	if c == "" {
		return -1
	}
	for i, r := range s.Regions {
		if topology.Canonical(r.Name) == c {
			return i
		}
	}
	return -1
}

// Region returns the named region (compared canonically).
func (s *State) Region(name string) (Region, bool) { return s.region(name) }

// Writer returns the write region of epoch e, if it had one.
func (s *State) Writer(e int64) (string, bool) {
	for _, t := range s.Terms {
		if t.Epoch == e {
			return t.Writer, true
		}
	}
	return "", false
}

// Clone returns a deep copy of s.
func (s *State) Clone() *State {
	c := s.cloneForApply()
	if s.Past != nil {
		for i := range s.Past {
			c.Past[i] = *s.Past[i].clone()
		}
	}
	return c
}

// cloneForApply copies s for Apply to mutate. Past records are shared:
// they are never mutated in place (Rejoin replaces its record's maps).
func (s *State) cloneForApply() *State {
	c := *s
	c.Regions = slices.Clone(s.Regions)
	c.Terms = slices.Clone(s.Terms)
	c.History = s.History.clone()
	c.Failover = s.Failover.clone()
	c.Past = slices.Clone(s.Past)
	return &c
}

// Snapshot serializes s (JSON) for a Raft snapshot.
func (s *State) Snapshot() ([]byte, error) { return json.Marshal(s) }

// Restore rebuilds a state from Snapshot's output and checks its
// invariants.
func Restore(b []byte) (*State, error) {
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("control: restore: %w", err)
	}
	if s.History == nil {
		s.History = History{}
	}
	if err := s.CheckInvariants(); err != nil {
		return nil, fmt.Errorf("control: restore: %w", err)
	}
	return &s, nil
}

// CheckInvariants reports the first violated structural invariant:
//   - regions have unique names, ids and priorities and are sorted;
//   - Epoch >= 1; Terms have strictly increasing epochs <= Epoch, one
//     writer each; the write region, when set, is the writer of Epoch;
//   - WriteRegion is "" exactly while a failover is Fenced or CatchingUp
//     (single-write accounts);
//   - each partition's history has strictly increasing epochs in 2..Epoch
//     with starts >= 1;
//   - a failover in progress is in a live phase and its epoch matches.
func (s *State) CheckInvariants() error {
	bad := func(f string, a ...any) error {
		return fmt.Errorf("%w: invariant: "+f, append([]any{ErrInvalid}, a...)...)
	}
	if len(s.Regions) == 0 {
		return bad("no regions")
	}
	names, ids, prios := map[string]bool{}, map[uint32]bool{}, map[int]bool{}
	for i, r := range s.Regions {
		c := topology.Canonical(r.Name)
		if c == "" || names[c] || ids[r.ID] || prios[r.Priority] || r.ID == 0 || r.ID > 255 || !r.Status.valid() {
			return bad("region %d (%q) is invalid or duplicated", i, r.Name)
		}
		if i > 0 && s.Regions[i-1].Priority > r.Priority {
			return bad("regions are not in priority order")
		}
		names[c], ids[r.ID], prios[r.Priority] = true, true, true
	}
	if s.Epoch < 1 {
		return bad("epoch %d < 1", s.Epoch)
	}
	for i, t := range s.Terms {
		if t.Epoch < 1 || t.Epoch > s.Epoch || (i > 0 && s.Terms[i-1].Epoch >= t.Epoch) || t.Writer == "" {
			return bad("term %d (epoch %d, writer %q) is out of order", i, t.Epoch, t.Writer)
		}
	}
	if s.WriteRegion != "" {
		if _, ok := s.region(s.WriteRegion); !ok {
			return bad("write region %q is not a region", s.WriteRegion)
		}
		if w, ok := s.Writer(s.Epoch); !ok || w != s.WriteRegion {
			return bad("write region %q is not the writer of epoch %d", s.WriteRegion, s.Epoch)
		}
	}
	fencing := s.Failover != nil && (s.Failover.Phase == PhaseFenced || s.Failover.Phase == PhaseCatchingUp)
	if !s.MultiWrite && (s.WriteRegion == "") != fencing {
		return bad("write region %q while failover phase is %v", s.WriteRegion, s.Failover != nil && fencing)
	}
	if s.MultiWrite && (s.WriteRegion != "" || s.Failover != nil) {
		return bad("a multi-write account has a write region or failover")
	}
	for p, es := range s.History {
		for i, e := range es {
			if e.Epoch < 2 || e.Epoch > s.Epoch || e.Start < 1 || (i > 0 && es[i-1].Epoch >= e.Epoch) {
				return bad("partition %d history entry %d (%+v)", p, i, e)
			}
		}
	}
	if f := s.Failover; f != nil {
		switch f.Phase {
		case PhaseRequested:
			if f.Kind != Manual || f.Epoch != 0 {
				return bad("requested failover must be manual with no epoch")
			}
		case PhaseFenced, PhaseCatchingUp:
			if f.Epoch != s.Epoch {
				return bad("failover epoch %d != epoch %d", f.Epoch, s.Epoch)
			}
		default:
			return bad("failover in progress has phase %q", f.Phase)
		}
	}
	return nil
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// sortedKeys returns m's keys in increasing order (deterministic
// iteration).
func sortedKeys[K interface{ ~uint64 | ~int64 | ~string }, V any](m map[K]V) []K {
	return slices.Sorted(maps.Keys(m))
}
