package checker

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Violation kinds. The ids are those of consistency-semantics.md §2; the
// C-numbers of its §6 checklist are in the package documentation.
const (
	KindHistory = "H"     // the history is malformed (Validate)
	KindPhantom = "EV-F1" // a value that was never written (or only after the read returned)

	KindStaleRead     = "S-F1"      // linearizability: a read missed a write acknowledged before it began
	KindInversion     = "S-F2"      // linearizability: new-then-old
	KindNonLinear     = "S-NL"      // linearizability: illegal, no simpler pattern found
	KindStrongUnknown = "S-UNKNOWN" // the linearizability check timed out: investigate

	KindBSVersions = "BS-F1" // bounded staleness: lag > K versions
	KindBSTime     = "BS-F2" // bounded staleness: older than T (+ε)
	KindBSRegion   = "BS-F3" // bounded staleness: reads in a region went back

	KindRYW        = "SE-F1"    // session: read-your-writes
	KindMonotonic  = "SE-F2"    // session: monotonic reads
	KindEpochToken = "SE-F3"    // session: a token of a truncated epoch gave a value
	KindMW         = "SE-F4"    // session: monotonic writes (apply order)
	KindWFR        = "SE-F5"    // session: writes-follow-reads (apply order)
	KindFloor      = "SE-FLOOR" // session: a read older than its token
	KindTokenOut   = "SE-TOKEN" // session: a returned token does not cover the version

	KindTornBatch = "CP-F1" // a query saw part of a transactional batch

	KindLostWrite  = "DUR-LOST"    // an acknowledged write is gone from the final state
	KindRPO        = "DUR-RPO"     // more losses than the allowed RPO bound
	KindRPOReport  = "RPO-REPORT"  // a failover record of the conflicts feed names no lost write, or one twice
	KindFinalRogue = "DUR-PHANTOM" // the final state holds a value no write wrote

	KindDiverged = "CONV-F" // regions differ after quiescence

	KindResurrected = "DEL-F" // an acknowledged delete came back (C20)

	KindFeedDiverged  = "CONF-DIVERGED" // regions serve different conflicts feeds
	KindFeedDup       = "CONF-DUP"      // a feed id, or a losing version, twice
	KindFeedPhantom   = "CONF-PHANTOM"  // a feed record of a version no write wrote
	KindFeedWinner    = "CONF-WINNER"   // the final value is also a feed loser
	KindFeedLWW       = "CONF-LWW"      // a LastWriterWins container fed a conflict (MW-F2)
	KindFeedMissing   = "CONF-MISSING"  // a Custom loser neither kept nor fed (MW-F2)
	KindFeedMalformed = "CONF-BAD"      // a feed record that cannot be read
)

// Violation is one broken rule. Ops are indices into History.Ops, the most
// relevant first.
type Violation struct {
	Kind    string `json:"kind"`
	Key     string `json:"key,omitempty"`
	Ops     []int  `json:"ops,omitempty"`
	Explain string `json:"explain"`
}

// Report is a checker's verdict. OK is false if there is any violation
// (including a malformed history or, for Strong, a check that timed out).
type Report struct {
	Checker    string           `json:"checker"`
	OK         bool             `json:"ok"`
	Violations []Violation      `json:"violations,omitempty"`
	Stats      map[string]int64 `json:"stats,omitempty"`
	// Files written (visualizations), as paths.
	Files []string `json:"files,omitempty"`
	// Notes are remarks that are not violations (skipped checks, hashes).
	Notes []string `json:"notes,omitempty"`
}

// DefaultMaxViolations bounds the violations a report keeps; the rest are
// counted in Stats["violations_dropped"].
const DefaultMaxViolations = 200

type reporter struct {
	r   Report
	max int
}

func newReporter(name string, h History, max int) *reporter {
	if max <= 0 {
		max = DefaultMaxViolations
	}
	rp := &reporter{r: Report{Checker: name, Stats: map[string]int64{}}, max: max}
	for _, v := range Validate(h) {
		rp.add(v)
	}
	rp.r.Stats["ops"] = int64(len(h.Ops))
	return rp
}

func (rp *reporter) add(v Violation) {
	rp.r.Stats["violations"]++
	if len(rp.r.Violations) >= rp.max {
		rp.r.Stats["violations_dropped"]++
		return
	}
	rp.r.Violations = append(rp.r.Violations, v)
}

func (rp *reporter) violate(kind, key string, ops []int, format string, args ...any) {
	rp.add(Violation{Kind: kind, Key: key, Ops: ops, Explain: fmt.Sprintf(format, args...)})
}

func (rp *reporter) note(format string, args ...any) {
	rp.r.Notes = append(rp.r.Notes, fmt.Sprintf(format, args...))
}

func (rp *reporter) done() Report {
	rp.r.OK = rp.r.Stats["violations"] == 0
	return rp.r
}

// Kinds returns the distinct violation kinds, sorted.
func (r Report) Kinds() []string {
	var k []string
	for _, v := range r.Violations {
		if !slices.Contains(k, v.Kind) {
			k = append(k, v.Kind)
		}
	}
	slices.Sort(k)
	return k
}

// String summarizes the report: the verdict, then the first violations.
func (r Report) String() string {
	var b strings.Builder
	verdict := "OK"
	if !r.OK {
		verdict = fmt.Sprintf("FAILED (%d violations)", r.Stats["violations"])
	}
	fmt.Fprintf(&b, "%s: %s", r.Checker, verdict)
	for i, v := range r.Violations {
		if i == 10 {
			fmt.Fprintf(&b, "\n  ... and %d more", len(r.Violations)-10)
			break
		}
		fmt.Fprintf(&b, "\n  %s %s ops %v: %s", v.Kind, v.Key, v.Ops, v.Explain)
	}
	for _, f := range r.Files {
		fmt.Fprintf(&b, "\n  see %s", f)
	}
	return b.String()
}

// WriteJSON writes the report to dir/<checker>.json and returns the path.
func (r Report) WriteJSON(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, r.Checker+".json")
	return p, os.WriteFile(p, append(b, '\n'), 0o644)
}
