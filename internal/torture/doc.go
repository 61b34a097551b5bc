// Package torture is Meridian's Jepsen-style harness ("Proof under
// faults", items 1-2; testing.md §3): it runs a multi-region account as
// separate `meridian serve --topology` processes, drives them with
// concurrent logical clients through raw signed REST requests, injects
// faults (WAN partitions and latency through each process's management
// API, kill -9 and restart, SIGSTOP/SIGCONT, clock skew through the
// test-only `serve --test-clock-offset`, checked against each region's
// reported time before the run), records the history with
// checker.Recorder and judges it with the checkers of package checker.
//
// A run of a scenario (Run): a fresh cluster, warm-up, fault cycles until
// the duration passes, heal, a final write per region (which must
// succeed), a bounded quiescence wait until every region's dump (a query
// at Eventual) is the same, then the checkers: the level's own
// (linearizability for Strong, session guarantees for Session, the K/T
// bound for BoundedStaleness), the prefix rules at every level, durability
// of every acknowledged write against the write region's dump, and
// convergence of every region's dump. The run directory keeps
// history.jsonl, result.json, each checker's report, the porcupine HTML
// when linearizability fails, the servers' logs and data directories.
//
// Results are classified so that fail means certainly not applied (a
// refused dial, 400/403/404/409/412/429 on a write, every failed read)
// and unknown means maybe applied (timeouts, 408, 5xx, a dropped
// connection after a write was sent).
//
// Failover scenarios: F8 (Strong) kills the write region with automatic
// failover on and restarts it, checking linearizability, durability and
// convergence across the epochs; F8m moves the write region with planned
// failovers under load (zero loss at Session). F8 at the weaker levels,
// where the unsynced suffix may be lost (C25), needs RPO-aware prefix
// checking and is not here yet. F16 (disk full) is in tests/e2e.
//
// Multi-write scenarios (Scenario.MultiWrite, multiwrite.go): the account
// has multiWrite on and two containers, LastWriterWins on /_ts and Custom;
// each client writes through its home region and reads there or, a quarter
// of the time, in another region with its token (one token per
// container). F12 writes the same hot keys from every region during a full
// partition, F9 isolates then kills -9 a region under load and restarts it
// on its data, F11m (long) partitions the region whose clock runs 5 s
// ahead. The checkers: phantom reads, causal session guarantees (RYW,
// monotonic reads and writes, writes-follow-reads, deletes), no
// acknowledged write lost in any region, deletes stay deleted, the
// conflicts feeds (the same everywhere, no phantoms, no winner fed, empty
// for LastWriterWins) and byte-identical items in every region.
package torture
