package repl

import (
	"context"
	"errors"
	"time"

	"github.com/meridiandb/meridian/internal/replog"
)

// Source is a local partition log the sender serves (write region side).
// *partition.Partition implements it.
type Source interface {
	// ReadLog calls fn for each entry with LSN > after, in LSN order,
	// until fn returns false or max entries (if > 0) were read.
	ReadLog(after int64, max int, fn func(*replog.Entry) bool) error
	// FirstLSN is the lowest LSN still in the log, 0 if it is empty.
	FirstLSN() (int64, error)
	// Applied is the highest durable LSN.
	Applied() int64
	// Epoch is the current write epoch.
	Epoch() int64
	// WaitApplied blocks until Applied() >= lsn or ctx ends.
	WaitApplied(ctx context.Context, lsn int64) error
	// Snapshot calls fn for every item key/value in a consistent
	// point-in-time copy and returns the LSN and epoch of that copy. fn
	// may keep neither slice after it returns.
	Snapshot(ctx context.Context, fn func(key, value []byte) error) (lsn, epoch int64, err error)
}

// Sources finds the local log of a partition. An error (e.g. an unknown
// partition) is reported to the receiver as gRPC NotFound.
type Sources interface {
	Source(partition uint64) (Source, error)
}

// Applier is a local partition replica the receiver feeds (read region
// side).
type Applier interface {
	// Applied is the highest LSN applied durably.
	Applied() int64
	// ApplyReplicated durably applies consecutive entries; entries with
	// LSN <= Applied() are skipped (idempotent); if entries[k].LSN >
	// Applied()+1 it returns an error wrapping ErrGap without applying
	// that entry or later ones.
	ApplyReplicated(ctx context.Context, entries []*replog.Entry) error
	// InstallSnapshot replaces the replica's items with the snapshot
	// (next yields items until ok==false) and sets Applied to lsn. The
	// slices next returns are valid until the next call.
	InstallSnapshot(ctx context.Context, lsn, epoch int64, next func() (key, value []byte, ok bool, err error)) error
}

// PipelinedApplier is an Applier that can queue a batch without waiting for
// it to be durable, so that the receiver reads and queues the next batch
// while the previous one syncs (the partition writer already prepares a
// group while the one before it syncs). Batches queued on one applier are
// applied and answered in queue order; wait reports the batch's outcome
// exactly as ApplyReplicated would.
type PipelinedApplier interface {
	Applier
	QueueReplicated(ctx context.Context, entries []*replog.Entry) (wait func() error, err error)
}

// ErrGap is wrapped by Applier.ApplyReplicated when an entry does not
// follow Applied(); the receiver then resubscribes from Applied().
var ErrGap = errors.New("repl: gap in log")

// ErrClosed is returned by calls on a closed Receiver or Service.
var ErrClosed = errors.New("repl: closed")

// Progress is what a read region last heard from the sender of a
// partition.
type Progress struct {
	Head      int64 // highest durable LSN in the write region
	Committed int64 // globally committed LSN; never decreases
	Epoch     int64
	Quorum    []string  // regions in the current Strong quorum
	QuorumLSN int64     // head LSN when the quorum last changed
	HeardAt   time.Time // local time the message arrived
	// SentAt is the write region's clock when it sent the latest message:
	// leases (Strong quorum membership) are measured from it, so a message
	// held up in the network cannot extend them.
	SentAt    time.Time
	Connected bool // a stream to the sender is open now
}

// PeerState is what the write region knows about one read region's copy
// of a partition.
type PeerState struct {
	Acked     int64     // highest LSN the peer holds durably
	AckedAt   time.Time // when Acked last advanced
	Connected bool      // a Subscribe stream from the peer is open
	LastSeen  time.Time // last Subscribe or Ack from the peer
}
