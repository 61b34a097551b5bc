package control

import (
	"fmt"
	"slices"
	"strings"
)

// PartProgress is one partition's durable progress in a region.
type PartProgress struct {
	// Durable is the LSN durable in the region's local write quorum
	// (quorum-acked, D-11), not merely applied by one replica.
	Durable int64 `json:"durable"`
	// LastEpoch is the epoch of the entry at Durable (0 if Durable is 0).
	LastEpoch int64 `json:"lastEpoch"`
}

// RegionProgress is what a region reports to the control plane during a
// failover.
type RegionProgress struct {
	// Epoch is the epoch the region had adopted when it reported. Only a
	// report at the failover's epoch is final: having adopted the fence,
	// the region refuses replication of older epochs, so its durable LSNs
	// cannot grow behind the plan's back.
	Epoch      int64                   `json:"epoch"`
	Partitions map[uint64]PartProgress `json:"partitions"`
}

// Unreported lists, in priority order, the regions whose final report is
// missing from survivors although ChooseTarget requires it: every region
// except the deposed one and fenced-out ones. A report at an epoch other
// than the failover's does not count.
func Unreported(s *State, survivors map[string]RegionProgress) []string {
	if s.Failover == nil {
		return nil
	}
	got := map[string]bool{}
	for name, rp := range survivors {
		if r, ok := s.region(name); ok && rp.Epoch == s.Failover.Epoch {
			got[r.Name] = true
		}
	}
	var out []string
	for _, r := range s.Regions {
		if r.Name != s.Failover.Deposed && r.Status != StatusFencedOut && !got[r.Name] {
			out = append(out, r.Name)
		}
	}
	return out
}

// ChooseTarget picks the new write region of the fenced failover in s and
// plans, per partition, how it catches up before it accepts writes (§5.5
// steps 2-5). survivors maps region names to their final reports.
//
// Invariants it guarantees (unless force):
//
//   - No synced write is lost. Every region that may have acknowledged a
//     sync read (or a Strong commit) must have reported: every region but
//     the deposed one and fenced-out ones (which follow no write region).
//     Otherwise it returns ErrUnsafe "cannot fail over safely: region X
//     has not reported".
//   - The commit point of each partition is the max durable LSN over all
//     consulted survivors, where a survivor's LSN counts only up to the
//     commit point of the epoch of its last entry (a fenced-out region may
//     still hold a suffix an earlier failover truncated; it never counts).
//     Each survivor's log is a prefix of the deposed write region's, so the
//     longest one holds every write any survivor has.
//   - The commit point never goes below the one an earlier failover
//     established (History.Committed).
//   - The target is the highest-priority Healthy survivor; it is never the
//     deposed region. The plan's TargetLSN is the commit point, whatever
//     the target's own LSN: a lagging target first catches up.
//   - The source of each partition holds TargetLSN durably: the target if
//     it already does, else the highest-priority survivor that does
//     (Healthy before Suspected before OfflineDrill before FencedOut).
//
// With force, missing reports (and a commit point below an earlier one)
// are accepted: writes that were durable only in an unreported region are
// lost (they reappear, if ever, through that region's conflict feed). A
// report from before the fence counts as missing even then: it is ignored,
// not used as a lower bound.
// Unreported names them for the Plan command's Forced/Unreported fields.
func ChooseTarget(s *State, survivors map[string]RegionProgress, force bool) (string, map[uint64]PartPlan, error) {
	f := s.Failover
	if s.MultiWrite {
		return "", nil, fmt.Errorf("%w: a multi-write account has no write region to fail over", ErrTransition)
	}
	if f == nil || (f.Phase != PhaseFenced && f.Phase != PhaseCatchingUp) {
		return "", nil, fmt.Errorf("%w: no fenced failover (fence before collecting progress)", ErrTransition)
	}
	type rep struct {
		r  Region
		rp RegionProgress
	}
	var reps []rep
	seen := map[string]bool{}
	for _, name := range sortedKeys(survivors) {
		r, ok := s.region(name)
		if !ok {
			return "", nil, fmt.Errorf("%w: %q is not a region of this account", ErrInvalid, name)
		}
		if seen[r.Name] {
			return "", nil, fmt.Errorf("%w: region %q reported twice", ErrInvalid, r.Name)
		}
		seen[r.Name] = true
		rp := survivors[name]
		switch {
		case r.Name == f.Deposed && rp.Epoch != f.Epoch:
			// Its suffix beyond the survivors' is what the failover gives
			// up unless it comes back (restarted, so no longer writing)
			// and reports at the fenced epoch: then its heads are final
			// and it is a catch-up source like any other (never the
			// target: it is FencedOut), and nothing it held is lost.
			continue
		case rp.Epoch > f.Epoch:
			return "", nil, fmt.Errorf("%w: region %q reported epoch %d, beyond the fenced epoch %d", ErrInvalid, r.Name, rp.Epoch, f.Epoch)
		case rp.Epoch < f.Epoch:
			// Not final: counted as unreported below.
			continue
		}
		for _, p := range sortedKeys(rp.Partitions) {
			pp := rp.Partitions[p]
			if pp.Durable < 0 || (pp.Durable > 0 && (pp.LastEpoch < 1 || pp.LastEpoch >= f.Epoch)) {
				return "", nil, fmt.Errorf("%w: region %q partition %d: durable LSN %d at epoch %d is impossible before epoch %d is promoted", ErrInvalid, r.Name, p, pp.Durable, pp.LastEpoch, f.Epoch)
			}
		}
		reps = append(reps, rep{r, rp})
	}
	if missing := Unreported(s, survivors); len(missing) > 0 && !force {
		return "", nil, fmt.Errorf("%w: cannot fail over safely: %s not reported at epoch %d (every region that may have acknowledged a sync read must be consulted; force accepts losing writes synced only to %s)",
			ErrUnsafe, quoteList("region", missing, "has", "have"), f.Epoch, strings.Join(missing, ", "))
	}
	// Priority order for the target and the sources.
	rank := func(st RegionStatus) int {
		return slices.Index([]RegionStatus{StatusHealthy, StatusSuspected, StatusOfflineDrill, StatusFencedOut}, st)
	}
	slices.SortStableFunc(reps, func(a, b rep) int {
		if a.r.Priority != b.r.Priority {
			return a.r.Priority - b.r.Priority
		}
		return strings.Compare(a.r.Name, b.r.Name)
	})
	target := ""
	for _, x := range reps {
		if x.r.Status == StatusHealthy {
			target = x.r.Name
			break
		}
	}
	if target == "" {
		return "", nil, fmt.Errorf("%w: no healthy region reported: nothing to promote", ErrUnsafe)
	}
	// effective is the part of a report on the surviving timeline.
	effective := func(p uint64, pp PartProgress) int64 {
		if cp, ok := s.History.CommitPoint(p, pp.LastEpoch); ok && pp.Durable > cp {
			return cp
		}
		return pp.Durable
	}
	parts := map[uint64]bool{}
	for _, x := range reps {
		for p := range x.rp.Partitions {
			parts[p] = true
		}
	}
	for p := range s.History {
		parts[p] = true
	}
	plan := make(map[uint64]PartPlan, len(parts))
	for _, p := range sortedKeys(parts) {
		var maxLSN int64
		for _, x := range reps {
			maxLSN = max(maxLSN, effective(p, x.rp.Partitions[p]))
		}
		if committed := s.History.Committed(p); maxLSN < committed && !force {
			return "", nil, fmt.Errorf("%w: cannot fail over safely: partition %d: the survivors hold LSN %d at most, but an earlier failover committed up to %d", ErrUnsafe, p, maxLSN, committed)
		}
		src := ""
		for _, x := range reps {
			if x.r.Name == target && effective(p, x.rp.Partitions[p]) >= maxLSN {
				src = target
			}
		}
		if src == "" {
			best := -1
			for i, x := range reps { // priority order: the first of the best status wins
				if effective(p, x.rp.Partitions[p]) >= maxLSN && (best < 0 || rank(x.r.Status) < rank(reps[best].r.Status)) {
					best = i
				}
			}
			src = reps[best].r.Name
		}
		plan[p] = PartPlan{TargetLSN: maxLSN, Source: src}
	}
	// No partition reported: nothing to catch up (an account without
	// containers); the target only needs promoting.
	return target, plan, nil
}

// DrainPlan plans a manual failover (FO-A3): the deposed (old) write
// region, healthy and fenced, reported its final heads (deposed.Epoch must
// be the failover's epoch, proving it stopped writing); the target catches
// up to them from it.
//
// Invariant: zero loss. TargetLSN is the old write region's head for every
// partition, so every acknowledged write at any level survives. It refuses
// (ErrUnsafe) unless every region is healthy: a manual failover during an
// outage fails (use the automatic path).
func DrainPlan(s *State, deposed RegionProgress) (string, map[uint64]PartPlan, error) {
	f := s.Failover
	if f == nil || f.Kind != Manual || (f.Phase != PhaseFenced && f.Phase != PhaseCatchingUp) {
		return "", nil, fmt.Errorf("%w: no fenced manual failover to drain", ErrTransition)
	}
	for _, r := range s.Regions {
		if r.Status != StatusHealthy {
			return "", nil, fmt.Errorf("%w: manual failover needs every region healthy; %q is %s", ErrUnsafe, r.Name, r.Status)
		}
	}
	if deposed.Epoch != f.Epoch {
		return "", nil, fmt.Errorf("%w: %q reported at epoch %d, not the fenced epoch %d: its heads are not final", ErrUnsafe, f.Deposed, deposed.Epoch, f.Epoch)
	}
	plan := map[uint64]PartPlan{}
	for _, p := range sortedKeys(deposed.Partitions) {
		pp := deposed.Partitions[p]
		if pp.Durable < s.History.Committed(p) {
			return "", nil, fmt.Errorf("%w: partition %d: head %d is below the commit point %d", ErrUnsafe, p, pp.Durable, s.History.Committed(p))
		}
		plan[p] = PartPlan{TargetLSN: pp.Durable, Source: f.Deposed}
	}
	for _, p := range sortedKeys(s.History) {
		if _, ok := plan[p]; !ok {
			return "", nil, fmt.Errorf("%w: %q did not report partition %d", ErrUnsafe, f.Deposed, p)
		}
	}
	return f.Target, plan, nil
}

func quoteList(noun string, names []string, one, many string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	if len(q) == 1 {
		return noun + " " + q[0] + " " + one
	}
	return noun + "s " + strings.Join(q, ", ") + " " + many
}
