package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/meridiandb/meridian/internal/resource"
	"github.com/meridiandb/meridian/internal/session"
)

// --- database account ---

type accountLocation struct {
	Name     string `json:"name"`
	Endpoint string `json:"databaseAccountEndpoint"`
}

type accountJSON struct {
	ID                           string            `json:"id"`
	RID                          string            `json:"_rid"`
	Self                         string            `json:"_self"`
	Media                        string            `json:"media"`
	Addresses                    string            `json:"addresses"`
	DBs                          string            `json:"_dbs"`
	WritableLocations            []accountLocation `json:"writableLocations"`
	ReadableLocations            []accountLocation `json:"readableLocations"`
	EnableMultipleWriteLocations bool              `json:"enableMultipleWriteLocations"`
	UserConsistencyPolicy        struct {
		DefaultConsistencyLevel string `json:"defaultConsistencyLevel"`
		MaxStalenessPrefix      int64  `json:"maxStalenessPrefix"`
		MaxIntervalInSeconds    int64  `json:"maxIntervalInSeconds"`
	} `json:"userConsistencyPolicy"`
	UserReplicationPolicy    replicationPolicy `json:"userReplicationPolicy"`
	SystemReplicationPolicy  replicationPolicy `json:"systemReplicationPolicy"`
	ReadPolicy               readPolicy        `json:"readPolicy"`
	QueryEngineConfiguration string            `json:"queryEngineConfiguration"`
}

type replicationPolicy struct {
	AsyncReplication  bool `json:"asyncReplication"`
	MinReplicaSetSize int  `json:"minReplicaSetSize"`
	MaxReplicasetSize int  `json:"maxReplicasetSize"`
}

type readPolicy struct {
	PrimaryReadCoefficient   int `json:"primaryReadCoefficient"`
	SecondaryReadCoefficient int `json:"secondaryReadCoefficient"`
}

// queryEngineConfiguration is sent as a JSON string, as Cosmos DB does.
const queryEngineConfiguration = `{"allowNewKeywords":true,"maxJoinsPerSqlQuery":10,"maxQueryRequestTimeoutFraction":0.9,"maxSqlQueryInputLength":524288,"maxUdfRefPerSqlQuery":10,"queryEngineConfiguration":"","spatialMaxGeometryPointCount":256,"sqlAllowActiveSubqueries":true,"sqlAllowAggregateFunctions":true,"sqlAllowGroupByClause":true,"sqlAllowLike":true,"sqlAllowSubQuery":true,"sqlAllowTop":true}`

func (h *Handler) getAccount(c *call) error {
	info := h.b.Account(c.ctx)
	scheme := "http"
	if c.r.TLS != nil {
		scheme = "https"
	}
	render := func(locs []Location) []accountLocation {
		out := make([]accountLocation, 0, len(locs))
		for _, l := range locs {
			ep := l.Endpoint
			if ep == "" {
				ep = c.r.Host
			}
			out = append(out, accountLocation{Name: l.Name, Endpoint: scheme + "://" + ep + "/"})
		}
		return out
	}
	var a accountJSON
	a.ID = info.ID
	if a.ID == "" || strings.EqualFold(a.ID, "localhost") {
		// The Node SDK ignores the locations of an account named localhost.
		a.ID = "meridian"
	}
	a.RID = a.ID + ".meridian"
	a.Media, a.Addresses, a.DBs = "//media/", "//addresses/", "//dbs/"
	a.WritableLocations = render(info.WritableLocations)
	a.ReadableLocations = render(info.ReadableLocations)
	a.EnableMultipleWriteLocations = info.MultipleWriteLocs
	lvl := info.Consistency
	if lvl == session.LevelUnset {
		lvl = session.Session
	}
	a.UserConsistencyPolicy.DefaultConsistencyLevel = lvl.String()
	a.UserConsistencyPolicy.MaxStalenessPrefix = info.MaxStalenessPrefix
	a.UserConsistencyPolicy.MaxIntervalInSeconds = info.MaxIntervalSeconds
	if a.UserConsistencyPolicy.MaxStalenessPrefix <= 0 {
		a.UserConsistencyPolicy.MaxStalenessPrefix = 100
	}
	if a.UserConsistencyPolicy.MaxIntervalInSeconds <= 0 {
		a.UserConsistencyPolicy.MaxIntervalInSeconds = 5
	}
	a.UserReplicationPolicy = replicationPolicy{MinReplicaSetSize: 1, MaxReplicasetSize: 4}
	a.SystemReplicationPolicy = replicationPolicy{MinReplicaSetSize: 1, MaxReplicasetSize: 4}
	a.ReadPolicy = readPolicy{PrimaryReadCoefficient: 1, SecondaryReadCoefficient: 1}
	a.QueryEngineConfiguration = queryEngineConfiguration
	setCharge(c, chargeMetaRead)
	if h.cfg.RegionName != "" {
		setHeader(c.w.Header(), hdrRegion, h.cfg.RegionName)
	}
	return writeJSON(c, http.StatusOK, a)
}

// --- shared helpers for metadata resources ---

// queryBody is the body of a query (and query-plan) request.
type queryBody struct {
	Query      *string      `json:"query"`
	Parameters []QueryParam `json:"parameters"`
}

func (h *Handler) readQueryBody(c *call) (string, []QueryParam, error) {
	var qb queryBody
	if err := h.readJSON(c, &qb); err != nil {
		return "", nil, err
	}
	if qb.Query == nil || strings.TrimSpace(*qb.Query) == "" {
		return "", nil, resource.BadRequestf(`The query body has no query: expected {"query":"SELECT ...","parameters":[...]}.`)
	}
	return *qb.Query, qb.Parameters, nil
}

// marshalAll marshals resources for a feed or an in-memory query.
func marshalAll[T any](items []T) ([]json.RawMessage, error) {
	out := make([]json.RawMessage, len(items))
	for i, it := range items {
		b, err := json.Marshal(it)
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

// defaultMetaPageSize is the page size of metadata feeds and queries when
// the client gives none (as Cosmos DB).
const defaultMetaPageSize = 100

// pageOf cuts one page out of an in-memory result using x-ms-max-item-count
// and x-ms-continuation (a decimal offset Meridian issued).
func pageOf(c *call, all []json.RawMessage) ([]json.RawMessage, string, error) {
	n, err := maxItemCount(c.r)
	if err != nil {
		return nil, "", err
	}
	if n == 0 {
		n = defaultMetaPageSize
	}
	off := 0
	if v := strings.TrimSpace(c.r.Header.Get(hdrContinuation)); v != "" {
		off, err = strconv.Atoi(v)
		if err != nil || off < 0 || off > len(all) {
			return nil, "", badHeader(hdrContinuation, v, "not a continuation token issued for this feed")
		}
	}
	end := min(off+n, len(all))
	next := ""
	if end < len(all) {
		next = strconv.Itoa(end)
	}
	return all[off:end], next, nil
}

// metaFeed writes a paged read feed of resources.
func metaFeed[T any](c *call, rid, name string, items []T) error {
	all, err := marshalAll(items)
	if err != nil {
		return err
	}
	page, next, err := pageOf(c, all)
	if err != nil {
		return err
	}
	setCharge(c, chargeMetaRead)
	writeFeed(c, rid, name, page, next)
	return nil
}

// metaQuery runs the request's query over resources and writes one page.
// Paging and continuation tokens are the query package's.
func (h *Handler) metaQuery(c *call, rid, name string, all []json.RawMessage) error {
	n, err := maxItemCount(c.r)
	if err != nil {
		return err
	}
	q, params, err := h.readQueryBody(c)
	if err != nil {
		return err
	}
	page, err := runQueryPage(c.ctx, q, params, all, n, c.r.Header.Get(hdrContinuation))
	if err != nil {
		return err
	}
	setCharge(c, chargeMetaRead+float64(len(all))/100)
	writeFeed(c, rid, name, page.Docs, page.Continuation)
	return nil
}

// conditionalRead applies If-None-Match (304) and If-Match (412) to a
// metadata read. It reports true when a 304 was written.
func conditionalRead(c *call, etag string) (bool, error) {
	if inm := c.r.Header.Get(hdrIfNoneMatch); inm != "" && (inm == "*" || inm == etag) {
		setHeader(c.w.Header(), "Etag", etag)
		setCharge(c, chargeMetaRead)
		writeBody(c, http.StatusNotModified, nil)
		return true, nil
	}
	if im := c.r.Header.Get(hdrIfMatch); im != "" && im != "*" && im != etag {
		return false, resource.ErrPreconditionFailed
	}
	return false, nil
}

// writeResource writes a metadata resource with its etag.
func writeResource(c *call, status int, etag string, charge float64, v any) error {
	if etag != "" {
		setHeader(c.w.Header(), "Etag", etag)
	}
	setCharge(c, charge)
	return writeJSON(c, status, v)
}

// --- databases ---

func (h *Handler) listDatabases(c *call) error {
	dbs, err := h.b.ListDatabases(c.ctx)
	if err != nil {
		return err
	}
	return metaFeed(c, "", "Databases", dbs)
}

func (h *Handler) queryDatabases(c *call) error {
	dbs, err := h.b.ListDatabases(c.ctx)
	if err != nil {
		return err
	}
	all, err := marshalAll(dbs)
	if err != nil {
		return err
	}
	return h.metaQuery(c, "", "Databases", all)
}

func (h *Handler) createDatabase(c *call) error {
	tp, err := throughput(c.r)
	if err != nil {
		return err
	}
	var body struct {
		ID string `json:"id"`
	}
	if err := h.readJSON(c, &body); err != nil {
		return err
	}
	if err := resource.ValidateID(body.ID); err != nil {
		return err
	}
	db, err := h.b.CreateDatabase(c.ctx, body.ID, tp)
	if err != nil {
		return err
	}
	return writeResource(c, http.StatusCreated, db.ETag, chargeMetaWrite, db)
}

func (h *Handler) readDatabase(c *call) error {
	db, err := h.b.ReadDatabase(c.ctx, c.segs[1])
	if err != nil {
		return err
	}
	if done, err := conditionalRead(c, db.ETag); done || err != nil {
		return err
	}
	return writeResource(c, http.StatusOK, db.ETag, chargeMetaRead, db)
}

func (h *Handler) deleteDatabase(c *call) error {
	if im := c.r.Header.Get(hdrIfMatch); im != "" && im != "*" {
		db, err := h.b.ReadDatabase(c.ctx, c.segs[1])
		if err != nil {
			return err
		}
		if db.ETag != im {
			return resource.ErrPreconditionFailed
		}
	}
	if err := h.b.DeleteDatabase(c.ctx, c.segs[1]); err != nil {
		return err
	}
	setCharge(c, chargeMetaWrite)
	writeBody(c, http.StatusNoContent, nil)
	return nil
}

// --- containers ---

func (h *Handler) listContainers(c *call) error {
	db, err := h.b.ReadDatabase(c.ctx, c.segs[1])
	if err != nil {
		return err
	}
	cs, err := h.b.ListContainers(c.ctx, c.segs[1])
	if err != nil {
		return err
	}
	return metaFeed(c, db.RID, "DocumentCollections", cs)
}

func (h *Handler) queryContainers(c *call) error {
	db, err := h.b.ReadDatabase(c.ctx, c.segs[1])
	if err != nil {
		return err
	}
	cs, err := h.b.ListContainers(c.ctx, c.segs[1])
	if err != nil {
		return err
	}
	all, err := marshalAll(cs)
	if err != nil {
		return err
	}
	return h.metaQuery(c, db.RID, "DocumentCollections", all)
}

func (h *Handler) createContainer(c *call) error {
	tp, err := throughput(c.r)
	if err != nil {
		return err
	}
	var spec resource.Container
	if err := h.readJSON(c, &spec); err != nil {
		return err
	}
	if err := resource.ValidateID(spec.ID); err != nil {
		return err
	}
	ct, err := h.b.CreateContainer(c.ctx, c.segs[1], spec, tp)
	if err != nil {
		return err
	}
	return writeResource(c, http.StatusCreated, ct.ETag, chargeMetaWrite, ct)
}

func (h *Handler) readContainer(c *call) error {
	ct, err := h.b.ReadContainer(c.ctx, c.segs[1], c.segs[3])
	if err != nil {
		return err
	}
	if done, err := conditionalRead(c, ct.ETag); done || err != nil {
		return err
	}
	setHeader(c.w.Header(), hdrContentPath, ct.RID)
	return writeResource(c, http.StatusOK, ct.ETag, chargeMetaRead, ct)
}

func (h *Handler) replaceContainer(c *call) error {
	var spec resource.Container
	if err := h.readJSON(c, &spec); err != nil {
		return err
	}
	switch {
	case spec.ID == "":
		spec.ID = c.segs[3]
	case spec.ID != c.segs[3]:
		return resource.BadRequestf("The id %q in the body does not match the container %q in the path.", spec.ID, c.segs[3])
	}
	ct, err := h.b.ReplaceContainer(c.ctx, c.segs[1], spec, c.r.Header.Get(hdrIfMatch))
	if err != nil {
		return err
	}
	return writeResource(c, http.StatusOK, ct.ETag, chargeMetaWrite, ct)
}

func (h *Handler) deleteContainer(c *call) error {
	if im := c.r.Header.Get(hdrIfMatch); im != "" && im != "*" {
		ct, err := h.b.ReadContainer(c.ctx, c.segs[1], c.segs[3])
		if err != nil {
			return err
		}
		if ct.ETag != im {
			return resource.ErrPreconditionFailed
		}
	}
	if err := h.b.DeleteContainer(c.ctx, c.segs[1], c.segs[3]); err != nil {
		return err
	}
	setCharge(c, chargeMetaWrite)
	writeBody(c, http.StatusNoContent, nil)
	return nil
}

// --- partition key ranges ---

// pkRange is the one partition key range Meridian exposes per container.
type pkRange struct {
	ID                 string   `json:"id"`
	RID                string   `json:"_rid"`
	ETag               string   `json:"_etag"`
	MinInclusive       string   `json:"minInclusive"`
	MaxExclusive       string   `json:"maxExclusive"`
	RIDPrefix          int      `json:"ridPrefix"`
	Self               string   `json:"_self"`
	ThroughputFraction float64  `json:"throughputFraction"`
	Status             string   `json:"status"`
	Parents            []string `json:"parents"`
	TS                 int64    `json:"_ts"`
}

// readPKRanges serves GET .../pkranges (and .../pkranges/0). The etag is
// derived from the container _rid, so it is stable for the container's
// life: the Go SDK repeats the request with If-None-Match until it gets 304.
func (h *Handler) readPKRanges(c *call) error {
	ct, err := h.b.ReadContainer(c.ctx, c.segs[1], c.segs[3])
	if err != nil {
		return err
	}
	etag := `"pkr-` + ct.RID + `"`
	rng := pkRange{
		ID: "0", RID: pkRangeRID(ct.RID), ETag: etag, MinInclusive: "", MaxExclusive: "FF",
		ThroughputFraction: 1, Status: "online", Parents: []string{}, TS: ct.TS,
	}
	rng.Self = ct.Self + "pkranges/" + rng.RID + "/"
	hdr := c.w.Header()
	setHeader(hdr, "Etag", etag)
	setCharge(c, chargeMetaRead)
	if len(c.segs) == 6 {
		if c.segs[5] != rng.ID {
			return errorf(resource.KindNotFound, "The partition key range %q does not exist.", c.segs[5])
		}
		return writeJSON(c, http.StatusOK, rng)
	}
	if inm := c.r.Header.Get(hdrIfNoneMatch); inm != "" && inm == etag {
		writeBody(c, http.StatusNotModified, nil)
		return nil
	}
	b, err := json.Marshal(rng)
	if err != nil {
		return err
	}
	writeFeed(c, ct.RID, "PartitionKeyRanges", []json.RawMessage{b}, "")
	return nil
}

// pkRangeRID extends a container _rid to a range _rid, as Cosmos DB does.
func pkRangeRID(collRID string) string {
	b, err := base64.StdEncoding.DecodeString(collRID)
	if err != nil || len(b) != 8 {
		return collRID
	}
	b = append(b, 2, 0, 0, 0, 0, 0, 0, 0x50)
	return base64.StdEncoding.EncodeToString(b)
}

// --- offers ---

func (h *Handler) listOffers(c *call) error {
	offers, err := h.b.ListOffers(c.ctx)
	if err != nil {
		return err
	}
	return metaFeed(c, "", "Offers", offers)
}

func (h *Handler) queryOffers(c *call) error {
	offers, err := h.b.ListOffers(c.ctx)
	if err != nil {
		return err
	}
	all, err := marshalAll(offers)
	if err != nil {
		return err
	}
	return h.metaQuery(c, "", "Offers", all)
}

func (h *Handler) readOffer(c *call) error {
	o, err := h.b.ReadOffer(c.ctx, c.segs[1])
	if err != nil {
		return err
	}
	if done, err := conditionalRead(c, o.ETag); done || err != nil {
		return err
	}
	return writeResource(c, http.StatusOK, o.ETag, chargeMetaRead, o)
}

func (h *Handler) replaceOffer(c *call) error {
	var o resource.Offer
	if err := h.readJSON(c, &o); err != nil {
		return err
	}
	if o.ID != "" && o.ID != c.segs[1] {
		return resource.BadRequestf("The id %q in the body does not match the offer %q in the path.", o.ID, c.segs[1])
	}
	if im := c.r.Header.Get(hdrIfMatch); im != "" && im != "*" {
		cur, err := h.b.ReadOffer(c.ctx, c.segs[1])
		if err != nil {
			return err
		}
		if cur.ETag != im {
			return resource.ErrPreconditionFailed
		}
	}
	out, err := h.b.ReplaceOffer(c.ctx, c.segs[1], o)
	if err != nil {
		return err
	}
	return writeResource(c, http.StatusOK, out.ETag, chargeMetaWrite, out)
}

// --- conflicts ---

func (h *Handler) conflictsOf(c *call) ([]json.RawMessage, error) {
	return h.b.Conflicts(c.ctx, c.segs[1], c.segs[3])
}

func (h *Handler) listConflicts(c *call) error {
	all, err := h.conflictsOf(c)
	if err != nil {
		return err
	}
	page, next, err := pageOf(c, all)
	if err != nil {
		return err
	}
	setCharge(c, chargeMetaRead)
	writeFeed(c, "", "Conflicts", page, next)
	return nil
}

func (h *Handler) queryConflicts(c *call) error {
	all, err := h.conflictsOf(c)
	if err != nil {
		return err
	}
	return h.metaQuery(c, "", "Conflicts", all)
}

func (h *Handler) readConflict(c *call) error {
	all, err := h.conflictsOf(c)
	if err != nil {
		return err
	}
	for _, raw := range all {
		var head struct {
			ID   string `json:"id"`
			ETag string `json:"_etag"`
		}
		if json.Unmarshal(raw, &head) == nil && head.ID == c.segs[5] {
			return writeResource(c, http.StatusOK, head.ETag, chargeMetaRead, raw)
		}
	}
	return resource.ErrNotFound
}

func (h *Handler) deleteConflict(c *call) error {
	if err := h.b.DeleteConflict(c.ctx, c.segs[1], c.segs[3], c.segs[5]); err != nil {
		return err
	}
	setCharge(c, chargeMetaWrite)
	writeBody(c, http.StatusNoContent, nil)
	return nil
}
