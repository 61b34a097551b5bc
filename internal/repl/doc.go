// Package repl is the cross-region replication transport: the write region's
// sender (Service, registered on the region's gRPC server) streams each
// partition's log to the read regions, whose Receiver applies it durably in
// LSN order through an Applier and acknowledges what it holds; the Tracker
// records those acknowledgements in the write region.
//
// # Caller's contract
//
// Write region: build the gRPC server with ServerOptions(secret) (auth
// interceptors and keepalive policy), create one Tracker, and register
// NewService(cfg, sources, tracker). Sources maps a partition id to its
// local log (a Source). Publish the globally committed LSN and the Strong
// quorum with Tracker.SetCommitted / SetQuorum; every sender pushes them to
// its receiver at once. WaitAcked waits for n of the given regions to hold
// an LSN durably (Strong commit, custom sync).
//
// Read region: one Receiver per region; Follow(partition, writeRegion,
// addr, applier) for every partition, again (retarget) after a failover.
// The receiver reconnects with backoff on any error, resubscribes from
// Applier.Applied() after a reconnect or an ErrGap, installs a snapshot when
// the sender's log no longer holds what it needs, and acks Applied() after
// each durable apply. Progress / WaitProgress expose what it last heard
// (head, committed LSN, epoch, quorum).
//
// # Protocol
//
// A Subscribe stream is per partition; all streams to one sender address
// share one grpc.ClientConn. The receiver sends Subscribe{after_lsn =
// Applied()} and then one Ack per applied Batch. The sender ships entries as
// soon as Source.WaitApplied says they are durable, coalescing up to
// MaxBatch entries (and about 1 MiB) per Batch, sends a Heartbeat after
// HeartbeatInterval of silence or as soon as the committed LSN or quorum
// changes, and ends the stream with SnapshotRequired when the entries after
// after_lsn were trimmed. A receiver that hears nothing for
// HeartbeatTimeout drops the stream and resubscribes; gRPC keepalive
// catches dead connections.
//
// Every RPC carries a per-RPC credential: region, time and an HMAC-SHA256
// over (method, region, time) keyed by the shared secret, checked in
// constant time within a ±5 min clock-skew window; the Subscribe's region
// must be the credential's. The sender answers the receiver's random nonce
// with an HMAC in the response header, and the receiver uses nothing from a
// sender that fails it, so a stranger can neither read nor inject. This
// authenticates the endpoints; it does not encrypt or integrity-protect the
// stream against an on-path attacker (use TLS on the inter-region listener
// for that).
//
// # Shutdown
//
// Receiver.Close stops every subscription and waits for its goroutines.
// Service.Close(ctx) ends every server-side stream and waits for them; call
// it (with a bounded ctx) before stopping the gRPC server, since tailing
// streams never end by themselves and GracefulStop would wait for them. A
// stream blocked in Send to a receiver that stopped reading ends only when
// the server stops.
package repl
