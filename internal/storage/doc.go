// Package storage is the only package that imports Pebble. It opens the
// region's database, exposes batches that commit with a synced WAL (Pebble's
// commit pipeline groups concurrent synced commits into one fsync), point
// reads, ordered scans and snapshots, and defines the key layout of every
// keyspace (keys.go).
//
// Contract: a Batch committed with Sync is durable when Commit returns.
// Pebble makes a batch visible to readers BEFORE its WAL fsync completes,
// so layers above track a durable LSN and never serve, acknowledge or
// replicate a change above it.
package storage
