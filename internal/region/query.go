package region

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/meridiandb/meridian/internal/document"
	"github.com/meridiandb/meridian/internal/httpapi"
	"github.com/meridiandb/meridian/internal/partition"
	"github.com/meridiandb/meridian/internal/pkey"
	"github.com/meridiandb/meridian/internal/query"
	"github.com/meridiandb/meridian/internal/resource"
)

// partSource lets the query engine scan a partition.
type partSource struct {
	p      *partition.Partition
	prefix []byte
}

func (s partSource) Scan(ctx context.Context, after []byte, fn func(key, doc []byte) bool) error {
	return s.p.Scan(ctx, s.prefix, after, func(k []byte, v *partition.Version) bool { return fn(k, v.JSON) })
}

// Query runs a Cosmos SQL query over one logical partition or all of them.
func (r *Region) Query(ctx context.Context, req httpapi.QueryRequest) (httpapi.QueryResponse, error) {
	co, p, err := r.containerAt(ctx, req.DB, req.Container, req.Options.SessionToken)
	if err != nil {
		return httpapi.QueryResponse{}, err
	}
	level, err := r.effectiveLevel(req.Options)
	if err != nil {
		return httpapi.QueryResponse{}, err
	}
	if req.PKRangeID != "" && req.PKRangeID != rangeID {
		return httpapi.QueryResponse{}, resource.BadRequestf("Unknown partition key range id %q: this container has one range, %q.", req.PKRangeID, rangeID)
	}
	prefix, err := scanPrefix(req.PartitionKey, co)
	if err != nil {
		return httpapi.QueryResponse{}, err
	}
	q, err := query.Parse(req.Query)
	if err != nil {
		return httpapi.QueryResponse{}, err
	}
	if err := r.awaitSession(ctx, p, req.Options.SessionToken); err != nil {
		return httpapi.QueryResponse{}, err
	}
	if err := r.readPrecheck(ctx, level, p); err != nil {
		return httpapi.QueryResponse{}, err
	}
	params := make([]query.Param, len(req.Parameters))
	for i, prm := range req.Parameters {
		params[i] = query.Param{Name: prm.Name, Value: prm.Value}
	}
	page, err := q.Execute(ctx, partSource{p: p, prefix: prefix}, params, query.Options{MaxItems: req.MaxItemCount, Continuation: req.Continuation})
	if err != nil {
		return httpapi.QueryResponse{}, err
	}
	// The scan read a state no newer than the partition's horizon now: Strong
	// returns it only once all of that is committed (bounded staleness:
	// once the region is within its bounds).
	if err := r.readBarrier(ctx, level, p, p.Horizon()); err != nil {
		return httpapi.QueryResponse{}, err
	}
	size := 0
	for _, d := range page.Docs {
		size += len(d)
	}
	return httpapi.QueryResponse{
		Documents:    page.Docs,
		Continuation: page.Continuation,
		Meta:         r.meta(co, p, 0, 0, 2.31+float64(size/1024)*0.3),
	}, nil
}

// ChangeFeed returns the latest version of items changed after the start
// point, in LSN order. The etag continuation is the LSN to resume after.
func (r *Region) ChangeFeed(ctx context.Context, req httpapi.ChangeFeedRequest) (httpapi.ChangeFeedResponse, error) {
	co, p, err := r.containerAt(ctx, req.DB, req.Container, req.Options.SessionToken)
	if err != nil {
		return httpapi.ChangeFeedResponse{}, err
	}
	if req.PKRangeID != "" && req.PKRangeID != rangeID {
		return httpapi.ChangeFeedResponse{}, resource.BadRequestf("Unknown partition key range id %q: this container has one range, %q.", req.PKRangeID, rangeID)
	}
	if err := r.awaitSession(ctx, p, req.Options.SessionToken); err != nil {
		return httpapi.ChangeFeedResponse{}, err
	}
	var after int64
	var keep []func(key []byte, v *partition.Version) bool
	switch req.Start {
	case httpapi.StartNow:
		lsn := p.Applied()
		return httpapi.ChangeFeedResponse{NotModified: true, ETag: changeFeedETag(lsn), Meta: r.meta(co, p, 0, 0, 1)}, nil
	case httpapi.StartAfterLSN:
		if req.AfterLSN < 0 {
			return httpapi.ChangeFeedResponse{}, resource.BadRequestf("Invalid change feed continuation %d.", req.AfterLSN)
		}
		after = req.AfterLSN
	case httpapi.StartTime:
		since := req.Since.Unix()
		keep = append(keep, func(_ []byte, v *partition.Version) bool { return v.TS >= since })
	}
	if req.PartitionKey != nil {
		prefix, err := scanPrefix(req.PartitionKey, co)
		if err != nil {
			return httpapi.ChangeFeedResponse{}, err
		}
		keep = append(keep, func(k []byte, _ *partition.Version) bool { return hasPrefix(k, prefix) })
	}
	if (req.StartEPK != "" || req.EndEPK != "") && !(req.StartEPK == "" && (req.EndEPK == "" || req.EndEPK == "FF")) {
		lo, hi := req.StartEPK, req.EndEPK
		keep = append(keep, func(_ []byte, v *partition.Version) bool {
			epk, ok := itemEPK(v.JSON, co.PartitionKey)
			return ok && epk >= lo && (hi == "" || epk < hi)
		})
	}
	vers, next, err := p.Changes(ctx, after, req.MaxItemCount, func(k []byte, v *partition.Version) bool {
		for _, f := range keep {
			if !f(k, v) {
				return false
			}
		}
		return true
	})
	if err != nil {
		return httpapi.ChangeFeedResponse{}, err
	}
	resp := httpapi.ChangeFeedResponse{ETag: changeFeedETag(next), Meta: r.meta(co, p, 0, 0, 1)}
	if len(vers) == 0 {
		resp.NotModified = true
		return resp, nil
	}
	size := 0
	resp.Documents = make([]json.RawMessage, len(vers))
	for i, v := range vers {
		resp.Documents[i] = withLSN(v.JSON, v.LSN)
		size += len(v.JSON)
	}
	resp.Meta.Charge = readCharge(size)
	return resp, nil
}

func hasPrefix(k, prefix []byte) bool {
	return len(k) >= len(prefix) && string(k[:len(prefix)]) == string(prefix)
}

// withLSN adds the _lsn system property change-feed items carry.
func withLSN(doc []byte, lsn int64) json.RawMessage {
	out := make([]byte, 0, len(doc)+24)
	out = append(out, doc[:len(doc)-1]...)
	out = append(out, `,"_lsn":`...)
	out = strconv.AppendInt(out, lsn, 10)
	return append(out, '}')
}

// itemEPK computes an item's effective partition key from its JSON.
func itemEPK(doc []byte, def resource.PartitionKeyDefinition) (string, bool) {
	d, err := document.Parse(doc)
	if err != nil {
		return "", false
	}
	tops := make([]string, len(def.Paths))
	for i, path := range def.Paths {
		tops[i] = document.TopLevelOf(path)
	}
	tree, err := d.Tree(tops...)
	if err != nil {
		return "", false
	}
	k, err := pkey.FromDocument(tree, def)
	if err != nil {
		return "", false
	}
	epk, err := pkey.EPK(k, def)
	return epk, err == nil
}
