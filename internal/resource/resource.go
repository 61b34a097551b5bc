package resource

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
)

// Database is a database as Cosmos DB returns it.
type Database struct {
	ID    string `json:"id"`
	RID   string `json:"_rid"`
	Self  string `json:"_self"`
	ETag  string `json:"_etag"`
	Colls string `json:"_colls"`
	Users string `json:"_users"`
	TS    int64  `json:"_ts"`
}

// PartitionKeyDefinition is a container's partition key: one path ("Hash")
// or up to three paths ("MultiHash", hierarchical keys).
type PartitionKeyDefinition struct {
	Paths   []string `json:"paths"`
	Kind    string   `json:"kind"`
	Version int      `json:"version,omitempty"`
}

// Normalize fills defaults the way Cosmos DB does: kind Hash for one path,
// MultiHash for several, version 2 when absent.
func (d *PartitionKeyDefinition) Normalize() {
	if d.Kind == "" {
		d.Kind = "Hash"
		if len(d.Paths) > 1 {
			d.Kind = "MultiHash"
		}
	}
	if d.Version == 0 {
		d.Version = 2
	}
}

// Validate checks the definition after Normalize.
func (d PartitionKeyDefinition) Validate() error {
	if len(d.Paths) == 0 {
		return BadRequestf("The partition key definition must have at least one path.")
	}
	switch d.Kind {
	case "Hash":
		if len(d.Paths) != 1 {
			return BadRequestf("A partition key of kind Hash must have exactly one path; use MultiHash for hierarchical keys.")
		}
	case "MultiHash":
		if len(d.Paths) > 3 {
			return BadRequestf("A hierarchical partition key can have at most 3 paths.")
		}
	default:
		return BadRequestf("Unsupported partition key kind %q: use Hash or MultiHash.", d.Kind)
	}
	if d.Version != 1 && d.Version != 2 {
		return BadRequestf("Unsupported partition key version %d: use 1 or 2.", d.Version)
	}
	for _, p := range d.Paths {
		if len(p) < 2 || p[0] != '/' || strings.HasSuffix(p, "/") || strings.Contains(p, "//") {
			return BadRequestf("The partition key path %q is invalid: it must look like /field or /a/b.", p)
		}
	}
	return nil
}

// Container is a container (collection) as Cosmos DB returns it. Policies
// that Meridian stores and echoes without interpreting are kept raw.
type Container struct {
	ID                       string                 `json:"id"`
	IndexingPolicy           json.RawMessage        `json:"indexingPolicy,omitempty"`
	PartitionKey             PartitionKeyDefinition `json:"partitionKey"`
	DefaultTTL               *int32                 `json:"defaultTtl,omitempty"`
	AnalyticalStorageTTL     *int32                 `json:"analyticalStorageTtl,omitempty"`
	UniqueKeyPolicy          json.RawMessage        `json:"uniqueKeyPolicy,omitempty"`
	ConflictResolutionPolicy json.RawMessage        `json:"conflictResolutionPolicy,omitempty"`
	GeospatialConfig         json.RawMessage        `json:"geospatialConfig,omitempty"`
	VectorEmbeddingPolicy    json.RawMessage        `json:"vectorEmbeddingPolicy,omitempty"`
	FullTextPolicy           json.RawMessage        `json:"fullTextPolicy,omitempty"`
	ComputedProperties       json.RawMessage        `json:"computedProperties,omitempty"`
	RID                      string                 `json:"_rid"`
	TS                       int64                  `json:"_ts"`
	Self                     string                 `json:"_self"`
	ETag                     string                 `json:"_etag"`
	Docs                     string                 `json:"_docs"`
	Sprocs                   string                 `json:"_sprocs"`
	Triggers                 string                 `json:"_triggers"`
	UDFs                     string                 `json:"_udfs"`
	Conflicts                string                 `json:"_conflicts"`
}

// DefaultIndexingPolicy is what Cosmos DB returns when a container is created
// without one: consistent indexing of every path.
var DefaultIndexingPolicy = json.RawMessage(`{"indexingMode":"consistent","automatic":true,"includedPaths":[{"path":"/*"}],"excludedPaths":[{"path":"/\"_etag\"/?"}]}`)

// Throughput is provisioned throughput: manual RU/s or an autoscale maximum.
type Throughput struct {
	Manual       int `json:"manual,omitempty"`
	AutoscaleMax int `json:"autoscaleMax,omitempty"`
}

// IsZero reports whether no throughput was provisioned.
func (t Throughput) IsZero() bool { return t.Manual == 0 && t.AutoscaleMax == 0 }

// Offer is the throughput resource of a database or container.
type Offer struct {
	ID              string       `json:"id"`
	RID             string       `json:"_rid"`
	Self            string       `json:"_self"`
	ETag            string       `json:"_etag"`
	TS              int64        `json:"_ts"`
	OfferVersion    string       `json:"offerVersion"`
	OfferType       string       `json:"offerType"`
	Resource        string       `json:"resource"`
	OfferResourceID string       `json:"offerResourceId"`
	Content         OfferContent `json:"content"`
}

// OfferContent holds the throughput figures of an offer.
type OfferContent struct {
	OfferThroughput           int                        `json:"offerThroughput,omitempty"`
	OfferAutopilotSettings    *OfferAutopilotSettings    `json:"offerAutopilotSettings,omitempty"`
	OfferIsRUPerMinuteEnabled *bool                      `json:"offerIsRUPerMinuteThroughputEnabled,omitempty"`
	Extra                     map[string]json.RawMessage `json:"-"`
}

// OfferAutopilotSettings is the autoscale part of an offer.
type OfferAutopilotSettings struct {
	MaxThroughput int `json:"maxThroughput"`
}

// DatabaseRID encodes a database's numeric id as a 4-byte base64 _rid.
func DatabaseRID(n uint32) string {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], n)
	return base64.StdEncoding.EncodeToString(b[:])
}

// ContainerRID encodes database and container ids as the 8-byte base64 _rid
// the Node.js SDK requires in x-ms-content-path.
func ContainerRID(db, coll uint32) string {
	var b [8]byte
	binary.LittleEndian.PutUint32(b[:4], db)
	binary.BigEndian.PutUint32(b[4:], coll|0x80000000) // high bit set, as Cosmos collection rids have
	return base64.StdEncoding.EncodeToString(b[:])
}

// DocumentRID derives an item's 16-byte base64 _rid from its container's
// ids and a per-item 64-bit number.
func DocumentRID(db, coll uint32, item uint64) string {
	var b [16]byte
	binary.LittleEndian.PutUint32(b[:4], db)
	binary.BigEndian.PutUint32(b[4:8], coll|0x80000000)
	binary.BigEndian.PutUint64(b[8:], item)
	return base64.StdEncoding.EncodeToString(b[:])
}

// ETag formats a version number as a quoted Cosmos-style etag.
func ETag(v uint64) string {
	return fmt.Sprintf("\"%08x-%04x-%04x-%04x-%012x\"", uint32(v>>32), uint16(v>>16), uint16(v), 0, v&0xffffffffffff)
}
