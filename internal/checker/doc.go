// Package checker holds the checkers of Meridian's Jepsen-style
// verification suite ("Proof under faults", item 3): pure functions from a
// recorded History (plus, for some, final state dumps) to a Report. It does
// no I/O except writing reports and visualizations into a directory the
// caller names. Rule ids (S-F1, SE-F2, ...) and C-numbers refer to
// consistency-semantics.md §2 and §6; the harness shape to testing.md §3.
//
// # History format (stable)
//
// A history is JSON lines (History.Encode, Decode): one object per
// operation, then one per event. An operation line:
//
//	{"client":3,"region":"r2","level":"Session","op":"write","partition":"0",
//	"key":"k7","value":"3:118","call_ns":1200,"return_ns":5300,"result":"ok",
//	"err":"","lsn":42,"epoch":1,"applied_lsn":43,"token_in":"0:1#40",
//	"token_out":"0:1#42","served_by":"r2/1","batch":[{"key":"a","value":"3:9","lsn":42}]}
//
// (shown on several lines; it is one line). The fields:
//
//   - op: write | read | delete | query | batch ("put", "upsert", "get",
//     "del" are read as aliases). result: ok | fail | unknown.
//   - value: write values are unique per key (client:seq), so a value names
//     one write; "" is not-found (reads) or a delete. A query lists what it
//     saw in batch, including keys in its scope it found absent (value ""),
//     otherwise absence cannot be checked; a batch lists what it wrote.
//   - key: unique across partitions (e.g. "<pk>/<id>" if ids repeat).
//   - level: the effective consistency level of the request; checkers
//     select reads by it.
//   - call_ns, return_ns: one monotonic clock of the harness (Recorder),
//     taken before sending and after receiving. For unknown ops return_ns is
//     when the client gave up.
//   - lsn, epoch: for a write, its own LSN and epoch (the LSN and version
//     of the session token it returned; if lsn is 0 the checkers take them
//     from token_out). For a read, the LSN of the version returned only if
//     the server reports it; the checkers prefer the LSN of the write of the
//     (unique) value. applied_lsn is x-meridian-lsn, the serving replica's
//     applied LSN: informational only (it is not the item's LSN).
//   - token_in / token_out: x-ms-session-token sent and received
//     ("0:<epoch>#<lsn>", see ParseToken). partition is the range id the
//     tokens are keyed by ("" for a single range).
//   - Unknown fields are ignored; an unknown kind or result, a malformed
//     line or one longer than MaxLine is an error.
//
// An event line ({"event":"partition r1|r2","tag":"nemesis","start_ns":..,
// "end_ns":..}) annotates the linearizability visualization.
//
// Classify results so that fail means "certainly not applied" (400, 403,
// 409, 412, 429, and every failed read such as 404/1002 or 503) and
// unknown means "maybe applied" (timeouts, 408/20001, 503 or a dropped
// connection after sending a write).
//
// # Shape (Validate, every checker)
//
// Every report starts with the shape violations (kind "H"): unknown kind or
// result, missing key, empty batch or repeated batch key, return before
// call, two outstanding ops of one client, a write value used twice for a
// key, two acknowledged writes of a partition and epoch with the same LSN
// (the symptom of recording x-meridian-lsn as a write's LSN).
//
// # Strong: CheckLinearizable (C1-C3; S-A1, S-A2, S-F1, S-F2)
//
// Porcupine v1.3.1, RegisterModel: one register per key (Partition by key),
// initially ⊥; a write (or delete, writing ⊥) always succeeds; a read must
// return the register's value. Every write, delete and batch item is used
// whatever its level: ok with [Call, Return], unknown with Return =
// math.MaxInt64 (it may take effect any time after its call, S-A2), fail
// dropped. Reads and query items are used only at ReadLevels (default
// Strong; weaker reads legitimately fail linearizability) and only if ok.
// CheckOperationsVerbose runs with Timeout (default 60 s); Unknown (timed
// out) is a failure, S-UNKNOWN, never a pass. For each key porcupine finds
// illegal the checker names the simplest pattern it can prove: EV-F1 (a
// value no write wrote, or written only after the read returned), S-F1
// (every write the read may have seen was overwritten, before the read
// began, by an acknowledged write), S-F2 (a read invoked after another
// returned saw a version that certainly precedes the other's), else S-NL
// with the operation that cannot be linearized. On failure the HTML
// visualization, with the events as annotations, goes to
// ReportDir/<Name>-linearizability.html and is listed in Report.Files.
//
// # Session: CheckSession (C10-C13, C15; SE-F1..SE-F5)
//
// Per client, in call order (the token chain). For each ok read or query
// item at Levels (default Session) with a parsable token_in of LSN τ:
//
//   - Floor (C10, D-5): no acknowledged write w of the key with
//     served < LSN(w) ≤ τ may exist, where served is the LSN of the version
//     returned; for a not-found, no write of a value with LSN ≤ τ that no
//     delete (with a larger or unknown LSN) may have removed. The violation
//     is SE-F1 (read-your-writes) if a missed write is the client's own,
//     SE-F2 (monotonic reads, C11) if the client had read a missed version,
//     SE-FLOOR otherwise (a token from custom synchronization).
//   - Epoch (C13, SE-F3): a read with a token of epoch e served in epoch
//     e' > e (token_out's version) must fail if the token covers a truncated
//     entry, i.e. τ ≥ first LSN of some epoch f in (e, e']; the first LSN is
//     SessionOptions.EpochFirstLSN or, at most, the smallest LSN written in
//     f (which can only miss a violation).
//   - Token out (SE-TOKEN): the token returned must cover the version read
//     (and a write's own LSN), or the next read's floor is wrong.
//   - Reads without a token are not checked (C15); reads whose token does
//     not cover the client's own write are counted in
//     Stats["reads_token_behind_own_write"] (a harness that does not merge
//     tokens proves nothing).
//   - MW / WFR (C12, SE-F4, SE-F5), only with ApplyOrder (per region, the
//     writes in apply order): for each write W2 carrying a token τ, every
//     session predecessor P with LSN ≤ τ (or unknown) — the client's earlier
//     acknowledged writes (MW) and the writes its earlier reads returned
//     (WFR) — must be applied before W2 in each region where W2 appears;
//     if ApplyOrderComplete, P missing there is a violation too.
//
// AllowLost excludes writes a failover was allowed to lose.
//
// # Bounded Staleness: CheckBoundedStaleness (C6, C7, C9; BS-F1..BS-F3)
//
// For each ok read or query item at Levels (default BoundedStaleness) in a
// partition P, invoked at t: let M(t) be the largest LSN of a write of P
// acknowledged (returned ok) at or before t. The read must reflect P's log
// up to bound = max(M(t) − K, M(t − T − ε)): no acknowledged write of the
// key may have served < LSN ≤ bound (with the not-found rule above). The
// violation is BS-F1 if the missed write is within M(t) − K, else BS-F2.
// PerKey counts K in versions of the item (the read must return one of the
// K+1 newest acknowledged versions) and M per item. C9 (BS-F3): in one
// region, a read invoked after another returned never returns an older
// version (off with NoRegionMonotonic). Times are the harness clock;
// choose ε for the machine (10-50 ms on 2 cores) and state it.
//
// # Consistent Prefix and Eventual: CheckPrefix (C16, C17; EV-F1, CP-F1)
//
// At every level: every value a read or query returns was written to that
// key by some write (ok, unknown, or failed — failed ones are counted, and
// a violation with StrictFailed) invoked before the read returned (EV-F1).
// Batch atomicity (CP-F1): if a query saw batch B's value for one key, then
// for every other key of B it saw, it saw B's value or one not certainly
// older (by LSN when both are known, else real time; a not-found is older
// unless a delete may follow B). Per-region monotonic reads are not
// required (CP-A1, EV-A1); nothing below readIndex (EV-F2) needs replica
// instrumentation and is not checked here.
//
// # Durability: CheckDurability (C24, C25)
//
// Given the final state, every ok write (write, delete, batch item) of a
// key is present (the final value is its value; a delete: the key is
// absent) or superseded: the final version's write (for an absent key, some
// delete) is later — by LSN when both are known, else not certainly
// earlier in real time. Otherwise it is lost (DUR-LOST), unless AllowLost
// marks it (RPO mode: counted in Stats["lost_allowed"], DUR-RPO beyond
// MaxAllowedLost). Unknown writes may or may not be present. A final value
// no write wrote is DUR-PHANTOM.
//
// # Convergence: CheckConvergence (C18)
//
// Given each region's final dump, every key has the same value in every
// region, the same LSN where both are known (unless IgnoreLSN) and the same
// raw item (compared as canonical JSON without IgnoreFields) where both
// have one; each differing key is a CONV-F violation naming every region's
// version and the writes of those values. With a history, a dumped value
// no write wrote is EV-F1. The per-region state hashes are in Notes.
//
// # Multi-region writes (C19-C21; MW-A1..MW-F3)
//
// In a multi-write account every region writes and a session token is a
// vector ("0:1#12#1=5#2=4#3=3", VectorToken): its global LSN is a sum that
// concurrent writes share, so it is not a write's LSN (Validate and the
// LSN-based rules ignore it). These checkers order writes by causality
// instead, which the history shows: a client's token (one per Scope, e.g.
// per container) covers its acknowledged writes and the versions its ok
// reads returned with a token, together with their causal past — a write
// carrying a token runs only once its region has what the token covers —
// and within one life of an item a version always beats the versions its
// writer had seen. Everything else is left out, which can only miss a
// violation. The causal past of a write is its writer's knowledge of the
// write's scope when it was invoked.
//
//   - CheckCausalSession: a read carrying a token never returns a version
//     in the causal past of one the token covers — SE-F1 if that one is the
//     client's own write, SE-F2 if its read returned it, SE-F4 (monotonic
//     writes) if both are writes of one other client, SE-F5 otherwise —
//     never a live version once the token covers a delete of the item, and
//     never not-found while the token covers a live version and no delete
//     of the item was invoked before the read returned.
//   - CheckMultiWriteDurability: in every region after quiescence an item
//     with an acknowledged write exists unless a delete may have taken
//     effect; its value was written (DUR-PHANTOM) and is not in the causal
//     past of an acknowledged write of the item (DUR-LOST); on a key only
//     one client writes, no earlier write of that client wins over its last
//     acknowledged one (SE-F4). Acknowledged writes of a region that was
//     then killed count like any other.
//   - CheckDeletes (C20): on keys created once before the faults and then
//     only replaced or deleted, an acknowledged delete leaves the key absent
//     in every region (DEL-F).
//   - CheckConflicts (C21, MW-F2, D-9): every region serves the same feed;
//     ids and losing versions are unique; records hold versions written to
//     their item (or a delete that was invoked); no final value is in the
//     feed; LastWriterWins containers feed nothing; in a Custom container an
//     acknowledged version that no other write of its item could have seen
//     (none was still running or started after it was invoked) is kept or
//     fed.
//
// Convergence of the items is CheckConvergence on the regions' raw items.
package checker
