// Package control is the pure decision logic of Meridian's control plane
// for single-write-region accounts: a deterministic state machine (State,
// replicated by Raft as a log of Commands) and pure planning functions.
// It does no I/O, starts no goroutines and reads no clock: time comes in as
// values inside commands and arguments.
//
// # The failover protocol (consistency-semantics.md §5.5)
//
// Each partition has one log, written by the write region and replicated in
// order to the read regions, so every region's log is a prefix of the write
// region's. When the write region is lost (ShouldFailover) or an operator
// moves it (ManualFailover), the driver runs:
//
//  1. Fence: open epoch e+1 (the new session-token Version). The write
//     region becomes "" and the deposed region FencedOut. Replicas that
//     adopt e+1 refuse writes and replication of older epochs.
//  2. Collect: every region except the deposed one and fenced-out ones
//     reports its quorum-durable LSN per partition (RegionProgress), after
//     adopting e+1, so the report is final.
//  3. Choose: ChooseTarget picks the highest-priority healthy survivor.
//  4. Catch up: the plan (Plan) gives each partition a TargetLSN, the
//     max durable LSN of all survivors, and a Source that holds it. The
//     target pulls up to it before it accepts writes.
//  5. Commit: Promote records, per partition, the first LSN of epoch e+1
//     (TargetLSN + 1) in History. Everything at or below TargetLSN is
//     permanent.
//  6. Write: the target writes from TargetLSN+1 in epoch e+1, but only
//     after the deposed region's lease has certainly expired (FenceSafeAt;
//     Promote refuses an earlier time unless the deposed region drained).
//     Tokens whose LSN is at or below their epoch's commit point stay
//     valid; the others are Lost (TokenVerdict, D-6).
//  7. Rejoin: the deposed region removes the suffix no survivor had
//     (Divergence), publishes it once to the conflict feed, adopts the
//     current epoch, and only then (Rejoin) becomes healthy again.
//
// A manual failover (FO-A3) is the same sequence with every region
// healthy: the fence is Planned, the deposed region reports its final
// heads, and DrainPlan makes them the TargetLSNs: nothing is lost.
//
// # Invariants
//
// Enforced by Apply (a refused command leaves the state unchanged) and
// checked by CheckInvariants and the tests:
//
//   - Epoch starts at 1 and grows by exactly one per Fence; of two fences
//     racing for the same epoch only the first is applied.
//   - At most one write region per epoch (Terms), never changed once set
//     (FO-F3, checklist item 26); a deposed region is never promoted by the
//     failover that deposed it, and a fenced-out region never before it
//     rejoins.
//   - Commit points never decrease: a plan (or re-plan) may not go below a
//     commit point an earlier failover or plan established, unless Forced,
//     and Forced plans record what they gave up (BelowCommit, Unreported).
//   - No synced write is lost (FO-A1, FO-F1, item 24): ChooseTarget
//     refuses unless every region that may have acknowledged a sync read
//     reported, and the target catches up to the max of all of them.
//   - History is append-only, so an epoch's commit point never rises, and
//     a token judged Lost stays Lost (item 13, C13).
//   - Truncated writes never reappear silently (FO-F2): a region holding
//     them serves nothing (Verdict Diverged) until it removed them, and a
//     fenced-out region returns only through Rejoin, accepted once.
//
// See DESIGN.md for the reasoning and the open questions.
package control
