package partition

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"time"

	"github.com/meridiandb/meridian/internal/conflict"
	"github.com/meridiandb/meridian/internal/document"
	"github.com/meridiandb/meridian/internal/patch"
	"github.com/meridiandb/meridian/internal/pkey"
	"github.com/meridiandb/meridian/internal/replog"
	"github.com/meridiandb/meridian/internal/resource"
	"github.com/meridiandb/meridian/internal/storage"
)

// OpKind is a point operation on an item.
type OpKind int

// Operations. Read is allowed only inside batches (to see the batch's own
// earlier writes); point reads use Get.
const (
	Create OpKind = iota + 1
	Upsert
	Replace
	Delete
	Patch
	Read
	expire         // TTL purge: delete if the item is still at ExpectLSN
	conflictPut    // publish a conflict record (idempotent by id)
	conflictDelete // remove a conflict record
)

// Op is one item operation.
type Op struct {
	Kind OpKind
	// ID names the item for Replace, Delete, Patch and Read; for Create and
	// Upsert the id comes from Doc (ID, if set, must match).
	ID string
	// PK is the partition key from the request header; nil when absent,
	// in which case Create/Upsert/Replace use the document's own key.
	PK pkey.Key
	// Doc is the parsed body of Create, Upsert and Replace.
	Doc   *document.Doc
	Patch *patch.Spec
	// IfMatch is an etag precondition ("" none, "*" any existing item).
	IfMatch string
	// IfNoneMatch, on Read, turns a matching etag into NotModified.
	IfNoneMatch string

	key       []byte // expire: the item's DocSuffix; conflicts: the conflict id
	expectLSN int64  // expire: the version to delete
	conflict  []byte // conflictPut: the record's JSON
}

// Result is the outcome of one operation.
type Result struct {
	// Created is true when Create or Upsert made a new item.
	Created bool
	// NotModified is true for a Read whose IfNoneMatch matched.
	NotModified bool
	// Version is the item after the operation (nil after a delete).
	Version *Version
	// LSN is the entry that holds the change (0 for reads and failures),
	// Epoch the epoch it was written in.
	LSN, Epoch int64
	// Err is this operation's failure (a *resource.Error). In a failed
	// atomic batch, operations other than the failing one get
	// ErrFailedDependency.
	Err error
}

// ErrFailedDependency marks the operations of an atomic batch that did not
// fail themselves but were rolled back with it (HTTP 424).
var ErrFailedDependency = &resource.Error{Kind: resource.KindFailedDependency, Msg: "The operation did not run because another operation of the transactional batch failed."}

type request struct {
	ctx    context.Context
	ops    []Op
	atomic bool
	done   chan []Result // buffered(1)

	// apply, when set, makes this a replication request: entries from the
	// write region to apply in order (ops is nil).
	apply   []*replog.Entry
	source  uint32 // multi-write: the region whose log apply comes from
	install *install
	applied chan error // buffered(1), for apply and install requests

	// flush, when set, makes this a fence request (Fence): closed once
	// every group queued before it is durable and answered.
	flush chan struct{}
}

// Write runs one operation and returns when it is durable.
func (p *Partition) Write(ctx context.Context, op Op) (Result, error) {
	res, err := p.submit(ctx, []Op{op}, true)
	if err != nil {
		return Result{}, err
	}
	return res[0], res[0].Err
}

// Batch runs ops in order. When atomic, they commit as one log entry or
// not at all; otherwise each succeeds or fails on its own. It returns one
// Result per op.
func (p *Partition) Batch(ctx context.Context, ops []Op, atomic bool) ([]Result, error) {
	return p.submit(ctx, ops, atomic)
}

func (p *Partition) submit(ctx context.Context, ops []Op, atomic bool) ([]Result, error) {
	if !p.writable.Load() {
		return nil, resource.ErrWriteForbidden
	}
	r := &request{ctx: ctx, ops: ops, atomic: atomic, done: make(chan []Result, 1)}
	select {
	case p.reqs <- r:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-p.ctx.Done():
		return nil, ErrClosed
	}
	// Once queued, wait for the writer even if ctx ends: the outcome of a
	// write must be reported, and the writer answers every queued request.
	select {
	case res := <-r.done:
		return res, nil
	case <-p.ctx.Done():
		select {
		case res := <-r.done:
			return res, nil
		default:
			return nil, ErrClosed
		}
	}
}

func (p *Partition) runWriter() {
	defer p.wg.Done()
	// Commits are pipelined: the writer prepares group N+1 (and applies it
	// to the memtable) while the finisher waits for group N's fsync. The
	// finisher publishes applied and answers requests strictly in order.
	fin := make(chan *pending, 1)
	finDone := make(chan struct{})
	go func() {
		defer close(finDone)
		for pd := range fin {
			p.finish(pd)
		}
	}()
	defer func() {
		close(fin)
		<-finDone
	}()
	group := make([]*request, 0, p.cfg.MaxGroup)
	for {
		select {
		case r := <-p.reqs:
			group = append(group[:0], r)
		case <-p.ctx.Done():
			p.drainClosed()
			return
		}
		var inst *request // an install or a flush runs alone, after the group before it
	drain:
		for len(group) < p.cfg.MaxGroup && group[0].install == nil && group[0].flush == nil {
			select {
			case r := <-p.reqs:
				if r.install != nil || r.flush != nil {
					inst = r
					break drain
				}
				group = append(group, r)
			default:
				break drain
			}
		}
		if group[0].install != nil || group[0].flush != nil {
			inst, group = group[0], group[:0]
		}
		if len(group) > 0 {
			if pd := p.prepare(group); pd != nil {
				fin <- pd
			}
			group = make([]*request, 0, p.cfg.MaxGroup) // the finisher owns the old slice
		}
		if inst != nil {
			// An install replaces everything: wait until every group in
			// flight is durable and answered first.
			barrier := make(chan struct{})
			fin <- &pending{barrier: barrier}
			<-barrier
			if inst.flush != nil {
				close(inst.flush)
				continue
			}
			var err error
			if inst.install.merge {
				err = p.runMerge(inst.install) // sets lastLSN itself
			} else if err = p.runInstall(inst.install); err == nil {
				p.lastLSN, p.lastEpoch = inst.install.lsn, inst.install.epoch
			}
			inst.applied <- err
		}
	}
}

// pending is a prepared group on its way to durability.
type pending struct {
	group     []*request
	results   [][]Result
	applyErrs []error
	entries   []*replog.Entry
	lsn       int64
	epoch     int64
	batch     *storage.Batch // nil when the group changed nothing
	wait      func() error
	start     time.Time
	mw        *mwDurable    // multi-write progress after the group
	err       error         // the commit could not even start
	barrier   chan struct{} // barrier only: closed when reached
}

// finish waits for a prepared group's fsync, publishes it and answers its
// requests. It runs in the finisher goroutine, in group order.
func (p *Partition) finish(pd *pending) {
	if pd.barrier != nil {
		close(pd.barrier)
		return
	}
	err := pd.err
	if pd.batch != nil {
		if err == nil {
			err = pd.wait()
			if err == nil && p.cfg.OnCommit != nil {
				p.cfg.OnCommit(len(pd.entries), time.Since(pd.start))
			}
		}
		pd.batch.Close()
		if err == nil {
			fpAfterSync.Hit()
			p.epoch.Store(pd.epoch)
			if pd.mw != nil {
				p.mwDur.Store(pd.mw)
			}
			p.publish(pd.lsn)
			if replicated := appliedEntries(pd.group, pd.entries); len(replicated) > 0 {
				p.recordLags(time.Now(), replicated)
			}
		}
	}
	if err != nil {
		// Nothing of the group is known durable (Pebble exits the process
		// on a failed WAL fsync; this covers errors before the sync).
		p.log.Error("commit failed", "err", err)
		p.notifyWaiters()
		for _, r := range pd.group {
			if r.apply != nil {
				r.applied <- fmt.Errorf("partition %d: %w", p.cfg.ID, err)
				continue
			}
			res := make([]Result, len(r.ops))
			for i := range res {
				res[i].Err = fmt.Errorf("partition %d: %w", p.cfg.ID, err)
			}
			r.done <- res
		}
		return
	}
	for gi, r := range pd.group {
		if r.apply != nil {
			r.applied <- pd.applyErrs[gi]
			continue
		}
		r.done <- pd.results[gi]
	}
}

func (p *Partition) drainClosed() {
	for {
		select {
		case r := <-p.reqs:
			if r.flush != nil {
				continue // Fence returns on p.ctx
			}
			if r.apply != nil || r.install != nil {
				r.applied <- ErrClosed
				continue
			}
			res := make([]Result, len(r.ops))
			for i := range res {
				res[i].Err = ErrClosed
			}
			r.done <- res
		default:
			return
		}
	}
}

// change is one pending item change of an entry.
type change struct {
	key    []byte   // DocSuffix (or the conflict id)
	newVer *Version // nil: delete
	oldLSN int64    // LSN of the physical version replaced (0: none)
	// conflict marks a change of the conflicts feed: conflictJSON is the
	// record, nil to delete it.
	conflict     bool
	conflictJSON []byte
	// tomb (multi-write, newVer nil) is the delete's resolver metadata,
	// kept as the item's tombstone; hadTomb: the item had one to remove.
	tomb    *conflict.Version
	hadTomb bool
}

// overlay holds the group's uncommitted item states, so later operations
// in the group see earlier ones.
type overlay map[string]*slot

type slot struct {
	ver  *Version          // nil: absent
	tomb *conflict.Version // multi-write: the tombstone of an absent item
}

// prepare evaluates a group against the current state (including groups
// still syncing), assigns LSNs and applies the group's batch to the
// memtable without waiting for its fsync. It returns nil when it already
// answered every request.
func (p *Partition) prepare(group []*request) *pending {
	if err := p.cfg.DB.CheckSpace(); err != nil {
		// Fail fast rather than let Pebble stall on a full disk.
		refuse := &resource.Error{Kind: resource.KindInsufficientStorage, Err: err,
			Msg: "The region's data volume is nearly full; writes are refused until space is freed (reads still work)."}
		for _, r := range group {
			if r.apply != nil {
				r.applied <- refuse
				continue
			}
			res := make([]Result, len(r.ops))
			for i := range res {
				res[i].Err = refuse
			}
			r.done <- res
		}
		return nil
	}
	now := p.cfg.Clock()
	info := p.info.Load()
	ov := make(overlay)
	lsn := p.lastLSN
	epoch := p.lastEpoch
	writable := p.writable.Load()
	if we := p.writeEpoch.Load(); writable && we > epoch {
		epoch = we // the first local write of a new epoch
	}
	var entries []*replog.Entry // multi-write: nil for an entry only skipped here
	var allChanges [][]change
	results := make([][]Result, len(group))
	var mwSaved *mwState
	if p.mw != nil {
		mwSaved = p.mw.clone()
	}
	// startLocal numbers the next local entry in this region's origin
	// sequence (multi-write); endLocal consumes the number.
	startLocal := func() {
		if p.mw != nil {
			p.mwCur = mwLocal{olsn: p.mw.vec[p.cfg.RegionID] + 1, seen: p.mw.vec.Clone()}
		}
	}
	endLocal := func(e *replog.Entry) *replog.Entry {
		if p.mw != nil {
			e.OriginLSN = p.mwCur.olsn
			p.mw.vec[p.cfg.RegionID] = p.mwCur.olsn
		}
		return e
	}

	applyErrs := make([]error, len(group))
	for gi, r := range group {
		if r.apply != nil {
			var chs [][]change
			var es []*replog.Entry
			if p.mw != nil {
				lsn, chs, es, applyErrs[gi] = p.execApplyMW(r.source, r.apply, ov, lsn, info, now)
			} else {
				lsn, epoch, chs, es, applyErrs[gi] = p.execApply(r.apply, ov, lsn, epoch, info, now)
			}
			entries = append(entries, es...)
			allChanges = append(allChanges, chs...)
			continue
		}
		results[gi] = make([]Result, len(r.ops))
		if err := r.ctx.Err(); err != nil {
			for i := range results[gi] {
				results[gi][i].Err = resource.Errorf(resource.KindRequestTimeout, "The request was cancelled before it was applied: %w", err)
			}
			continue
		}
		if !writable {
			// Fenced while the request was queued (a failover began).
			for i := range results[gi] {
				results[gi][i].Err = resource.ErrWriteForbidden
			}
			continue
		}
		if r.atomic {
			child := make(overlay)
			var chs []change
			failed := -1
			startLocal()
			for i, op := range r.ops {
				ch, res := p.exec(op, ov, child, lsn+1, i, now, info)
				results[gi][i] = res
				if res.Err != nil {
					failed = i
					break
				}
				if ch != nil {
					chs = append(chs, *ch)
				}
			}
			if failed >= 0 {
				for i := range results[gi] {
					if i != failed {
						results[gi][i] = Result{Err: ErrFailedDependency}
					}
				}
				continue
			}
			if len(chs) == 0 {
				continue // reads only
			}
			lsn++
			for k, s := range child {
				ov[k] = s
			}
			for i := range results[gi] {
				if r.ops[i].Kind != Read {
					results[gi][i].LSN, results[gi][i].Epoch = lsn, epoch
				}
			}
			entries = append(entries, endLocal(p.entry(lsn, epoch, now, chs)))
			allChanges = append(allChanges, chs)
			continue
		}
		for i, op := range r.ops {
			child := make(overlay)
			startLocal()
			ch, res := p.exec(op, ov, child, lsn+1, 0, now, info)
			results[gi][i] = res
			if res.Err != nil || ch == nil {
				continue
			}
			lsn++
			results[gi][i].LSN, results[gi][i].Epoch = lsn, epoch
			for k, s := range child {
				ov[k] = s
			}
			entries = append(entries, endLocal(p.entry(lsn, epoch, now, []change{*ch})))
			allChanges = append(allChanges, []change{*ch})
		}
	}

	if len(entries) > 0 {
		b := p.cfg.DB.NewBatch()
		pid := p.cfg.ID
		for i, e := range entries {
			for _, ch := range allChanges[i] {
				if ch.conflict {
					// An empty record is the marker a deleted one leaves.
					if ch.conflictJSON == nil {
						b.Delete(storage.ConflictKey(pid, ch.key))
					} else {
						b.Set(storage.ConflictKey(pid, ch.key), ch.conflictJSON)
					}
					continue
				}
				if ch.oldLSN > 0 {
					b.Delete(storage.ChangeKey(pid, ch.oldLSN, ch.key))
				}
				dk := storage.DocKey(pid, nil, "")
				dk = append(dk, ch.key...)
				if ch.newVer == nil {
					b.Delete(dk)
					if ch.tomb != nil {
						b.Set(storage.TombKey(pid, ch.key), encodeMeta(nil, ch.tomb))
					}
				} else {
					b.Set(dk, ch.newVer.encode())
					b.Set(storage.ChangeKey(pid, ch.newVer.LSN, ch.key), nil)
					if ch.hadTomb {
						b.Delete(storage.TombKey(pid, ch.key))
					}
				}
			}
			if e != nil {
				replog.Append(b, pid, e)
			}
		}
		var mwDur *mwDurable
		if p.mw != nil {
			b.Set(storage.MetaKey(pid, metaMW), encodeMWState(p.mw))
			mwDur = &mwDurable{vec: p.mw.vec.Clone(), cursors: maps.Clone(p.mw.cursors)}
		}
		b.Set(storage.MetaKey(pid, metaApplied), binary.BigEndian.AppendUint64(nil, uint64(lsn)))
		if epoch != p.epoch.Load() {
			b.Set(storage.MetaKey(pid, metaEpoch), binary.BigEndian.AppendUint64(nil, uint64(epoch)))
		}
		if lsn-p.lastTrim >= min(1024, max(1, p.cfg.LogRetention/4)) && lsn > p.cfg.LogRetention {
			replog.Trim(b, pid, lsn-p.cfg.LogRetention)
			p.lastTrim = lsn
		}
		pd := &pending{group: group, results: results, applyErrs: applyErrs, entries: entries,
			lsn: lsn, epoch: epoch, batch: b, start: time.Now(), mw: mwDur}
		// Readers may see the batch as soon as it is applied: raise the
		// horizon first (reads wait until what they saw is durable).
		p.horizon.Store(lsn)
		fpBeforeSync.Hit()
		pd.wait, pd.err = b.CommitAsync()
		if pd.err != nil {
			p.horizon.Store(p.lastLSN)
			if mwSaved != nil {
				p.mw = mwSaved
			}
			return pd
		}
		p.lastLSN, p.lastEpoch = lsn, epoch
		return pd
	}
	return &pending{group: group, results: results, applyErrs: applyErrs}
}

func (p *Partition) entry(lsn, epoch int64, now time.Time, chs []change) *replog.Entry {
	e := &replog.Entry{LSN: lsn, Epoch: epoch, Origin: p.cfg.RegionID, TS: now.UnixNano(), Ops: make([]replog.Op, len(chs))}
	for i, ch := range chs {
		switch {
		case ch.conflict && len(ch.conflictJSON) > 0:
			e.Ops[i] = replog.Op{Kind: replog.OpConflictPut, Key: ch.key, Value: ch.conflictJSON}
			continue
		case ch.conflict:
			e.Ops[i] = replog.Op{Kind: replog.OpConflictDelete, Key: ch.key}
			continue
		}
		if ch.newVer == nil {
			e.Ops[i] = replog.Op{Kind: replog.OpDelete, Key: ch.key}
			if ch.tomb != nil {
				e.Ops[i].Value = encodeMeta(nil, ch.tomb)
			}
		} else {
			e.Ops[i] = replog.Op{Kind: replog.OpPut, Key: ch.key, Value: ch.newVer.encode()}
		}
	}
	return e
}

// lookup returns the physical version at key (child, then group overlay,
// then storage) and whether it is visible (present and not expired).
func (p *Partition) lookup(key []byte, ov, child overlay, now time.Time, info *ContainerInfo) (phys *Version, visible bool, err error) {
	if s, ok := child[string(key)]; ok {
		phys = s.ver
	} else if s, ok := ov[string(key)]; ok {
		phys = s.ver
	} else {
		phys, err = p.load(key)
		if err != nil {
			return nil, false, err
		}
	}
	if phys == nil {
		return nil, false, nil
	}
	return phys, !phys.expired(info.DefaultTTL, now), nil
}

func (p *Partition) load(suffix []byte) (*Version, error) {
	dk := append(storage.DocKey(p.cfg.ID, nil, ""), suffix...)
	raw, err := p.cfg.DB.Get(dk)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	v, err := decodeVersion(raw)
	if err != nil {
		return nil, fmt.Errorf("partition %d item %q: %w", p.cfg.ID, suffix, err)
	}
	return v, nil
}

// exec evaluates one operation against the current state and records its
// effect in child. It returns the change to commit (nil for reads and
// failures).
func (p *Partition) exec(op Op, ov, child overlay, lsn int64, idx int, now time.Time, info *ContainerInfo) (*change, Result) {
	fail := func(err error) (*change, Result) { return nil, Result{Err: err} }

	if op.Kind == conflictPut || op.Kind == conflictDelete {
		state, err := p.conflictState(op.key, ov, child)
		if err != nil {
			return fail(err)
		}
		ok := "X\x00" + string(op.key)
		if op.Kind == conflictPut {
			if state != conflictAbsent {
				return nil, Result{} // published (or resolved) already: exactly once
			}
			child[ok] = &slot{ver: &Version{}}
			return &change{key: op.key, conflict: true, conflictJSON: op.conflict}, Result{}
		}
		if state != conflictLive {
			return fail(resource.Errorf(resource.KindNotFound, "Resource Not Found: conflict %q does not exist.", op.key))
		}
		// Keep a marker: a region that resolves the same conflict later
		// must not publish the record again.
		child[ok] = &slot{ver: &Version{LSN: -1}}
		return &change{key: op.key, conflict: true, conflictJSON: []byte{}}, Result{}
	}

	if op.Kind == expire {
		phys, _, err := p.lookup(op.key, ov, child, now, info)
		if err != nil {
			return fail(err)
		}
		if phys == nil || phys.LSN != op.expectLSN {
			return fail(resource.ErrPreconditionFailed) // updated since: not expired any more
		}
		ch := &change{key: op.key, oldLSN: phys.LSN}
		if p.mw != nil {
			if ch.tomb, err = p.stampLocal(info, withDoc(phys), idx, now, nil); err != nil {
				return fail(err)
			}
		}
		child[string(op.key)] = &slot{tomb: ch.tomb}
		return ch, Result{}
	}

	var pk pkey.Key
	id := op.ID
	switch op.Kind {
	case Create, Upsert, Replace:
		if op.Doc == nil {
			return fail(resource.BadRequestf("The request body is required."))
		}
		if id != "" && id != op.Doc.ID {
			return fail(resource.BadRequestf("The id in the URL (%q) does not match the id in the body (%q).", id, op.Doc.ID))
		}
		id = op.Doc.ID
		docPK, err := docKey(op.Doc, info.PartitionKey)
		if err != nil {
			return fail(err)
		}
		if op.PK != nil && !op.PK.Equal(docPK) {
			return fail(resource.BadRequestf("PartitionKey extracted from document doesn't match the one specified in the header: header %s, document %s.", op.PK.JSON(), docPK.JSON()))
		}
		pk = docPK
	default:
		if op.PK == nil {
			return fail(resource.BadRequestf("The partition key header x-ms-documentdb-partitionkey is required for this operation."))
		}
		if err := resource.ValidateID(id); err != nil {
			return fail(err)
		}
		pk = op.PK
	}
	if err := pk.Validate(info.PartitionKey); err != nil {
		return fail(err)
	}
	key := append(pk.Encode(), id...)
	phys, visible, err := p.lookup(key, ov, child, now, info)
	if err != nil {
		return fail(err)
	}
	var oldLSN int64
	if phys != nil {
		oldLSN = phys.LSN
	}
	var base *conflict.Version // multi-write: what this write follows
	if p.mw != nil && op.Kind != Read {
		if base, err = p.mwBase(key, ov, child); err != nil {
			return fail(err)
		}
	}
	if (op.Kind == Replace || op.Kind == Delete || op.Kind == Patch || op.Kind == Read) && !visible {
		return fail(resource.ErrNotFound)
	}
	if op.IfMatch != "" && op.Kind != Create && op.Kind != Read {
		if !visible || (op.IfMatch != "*" && op.IfMatch != phys.ETag) {
			return fail(resource.ErrPreconditionFailed)
		}
	}

	switch op.Kind {
	case Read:
		if op.IfNoneMatch != "" && (op.IfNoneMatch == "*" || op.IfNoneMatch == phys.ETag) {
			return nil, Result{NotModified: true, Version: phys}
		}
		return nil, Result{Version: phys}
	case Create:
		if visible {
			return fail(resource.ErrConflict)
		}
	case Delete:
		ch := &change{key: key, oldLSN: oldLSN}
		if p.mw != nil {
			if ch.tomb, err = p.stampLocal(info, base, idx, now, nil); err != nil {
				return fail(err)
			}
		}
		child[string(key)] = &slot{tomb: ch.tomb}
		return ch, Result{}
	case Patch:
		if op.Patch == nil {
			return fail(resource.BadRequestf("The patch document is required."))
		}
		patched, err := op.Patch.Apply(phys.JSON)
		if err != nil {
			return fail(err)
		}
		d, err := document.Parse(patched)
		if err != nil {
			return fail(err)
		}
		if d.ID != id {
			return fail(resource.BadRequestf("A patch cannot change the id of an item."))
		}
		newPK, err := docKey(d, info.PartitionKey)
		if err != nil {
			return fail(err)
		}
		if !newPK.Equal(pk) {
			return fail(resource.BadRequestf("A patch cannot change the partition key of an item."))
		}
		op.Doc = d
	}
	itemTTL, _, err := op.Doc.TTL()
	if err != nil {
		return fail(err)
	}
	etagSeq := lsn
	v := &Version{LSN: lsn, TS: now.Unix(), ItemTTL: itemTTL}
	if p.mw != nil {
		// The version's identity is its origin's: the same etag in every
		// region, and _ts from the HLC.
		if v.MW, err = p.stampLocal(info, base, idx, now, []byte("{}")); err != nil {
			return fail(err)
		}
		etagSeq, v.TS = p.mwCur.olsn, v.MW.TS.Seconds()
	}
	etag := resource.ETag(uint64(etagSeq)<<16 | uint64(idx&0xff)<<8 | uint64(p.cfg.RegionID&0xff))
	v.ETag = etag
	docRID := resource.DocumentRID(info.DBNum, info.CollNum, hash64(key))
	v.JSON = op.Doc.Render(document.System{
		RID:  docRID,
		Self: "dbs/" + info.DBRID + "/colls/" + info.CollRID + "/docs/" + docRID + "/",
		ETag: etag,
		TS:   v.TS,
	})
	if len(v.JSON) > resource.MaxItemSize {
		return fail(resource.ErrTooLarge)
	}
	child[string(key)] = &slot{ver: v}
	return &change{key: key, newVer: v, oldLSN: oldLSN}, Result{Created: !visible, Version: v}
}

func docKey(d *document.Doc, def resource.PartitionKeyDefinition) (pkey.Key, error) {
	tops := make([]string, len(def.Paths))
	for i, path := range def.Paths {
		tops[i] = document.TopLevelOf(path)
	}
	tree, err := d.Tree(tops...)
	if err != nil {
		return nil, err
	}
	return pkey.FromDocument(tree, def)
}

func hash64(b []byte) uint64 {
	h := fnv.New64a()
	_, _ = h.Write(b)
	return h.Sum64()
}

// appliedEntries returns the committed entries that came from replication
// requests (their TS is the write region's commit clock).
func appliedEntries(group []*request, entries []*replog.Entry) []*replog.Entry {
	for _, r := range group {
		if r.apply != nil {
			var out []*replog.Entry
			for _, e := range entries {
				if e != nil && e.Origin != 0 {
					out = append(out, e)
				}
			}
			return out
		}
	}
	return nil
}

// Conflict record states in the feed.
const (
	conflictAbsent  = iota // never published here
	conflictLive           // in the feed
	conflictDeleted        // deleted by a user: an empty marker remains
)

// conflictState reports whether conflict id is in the feed, as the group
// sees it.
func (p *Partition) conflictState(id []byte, ov, child overlay) (int, error) {
	k := "X\x00" + string(id)
	of := func(s *slot) int {
		switch {
		case s.ver == nil:
			return conflictAbsent
		case s.ver.LSN < 0:
			return conflictDeleted
		}
		return conflictLive
	}
	if s, ok := child[k]; ok {
		return of(s), nil
	}
	if s, ok := ov[k]; ok {
		return of(s), nil
	}
	v, err := p.cfg.DB.Get(storage.ConflictKey(p.cfg.ID, id))
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return conflictAbsent, nil
	case err != nil:
		return 0, err
	case len(v) == 0:
		return conflictDeleted, nil
	}
	return conflictLive, nil
}
