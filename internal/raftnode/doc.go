// Package raftnode runs the account's control plane on Raft: one voter per
// region (plus an optional witness for two-region accounts), holding a
// consumer-defined state machine (topology, write region, epoch, catalog)
// so that every region sees changes in the same order and survivors can
// fail over. It wraps hashicorp/raft with:
//
//   - a log and stable store in the region's Pebble (storage keyspace 'R',
//     every write synced) and snapshot files in Config.Dir;
//   - a transport over the Raft gRPC service (api/controlpb), registered on
//     the region's peer gRPC server and dialed through Config.Dial (the
//     simulated WAN), with mutual HMAC authentication from Config.Secret;
//   - propose-and-wait with leader forwarding and at-most-once retries;
//   - leases (HasLease) for fencing a write region cut off from the quorum.
//
// # Caller's contract
//
// Build with New (it registers the service on the gRPC server), serve the
// server, then Start. The peer server must admit client keepalive pings
// every 10 s without active streams (repl.ServerOptions does). Close
// before stopping the gRPC server and before closing the storage.DB.
//
// The FSM (see FSM) must be deterministic. The node does not persist it:
// at start it is rebuilt by Restore(latest snapshot) and Apply of every
// later committed entry, with strictly increasing indexes; an FSM that
// keeps durable state of its own must accept this replay.
//
// Propose returns the result of this node's own FSM once it applied the
// entry, forwarding to the leader when needed and retrying across leader
// changes with the same proposal id (applied at most once). FSM errors come
// back as *FSMError (message only). When ctx ends, the outcome is unknown.
//
// A witness is a Node built with WitnessFSM: it votes and stores the log
// but no state; do not Propose on it.
package raftnode
