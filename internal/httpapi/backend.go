package httpapi

import (
	"context"
	"encoding/json"
	"time"

	"github.com/meridiandb/meridian/internal/patch"
	"github.com/meridiandb/meridian/internal/pkey"
	"github.com/meridiandb/meridian/internal/resource"
	"github.com/meridiandb/meridian/internal/session"
)

// Backend is what the REST edge needs from the region it serves. The HTTP
// layer parses and validates the wire format (paths, headers, bodies), calls
// Backend, and renders the result or maps the returned error (a
// *resource.Error) through its one error table. Backend implementations
// never see net/http.
type Backend interface {
	// Account describes the account as this region sees it (GET /).
	Account(ctx context.Context) AccountInfo

	CreateDatabase(ctx context.Context, id string, tp resource.Throughput) (resource.Database, error)
	ReadDatabase(ctx context.Context, id string) (resource.Database, error)
	ListDatabases(ctx context.Context) ([]resource.Database, error)
	DeleteDatabase(ctx context.Context, id string) error

	// CreateContainer stores spec (id, partitionKey, policies, defaultTtl);
	// system properties in spec are ignored.
	CreateContainer(ctx context.Context, db string, spec resource.Container, tp resource.Throughput) (resource.Container, error)
	ReadContainer(ctx context.Context, db, id string) (resource.Container, error)
	ListContainers(ctx context.Context, db string) ([]resource.Container, error)
	// ReplaceContainer replaces the mutable settings (indexing policy,
	// defaultTtl, ...). Changing the partition key is a 400.
	ReplaceContainer(ctx context.Context, db string, spec resource.Container, ifMatch string) (resource.Container, error)
	DeleteContainer(ctx context.Context, db, id string) error

	ListOffers(ctx context.Context) ([]resource.Offer, error)
	ReadOffer(ctx context.Context, id string) (resource.Offer, error)
	ReplaceOffer(ctx context.Context, id string, offer resource.Offer) (resource.Offer, error)

	// Item runs a point operation (create, upsert, replace, delete, patch, read).
	Item(ctx context.Context, req ItemRequest) (ItemResponse, error)
	// Batch runs a transactional batch (Atomic) or a bulk request.
	Batch(ctx context.Context, req BatchRequest) (BatchResponse, error)
	// Query runs a Cosmos SQL query over one partition key or all of them.
	Query(ctx context.Context, req QueryRequest) (QueryResponse, error)
	// ChangeFeed reads the incremental change feed of a container.
	ChangeFeed(ctx context.Context, req ChangeFeedRequest) (ChangeFeedResponse, error)

	// Conflicts lists the conflict resources of a container (GET
	// .../colls/{c}/conflicts), each a JSON object with at least "id" and
	// "_etag". A missing database or container is KindNotFound.
	Conflicts(ctx context.Context, db, coll string) ([]json.RawMessage, error)
	// DeleteConflict removes one conflict resource (DELETE
	// .../conflicts/{id}); KindNotFound if it does not exist.
	DeleteConflict(ctx context.Context, db, coll, id string) error
}

// AccountInfo is the database account document's content.
type AccountInfo struct {
	ID                 string
	WritableLocations  []Location
	ReadableLocations  []Location
	Consistency        session.Level
	MaxStalenessPrefix int64 // bounded staleness K
	MaxIntervalSeconds int64 // bounded staleness T
	MultipleWriteLocs  bool
}

// Location is one region of the account. Endpoint is "host:port"; the HTTP
// layer renders it with the scheme of the request being answered.
type Location struct {
	Name     string
	Endpoint string
}

// ItemOp is a point operation on an item.
type ItemOp int

// Point operations.
const (
	OpCreate ItemOp = iota + 1
	OpUpsert
	OpReplace
	OpDelete
	OpPatch
	OpRead
)

func (o ItemOp) String() string {
	switch o {
	case OpCreate:
		return "Create"
	case OpUpsert:
		return "Upsert"
	case OpReplace:
		return "Replace"
	case OpDelete:
		return "Delete"
	case OpPatch:
		return "Patch"
	case OpRead:
		return "Read"
	}
	return "Unknown"
}

// IsWrite reports whether the operation changes data.
func (o ItemOp) IsWrite() bool { return o != OpRead }

// RequestOptions are the per-request x-ms-* options shared by data-plane calls.
type RequestOptions struct {
	Consistency  session.Level // LevelUnset: the account default
	SessionToken string        // raw x-ms-session-token, "" if absent
	IfMatch      string        // raw If-Match, "" if absent
	IfNoneMatch  string        // raw If-None-Match, "" if absent
	// SyncRegions (x-meridian-sync-regions) names regions that must hold a
	// write durably before it is acknowledged.
	SyncRegions []string
	// SyncMinRegions (x-meridian-sync-min-regions) asks for the write to be
	// durable in at least this many regions besides the write region.
	SyncMinRegions int
}

// ItemRequest is a point operation on one item.
type ItemRequest struct {
	DB, Container string
	Op            ItemOp
	// ID is the id from the URL (replace, delete, patch, read); empty for
	// create and upsert, whose id comes from the body.
	ID string
	// PartitionKey is from x-ms-documentdb-partitionkey; nil when absent.
	PartitionKey pkey.Key
	// Body is the raw JSON document for create, upsert and replace.
	Body []byte
	// Patch is the parsed PATCH body.
	Patch   *patch.Spec
	Options RequestOptions
}

// ItemResponse is the result of a point operation.
type ItemResponse struct {
	// Status is the success status: 200, 201 (created), 204 (deleted) or
	// 304 (read with a matching If-None-Match).
	Status int
	// Body is the stored document with its system properties (nil after a
	// delete or a 304). The HTTP layer drops it for Prefer: return=minimal.
	Body []byte
	ETag string
	Meta ResponseMeta
}

// ResponseMeta is what every data-plane response reports besides its body.
type ResponseMeta struct {
	SessionToken string  // x-ms-session-token, e.g. "0:1#42"
	Charge       float64 // x-ms-request-charge
	// ContainerRID is the container's _rid, sent as x-ms-content-path.
	ContainerRID string
	// Region and LSN are x-meridian-region and x-meridian-lsn: the region
	// that served the request and its applied LSN for the partition.
	Region string
	LSN    int64
	// ItemLSN is the LSN of the item version returned, when there is one.
	ItemLSN int64
}

// BatchOp is one operation of a transactional batch or bulk request.
type BatchOp struct {
	Op          ItemOp
	ID          string
	Body        []byte
	Patch       *patch.Spec
	IfMatch     string
	IfNoneMatch string
	// PartitionKey is the operation's own key (bulk); nil to use the batch's.
	PartitionKey pkey.Key
}

// BatchRequest is a transactional batch (Atomic: all or nothing, within one
// partition key) or a bulk request (not atomic, ContinueOnError).
type BatchRequest struct {
	DB, Container   string
	PartitionKey    pkey.Key
	PKRangeID       string
	Ops             []BatchOp
	Atomic          bool
	ContinueOnError bool
	Options         RequestOptions
}

// BatchOpResult is one element of the batch response array. When Err is
// set (a *resource.Error), the HTTP layer derives statusCode and
// subStatusCode from its error table and Status is ignored.
type BatchOpResult struct {
	Err       error
	Status    int
	SubStatus int
	ETag      string
	Body      []byte
	Charge    float64
	Message   string
}

// BatchResponse holds one result per operation, in order. Failed is true
// when an atomic batch was rolled back (HTTP 207).
type BatchResponse struct {
	Results []BatchOpResult
	Failed  bool
	Meta    ResponseMeta
}

// QueryParam is a named query parameter (@name).
type QueryParam struct {
	Name  string          `json:"name"`
	Value json.RawMessage `json:"value"`
}

// QueryRequest is a Cosmos SQL query over a container's items.
type QueryRequest struct {
	DB, Container string
	// PartitionKey scopes the query to one logical partition; nil means
	// all partitions.
	PartitionKey pkey.Key
	PKRangeID    string
	Query        string
	Parameters   []QueryParam
	// MaxItemCount is the page size (x-ms-max-item-count); <= 0 means the
	// default (100, as Cosmos DB).
	MaxItemCount int
	// Continuation is the opaque token from the previous page, "" for the first.
	Continuation string
	Options      RequestOptions
}

// QueryResponse is one page of query results.
type QueryResponse struct {
	Documents []json.RawMessage
	// Continuation is "" on the last page.
	Continuation string
	Meta         ResponseMeta
}

// ChangeFeedStart says where a change feed read begins.
type ChangeFeedStart int

// Change feed start points.
const (
	StartBeginning ChangeFeedStart = iota // no If-None-Match, no If-Modified-Since
	StartNow                              // If-None-Match: *
	StartAfterLSN                         // If-None-Match: "<lsn>" (the etag of the previous page)
	StartTime                             // If-Modified-Since
)

// ChangeFeedRequest reads the latest version of items changed after a point.
type ChangeFeedRequest struct {
	DB, Container string
	PartitionKey  pkey.Key // nil: the whole range
	PKRangeID     string
	Start         ChangeFeedStart
	AfterLSN      int64     // for StartAfterLSN
	Since         time.Time // for StartTime
	MaxItemCount  int
	// StartEPK/EndEPK restrict the feed to an effective-partition-key range
	// (x-ms-start-epk/x-ms-end-epk); empty means unbounded.
	StartEPK, EndEPK string
	Options          RequestOptions
}

// ChangeFeedResponse is one page of the change feed. ETag is the
// continuation (always set, also when NotModified).
type ChangeFeedResponse struct {
	Documents   []json.RawMessage
	ETag        string
	NotModified bool
	Meta        ResponseMeta
}
