// Package conflict is the pure decision logic of multi-region writes
// (issue 7): the container's conflict resolution policy, the order that
// decides which of two versions of an item a region keeps, and the
// conflicts-feed record of a losing version. It does no I/O, starts no
// goroutines and reads no clock: time comes in as HLC values. The server
// uses it in internal/partition (multiwrite.go): Successor stamps local
// writes, Resolve decides replicated ones, NewConflictRecord feeds losers.
//
// Specification: consistency-semantics.md §3 (vector session tokens), §4
// (conflicts, D-7, D-8, D-9) and §5.5 (multi-write failover), and Cosmos
// DB's conflict resolution policies.
//
// # Policy (ParsePolicy)
//
// LastWriterWins on /_ts (the default) or on a custom numeric path such as
// /priority; Custom without a stored procedure, which keeps one version and
// sends every loser to the conflicts feed. Stored procedures are not
// supported: a Custom policy naming one is refused with a 400, as are an
// unknown mode, a path that is not rooted, has an empty segment or a
// wildcard, a path with Custom and a procedure with LastWriterWins.
//
// # What a version carries, and what "concurrent" means
//
// A Version is identified by (origin region, the origin's local LSN, index
// in the log entry) and carries an HLC timestamp, Seen — the vector of what
// its writer's region had applied, per origin region, in the form of the
// multi-write session token {regionId}={localLSN} (§3.1) — and its place
// in the item's history (Incarnation, Depth, Floor) set by Successor from
// the version it replaced. Version w has seen v when w.Seen covers v's
// (origin, LSN); two versions are concurrent, i.e. in conflict, when
// neither has seen the other.
//
// # The rules (Resolve)
//
// The winner is the maximum of one total order, the same in every region,
// so any set of versions applied in any order leaves every region with the
// same version: Resolve is commutative and associative in that sense and
// needs no arbiter. The order compares:
//
//  1. Incarnation. A create made after its writer saw a tombstone starts a
//     new life of the item and beats every version of the earlier lives,
//     including deletes concurrent with it: a delete removes the life its
//     writer could see.
//  2. A tombstone beats every live version of its incarnation, concurrent
//     (Cosmos: "a delete always wins", MW-A4) or older, whatever their
//     path values or timestamps. An update that had not seen the delete
//     therefore never resurrects the item, in any delivery order; only a
//     create that follows the delete does. Tombstones must be kept (a
//     tombstone may only be purged once no version of its incarnation can
//     still arrive anywhere, and the item's incarnation number must survive
//     the purge).
//  3. The policy's value.
//     LastWriterWins on /_ts and Custom mode: the HLC (its seconds are
//     _ts; the HLC breaks most same-second ties before D-7 does).
//     LastWriterWins on a custom path: the JSON number at the path; a
//     missing path, a non-number or a tombstone counts as −∞ (D-8). The
//     value is raised to the version's Floor, the highest value among its
//     ancestors in the incarnation, and ties go to the greater Depth, so a
//     write never ranks below the version it replaced.
//  4. D-7: the origin region id, then the origin LSN (then the index in
//     the entry). Highest wins.
//
// Successor builds each new local write so that it ranks above its base:
// the HLC is after the base's, the depth one more, the floor the base's
// value. The order therefore agrees with causality: what a writer had seen
// always loses to what it wrote, and the policy only settles concurrent
// versions. Resolve classifies every decision: Duplicate, Newer (a causal
// overwrite), Stale (an older version delivered late, e.g. an update behind
// its tombstone) — none of them a conflict — or Conflicted, with its type
// insert/insert, replace/replace, replace/delete or delete/delete.
//
// A Conflicted loser is counted in LastWriterWins mode and never fed (§4.3,
// MW-F2). In Custom mode it goes to the conflicts feed (D-9), except a
// delete/delete loser, which loses nothing. Its record (NewConflictRecord)
// has the id "mw-{origin}-{lsn}-{index}", a function of the losing
// version's identity only, and bytes that depend only on the losing
// version: every region that sees the same version lose publishes the same
// record, and the feed, which skips ids it holds, has it exactly once. A
// live version that is not the final winner and that no writer had seen
// (nothing overwrote it) loses to a concurrent version at least in its own
// region, so it always reaches the feed; the final winner never does.
// Regions may count different numbers of losers (a version overwritten by
// its own successor before a concurrent one arrives is not a conflict
// there), so the LWW metric is per region.
//
// # Deviations from the specification
//
//   - D-9 says the hub commits the version that reaches it first. That is
//     an arbiter's, delivery-order-dependent choice; a rule that every
//     region applies on its own cannot depend on arrival order and still
//     converge. Custom mode therefore keeps the version LastWriterWins on
//     /_ts would keep, and feeds every loser exactly once as D-9 requires.
//   - D-7's tuple (pathValue, originRegionID, originLSN) is kept, behind
//     the incarnation and tombstone rules, with two refinements on custom
//     paths only: the value is raised to the Floor and Depth breaks value
//     ties. Both only matter when a writer lowers or keeps the value of the
//     version it replaces, which D-7 alone would let an older version win.
//   - Cosmos DB documents that an invalid LastWriterWins path falls back to
//     _ts; ParsePolicy refuses a malformed path with a 400 instead (a path
//     that is well formed but absent from an item is D-8's −∞).
package conflict
