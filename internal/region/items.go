package region

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/meridiandb/meridian/internal/catalog"
	"github.com/meridiandb/meridian/internal/control"
	"github.com/meridiandb/meridian/internal/document"
	"github.com/meridiandb/meridian/internal/httpapi"
	"github.com/meridiandb/meridian/internal/partition"
	"github.com/meridiandb/meridian/internal/pkey"
	"github.com/meridiandb/meridian/internal/resource"
	"github.com/meridiandb/meridian/internal/session"
)

// rangeID is the one partition key range every container has: it covers
// the whole effective-partition-key space ("" to "FF").
const rangeID = "0"

var opKinds = map[httpapi.ItemOp]partition.OpKind{
	httpapi.OpCreate:  partition.Create,
	httpapi.OpUpsert:  partition.Upsert,
	httpapi.OpReplace: partition.Replace,
	httpapi.OpDelete:  partition.Delete,
	httpapi.OpPatch:   partition.Patch,
	httpapi.OpRead:    partition.Read,
}

// level returns the consistency level a request runs at (400 if stronger
// than the account's).
func (r *Region) effectiveLevel(o httpapi.RequestOptions) (session.Level, error) {
	return session.Effective(r.level, o.Consistency)
}

// token returns the session token for range 0 from a request header, if any.
func tokenOf(raw string) (session.Token, bool, error) { return token(raw) }

func token(raw string) (session.Token, bool, error) {
	if raw == "" {
		return session.Token{}, false, nil
	}
	toks, err := session.ParseHeader(raw)
	if err != nil {
		return session.Token{}, false, err
	}
	t, ok := toks[rangeID]
	return t, ok, nil
}

// progress is the session token describing what p has applied.
func progress(p *partition.Partition) session.Token {
	return session.Token{Version: p.Epoch(), GlobalLSN: p.Applied()}
}

// awaitSession holds a read until p has applied everything the request's
// session token covers, for at most SessionWait; then it answers 404/1002.
// It never lets a read see data older than the token. Across failovers the
// token is judged by control.TokenVerdict (D-6): a token covering writes a
// failover removed gets 404/1002 at once, a token of an older epoch whose
// writes survived stays valid, and a region that may still hold removed
// writes serves nothing (503) until it has rejoined.
func (r *Region) awaitSession(ctx context.Context, p *partition.Partition, raw string) error {
	t, ok, err := token(raw)
	if err != nil || !ok {
		return err
	}
	if r.mw {
		return r.awaitVector(ctx, p, t)
	}
	verdict := func() control.Verdict {
		v := r.view.Load()
		if v.diverged {
			return control.Diverged
		}
		return control.TokenVerdict(v.history, p.ID(), t, p.Applied(), max(v.epoch, p.Epoch()))
	}
	vd := verdict()
	if vd == control.Serve {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, r.cfg.SessionWait)
	defer cancel()
	for {
		switch vd {
		case control.Serve:
			return nil
		case control.Lost:
			return resource.Errorf(resource.KindReadSessionNotAvailable,
				"The read session is not available for the input session token: it covers writes (%s) that a regional failover removed because no surviving region held them; they are in the container's conflicts feed once their region returns.", t)
		case control.Diverged:
			return resource.Errorf(resource.KindServiceUnavailable,
				"Region %q was deposed by a failover and is rejoining; it serves session reads again once it has removed the writes the failover lost. Retry, or read from another region.", r.self.Name)
		case control.Wait:
			// Re-judge now and then: a failover may change the verdict.
			sctx, scancel := context.WithTimeout(wctx, 100*time.Millisecond)
			err := p.WaitApplied(sctx, t.GlobalLSN)
			scancel()
			if err != nil && !errors.Is(err, context.DeadlineExceeded) {
				return err
			}
		default: // Future: a version this region has not adopted yet
			_ = r.waitControl(wctx, 20*time.Millisecond)
		}
		if wctx.Err() != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if vd = verdict(); vd == control.Serve {
				return nil
			}
			return resource.Errorf(resource.KindReadSessionNotAvailable,
				"The read session is not available for the input session token: region %q has applied %s (epoch %d), the token requires %s.",
				r.self.Name, progress(p), r.epochOf(p), t)
		}
		vd = verdict()
	}
}

// epochOf is the session-token version of what p holds: the epoch this
// region adopted, or the epoch of p's last entry if that is later (a read
// region may apply a new write region's entries, relayed by a region that
// already follows it, a moment before it adopts the new epoch itself). A
// token must never name an epoch older than an entry it covers: that entry
// would look truncated by its own epoch's promotion.
func (r *Region) epochOf(p *partition.Partition) int64 {
	return max(r.view.Load().epoch, p.Epoch())
}

// meta is a response's metadata. For a write, lsn and epoch are its entry's:
// its session token names the epoch it was written in. For a read (lsn 0)
// the token covers the partition's horizon at the region's epoch.
func (r *Region) meta(co catalog.Container, p *partition.Partition, lsn, epoch int64, charge float64) httpapi.ResponseMeta {
	if r.mw {
		// Every version it wrote or may have read is durable and in the
		// region's vector by now.
		return httpapi.ResponseMeta{
			SessionToken: session.Format(rangeID, r.vectorToken(p.Vector())),
			Charge:       charge, ContainerRID: co.RID, Region: r.self.Name, LSN: p.Applied(),
		}
	}
	if epoch == 0 {
		epoch = r.epochOf(p)
	}
	if lsn == 0 {
		// A read's token must cover every version it may have returned:
		// the horizon bounds what the read could see (a committed batch is
		// visible a moment before Applied is published).
		lsn = p.Horizon()
	}
	return httpapi.ResponseMeta{
		SessionToken: session.Format(rangeID, session.Token{Version: epoch, GlobalLSN: lsn}),
		Charge:       charge,
		ContainerRID: co.RID,
		Region:       r.self.Name,
		LSN:          p.Applied(),
	}
}

// readCharge and writeCharge approximate Cosmos DB request units by size.
func readCharge(n int) float64  { return 1 + float64(n/1024)*0.1 }
func writeCharge(n int) float64 { return 5.71 + float64(n/1024)*1.9 }

// Item runs a point operation.
func (r *Region) Item(ctx context.Context, req httpapi.ItemRequest) (httpapi.ItemResponse, error) {
	co, p, err := r.containerAt(ctx, req.DB, req.Container, readToken(req.Op, req.Options))
	if err != nil {
		return httpapi.ItemResponse{}, err
	}
	level, err := r.effectiveLevel(req.Options)
	if err != nil {
		return httpapi.ItemResponse{}, err
	}
	if req.Op == httpapi.OpRead {
		return r.readItem(ctx, level, co, p, req)
	}
	if !r.isWriter() {
		return httpapi.ItemResponse{}, r.writeForbidden()
	}
	if _, _, err := token(req.Options.SessionToken); err != nil {
		return httpapi.ItemResponse{}, err
	}
	if err := r.validateSync(req.Options); err != nil {
		return httpapi.ItemResponse{}, err
	}
	if r.mw {
		// Writes follow the session's reads and writes: catch up first.
		if err := r.awaitSession(ctx, p, req.Options.SessionToken); err != nil {
			return httpapi.ItemResponse{}, err
		}
	}
	release, err := r.admitWrite(p)
	if err != nil {
		return httpapi.ItemResponse{}, err
	}
	op, err := partitionOp(httpapi.BatchOp{Op: req.Op, ID: req.ID, Body: req.Body, Patch: req.Patch, IfMatch: req.Options.IfMatch}, req.PartitionKey)
	if err != nil {
		return httpapi.ItemResponse{}, err
	}
	res, err := p.Write(ctx, op)
	release() // committed (Horizon counts it) or failed
	if err != nil {
		return httpapi.ItemResponse{}, err
	}
	if err := r.afterWrite(ctx, p, res.LSN, req.Options); err != nil {
		return httpapi.ItemResponse{}, err
	}
	resp := httpapi.ItemResponse{Status: 200, Meta: r.meta(co, p, res.LSN, res.Epoch, writeCharge(len(req.Body)))}
	switch {
	case req.Op == httpapi.OpDelete:
		resp.Status = 204
	case res.Created:
		resp.Status = 201
	}
	if res.Version != nil {
		resp.Body, resp.ETag, resp.Meta.ItemLSN = res.Version.JSON, res.Version.ETag, res.Version.LSN
	}
	return resp, nil
}

func (r *Region) readItem(ctx context.Context, level session.Level, co catalog.Container, p *partition.Partition, req httpapi.ItemRequest) (httpapi.ItemResponse, error) {
	if req.PartitionKey == nil {
		return httpapi.ItemResponse{}, resource.BadRequestf("The partition key header x-ms-documentdb-partitionkey is required to read an item.")
	}
	if err := resource.ValidateID(req.ID); err != nil {
		return httpapi.ItemResponse{}, err
	}
	if err := req.PartitionKey.Validate(co.PartitionKey); err != nil {
		return httpapi.ItemResponse{}, err
	}
	if err := r.awaitSession(ctx, p, req.Options.SessionToken); err != nil {
		return httpapi.ItemResponse{}, err
	}
	if err := r.readPrecheck(ctx, level, p); err != nil {
		return httpapi.ItemResponse{}, err
	}
	v, err := p.Get(req.PartitionKey, req.ID)
	if errors.Is(err, resource.ErrNotFound) {
		// Absence must be committed too: the Get saw a state no newer than
		// the partition's horizon now.
		if berr := r.readBarrier(ctx, level, p, p.Horizon()); berr != nil {
			return httpapi.ItemResponse{}, berr
		}
	}
	if errors.Is(err, resource.ErrNotFound) {
		// As Cosmos DB does, a not-found read still returns the session
		// token (the Node.js SDK harvests it from 404s).
		m := r.meta(co, p, 0, 0, 1)
		return httpapi.ItemResponse{}, &resource.Error{Kind: resource.KindNotFound, Msg: resource.ErrNotFound.Msg,
			SessionToken: m.SessionToken, ContainerRID: m.ContainerRID}
	}
	if err != nil {
		return httpapi.ItemResponse{}, err
	}
	if err := r.readBarrier(ctx, level, p, v.LSN); err != nil {
		return httpapi.ItemResponse{}, err
	}
	resp := httpapi.ItemResponse{Status: 200, ETag: v.ETag, Meta: r.meta(co, p, 0, 0, readCharge(len(v.JSON)))}
	resp.Meta.ItemLSN = v.LSN
	if inm := req.Options.IfNoneMatch; inm != "" && (inm == "*" || inm == v.ETag) {
		resp.Status = 304
		return resp, nil
	}
	resp.Body = v.JSON
	return resp, nil
}

// readToken is the session token a read carries ("" for writes).
func readToken(op httpapi.ItemOp, o httpapi.RequestOptions) string {
	if op != httpapi.OpRead {
		return ""
	}
	return o.SessionToken
}

// partitionOp converts a wire operation into a partition operation.
func partitionOp(b httpapi.BatchOp, pk pkey.Key) (partition.Op, error) {
	kind, ok := opKinds[b.Op]
	if !ok {
		return partition.Op{}, resource.BadRequestf("Unsupported operation type %v.", b.Op)
	}
	if b.PartitionKey != nil {
		pk = b.PartitionKey
	}
	op := partition.Op{Kind: kind, ID: b.ID, PK: pk, Patch: b.Patch, IfMatch: b.IfMatch, IfNoneMatch: b.IfNoneMatch}
	switch b.Op {
	case httpapi.OpCreate, httpapi.OpUpsert, httpapi.OpReplace:
		d, err := document.Parse(b.Body)
		if err != nil {
			return partition.Op{}, err
		}
		op.Doc = d
	case httpapi.OpPatch:
		if b.Patch == nil {
			return partition.Op{}, resource.BadRequestf("The patch operations are required.")
		}
	}
	return op, nil
}

// MaxBatchOps is the most operations a transactional batch may hold.
const MaxBatchOps = 100

// Batch runs a transactional batch or a bulk request.
func (r *Region) Batch(ctx context.Context, req httpapi.BatchRequest) (httpapi.BatchResponse, error) {
	co, p, err := r.container(req.DB, req.Container)
	if err != nil {
		return httpapi.BatchResponse{}, err
	}
	if _, err := r.effectiveLevel(req.Options); err != nil {
		return httpapi.BatchResponse{}, err
	}
	if !r.isWriter() {
		return httpapi.BatchResponse{}, r.writeForbidden()
	}
	if err := r.validateSync(req.Options); err != nil {
		return httpapi.BatchResponse{}, err
	}
	release, err := r.admitWrite(p)
	if err != nil {
		return httpapi.BatchResponse{}, err
	}
	defer release() // idempotent with the call after the write
	if len(req.Ops) == 0 {
		return httpapi.BatchResponse{}, resource.BadRequestf("The batch request has no operations.")
	}
	if req.Atomic && len(req.Ops) > MaxBatchOps {
		return httpapi.BatchResponse{}, resource.BadRequestf("A transactional batch may hold at most %d operations; this one has %d.", MaxBatchOps, len(req.Ops))
	}
	if req.Atomic && req.PartitionKey == nil {
		return httpapi.BatchResponse{}, resource.BadRequestf("A transactional batch needs the partition key header x-ms-documentdb-partitionkey.")
	}
	if err := r.awaitSession(ctx, p, req.Options.SessionToken); err != nil {
		return httpapi.BatchResponse{}, err
	}
	out := httpapi.BatchResponse{Results: make([]httpapi.BatchOpResult, len(req.Ops))}
	ops := make([]partition.Op, 0, len(req.Ops))
	idx := make([]int, 0, len(req.Ops)) // position in req.Ops of each op sent
	for i, bo := range req.Ops {
		if req.Atomic && bo.PartitionKey != nil && !bo.PartitionKey.Equal(req.PartitionKey) {
			err = resource.BadRequestf("Operation %d has a partition key different from the batch's.", i)
		} else {
			var op partition.Op
			op, err = partitionOp(bo, req.PartitionKey)
			if err == nil {
				ops = append(ops, op)
				idx = append(idx, i)
				continue
			}
		}
		if req.Atomic {
			// Validation failed before anything ran: report it like a
			// rolled-back batch.
			for j := range out.Results {
				out.Results[j] = opResult(partition.Result{Err: partition.ErrFailedDependency}, req.Ops[j].Op)
			}
			out.Results[i] = opResult(partition.Result{Err: err}, bo.Op)
			out.Failed = true
			out.Meta = r.meta(co, p, 0, 0, 1)
			return out, nil
		}
		out.Results[i] = opResult(partition.Result{Err: err}, bo.Op)
	}
	results, err := p.Batch(ctx, ops, req.Atomic)
	release()
	if err != nil {
		return httpapi.BatchResponse{}, err
	}
	var lsn, epoch int64
	var charge float64
	for k, res := range results {
		i := idx[k]
		out.Results[i] = opResult(res, req.Ops[i].Op)
		charge += out.Results[i].Charge
		if res.Err != nil && !errors.Is(res.Err, partition.ErrFailedDependency) {
			out.Failed = req.Atomic
		}
		if res.LSN > lsn {
			lsn, epoch = res.LSN, res.Epoch
		}
	}
	if err := r.afterWrite(ctx, p, lsn, req.Options); err != nil {
		return httpapi.BatchResponse{}, err
	}
	out.Meta = r.meta(co, p, lsn, epoch, charge)
	return out, nil
}

// writeForbidden is the 403/3 a read region answers to writes; the SDK
// then refreshes the account and retries in the write region.
func (r *Region) writeForbidden() error {
	v := r.view.Load()
	switch {
	case v.active:
		return resource.Errorf(resource.KindWriteForbidden, "Region %q is the write region but has lost contact with the control plane: it refuses writes until it regains it or a failover completes.", r.self.Name)
	case v.writer == "" && v.failover != nil:
		return resource.Errorf(resource.KindWriteForbidden, "A failover is in progress (epoch %d): writes are accepted again once the new write region is promoted.", v.failover.Epoch)
	}
	return resource.Errorf(resource.KindWriteForbidden, "Writes are accepted only in the write region %q; region %q is a read region.", v.writerName(), r.self.Name)
}

// opResult renders one batch operation's outcome; errors keep their
// *resource.Error so the HTTP layer's error table names the status.
func opResult(res partition.Result, op httpapi.ItemOp) httpapi.BatchOpResult {
	if res.Err != nil {
		return httpapi.BatchOpResult{Err: res.Err}
	}
	out := httpapi.BatchOpResult{Status: 200}
	switch {
	case op == httpapi.OpDelete:
		out.Status = 204
	case res.NotModified:
		out.Status = 304
	case res.Created:
		out.Status = 201
	}
	if res.Version != nil {
		out.ETag = res.Version.ETag
		if !res.NotModified {
			out.Body = res.Version.JSON
		}
		if op == httpapi.OpRead {
			out.Charge = readCharge(len(res.Version.JSON))
		} else {
			out.Charge = writeCharge(len(res.Version.JSON))
		}
	} else {
		out.Charge = writeCharge(0)
	}
	return out
}

// scanPrefix returns the encoded-key prefix a partition key selects: the
// exact key when it names every path, a prefix for a hierarchical prefix.
func scanPrefix(pk pkey.Key, co catalog.Container) ([]byte, error) {
	if pk == nil {
		return nil, nil
	}
	if len(pk) > len(co.PartitionKey.Paths) || len(pk) == 0 {
		return nil, resource.BadRequestf("The partition key %s has %d components; the container's partition key has %d paths.", pk.JSON(), len(pk), len(co.PartitionKey.Paths))
	}
	if len(pk) < len(co.PartitionKey.Paths) {
		if co.PartitionKey.Kind != "MultiHash" {
			return nil, resource.BadRequestf("The partition key %s has fewer components than the container's partition key.", pk.JSON())
		}
		return pk.AppendPrefix(nil), nil
	}
	return pk.Encode(), nil
}

// changeFeedTime is the start of the feed for If-Modified-Since.
func changeFeedETag(lsn int64) string { return strconv.Quote(strconv.FormatInt(lsn, 10)) }
