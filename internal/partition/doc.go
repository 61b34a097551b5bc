// Package partition owns one replica of a container's data in a region: the
// items, the replication log and the change-feed index.
//
// Writes go through a single writer goroutine per partition. It takes the
// queued requests, checks each one against the current state (existence,
// If-Match), assigns consecutive LSNs, and applies all of them as ONE storage
// batch with a synced WAL: the document changes, the log entries and the
// change-feed index together. It does not wait for the fsync: a finisher
// goroutine waits, publishes the new applied LSN and answers the requests in
// group order, while the writer prepares the next group. Concurrent writers
// share fsyncs (group commit) and the LSN order is the commit order by
// construction.
//
// Reads go straight to storage. Pebble makes a batch visible before its WAL
// fsync completes, so a read waits until what it saw is durable (the item's
// LSN, or the partition's horizon after a miss or a scan) before returning.
package partition
