// Package storage is the only package that imports Pebble. It opens the
// region's database, exposes batches that commit with a synced WAL (Pebble's
// commit pipeline groups concurrent synced commits into one fsync), point
// reads, ordered scans and snapshots, and defines the key layout of every
// keyspace (keys.go).
//
// Contract: a Batch committed with Sync is durable when Commit returns, and
// Pebble makes it visible to readers only once it is durable. Readers never
// see a write that a crash could erase.
package storage
