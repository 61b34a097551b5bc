package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/meridiandb/meridian/internal/resource"
)

// errorRow is how one resource.Kind looks on the wire.
type errorRow struct {
	status    int
	code      string // the "code" of the Cosmos error body
	substatus int    // default x-ms-substatus; 0: none
}

// errorTable is THE mapping from error kind to HTTP status, substatus and
// Cosmos error code. Every error response goes through it (writeError).
var errorTable = map[resource.Kind]errorRow{
	resource.KindInternal:                {http.StatusInternalServerError, "InternalServerError", 0},
	resource.KindBadRequest:              {http.StatusBadRequest, "BadRequest", 0},
	resource.KindUnauthorized:            {http.StatusUnauthorized, "Unauthorized", 0},
	resource.KindForbidden:               {http.StatusForbidden, "Forbidden", 0},
	resource.KindWriteForbidden:          {http.StatusForbidden, "Forbidden", 3},
	resource.KindNotFound:                {http.StatusNotFound, "NotFound", 0},
	resource.KindReadSessionNotAvailable: {http.StatusNotFound, "NotFound", 1002},
	resource.KindMethodNotAllowed:        {http.StatusMethodNotAllowed, "MethodNotAllowed", 0},
	resource.KindRequestTimeout:          {http.StatusRequestTimeout, "RequestTimeout", 0},
	resource.KindConflict:                {http.StatusConflict, "Conflict", 0},
	resource.KindPreconditionFailed:      {http.StatusPreconditionFailed, "PreconditionFailed", 0},
	resource.KindTooLarge:                {http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", 0},
	resource.KindFailedDependency:        {http.StatusFailedDependency, "FailedDependency", 0},
	resource.KindTooManyRequests:         {http.StatusTooManyRequests, "TooManyRequests", 0},
	resource.KindServiceUnavailable:      {http.StatusServiceUnavailable, "ServiceUnavailable", 0},
	resource.KindInsufficientStorage:     {http.StatusInsufficientStorage, "InsufficientStorage", 0},
}

// defaultRetryAfterMs is the x-ms-retry-after-ms sent with a 429 whose error
// carries no hint. The Node SDK retries back to back without one.
const defaultRetryAfterMs = 100

// internalMessage is what a client sees for an error that is not a
// *resource.Error; the detail goes to the log only.
const internalMessage = "An internal error occurred while processing the request. The details are in the server log under this request's activity id."

// wireError is an error as it goes on the wire.
type wireError struct {
	status       int
	substatus    int
	code         string
	message      string
	retryAfterMs int
}

// mapError turns any error into its wire form. It never fails: unknown
// kinds and foreign errors are 500s. internal reports whether the error is a
// server fault worth logging at Error level.
func mapError(err error) (we wireError, internal bool) {
	var re *resource.Error
	if !errors.As(err, &re) {
		if errors.Is(err, context.Canceled) {
			// The client went away (or the server is stopping): not a fault.
			return wireError{status: http.StatusRequestTimeout, code: "RequestTimeout",
				message: "The request was cancelled before it completed."}, false
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return wireError{status: http.StatusRequestTimeout, code: "RequestTimeout",
				message: "The request did not complete in time."}, false
		}
		return wireError{status: http.StatusInternalServerError, code: "InternalServerError", message: internalMessage}, true
	}
	row, ok := errorTable[re.Kind]
	if !ok {
		row = errorTable[resource.KindInternal]
	}
	we = wireError{status: row.status, substatus: row.substatus, code: row.code, message: re.Msg}
	if re.Substatus != 0 {
		we.substatus = re.Substatus
	}
	if we.message == "" {
		we.message = http.StatusText(row.status)
	}
	if row.status == http.StatusTooManyRequests {
		we.retryAfterMs = re.RetryAfterMs
		if we.retryAfterMs <= 0 {
			we.retryAfterMs = defaultRetryAfterMs
		}
	}
	return we, row.status == http.StatusInternalServerError
}

// writeError renders err through the error table. If the response was
// already started it only logs.
func (h *Handler) writeError(c *call, err error) {
	we, internal := mapError(err)
	if internal {
		h.log.Error("request failed", "activity_id", c.activityID, "method", c.r.Method,
			"path", c.r.URL.EscapedPath(), "err", err)
	} else {
		h.log.Debug("request error", "activity_id", c.activityID, "status", we.status, "err", err)
	}
	if c.w.wroteHeader {
		h.log.Error("error after the response started", "activity_id", c.activityID, "err", err)
		return
	}
	hdr := c.w.Header()
	// Drop headers a half-rendered success may have set.
	for _, k := range []string{"Etag", hdrContinuation, hdrItemCount, hdrSessionToken} {
		hdr.Del(k)
	}
	if we.substatus != 0 {
		setHeader(hdr, hdrSubstatus, strconv.Itoa(we.substatus))
	}
	if we.retryAfterMs > 0 {
		setHeader(hdr, hdrRetryAfterMs, strconv.Itoa(we.retryAfterMs))
	}
	var re *resource.Error
	if errors.As(err, &re) && re.SessionToken != "" {
		setHeader(hdr, hdrSessionToken, re.SessionToken)
		if re.ContainerRID != "" {
			setHeader(hdr, hdrContentPath, re.ContainerRID)
		}
	}
	body, _ := json.Marshal(struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}{we.code, we.message})
	writeBody(c, we.status, body)
}

// errorf builds a *resource.Error; shorthand for the handlers.
func errorf(kind resource.Kind, format string, args ...any) error {
	return resource.Errorf(kind, format, args...)
}

// logAttrs is the attribute set of a request log line.
func logAttrs(c *call, status int) []any {
	return []any{slog.String("activity_id", c.activityID), slog.String("method", c.r.Method),
		slog.String("path", c.r.URL.EscapedPath()), slog.Int("status", status)}
}
