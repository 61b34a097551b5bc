package httpapi

import (
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/meridiandb/meridian/internal/pkey"
	"github.com/meridiandb/meridian/internal/resource"
	"github.com/meridiandb/meridian/internal/session"
)

// Header names. net/http canonicalises names, so lookups are
// case-insensitive; these are spelled as Cosmos DB documents them.
const (
	hdrActivityID        = "x-ms-activity-id"
	hdrRequestCharge     = "x-ms-request-charge"
	hdrRequestDuration   = "x-ms-request-duration-ms"
	hdrSessionToken      = "x-ms-session-token"
	hdrContentPath       = "x-ms-content-path"
	hdrContinuation      = "x-ms-continuation"
	hdrItemCount         = "x-ms-item-count"
	hdrSubstatus         = "x-ms-substatus"
	hdrRetryAfterMs      = "x-ms-retry-after-ms"
	hdrGatewayVersion    = "x-ms-gatewayversion"
	hdrServiceVersion    = "x-ms-serviceversion"
	hdrVersion           = "x-ms-version"
	hdrLLSN              = "x-ms-cosmos-llsn"
	hdrRegion            = "x-meridian-region"
	hdrLSN               = "x-meridian-lsn"
	hdrItemLSN           = "x-meridian-item-lsn"
	hdrSyncRegions       = "x-meridian-sync-regions"
	hdrSyncMinRegions    = "x-meridian-sync-min-regions"
	hdrPartitionKey      = pkey.HeaderName
	hdrPKRangeID         = "x-ms-documentdb-partitionkeyrangeid"
	hdrConsistency       = "x-ms-consistency-level"
	hdrMaxItemCount      = "x-ms-max-item-count"
	hdrIsUpsert          = "x-ms-documentdb-is-upsert"
	hdrIsQuery           = "x-ms-documentdb-query"
	hdrIsQueryAlt        = "x-ms-documentdb-isquery"
	hdrIsQueryPlan       = "x-ms-cosmos-is-query-plan-request"
	hdrIsBatch           = "x-ms-cosmos-is-batch-request"
	hdrBatchAtomic       = "x-ms-cosmos-batch-atomic"
	hdrBatchContinue     = "x-ms-cosmos-batch-continue-on-error"
	hdrOfferThroughput   = "x-ms-offer-throughput"
	hdrOfferAutopilot    = "x-ms-cosmos-offer-autopilot-settings"
	hdrAIM               = "A-IM"
	hdrStartEPK          = "x-ms-start-epk"
	hdrEndEPK            = "x-ms-end-epk"
	hdrPrefer            = "Prefer"
	hdrIfMatch           = "If-Match"
	hdrIfNoneMatch       = "If-None-Match"
	hdrIfModifiedSince   = "If-Modified-Since"
	queryContentType     = "application/query+json"
	gatewayVersion       = "version=2.14.0"
	serviceVersion       = "version=2.14.0.0"
	maxSyncRegionsHeader = 64
)

// canonicalNames maps the response header names to their canonical form,
// so that setting one is a map assignment instead of a canonicalization
// (which allocates for a lower-case name) on every response.
var canonicalNames = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{hdrActivityID, hdrRequestCharge, hdrRequestDuration, hdrSessionToken, hdrContentPath,
		hdrContinuation, hdrItemCount, hdrSubstatus, hdrRetryAfterMs, hdrGatewayVersion,
		hdrServiceVersion, hdrVersion, hdrLLSN, hdrRegion, hdrLSN, hdrItemLSN,
		"Content-Type", "Date", "Etag", "Allow"} {
		m[k] = http.CanonicalHeaderKey(k)
	}
	return m
}()

// setHeader is h.Set(key, v) for the response headers.
func setHeader(h http.Header, key, v string) {
	ck, ok := canonicalNames[key]
	if !ok {
		ck = http.CanonicalHeaderKey(key)
	}
	h[ck] = []string{v}
}

func badHeader(name, value, why string) error {
	if len(value) > 128 {
		value = value[:128] + "..."
	}
	return resource.BadRequestf("Invalid value %q for header %s: %s.", value, name, why)
}

// headerBool parses a boolean header ("true"/"True"/"false"); absent is
// false.
func headerBool(r *http.Request, name string) (bool, error) {
	v := strings.TrimSpace(r.Header.Get(name))
	switch {
	case v == "":
		return false, nil
	case strings.EqualFold(v, "true"):
		return true, nil
	case strings.EqualFold(v, "false"):
		return false, nil
	}
	return false, badHeader(name, v, "expected true or false")
}

// headerTrue is headerBool for routing, where a malformed value counts as
// false (the handler's own parse reports it if it matters).
func headerTrue(r *http.Request, name string) bool {
	b, _ := headerBool(r, name)
	return b
}

// isQuery reports whether a POST is a query: by content type (Go, Node) or
// by either query header name.
func isQuery(r *http.Request) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err == nil && mt == queryContentType {
			return true
		}
	}
	return headerTrue(r, hdrIsQuery) || headerTrue(r, hdrIsQueryAlt)
}

// maxItemCount parses x-ms-max-item-count: absent, -1 or 0 mean the
// default (0 is returned).
func maxItemCount(r *http.Request) (int, error) {
	v := strings.TrimSpace(r.Header.Get(hdrMaxItemCount))
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < -1 {
		return 0, badHeader(hdrMaxItemCount, v, "expected a positive integer or -1")
	}
	if n < 0 {
		return 0, nil
	}
	return n, nil
}

// partitionKey parses x-ms-documentdb-partitionkey; nil when absent.
func partitionKey(r *http.Request) (pkey.Key, error) {
	v := r.Header.Get(hdrPartitionKey)
	if v == "" {
		return nil, nil
	}
	return pkey.ParseHeader(v) // its error names the header
}

// pkRangeID returns x-ms-documentdb-partitionkeyrangeid, checked to be a
// plausible range id.
func pkRangeID(r *http.Request) (string, error) {
	v := strings.TrimSpace(r.Header.Get(hdrPKRangeID))
	if v == "" {
		return "", nil
	}
	// Some clients send "<collRid>,<rangeId>"; keep the range id.
	if _, after, ok := strings.Cut(v, ","); ok {
		v = after
	}
	if _, err := strconv.ParseUint(v, 10, 32); err != nil {
		return "", badHeader(hdrPKRangeID, v, "expected a partition key range id such as 0")
	}
	return v, nil
}

// requestOptions parses the per-request options shared by data-plane calls.
func requestOptions(r *http.Request) (RequestOptions, error) {
	var o RequestOptions
	lvl, err := session.ParseLevel(r.Header.Get(hdrConsistency))
	if err != nil {
		return o, err // names the header
	}
	o.Consistency = lvl
	o.SessionToken = r.Header.Get(hdrSessionToken)
	o.IfMatch = r.Header.Get(hdrIfMatch)
	o.IfNoneMatch = r.Header.Get(hdrIfNoneMatch)
	if v := r.Header.Get(hdrSyncRegions); v != "" {
		for name := range strings.SplitSeq(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				o.SyncRegions = append(o.SyncRegions, name)
			}
		}
		if len(o.SyncRegions) == 0 || len(o.SyncRegions) > maxSyncRegionsHeader {
			return o, badHeader(hdrSyncRegions, v, "expected a comma-separated list of region names")
		}
	}
	if v := strings.TrimSpace(r.Header.Get(hdrSyncMinRegions)); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return o, badHeader(hdrSyncMinRegions, v, "expected a non-negative integer")
		}
		o.SyncMinRegions = n
	}
	return o, nil
}

// preferMinimal reports Prefer: return=minimal (the Go SDK's default on
// document writes).
func preferMinimal(r *http.Request) bool {
	for _, v := range r.Header.Values(hdrPrefer) {
		for p := range strings.SplitSeq(v, ",") {
			if k, val, ok := strings.Cut(strings.TrimSpace(p), "="); ok &&
				strings.EqualFold(strings.TrimSpace(k), "return") && strings.EqualFold(strings.TrimSpace(val), "minimal") {
				return true
			}
		}
	}
	return false
}

// throughput parses the provisioning headers of a database or container
// create.
func throughput(r *http.Request) (resource.Throughput, error) {
	var tp resource.Throughput
	if v := strings.TrimSpace(r.Header.Get(hdrOfferThroughput)); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return tp, badHeader(hdrOfferThroughput, v, "expected a positive number of RU/s")
		}
		tp.Manual = n
	}
	if v := strings.TrimSpace(r.Header.Get(hdrOfferAutopilot)); v != "" {
		var s struct {
			MaxThroughput int `json:"maxThroughput"`
		}
		if err := json.Unmarshal([]byte(v), &s); err != nil || s.MaxThroughput <= 0 {
			return tp, badHeader(hdrOfferAutopilot, v, `expected {"maxThroughput":<positive RU/s>}`)
		}
		tp.AutoscaleMax = s.MaxThroughput
	}
	if tp.Manual != 0 && tp.AutoscaleMax != 0 {
		return tp, resource.BadRequestf("Headers %s and %s are mutually exclusive: provision either manual or autoscale throughput.", hdrOfferThroughput, hdrOfferAutopilot)
	}
	return tp, nil
}
