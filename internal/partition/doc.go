// Package partition owns one replica of a container's data in a region: the
// items, the replication log and the change-feed index.
//
// Writes go through a single writer goroutine per partition. It takes the
// queued requests, checks each one against the current state (existence,
// If-Match), assigns consecutive LSNs, and commits all of them in ONE
// storage batch with a synced WAL: the document changes, the log entries and
// the change-feed index together. Then it publishes the new applied LSN and
// answers every request. Requests that arrive while a commit is syncing form
// the next group, so concurrent writers share fsyncs (group commit) and the
// LSN order is the commit order by construction.
//
// Reads go straight to storage. Storage makes a batch visible only after its
// WAL sync, so readers never see a write that is not durable.
package partition
