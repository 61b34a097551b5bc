// Package replog defines a partition's replication log: the entry format
// (one entry per LSN; a transactional batch is one entry so it becomes
// visible atomically everywhere), its binary encoding, and the functions
// that append entries to a storage batch, read them back in LSN order and
// trim them below a retention floor.
//
// Every entry is written in the same storage batch as the document changes
// it describes, so the log and the data can never disagree after a crash.
// The log is what replication ships between regions; the change feed reads
// a separate index (storage 'C' keyspace) so that trimming the log never
// loses items from the feed.
package replog
