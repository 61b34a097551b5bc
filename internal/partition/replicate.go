package partition

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/meridiandb/meridian/internal/replog"
	"github.com/meridiandb/meridian/internal/storage"
)

// ErrGap is returned by ApplyReplicated when an entry does not follow the
// partition's applied LSN. The receiver resubscribes from Applied().
var ErrGap = errors.New("partition: gap in replicated log")

// ErrStaleEpoch is returned when a replicated entry carries an epoch older
// than one this partition already applied: it comes from a deposed writer.
var ErrStaleEpoch = errors.New("partition: entry from an older epoch")

// ApplyReplicated durably applies consecutive log entries shipped from the
// write region, through the writer goroutine so they are ordered with
// everything else. Entries at or below Applied() are skipped; an entry
// after a gap stops the apply with ErrGap (entries before it are applied).
func (p *Partition) ApplyReplicated(ctx context.Context, entries []*replog.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	return p.submitReplica(ctx, &request{ctx: ctx, apply: entries, applied: make(chan error, 1)})
}

// QueueReplicated queues entries like ApplyReplicated and returns at once;
// wait reports their outcome. Queued batches are applied in queue order
// (repl.PipelinedApplier).
func (p *Partition) QueueReplicated(ctx context.Context, entries []*replog.Entry) (wait func() error, err error) {
	if len(entries) == 0 {
		return func() error { return nil }, nil
	}
	return p.queueReplica(ctx, &request{ctx: ctx, apply: entries, applied: make(chan error, 1)})
}

// submitReplica queues a replication request (apply or install) to the
// writer and waits for its outcome; once queued it is always answered.
func (p *Partition) submitReplica(ctx context.Context, r *request) error {
	wait, err := p.queueReplica(ctx, r)
	if err != nil {
		return err
	}
	return wait()
}

// queueReplica queues a replication request to the writer and returns the
// function that waits for its outcome.
func (p *Partition) queueReplica(ctx context.Context, r *request) (wait func() error, err error) {
	select {
	case p.reqs <- r:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-p.ctx.Done():
		return nil, ErrClosed
	}
	return func() error {
		select {
		case err := <-r.applied:
			return err
		case <-p.ctx.Done():
			select {
			case err := <-r.applied:
				return err
			default:
				return ErrClosed
			}
		}
	}, nil
}

// execApply turns replicated entries into changes on top of the group's
// state. It returns the new LSN and epoch, the changes and entries to
// commit, and the error that stopped it (ErrGap, ErrStaleEpoch, corrupt).
func (p *Partition) execApply(es []*replog.Entry, ov overlay, lsn, epoch int64, info *ContainerInfo, now time.Time) (int64, int64, [][]change, []*replog.Entry, error) {
	var chss [][]change
	var out []*replog.Entry
	for _, e := range es {
		if e.LSN <= lsn {
			continue // already applied: replication is idempotent
		}
		if e.LSN != lsn+1 {
			return lsn, epoch, chss, out, fmt.Errorf("%w: partition %d applied %d, got %d", ErrGap, p.cfg.ID, lsn, e.LSN)
		}
		if e.Epoch < epoch {
			return lsn, epoch, chss, out, fmt.Errorf("%w: partition %d at epoch %d, entry %d has epoch %d", ErrStaleEpoch, p.cfg.ID, epoch, e.LSN, e.Epoch)
		}
		chs := make([]change, 0, len(e.Ops))
		child := make(overlay)
		for _, op := range e.Ops {
			key := append([]byte(nil), op.Key...)
			if op.Kind == replog.OpConflictPut || op.Kind == replog.OpConflictDelete {
				ch := change{key: key, conflict: true}
				if op.Kind == replog.OpConflictPut {
					ch.conflictJSON = append([]byte(nil), op.Value...)
					child["X\x00"+string(key)] = &slot{ver: &Version{}}
				} else {
					ch.conflictJSON = []byte{} // the deleted record's marker
					child["X\x00"+string(key)] = &slot{ver: &Version{LSN: -1}}
				}
				chs = append(chs, ch)
				continue
			}
			phys, _, err := p.lookup(key, ov, child, now, info)
			if err != nil {
				return lsn, epoch, chss, out, err
			}
			ch := change{key: key}
			if phys != nil {
				ch.oldLSN = phys.LSN
			}
			switch op.Kind {
			case replog.OpPut:
				v, err := decodeVersion(append([]byte(nil), op.Value...))
				if err != nil || v.LSN != e.LSN {
					return lsn, epoch, chss, out, fmt.Errorf("partition %d entry %d: %w", p.cfg.ID, e.LSN, replog.ErrCorrupt)
				}
				ch.newVer = v
			case replog.OpDelete:
			default:
				return lsn, epoch, chss, out, fmt.Errorf("partition %d entry %d: %w", p.cfg.ID, e.LSN, replog.ErrCorrupt)
			}
			child[string(key)] = &slot{ver: ch.newVer}
			chs = append(chs, ch)
		}
		for k, s := range child {
			ov[k] = s
		}
		lsn, epoch = e.LSN, e.Epoch
		chss = append(chss, chs)
		out = append(out, e)
	}
	return lsn, epoch, chss, out, nil
}

// FirstLSN returns the lowest LSN still in the log (0 if it is empty).
func (p *Partition) FirstLSN() (int64, error) { return replog.First(p.cfg.DB, p.cfg.ID) }

// Snapshot calls fn with every stored item (key is the item's key inside
// the partition, value its stored version) of a consistent point-in-time
// copy, and returns the LSN and epoch of that copy.
func (p *Partition) Snapshot(ctx context.Context, fn func(key, value []byte) error) (lsn, epoch int64, err error) {
	snap := p.cfg.DB.NewSnapshot()
	defer snap.Close()
	get := func(name string) (int64, error) {
		v, err := snap.Get(storage.MetaKey(p.cfg.ID, name))
		if errors.Is(err, storage.ErrNotFound) {
			return 0, nil
		}
		if err != nil || len(v) != 8 {
			return 0, fmt.Errorf("snapshot meta %s: %w", name, errors.Join(err, errCorruptVersion))
		}
		return int64(binary.BigEndian.Uint64(v)), nil
	}
	if lsn, err = get(metaApplied); err != nil {
		return 0, 0, err
	}
	if epoch, err = get(metaEpoch); err != nil {
		return 0, 0, err
	}
	// The snapshot may include a batch whose fsync is still in flight:
	// never ship what a crash here could erase.
	p.awaitDurable(lsn)
	prefix := storage.DocPrefix(p.cfg.ID, nil)
	var ferr error
	n := 0
	err = snap.Scan(prefix, storage.PrefixEnd(prefix), func(k, v []byte) bool {
		if n++; n%256 == 0 && ctx.Err() != nil {
			ferr = ctx.Err()
			return false
		}
		ferr = fn(storage.DocSuffix(k), v)
		return ferr == nil
	})
	if err == nil {
		err = ferr
	}
	if err != nil {
		return lsn, epoch, err
	}
	// The conflicts feed travels with the items, under keys no item key
	// can have (an encoded partition key never starts with 0x00).
	cp := storage.ConflictPrefix(p.cfg.ID)
	err = snap.Scan(cp, storage.PrefixEnd(cp), func(k, v []byte) bool {
		ferr = fn(append([]byte(snapshotConflict), k[len(cp):]...), v)
		return ferr == nil
	})
	if err == nil {
		err = ferr
	}
	if err == nil && p.cfg.MultiWrite {
		err = p.snapshotMW(ctx, snap, fn)
	}
	return lsn, epoch, err
}

// snapshotConflict prefixes conflict records in a snapshot stream.
const snapshotConflict = "\x00X"

const metaInstalling = "installing"

// InstallSnapshot replaces the partition's items, log and change index with
// a snapshot taken at lsn in another region, then sets Applied to lsn. It
// runs in the writer goroutine, so nothing interleaves with it. A crash in
// the middle leaves the partition marked as installing; Open then empties
// it so that the next install starts over.
func (p *Partition) InstallSnapshot(ctx context.Context, lsn, epoch int64, next func() (key, value []byte, ok bool, err error)) error {
	if p.writable.Load() || p.cfg.MultiWrite {
		return fmt.Errorf("partition %d: cannot install a snapshot into a writable partition", p.cfg.ID)
	}
	return p.submitReplica(ctx, &request{ctx: ctx, install: &install{lsn: lsn, epoch: epoch, next: next}, applied: make(chan error, 1)})
}

type install struct {
	lsn, epoch int64
	next       func() (key, value []byte, ok bool, err error)
	// merge (multi-write) merges the copy of region source instead of
	// replacing the partition (runMerge).
	merge  bool
	source uint32
}

// wipe deletes the partition's items, log and change index, leaving the
// installing mark set (synced).
func (p *Partition) wipe() error {
	pid := p.cfg.ID
	b := p.cfg.DB.NewBatch()
	defer b.Close()
	b.Set(storage.MetaKey(pid, metaInstalling), []byte{1})
	for _, tag := range []byte{'D', 'L', 'C', 'X', 'T'} {
		start, end := storage.PartitionRange(tag, pid)
		b.DeleteRange(start, end)
	}
	b.Set(storage.MetaKey(pid, metaApplied), binary.BigEndian.AppendUint64(nil, 0))
	return b.Commit(true /* sync */)
}

// runInstall executes an install request in the writer goroutine.
func (p *Partition) runInstall(in *install) error {
	pid := p.cfg.ID
	if err := p.wipe(); err != nil {
		return fmt.Errorf("install snapshot %d: %w", pid, err)
	}
	p.publishReset(0)
	p.horizon.Store(in.lsn) // chunks become visible before the install completes
	b := p.cfg.DB.NewBatch()
	defer func() { b.Close() }()
	for {
		key, value, ok, err := in.next()
		if err != nil {
			return fmt.Errorf("install snapshot %d: %w", pid, err)
		}
		if !ok {
			break
		}
		if len(key) > len(snapshotConflict) && string(key[:len(snapshotConflict)]) == snapshotConflict {
			b.Set(storage.ConflictKey(pid, key[len(snapshotConflict):]), value)
			continue
		}
		v, err := decodeVersion(append([]byte(nil), value...))
		if err != nil || len(key) == 0 {
			return fmt.Errorf("install snapshot %d: %w", pid, replog.ErrCorrupt)
		}
		b.Set(append(storage.DocKey(pid, nil, ""), key...), value)
		b.Set(storage.ChangeKey(pid, v.LSN, key), nil)
		if b.Len() >= 4096 {
			if err := b.Commit(false); err != nil {
				return fmt.Errorf("install snapshot %d: %w", pid, err)
			}
			b.Close()
			b = p.cfg.DB.NewBatch()
		}
	}
	b.Set(storage.MetaKey(pid, metaApplied), binary.BigEndian.AppendUint64(nil, uint64(in.lsn)))
	b.Set(storage.MetaKey(pid, metaEpoch), binary.BigEndian.AppendUint64(nil, uint64(in.epoch)))
	b.Delete(storage.MetaKey(pid, metaInstalling))
	// The synced commit also makes the unsynced chunks before it durable
	// (the WAL is sequential).
	p.horizon.Store(in.lsn)
	if err := b.Commit(true /* sync */); err != nil {
		return fmt.Errorf("install snapshot %d: %w", pid, err)
	}
	p.epoch.Store(in.epoch)
	p.publish(in.lsn)
	return nil
}
