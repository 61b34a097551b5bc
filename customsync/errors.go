package customsync

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
)

// ErrNoSessionToken is the cause of a SyncError when the write's response
// carried no session token, so nothing could be confirmed.
var ErrNoSessionToken = errors.New("customsync: the write's response has no session token")

// SyncError reports a write that succeeded in the write region but was not
// confirmed in every target region in time. The write exists in the write
// region; in the Missing regions it is not known to be present (it may
// still arrive, or be there already). Retrying the write is usually wrong:
// call Syncer.Confirm with the write's session token to wait longer.
type SyncError struct {
	// Write is the successful write's response (zero for Syncer.Confirm).
	Write azcosmos.ItemResponse
	// Confirmed maps the regions that did confirm to their confirmation
	// times.
	Confirmed map[string]time.Duration
	// Missing lists the target regions that did not confirm, sorted.
	Missing []string
	// Cause tells why, per missing region. On a timeout
	// errors.Is(err, context.DeadlineExceeded) holds, and each region's
	// last attempt is included, e.g. a *WrongRegionError when the SDK
	// answered the read from the write region.
	Cause error
}

// Error implements error.
func (e *SyncError) Error() string {
	var b strings.Builder
	b.WriteString("customsync: the write succeeded")
	if e.Write.RawResponse != nil {
		if r := e.Write.RawResponse.Header.Get(HeaderRegion); r != "" {
			fmt.Fprintf(&b, " in %s", r)
		}
	}
	if e.Write.SessionToken != nil {
		fmt.Fprintf(&b, " (session token %s)", *e.Write.SessionToken)
	}
	fmt.Fprintf(&b, " but was not confirmed in %s", strings.Join(e.Missing, ", "))
	if len(e.Confirmed) > 0 {
		names := make([]string, 0, len(e.Confirmed))
		for n := range e.Confirmed {
			names = append(names, n)
		}
		slices.Sort(names)
		fmt.Fprintf(&b, "; confirmed in %s", strings.Join(names, ", "))
	}
	if e.Cause != nil {
		fmt.Fprintf(&b, ": %v", e.Cause)
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *SyncError) Unwrap() error { return e.Cause }

// WrongRegionError reports a confirming read that was answered by a region
// other than its target, typically the write region after the SDK's
// fallback on 404/1002. Such a read proves nothing about the target and is
// never counted.
type WrongRegionError struct {
	Target string
	// ServedBy is the serving region's x-meridian-region header (empty if
	// the response did not say).
	ServedBy string
}

// Error implements error.
func (e *WrongRegionError) Error() string {
	if e.ServedBy == "" {
		return fmt.Sprintf("customsync: the read for %s did not say which region served it (no %s header)", e.Target, HeaderRegion)
	}
	return fmt.Sprintf("customsync: the read for %s was served by %s", e.Target, e.ServedBy)
}
