package customsync

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// Request headers of Meridian's native synchronization.
const (
	// HeaderSyncRegions names the regions (comma-separated) that must hold
	// a write durably before it is acknowledged.
	HeaderSyncRegions = "x-meridian-sync-regions"
	// HeaderSyncMinRegions asks for a write to be held durably by at least
	// this many regions other than the write region.
	HeaderSyncMinRegions = "x-meridian-sync-min-regions"
)

// SubstatusSyncTimeout is the x-ms-substatus of the 408 a write with
// HeaderSyncRegions or HeaderSyncMinRegions gets when the regions did not
// acknowledge it in time. The write did happen in the write region; the
// error message names the regions that acknowledged it and the write's
// session token.
const SubstatusSyncTimeout = 20001

// Native returns a context that makes the write it is passed to return
// only once every named region holds the write durably: the server checks
// the regions in parallel, in one client round trip, so no reader clients
// are needed. Pass it to one write call of a client of the write region:
//
//	_, err := writer.CreateItem(customsync.Native(ctx, "East US", "North Europe"), pk, item, nil)
//
// On timeout the write fails with 408/20001 (see IsSyncTimeout) although it
// happened in the write region. An unknown region name is a 400 and the
// write does not happen. With no regions, Native returns ctx unchanged.
//
// Native uses policy.WithHTTPHeader, which replaces headers that an earlier
// policy.WithHTTPHeader on ctx set: add such headers to the result
// yourself.
func Native(ctx context.Context, regions ...string) context.Context {
	if len(regions) == 0 {
		return ctx
	}
	return policy.WithHTTPHeader(ctx, http.Header{
		http.CanonicalHeaderKey(HeaderSyncRegions): {strings.Join(regions, ", ")},
	})
}

// NativeMin is Native for "any n regions other than the write region".
func NativeMin(ctx context.Context, n int) context.Context {
	if n <= 0 {
		return ctx
	}
	return policy.WithHTTPHeader(ctx, http.Header{
		http.CanonicalHeaderKey(HeaderSyncMinRegions): {strconv.Itoa(n)},
	})
}

// Native is the package-level Native, defaulting to the Syncer's target
// regions when regions is empty. Pass the result to a write made directly
// through the write-region client (not through the Syncer's own write
// methods, which would then also confirm with reads).
func (s *Syncer) Native(ctx context.Context, regions ...string) context.Context {
	if len(regions) == 0 {
		regions = s.Regions()
	}
	return Native(ctx, regions...)
}

// IsSyncTimeout reports whether err is the 408/20001 of a natively synced
// write whose regions did not acknowledge it in time: the write happened in
// the write region, but is not known to be in the regions the message
// names.
func IsSyncTimeout(err error) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusRequestTimeout && substatus(re) == strconv.Itoa(SubstatusSyncTimeout)
}
