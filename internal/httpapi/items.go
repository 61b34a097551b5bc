package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/meridiandb/meridian/internal/pkey"
	"github.com/meridiandb/meridian/internal/resource"
)

// --- point operations ---

// itemBase parses what every point operation needs from the request.
func itemBase(c *call, op ItemOp) (ItemRequest, error) {
	req := ItemRequest{DB: c.segs[1], Container: c.segs[3], Op: op}
	if len(c.segs) == 6 {
		req.ID = c.segs[5]
	}
	var err error
	if req.PartitionKey, err = partitionKey(c.r); err != nil {
		return req, err
	}
	if req.Options, err = requestOptions(c.r); err != nil {
		return req, err
	}
	return req, nil
}

func (h *Handler) doItem(c *call, req ItemRequest) error {
	resp, err := h.b.Item(c.ctx, req)
	if err != nil {
		return err
	}
	status := resp.Status
	if status == 0 {
		switch req.Op {
		case OpCreate:
			status = http.StatusCreated
		case OpDelete:
			status = http.StatusNoContent
		default:
			status = http.StatusOK
		}
	}
	h.setMeta(c, resp.Meta, true)
	if resp.ETag != "" {
		setHeader(c.w.Header(), "Etag", resp.ETag)
	}
	body := resp.Body
	if req.Op.IsWrite() && preferMinimal(c.r) {
		body = nil
	}
	writeBody(c, status, body)
	return nil
}

func (h *Handler) readDoc(c *call) error {
	req, err := itemBase(c, OpRead)
	if err != nil {
		return err
	}
	return h.doItem(c, req)
}

func (h *Handler) deleteDoc(c *call) error {
	req, err := itemBase(c, OpDelete)
	if err != nil {
		return err
	}
	return h.doItem(c, req)
}

func (h *Handler) createDoc(c *call) error {
	upsert, err := headerBool(c.r, hdrIsUpsert)
	if err != nil {
		return err
	}
	op := OpCreate
	if upsert {
		op = OpUpsert
	}
	return h.writeDoc(c, op)
}

func (h *Handler) replaceDoc(c *call) error { return h.writeDoc(c, OpReplace) }

func (h *Handler) writeDoc(c *call, op ItemOp) error {
	req, err := itemBase(c, op)
	if err != nil {
		return err
	}
	if req.Body, err = h.readBody(c); err != nil {
		return err
	}
	if err := jsonObject(req.Body); err != nil {
		return err
	}
	return h.doItem(c, req)
}

func (h *Handler) patchDoc(c *call) error {
	req, err := itemBase(c, OpPatch)
	if err != nil {
		return err
	}
	body, err := h.readBody(c)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return resource.BadRequestf("The PATCH body is empty: expected {\"operations\":[...]} or an array of operations.")
	}
	if req.Patch, err = parsePatch(body); err != nil {
		return err
	}
	return h.doItem(c, req)
}

// --- queries and feeds ---

func queryBase(c *call) (QueryRequest, error) {
	req := QueryRequest{DB: c.segs[1], Container: c.segs[3], Continuation: c.r.Header.Get(hdrContinuation)}
	var err error
	if req.PartitionKey, err = partitionKey(c.r); err != nil {
		return req, err
	}
	if req.PKRangeID, err = pkRangeID(c.r); err != nil {
		return req, err
	}
	if req.MaxItemCount, err = maxItemCount(c.r); err != nil {
		return req, err
	}
	if req.Options, err = requestOptions(c.r); err != nil {
		return req, err
	}
	return req, nil
}

func (h *Handler) queryDocs(c *call) error {
	req, err := queryBase(c)
	if err != nil {
		return err
	}
	if req.Query, req.Parameters, err = h.readQueryBody(c); err != nil {
		return err
	}
	return h.doQuery(c, req)
}

// readDocFeed serves GET .../docs without A-IM: all items, paged.
func (h *Handler) readDocFeed(c *call) error {
	req, err := queryBase(c)
	if err != nil {
		return err
	}
	req.Query = "SELECT * FROM c"
	return h.doQuery(c, req)
}

func (h *Handler) doQuery(c *call, req QueryRequest) error {
	resp, err := h.b.Query(c.ctx, req)
	if err != nil {
		return err
	}
	h.setMeta(c, resp.Meta, true)
	writeFeed(c, resp.Meta.ContainerRID, "Documents", resp.Documents, resp.Continuation)
	return nil
}

// queryPlan answers the Node SDK's query-plan request without running the
// query.
func (h *Handler) queryPlan(c *call) error {
	q, _, err := h.readQueryBody(c)
	if err != nil {
		return err
	}
	plan, err := planJSON(q)
	if err != nil {
		return err
	}
	setCharge(c, chargeMetaRead)
	writeBody(c, http.StatusOK, plan)
	return nil
}

// --- change feed ---

func (h *Handler) changeFeed(c *call) error {
	aim := strings.TrimSpace(c.r.Header.Get(hdrAIM))
	switch {
	case strings.EqualFold(aim, "Incremental Feed"):
	case strings.EqualFold(aim, "Full-Fidelity Feed"):
		return resource.BadRequestf("Meridian does not support the all-versions-and-deletes change feed (A-IM: Full-Fidelity Feed); use the latest-version change feed (A-IM: Incremental Feed).")
	default:
		return badHeader(hdrAIM, aim, "expected Incremental Feed")
	}
	req := ChangeFeedRequest{DB: c.segs[1], Container: c.segs[3],
		StartEPK: c.r.Header.Get(hdrStartEPK), EndEPK: c.r.Header.Get(hdrEndEPK)}
	var err error
	if req.PartitionKey, err = partitionKey(c.r); err != nil {
		return err
	}
	if req.PKRangeID, err = pkRangeID(c.r); err != nil {
		return err
	}
	if req.MaxItemCount, err = maxItemCount(c.r); err != nil {
		return err
	}
	if req.Options, err = requestOptions(c.r); err != nil {
		return err
	}
	// If-None-Match is the change-feed continuation here, not a condition.
	req.Options.IfNoneMatch = ""
	switch inm := strings.TrimSpace(c.r.Header.Get(hdrIfNoneMatch)); {
	case inm == "*":
		req.Start = StartNow
	case inm != "":
		lsn, err := parseFeedETag(inm)
		if err != nil {
			return err
		}
		req.Start, req.AfterLSN = StartAfterLSN, lsn
	default:
		if ims := c.r.Header.Get(hdrIfModifiedSince); ims != "" {
			t, err := http.ParseTime(ims)
			if err != nil {
				// The Go SDK formats StartFrom with time.RFC1123 ("... UTC").
				t, err = time.Parse(time.RFC1123, ims)
			}
			if err != nil {
				return badHeader(hdrIfModifiedSince, ims, "expected an HTTP date such as Thu, 26 Nov 2026 13:08:15 GMT")
			}
			req.Start, req.Since = StartTime, t
		} else {
			req.Start = StartBeginning
		}
	}
	resp, err := h.b.ChangeFeed(c.ctx, req)
	if err != nil {
		return err
	}
	h.setMeta(c, resp.Meta, true)
	setHeader(c.w.Header(), "Etag", resp.ETag) // always, also on 304 (Node restarts at "now" otherwise)
	if resp.NotModified {
		writeBody(c, http.StatusNotModified, nil)
		return nil
	}
	writeFeed(c, resp.Meta.ContainerRID, "Documents", resp.Documents, "")
	return nil
}

// parseFeedETag parses a change-feed continuation etag: "<lsn>", quoted as
// Meridian issues it (unquoted is accepted).
func parseFeedETag(v string) (int64, error) {
	s := v
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, badHeader(hdrIfNoneMatch, v, `not a change feed continuation issued by Meridian (expected "*" or a quoted LSN such as "42")`)
	}
	return n, nil
}

// --- transactional batch and bulk ---

// MaxBatchOps is the most operations one batch or bulk request may carry,
// as in Cosmos DB.
const MaxBatchOps = 100

type wireBatchOp struct {
	OperationType string          `json:"operationType"`
	ID            string          `json:"id"`
	ResourceBody  json.RawMessage `json:"resourceBody"`
	IfMatch       string          `json:"ifMatch"`
	IfNoneMatch   string          `json:"ifNoneMatch"`
	PartitionKey  json.RawMessage `json:"partitionKey"`
}

type wireBatchResult struct {
	StatusCode    int             `json:"statusCode"`
	SubStatusCode int             `json:"subStatusCode,omitempty"`
	RequestCharge float64         `json:"requestCharge"`
	ETag          string          `json:"eTag,omitempty"`
	ResourceBody  json.RawMessage `json:"resourceBody,omitempty"`
	Message       string          `json:"message,omitempty"`
}

var batchOpTypes = map[string]ItemOp{
	"create": OpCreate, "upsert": OpUpsert, "read": OpRead,
	"replace": OpReplace, "delete": OpDelete, "patch": OpPatch,
}

func (h *Handler) batch(c *call) error {
	req := BatchRequest{DB: c.segs[1], Container: c.segs[3], Atomic: true}
	var err error
	if v := c.r.Header.Get(hdrBatchAtomic); v != "" {
		if req.Atomic, err = headerBool(c.r, hdrBatchAtomic); err != nil {
			return err
		}
	}
	if req.ContinueOnError, err = headerBool(c.r, hdrBatchContinue); err != nil {
		return err
	}
	if req.PartitionKey, err = partitionKey(c.r); err != nil {
		return err
	}
	if req.PKRangeID, err = pkRangeID(c.r); err != nil {
		return err
	}
	if req.Options, err = requestOptions(c.r); err != nil {
		return err
	}
	var wire []wireBatchOp
	if err := h.readJSON(c, &wire); err != nil {
		return err
	}
	switch {
	case len(wire) == 0:
		return resource.BadRequestf("The batch request has no operations.")
	case len(wire) > MaxBatchOps:
		return resource.BadRequestf("The batch request has %d operations; at most %d are allowed.", len(wire), MaxBatchOps)
	}
	req.Ops = make([]BatchOp, len(wire))
	for i, w := range wire {
		if req.Ops[i], err = batchOp(i, w); err != nil {
			return err
		}
	}
	resp, err := h.b.Batch(c.ctx, req)
	if err != nil {
		return err
	}
	minimal := preferMinimal(c.r)
	out := make([]wireBatchResult, len(resp.Results))
	failed := resp.Failed
	for i, r := range resp.Results {
		if r.Err != nil {
			we, _ := mapError(r.Err)
			r.Status, r.SubStatus, r.Message = we.status, we.substatus, we.message
			if r.Charge == 0 {
				r.Charge = 1
			}
		}
		out[i] = wireBatchResult{StatusCode: r.Status, RequestCharge: r.Charge, ETag: r.ETag, ResourceBody: r.Body}
		if r.Status >= 400 {
			failed = true
			out[i].SubStatusCode, out[i].Message = r.SubStatus, r.Message
		}
		if minimal && i < len(req.Ops) && req.Ops[i].Op.IsWrite() {
			out[i].ResourceBody = nil
		}
		if len(bytes.TrimSpace(out[i].ResourceBody)) == 0 {
			out[i].ResourceBody = nil
		}
	}
	h.setMeta(c, resp.Meta, true)
	status := http.StatusOK
	if failed {
		status = http.StatusMultiStatus
	}
	return writeJSON(c, status, out)
}

func batchOp(i int, w wireBatchOp) (BatchOp, error) {
	op, ok := batchOpTypes[strings.ToLower(w.OperationType)]
	if !ok {
		return BatchOp{}, resource.BadRequestf("Batch operation %d has an unknown operationType %q: use Create, Upsert, Read, Replace, Delete or Patch.", i, w.OperationType)
	}
	out := BatchOp{Op: op, ID: w.ID, IfMatch: w.IfMatch, IfNoneMatch: w.IfNoneMatch}
	body := bytes.TrimSpace(w.ResourceBody)
	if bytes.Equal(body, []byte("null")) {
		body = nil
	}
	switch op {
	case OpCreate, OpUpsert, OpReplace:
		if err := jsonObject(body); err != nil {
			return BatchOp{}, resource.BadRequestf("Batch operation %d (%s): resourceBody must be a JSON object.", i, w.OperationType)
		}
		out.Body = body
		if op == OpReplace && out.ID == "" {
			var head struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal(body, &head)
			out.ID = head.ID
		}
	case OpPatch:
		if len(body) == 0 {
			return BatchOp{}, resource.BadRequestf("Batch operation %d (Patch): resourceBody must hold the patch operations.", i)
		}
		spec, err := parsePatch(body)
		if err != nil {
			return BatchOp{}, resource.BadRequestf("Batch operation %d (Patch): %s", i, errMessage(err))
		}
		out.Patch = spec
	}
	if op != OpCreate && op != OpUpsert && out.ID == "" {
		return BatchOp{}, resource.BadRequestf("Batch operation %d (%s) needs an id.", i, w.OperationType)
	}
	if pk := bytes.TrimSpace(w.PartitionKey); len(pk) > 0 && !bytes.Equal(pk, []byte("null")) {
		s := string(pk)
		if pk[0] == '"' { // Node sends the JSON array as a JSON string
			if err := json.Unmarshal(pk, &s); err != nil {
				return BatchOp{}, resource.BadRequestf("Batch operation %d: partitionKey is not a valid JSON string: %v.", i, err)
			}
		}
		k, err := pkey.ParseHeader(s)
		if err != nil {
			return BatchOp{}, resource.BadRequestf("Batch operation %d: invalid partitionKey %q: expected a JSON array such as [\"p1\"].", i, s)
		}
		out.PartitionKey = k
	}
	return out, nil
}

// errMessage is the client-visible message of err.
func errMessage(err error) string {
	var re *resource.Error
	if errors.As(err, &re) {
		return re.Msg
	}
	return err.Error()
}
