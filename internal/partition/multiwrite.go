package partition

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"time"

	"github.com/meridiandb/meridian/internal/conflict"
	"github.com/meridiandb/meridian/internal/pkey"
	"github.com/meridiandb/meridian/internal/replog"
	"github.com/meridiandb/meridian/internal/storage"
)

// Multi-region writes (Config.MultiWrite, issue 7).
//
// Every region writes the partition. A region numbers its own writes in its
// own origin sequence (the entry's OriginLSN; LSN stays the position in this
// region's log, i.e. the local apply order), stamps each version with an HLC
// and with what it had applied (conflict.Version.Seen), and logs everything
// it applies — its own writes and those it received — in one log. Every
// region subscribes to every other region's log (repl.Receiver.FollowFrom)
// through a per-source applier (Partition.From): an entry whose origin
// write it already has is skipped, any other is resolved item by item with
// conflict.Resolve and logged again here. So a write that reached B from A
// keeps spreading from B's log if A dies (epidemic forwarding), and every
// region that applied the same writes holds the same winners, in any order.
//
// State, owned by the writer goroutine and persisted in every batch
// (meta "mw"): the applied vector (per origin region, the highest origin LSN
// applied — each origin is applied in order), the HLC, and per source region
// the last LSN of its log processed here. Deleted items leave a tombstone
// ('T' keyspace) carrying the delete's metadata, so a late update of the
// deleted life never resurrects it; tombstones are never purged.

const metaMW = "mw"

// mwState is the writer goroutine's multi-write state.
type mwState struct {
	vec     conflict.Vector
	hlc     conflict.HLC
	cursors map[uint32]int64 // by source region id
}

func (m *mwState) clone() *mwState {
	return &mwState{vec: m.vec.Clone(), hlc: m.hlc, cursors: maps.Clone(m.cursors)}
}

// mwDurable is the published, durable multi-write progress.
type mwDurable struct {
	vec     conflict.Vector
	cursors map[uint32]int64
}

func encodeMWState(m *mwState) []byte {
	b := binary.AppendVarint(nil, m.hlc.Wall)
	b = binary.AppendUvarint(b, uint64(m.hlc.Logical))
	b = appendVector(b, m.vec)
	b = binary.AppendUvarint(b, uint64(len(m.cursors)))
	for s, c := range m.cursors {
		b = binary.AppendUvarint(b, uint64(s))
		b = binary.AppendUvarint(b, uint64(c))
	}
	return b
}

func decodeMWState(b []byte) (*mwState, error) {
	r := replog.NewDecoder(b)
	m := &mwState{cursors: map[uint32]int64{}}
	m.hlc.Wall = r.Varint()
	l := r.Uvarint()
	m.vec = readVector(r)
	n := r.Uvarint()
	for i := uint64(0); i < n && r.Err() == nil; i++ {
		s, c := r.Uvarint(), r.Uvarint()
		if s > math.MaxUint32 || c > math.MaxInt64 {
			r.Fail()
		}
		m.cursors[uint32(s)] = int64(c)
	}
	if r.Err() != nil || l > math.MaxUint32 || len(r.Rest()) != 0 {
		return nil, fmt.Errorf("multi-write state: %w", errCorruptVersion)
	}
	m.hlc.Logical = uint32(l)
	return m, nil
}

func appendVector(b []byte, v conflict.Vector) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	for o, l := range v {
		b = binary.AppendUvarint(b, uint64(o))
		b = binary.AppendUvarint(b, uint64(l))
	}
	return b
}

// encodeMeta appends the resolver metadata of a version (not its Doc).
func encodeMeta(b []byte, m *conflict.Version) []byte {
	b = binary.AppendUvarint(b, uint64(m.Origin))
	b = binary.AppendUvarint(b, uint64(m.LSN))
	b = binary.AppendUvarint(b, uint64(m.Index))
	b = binary.AppendVarint(b, m.TS.Wall)
	b = binary.AppendUvarint(b, uint64(m.TS.Logical))
	b = appendVector(b, m.Seen)
	del := byte(0)
	if m.Deleted {
		del = 1
	}
	b = append(b, del)
	b = binary.AppendUvarint(b, m.Incarnation)
	b = binary.AppendUvarint(b, m.Depth)
	return binary.BigEndian.AppendUint64(b, math.Float64bits(m.Floor))
}

func decodeMeta(b []byte) (*conflict.Version, error) {
	r := replog.NewDecoder(b)
	m := &conflict.Version{}
	origin, lsn, idx := r.Uvarint(), r.Uvarint(), r.Uvarint()
	m.TS.Wall = r.Varint()
	logical := r.Uvarint()
	m.Seen = readVector(r)
	del := r.Byte()
	m.Incarnation, m.Depth = r.Uvarint(), r.Uvarint()
	if r.Err() == nil && len(r.Rest()) == 8 {
		m.Floor = math.Float64frombits(binary.BigEndian.Uint64(r.Rest()))
		r.Skip(8)
	}
	if r.Err() != nil || len(r.Rest()) != 0 || origin > math.MaxUint32 || lsn < 1 || lsn > math.MaxInt64 ||
		idx > replog.MaxOps || logical > math.MaxUint32 || del > 1 || m.Depth < 1 {
		return nil, fmt.Errorf("multi-write metadata: %w", errCorruptVersion)
	}
	m.Origin, m.LSN, m.Index, m.TS.Logical, m.Deleted = uint32(origin), int64(lsn), int(idx), uint32(logical), del == 1
	return m, nil
}

// readVector reads a vector written by appendVector.
func readVector(r *replog.Decoder) conflict.Vector {
	n := r.Uvarint()
	if n > 256 {
		r.Fail()
		return nil
	}
	v := make(conflict.Vector, n)
	for i := uint64(0); i < n && r.Err() == nil; i++ {
		o, l := r.Uvarint(), r.Uvarint()
		if o > math.MaxUint32 || l > math.MaxInt64 {
			r.Fail()
			return nil
		}
		v[uint32(o)] = int64(l)
	}
	return v
}

// loadMW reads the persisted multi-write state (empty if none).
func (p *Partition) loadMW() (*mwState, error) {
	raw, err := p.cfg.DB.Get(storage.MetaKey(p.cfg.ID, metaMW))
	if errors.Is(err, storage.ErrNotFound) {
		return &mwState{vec: conflict.Vector{}, cursors: map[uint32]int64{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load partition %d multi-write state: %w", p.cfg.ID, err)
	}
	m, err := decodeMWState(raw)
	if err != nil {
		return nil, fmt.Errorf("partition %d: %w", p.cfg.ID, err)
	}
	return m, nil
}

// MultiWrite reports whether every region writes this partition.
func (p *Partition) MultiWrite() bool { return p.cfg.MultiWrite }

// Vector returns the durable applied vector of a multi-write partition:
// for each origin region, the highest of its writes applied and durable
// here (every lower one included).
func (p *Partition) Vector() conflict.Vector {
	d := p.mwDur.Load()
	if d == nil {
		return conflict.Vector{}
	}
	return d.vec.Clone()
}

// Covers reports whether the durable vector includes want.
func (p *Partition) Covers(want conflict.Vector) bool {
	d := p.mwDur.Load()
	for o, l := range want {
		if l > 0 && (d == nil || d.vec[o] < l) {
			return false
		}
	}
	return true
}

// WaitVector blocks until the durable vector covers want or ctx ends.
func (p *Partition) WaitVector(ctx context.Context, want conflict.Vector) error {
	for {
		p.notifyMu.Lock()
		ch := p.notify
		p.notifyMu.Unlock()
		if p.Covers(want) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-p.ctx.Done():
			return ErrClosed
		}
	}
}

// From returns the applier of the entries of source's log (multi-write):
// what repl.Receiver.FollowFrom feeds with the subscription to that region.
func (p *Partition) From(source uint32) *SourceApplier {
	return &SourceApplier{p: p, source: source}
}

// SourceApplier applies one source region's log to a multi-write
// partition. Its Applied is the last entry of that log processed here.
type SourceApplier struct {
	p      *Partition
	source uint32
}

// Applied returns the last LSN of the source's log durably processed here.
func (a *SourceApplier) Applied() int64 {
	d := a.p.mwDur.Load()
	if d == nil {
		return 0
	}
	return d.cursors[a.source]
}

// ApplyReplicated resolves and applies consecutive entries of the source's
// log; entries at or below Applied are skipped.
func (a *SourceApplier) ApplyReplicated(ctx context.Context, entries []*replog.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	return a.p.submitReplica(ctx, &request{ctx: ctx, apply: entries, source: a.source, applied: make(chan error, 1)})
}

// QueueReplicated is ApplyReplicated without waiting for the outcome
// (repl.PipelinedApplier).
func (a *SourceApplier) QueueReplicated(ctx context.Context, entries []*replog.Entry) (wait func() error, err error) {
	if len(entries) == 0 {
		return func() error { return nil }, nil
	}
	return a.p.queueReplica(ctx, &request{ctx: ctx, apply: entries, source: a.source, applied: make(chan error, 1)})
}

// InstallSnapshot merges a snapshot of the source's partition into this
// one: every item and tombstone is resolved against the local version
// exactly as a replicated write would be, the conflicts feed is merged, the
// applied vector becomes the component-wise maximum and the source's
// position the snapshot's LSN. Nothing local is discarded: resolution is a
// maximum in one total order, so merging a state that already includes
// every write up to its vector is the same as applying those writes. It is
// used when the source trimmed its log past this region's position, or
// relayed an origin's write this region lacks the predecessors of.
func (a *SourceApplier) InstallSnapshot(ctx context.Context, lsn, _ int64, next func() (key, value []byte, ok bool, err error)) error {
	return a.p.submitReplica(ctx, &request{ctx: ctx, install: &install{lsn: lsn, next: next, merge: true, source: a.source}, applied: make(chan error, 1)})
}

// NeedSnapshot is the error of an apply that cannot continue from the
// source's log; repl.Receiver then merges a snapshot of the source
// (InstallSnapshot).
type NeedSnapshot struct{ msg string }

func (e *NeedSnapshot) Error() string { return e.msg }

// NeedsSnapshot marks the error for repl.Receiver.
func (e *NeedSnapshot) NeedsSnapshot() bool { return true }

// Snapshot stream prefixes of a multi-write partition (item keys never
// start with 0x00).
const (
	snapshotTomb  = "\x00T" // a tombstone: key, resolver metadata
	snapshotState = "\x00V" // the multi-write state (vector, HLC) of the copy
)

// runMerge executes a merge install in the writer goroutine.
func (p *Partition) runMerge(in *install) error {
	pid := p.cfg.ID
	info := p.info.Load()
	now := p.cfg.Clock()
	m := p.mw.clone()
	lsn := p.lastLSN + 1 // one empty entry: the merged versions' change-feed position
	b := p.cfg.DB.NewBatch()
	defer func() { b.Close() }()
	var snapState *mwState
	taken, fed := 0, 0
	for {
		key, value, ok, err := in.next()
		if err != nil {
			return fmt.Errorf("merge snapshot %d: %w", pid, err)
		}
		if !ok {
			break
		}
		key, value = append([]byte(nil), key...), append([]byte(nil), value...)
		switch {
		case len(key) == len(snapshotState) && string(key) == snapshotState:
			if snapState, err = decodeMWState(value); err != nil {
				return fmt.Errorf("merge snapshot %d: %w", pid, err)
			}
			continue
		case len(key) > len(snapshotConflict) && string(key[:len(snapshotConflict)]) == snapshotConflict:
			ck := storage.ConflictKey(pid, key[len(snapshotConflict):])
			if _, err := p.cfg.DB.Get(ck); errors.Is(err, storage.ErrNotFound) {
				b.Set(ck, value)
			} else if err != nil {
				return err
			}
			continue
		}
		var in *conflict.Version
		var v *Version
		if len(key) > len(snapshotTomb) && string(key[:len(snapshotTomb)]) == snapshotTomb {
			key = key[len(snapshotTomb):]
			if in, err = decodeMeta(value); err != nil || !in.Deleted {
				return fmt.Errorf("merge snapshot %d: %w", pid, replog.ErrCorrupt)
			}
		} else {
			if v, err = decodeVersion(value); err != nil || v.MW == nil || len(key) == 0 {
				return fmt.Errorf("merge snapshot %d: %w", pid, replog.ErrCorrupt)
			}
			v.LSN = lsn
			in = withDoc(v)
		}
		m.hlc = m.hlc.Max(in.TS)
		base, err := p.mwBase(key, nil, nil)
		if err != nil {
			return err
		}
		if base != nil {
			d := conflict.Resolve(info.Conflict, *base, *in)
			if d.Outcome == conflict.Conflicted {
				if p.cfg.OnConflict != nil {
					p.cfg.OnConflict(d)
				}
				if d.Feed {
					rec, err := mwConflictRecord(info, key, d.Loser)
					if err != nil {
						return err
					}
					ck := storage.ConflictKey(pid, []byte(rec.ID))
					if _, err := p.cfg.DB.Get(ck); errors.Is(err, storage.ErrNotFound) {
						b.Set(ck, rec.JSON)
						fed++
					}
				}
			}
			if !d.Take {
				continue
			}
		}
		taken++
		dk := append(storage.DocKey(pid, nil, ""), key...)
		if phys, err := p.load(key); err != nil {
			return err
		} else if phys != nil {
			b.Delete(storage.ChangeKey(pid, phys.LSN, key))
		}
		if v != nil {
			b.Set(dk, v.encode())
			b.Set(storage.ChangeKey(pid, lsn, key), nil)
			b.Delete(storage.TombKey(pid, key))
		} else {
			b.Delete(dk)
			b.Set(storage.TombKey(pid, key), encodeMeta(nil, in))
		}
		if b.Len() >= 4096 {
			// Chunks are not durable on their own; the state that says
			// they are merged is written last, synced.
			if err := b.Commit(false); err != nil {
				return fmt.Errorf("merge snapshot %d: %w", pid, err)
			}
			b.Close()
			b = p.cfg.DB.NewBatch()
		}
	}
	if snapState == nil {
		return fmt.Errorf("merge snapshot %d: the copy carries no multi-write state: %w", pid, replog.ErrCorrupt)
	}
	for o, l := range snapState.vec {
		m.vec[o] = max(m.vec[o], l)
	}
	m.hlc = m.hlc.Max(snapState.hlc)
	m.cursors[in.source] = max(m.cursors[in.source], in.lsn)
	e := &replog.Entry{LSN: lsn, Epoch: p.lastEpoch, Origin: p.cfg.RegionID, TS: now.UnixNano()}
	replog.Append(b, pid, e)
	b.Set(storage.MetaKey(pid, metaApplied), binary.BigEndian.AppendUint64(nil, uint64(lsn)))
	b.Set(storage.MetaKey(pid, metaMW), encodeMWState(m))
	p.horizon.Store(lsn)
	if err := b.Commit(true /* sync */); err != nil {
		return fmt.Errorf("merge snapshot %d: %w", pid, err)
	}
	p.mw = m
	p.lastLSN = lsn
	p.mwDur.Store(&mwDurable{vec: m.vec.Clone(), cursors: maps.Clone(m.cursors)})
	p.publish(lsn)
	p.log.Info("merged a snapshot from another region", "source", in.source, "source_lsn", in.lsn, "taken", taken, "conflicts_fed", fed)
	return nil
}

// snapshotMW adds a multi-write partition's tombstones and state to a
// snapshot stream.
func (p *Partition) snapshotMW(ctx context.Context, snap *storage.Snapshot, fn func(key, value []byte) error) error {
	raw, err := snap.Get(storage.MetaKey(p.cfg.ID, metaMW))
	if errors.Is(err, storage.ErrNotFound) {
		raw, err = encodeMWState(&mwState{vec: conflict.Vector{}, cursors: map[uint32]int64{}}), nil
	}
	if err != nil {
		return err
	}
	tp := storage.TombKey(p.cfg.ID, nil)
	var ferr error
	err = snap.Scan(tp, storage.PrefixEnd(tp), func(k, v []byte) bool {
		ferr = fn(append([]byte(snapshotTomb), k[len(tp):]...), v)
		return ferr == nil && ctx.Err() == nil
	})
	if err == nil {
		err = errors.Join(ferr, ctx.Err())
	}
	if err != nil {
		return err
	}
	return fn([]byte(snapshotState), raw)
}

// mwBase returns the resolver metadata of the item at key as the group sees
// it: its live version (Doc set) or its tombstone; nil if it never existed.
func (p *Partition) mwBase(key []byte, ov, child overlay) (*conflict.Version, error) {
	s, ok := child[string(key)]
	if !ok {
		s, ok = ov[string(key)]
	}
	if ok {
		if s.ver != nil {
			return withDoc(s.ver), nil
		}
		if s.tomb != nil {
			return s.tomb, nil
		}
		// A slot with neither: deleted by this group before MW metadata
		// existed; fall through to storage for the tombstone.
	} else {
		v, err := p.load(key)
		if err != nil {
			return nil, err
		}
		if v != nil {
			return withDoc(v), nil
		}
	}
	raw, err := p.cfg.DB.Get(storage.TombKey(p.cfg.ID, key))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	m, err := decodeMeta(raw)
	if err != nil || !m.Deleted {
		return nil, fmt.Errorf("partition %d tombstone %q: %w", p.cfg.ID, key, errCorruptVersion)
	}
	return m, nil
}

func withDoc(v *Version) *conflict.Version {
	if v.MW == nil {
		// Written before the account had multiple write regions: the
		// oldest possible version of its item.
		return &conflict.Version{Origin: 0, LSN: 1, Depth: 1, Doc: v.JSON, Seen: conflict.Vector{}}
	}
	m := *v.MW
	m.Doc = v.JSON
	return &m
}

// mwLocal is the origin metadata of the local entry being prepared.
type mwLocal struct {
	olsn int64
	seen conflict.Vector
}

// stampLocal completes a local write's metadata on top of base.
func (p *Partition) stampLocal(info *ContainerInfo, base *conflict.Version, idx int, now time.Time, doc []byte) (*conflict.Version, error) {
	m := p.mw
	m.hlc = m.hlc.Next(now.UnixNano())
	w := conflict.Version{Origin: p.cfg.RegionID, LSN: p.mwCur.olsn, Index: idx, TS: m.hlc, Seen: p.mwCur.seen, Deleted: doc == nil, Doc: doc}
	out, err := conflict.Successor(info.Conflict, base, w)
	if err != nil {
		return nil, fmt.Errorf("partition %d: %w", p.cfg.ID, err)
	}
	out.Doc = nil
	return &out, nil
}

// execApplyMW resolves a source's entries against the group's state. It
// returns the changes and the entries to log here (nil for an entry this
// region already had: only the source position advances).
func (p *Partition) execApplyMW(source uint32, es []*replog.Entry, ov overlay, lsn int64, info *ContainerInfo, now time.Time) (int64, [][]change, []*replog.Entry, error) {
	m := p.mw
	var chss [][]change
	var out []*replog.Entry
	for _, e := range es {
		cur := m.cursors[source]
		if e.LSN <= cur {
			continue
		}
		if e.LSN != cur+1 {
			return lsn, chss, out, fmt.Errorf("%w: partition %d at %d of region %d's log, got %d", ErrGap, p.cfg.ID, cur, source, e.LSN)
		}
		if e.Origin == p.cfg.RegionID || e.OriginLSN <= m.vec[e.Origin] {
			// Already here (our own write, or relayed by another region):
			// only its conflict records may be new.
			chs, err := p.conflictOps(e, ov)
			if err != nil {
				return lsn, chss, out, err
			}
			m.cursors[source] = e.LSN
			chss = append(chss, chs)
			out = append(out, nil)
			continue
		}
		if e.OriginLSN != m.vec[e.Origin]+1 {
			// Each region logs an origin's writes in order, so the source
			// got the missing ones before this region's position in its
			// log (a merged snapshot) or
			// this region's copy came from elsewhere; merge a snapshot.
			return lsn, chss, out, &NeedSnapshot{msg: fmt.Sprintf("partition %d has region %d's writes up to %d, region %d relayed %d: merging a snapshot of region %d", p.cfg.ID, e.Origin, m.vec[e.Origin], source, e.OriginLSN, source)}
		}
		lsn++
		child := make(overlay)
		chs := make([]change, 0, len(e.Ops))
		var feed []replog.Op
		for i, op := range e.Ops {
			if op.Kind == replog.OpConflictPut || op.Kind == replog.OpConflictDelete {
				continue
			}
			key := append([]byte(nil), op.Key...)
			var in *conflict.Version
			var v *Version
			switch op.Kind {
			case replog.OpPut:
				var err error
				v, err = decodeVersion(append([]byte(nil), op.Value...))
				if err != nil || v.MW == nil {
					return lsn, chss, out, fmt.Errorf("partition %d region %d entry %d op %d: %w", p.cfg.ID, source, e.LSN, i, replog.ErrCorrupt)
				}
				v.LSN = lsn
				in = withDoc(v)
			case replog.OpDelete:
				var err error
				in, err = decodeMeta(op.Value)
				if err != nil || !in.Deleted {
					return lsn, chss, out, fmt.Errorf("partition %d region %d entry %d op %d: %w", p.cfg.ID, source, e.LSN, i, replog.ErrCorrupt)
				}
			}
			if in.Origin != e.Origin || in.LSN != e.OriginLSN {
				return lsn, chss, out, fmt.Errorf("partition %d region %d entry %d op %d: version r%d/%d in entry r%d/%d: %w", p.cfg.ID, source, e.LSN, i, in.Origin, in.LSN, e.Origin, e.OriginLSN, replog.ErrCorrupt)
			}
			m.hlc = m.hlc.Max(in.TS)
			base, err := p.mwBase(key, ov, child)
			if err != nil {
				return lsn, chss, out, err
			}
			take := base == nil
			if base != nil {
				d := conflict.Resolve(info.Conflict, *base, *in)
				take = d.Take
				if d.Outcome == conflict.Conflicted {
					if p.cfg.OnConflict != nil {
						p.cfg.OnConflict(d)
					}
					if d.Feed {
						rec, err := mwConflictRecord(info, key, d.Loser)
						if err != nil {
							return lsn, chss, out, err
						}
						feed = append(feed, replog.Op{Kind: replog.OpConflictPut, Key: []byte(rec.ID), Value: rec.JSON})
					}
				}
			}
			if !take {
				continue
			}
			ch := change{key: key, hadTomb: base != nil && base.Deleted}
			if phys, _, err := p.lookup(key, ov, child, now, info); err != nil {
				return lsn, chss, out, err
			} else if phys != nil {
				ch.oldLSN = phys.LSN
			}
			if in.Deleted {
				ch.tomb = in
				child[string(key)] = &slot{tomb: in}
			} else {
				ch.newVer = v
				child[string(key)] = &slot{ver: v}
			}
			chs = append(chs, ch)
		}
		for k, s := range child {
			ov[k] = s
		}
		// The entry's own conflict records, then those resolved here.
		cchs, err := p.conflictOps(e, ov)
		if err != nil {
			return lsn, chss, out, err
		}
		chs = append(chs, cchs...)
		for _, op := range feed {
			c, err := p.conflictOps(&replog.Entry{Ops: []replog.Op{op}}, ov)
			if err != nil {
				return lsn, chss, out, err
			}
			chs = append(chs, c...)
		}
		relog := &replog.Entry{LSN: lsn, Epoch: e.Epoch, Origin: e.Origin, OriginLSN: e.OriginLSN, TS: e.TS,
			Ops: append(append([]replog.Op(nil), e.Ops...), feed...)}
		m.vec[e.Origin] = e.OriginLSN
		m.cursors[source] = e.LSN
		chss = append(chss, chs)
		out = append(out, relog)
	}
	return lsn, chss, out, nil
}

// conflictOps turns the conflict records of an entry into changes: a put of
// an id the feed has (or had: a deleted record leaves a marker) is skipped,
// so every record reaches the feed once and a deleted one never returns.
func (p *Partition) conflictOps(e *replog.Entry, ov overlay) ([]change, error) {
	var chs []change
	for _, op := range e.Ops {
		if op.Kind != replog.OpConflictPut && op.Kind != replog.OpConflictDelete {
			continue
		}
		id := append([]byte(nil), op.Key...)
		state, err := p.conflictState(id, ov, nil)
		if err != nil {
			return nil, err
		}
		k := "X\x00" + string(id)
		if op.Kind == replog.OpConflictPut {
			if state != conflictAbsent {
				continue
			}
			ov[k] = &slot{ver: &Version{}}
			chs = append(chs, change{key: id, conflict: true, conflictJSON: append([]byte(nil), op.Value...)})
			continue
		}
		ov[k] = &slot{ver: &Version{LSN: -1}}
		chs = append(chs, change{key: id, conflict: true, conflictJSON: []byte{}})
	}
	return chs, nil
}

// conflictRecord renders a losing version for the feed.
func mwConflictRecord(info *ContainerInfo, key []byte, loser conflict.Version) (conflict.ConflictRecord, error) {
	_, id, err := pkey.Split(key)
	if err != nil {
		return conflict.ConflictRecord{}, fmt.Errorf("conflict record: %w", err)
	}
	return conflict.NewConflictRecord(info.CollRID, string(id), loser)
}

// Equal reports whether o applies the same source's log to the same
// partition (repl.Receiver compares appliers to keep a follow idempotent).
func (a *SourceApplier) Equal(o any) bool {
	b, ok := o.(*SourceApplier)
	return ok && a.p == b.p && a.source == b.source
}
