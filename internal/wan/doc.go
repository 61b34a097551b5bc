// Package wan is Meridian's simulated wide-area network. In `meridian dev`
// and in tests every region runs on loopback, so every inter-region
// connection must pass through a Network, which adds one-way delay, jitter,
// TCP-style loss and partitions, configurable at start and at run time.
//
// # Caller's contract
//
// Route every inter-region connection through the Network, on the dialing
// side only:
//
//	grpc.NewClient(addr, grpc.WithContextDialer(n.Dialer(local, remote)), ...)
//
// or, for code that dials by itself (a Raft stream layer), Wrap the dialed
// connection. One wrapper emulates both directions: bytes written by the
// dialer travel the from→to link, bytes sent back by the peer travel the
// to→from link. A single direct dial (for example to an address learned by
// discovery) bypasses the emulation, and its latencies come out impossibly
// low.
//
// # Semantics
//
//   - Links are directed, keyed by (from, to). A pair that was never
//     configured is a perfect link: no delay, no loss, not partitioned.
//   - Delay is one way. Jitter is added on top, uniform in [0, Jitter], so
//     Delay is a floor: a request/response over a link pair never takes
//     less than the sum of both Delays. Jitter never reorders bytes: each
//     segment's delivery time is max(previous segment's, now+Delay+jitter).
//   - Loss is the probability that a segment (one Write call, at most
//     64 KiB, or one read chunk from the peer) is delayed by an extra
//     RetransmitTimeout, like a lost TCP segment. Bytes are never dropped,
//     corrupted or reordered; everything behind a "lost" segment waits
//     for it (head-of-line blocking).
//   - Write returns once the bytes are queued, as into a kernel send
//     buffer. Each direction queues at most 4 MiB; beyond that Write
//     blocks (backpressure) until bytes are delivered, the write deadline
//     passes or the connection is closed.
//   - A partition is a blackhole, not a refusal. While a direction is
//     partitioned its bytes are held, neither delivered nor readable, and
//     senders fill their queue and then block. New dials block while either
//     direction between the two regions is partitioned, until the ctx ends;
//     the error then satisfies errors.Is(err, context.DeadlineExceeded) and
//     net.Error Timeout(). When the partition heals, held bytes cross the
//     link once more (one Delay after the heal, like a retransmission) and
//     then flow normally.
//   - Configuration changes apply to existing connections at once. Delay,
//     jitter and loss apply to bytes written after the change; partitions
//     and heals apply to bytes already queued.
//   - Dial also costs a handshake: it waits the from→to Delay before the
//     real dial and the to→from Delay after it.
//   - Close lingers like a TCP close, but in the caller: it blocks until
//     the bytes already written are delivered (at most until the last one
//     is due plus one second), unless the link is partitioned, in which
//     case they are discarded at once. Reads after Close fail at once with net.ErrClosed.
//     Network.Close closes every connection at once, discarding queued
//     bytes, and waits for all goroutines.
//   - The end of the peer's stream (io.EOF or an error) is delayed like
//     data: Read returns it after every byte in front of it.
//   - Deadlines apply to the application side: the read deadline bounds
//     Read waiting for delayed or held bytes, the write deadline bounds
//     Write waiting for queue space.
//
// # Limitations
//
// Only the dialing side is wrapped, so the listening side's kernel sees a
// fast loopback peer: during a partition its writes succeed and are held
// in the dialer's wrapper, not in its own send buffer. This is the
// user-space proxy caveat of docs/testing.md §6.1; tests that need real
// retransmission and connect timeouts must use nft in a network namespace.
// There is no bandwidth limit; use tbf for that.
package wan
