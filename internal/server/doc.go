// Package server is the composition root of one region process: it opens
// storage, builds the region (catalog and partitions) and the REST edge,
// owns the listeners, and shuts everything down in order.
//
// Shutdown order (Close): stop accepting client requests and drain the ones
// in flight, then close the region's partitions (their writers answer every
// queued request), then storage.
package server
