package checker

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Reported loss (C25): after an automatic failover at a level weaker than
// Strong, the acknowledged writes that only the deposed write region held
// are lost — within the RPO — but never silently: when the deposed region
// rejoins, each is published to the container's conflicts feed. The
// failover records have ids "{epoch}-{lsn}-{index}" and carry the lost
// document as content.
//
// LostReported builds the DurabilityOptions.AllowLost of such a run: an
// acknowledged write may be missing only if its value is in the feed.
// CheckReportedLoss checks the feed itself: every failover record names a
// write of the history (acknowledged or unknown, never failed: a failed
// write was never applied anywhere) that is indeed not in the final state,
// and no write is reported twice.

// LostReported returns an AllowLost that accepts a missing acknowledged
// write when the feed reports its value (field valueField of the content,
// default "v").
func LostReported(feed []ConflictRecord, valueField string) func(i int, op Op) bool {
	reported := reportedValues(feed, valueField)
	return func(_ int, op Op) bool {
		return reported[op.Key+"\x00"+op.Value] > 0
	}
}

// failoverRecord reports whether a conflicts-feed id is a failover record
// ("{epoch}-{lsn}-{index}", all decimal), not a multi-write loser ("mw-…").
func failoverRecord(id string) bool {
	parts := strings.Split(id, "-")
	if len(parts) != 3 {
		return false
	}
	for _, p := range parts {
		if _, err := strconv.ParseUint(p, 10, 64); err != nil {
			return false
		}
	}
	return true
}

// reportedValues counts the failover records by key and value.
func reportedValues(feed []ConflictRecord, valueField string) map[string]int {
	if valueField == "" {
		valueField = "v"
	}
	out := map[string]int{}
	for _, r := range feed {
		if !failoverRecord(r.ID) {
			continue
		}
		val := "" // a lost delete
		if r.Content != "" {
			var m map[string]any
			if err := unmarshalNumber([]byte(r.Content), &m); err != nil {
				continue
			}
			switch x := m[valueField].(type) {
			case string:
				val = x
			case json.Number:
				val = x.String()
			}
		}
		out[r.ResourceID+"\x00"+val]++
	}
	return out
}

// ReportedLossOptions configures CheckReportedLoss.
type ReportedLossOptions struct {
	// Feed is the write region's conflicts feed after the deposed region
	// rejoined; Final the converged state.
	Feed  []ConflictRecord
	Final State
	// ValueField is the item field holding the unique value (default "v").
	ValueField string
	// EpochStarts, if set, is the control plane's epoch history of the
	// partition (per epoch opened by a failover, its first LSN). Then the
	// lost set is known exactly: an acknowledged write of epoch e at LSN l
	// was removed iff an epoch after e started at or below l; every such
	// write must be reported, and every reported one must be such a write.
	EpochStarts   map[int64]int64
	MaxViolations int
}

// Truncated reports whether a write at (epoch, lsn) was removed by a later
// failover, given each failover epoch's first LSN.
func Truncated(starts map[int64]int64, epoch, lsn int64) bool {
	for e, s := range starts {
		if e > epoch && s <= lsn {
			return true
		}
	}
	return false
}

// CheckReportedLoss checks that the failover records of the conflicts feed
// report real, lost writes, each once (RPO-REPORT).
func CheckReportedLoss(h History, opts ReportedLossOptions) Report {
	rp := newReporter("reported-loss", h, opts.MaxViolations)
	ix := newIndex(h)
	seen := map[string]bool{}
	for _, r := range opts.Feed {
		if !failoverRecord(r.ID) {
			continue
		}
		rp.r.Stats["records"]++
		vals := reportedValues([]ConflictRecord{r}, opts.ValueField)
		for kv := range vals {
			key, val, _ := strings.Cut(kv, "\x00")
			if seen[kv] {
				rp.violate(KindRPOReport, key, nil, "the conflicts feed reports the lost write %s=%s twice (record %s)", key, showValue(val), r.ID)
				continue
			}
			seen[kv] = true
			if val == "" {
				rp.r.Stats["records_delete"]++
				continue // a lost delete names no value
			}
			w := ix.writeOf(key, val)
			switch {
			case w == nil:
				rp.violate(KindRPOReport, key, nil, "the conflicts feed reports %s=%s (record %s), which no write wrote", key, showValue(val), r.ID)
			case w.res == Fail:
				rp.violate(KindRPOReport, key, []int{w.op}, "the conflicts feed reports %s=%s (record %s), whose write failed (op %d)", key, showValue(val), r.ID, w.op)
			case opts.Final[key].Value == val:
				rp.violate(KindRPOReport, key, []int{w.op}, "the conflicts feed reports %s=%s (record %s) as lost, but the final state holds it", key, showValue(val), r.ID)
			default:
				if w.res == OK {
					rp.r.Stats["acked_reported"]++
				} else {
					rp.r.Stats["unknown_reported"]++
				}
			}
		}
	}
	if opts.EpochStarts != nil {
		for k, ws := range ix.writes {
			for _, w := range ws {
				if w.res != OK || w.lsn <= 0 || w.epoch <= 0 || !Truncated(opts.EpochStarts, w.epoch, w.lsn) {
					continue
				}
				rp.r.Stats["acked_truncated"]++
				if !seen[k+"\x00"+w.val] {
					rp.violate(KindRPOReport, k, []int{w.op}, "acknowledged write %s=%s (op %d, epoch %d, LSN %d) was removed by a failover but is not in the conflicts feed: lost silently", k, showValue(w.val), w.op, w.epoch, w.lsn)
				}
			}
		}
		for kv := range seen {
			key, val, _ := strings.Cut(kv, "\x00")
			if w := ix.writeOf(key, val); w != nil && w.res == OK && w.lsn > 0 && w.epoch > 0 && !Truncated(opts.EpochStarts, w.epoch, w.lsn) {
				rp.violate(KindRPOReport, key, []int{w.op}, "the conflicts feed reports %s=%s (op %d, epoch %d, LSN %d) as lost, but no failover removed its LSN", key, showValue(val), w.op, w.epoch, w.lsn)
			}
		}
	}
	if rp.r.Stats["records"] == 0 {
		rp.note("no failover record: nothing acknowledged was lost")
	}
	return rp.done()
}

// String helps reading a record in a report.
func (r ConflictRecord) String() string {
	return fmt.Sprintf("%s %s %s", r.ID, r.ResourceID, r.OperationType)
}
