package control

import (
	"fmt"
	"time"

	"github.com/meridiandb/meridian/internal/topology"
)

// ShouldFailover reports whether the write region has been silent long
// enough to start an automatic failover, and why (or why not). lastContact
// maps region names to when the control plane last heard from them; now
// and the map come from the caller, so the decision is a pure function.
//
// It returns true only when all hold:
//   - there is a write region (no failover is in progress);
//   - detectTimeout > 0 (otherwise detection is off);
//   - the write region has a recorded contact (the caller seeds the map
//     when monitoring starts: no contact yet is not evidence of failure)
//     and has been silent for at least detectTimeout;
//   - some other region was heard from within detectTimeout. If every
//     region is silent the control plane itself is the likely isolated
//     party, and failing over would only fence a healthy write region.
//
// A contact time after now (clock values from elsewhere) counts as fresh.
func ShouldFailover(now time.Time, lastContact map[string]time.Time, writeRegion string, detectTimeout time.Duration) (bool, string) {
	if writeRegion == "" {
		return false, "no write region: a failover is already in progress"
	}
	if detectTimeout <= 0 {
		return false, "failure detection is disabled (timeout <= 0)"
	}
	w := topology.Canonical(writeRegion)
	var (
		last     time.Time
		seen     bool
		freshest string
	)
	for _, name := range sortedKeys(lastContact) {
		t := lastContact[name]
		if topology.Canonical(name) == w {
			if !seen || t.After(last) {
				last, seen = t, true
			}
			continue
		}
		if freshest == "" && now.Sub(t) < detectTimeout {
			freshest = name
		}
	}
	if !seen {
		return false, fmt.Sprintf("no contact with write region %q recorded yet", writeRegion)
	}
	silent := now.Sub(last)
	if silent < detectTimeout {
		return false, fmt.Sprintf("write region %q heard from %s ago (timeout %s)", writeRegion, silent, detectTimeout)
	}
	if freshest == "" {
		return false, fmt.Sprintf("write region %q silent for %s, but so is every other region: the control plane may be partitioned; not failing over", writeRegion, silent)
	}
	return true, fmt.Sprintf("write region %q silent for %s (timeout %s) while %q is reachable", writeRegion, silent, detectTimeout, freshest)
}

// FenceSafeAt returns when a region promoted after a fence at fencedAt may
// start accepting writes: once the deposed region's write lease has
// certainly expired, so that no two regions accept writes at the same time
// even if the deposed one never hears of the fence (FO-F3).
//
// Assumptions (the data plane's lease protocol): the control plane renews
// no lease of the deposed region after fencedAt (a renewal is a read of
// this state); the holder times each lease from before it sent the renewal
// request, so in real time its lease ends by fencedAt + leaseTimeout; and
// the two clocks' disagreement over that interval is at most maxClockSkew.
// Negative durations count as zero.
func FenceSafeAt(fencedAt time.Time, leaseTimeout, maxClockSkew time.Duration) time.Time {
	return fencedAt.Add(max(leaseTimeout, 0) + max(maxClockSkew, 0))
}

// HasTakeover reports whether a failover of the write region could be
// completed: some other region is Healthy, so it can be promoted. When
// every other region is fenced out (deposed by earlier failovers and not
// rejoined yet — they rejoin only while a write region exists), fencing the
// write region would start a failover that can never promote anyone; the
// driver waits instead, for the write region to return (it keeps its role)
// or for a region to rejoin.
func HasTakeover(s *State) bool {
	for _, r := range s.Regions {
		if r.Name != s.WriteRegion && r.Status == StatusHealthy {
			return true
		}
	}
	return false
}
