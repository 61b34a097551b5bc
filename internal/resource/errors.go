package resource

import (
	"errors"
	"fmt"
)

// Kind classifies an error the way a Cosmos DB client sees it. The mapping
// from Kind to HTTP status and substatus lives in internal/httpapi only.
type Kind int

// Error kinds. Keep the list short: a new Kind needs a row in httpapi's table.
const (
	KindInternal                Kind = iota // 500: a bug or an unexpected I/O failure
	KindBadRequest                          // 400
	KindUnauthorized                        // 401
	KindForbidden                           // 403 (e.g. read-only key used for a write)
	KindWriteForbidden                      // 403/3: write sent to a region that does not accept writes
	KindNotFound                            // 404/0
	KindReadSessionNotAvailable             // 404/1002: session token ahead of this region
	KindMethodNotAllowed                    // 405
	KindRequestTimeout                      // 408
	KindConflict                            // 409
	KindPreconditionFailed                  // 412
	KindTooLarge                            // 413
	KindFailedDependency                    // 424 (batch only)
	KindTooManyRequests                     // 429
	KindServiceUnavailable                  // 503
	KindInsufficientStorage                 // 507: disk guard refused the write
)

// Error is a Cosmos-visible failure: a kind plus a human-readable message.
// Substatus overrides the default substatus of the kind when non-zero.
type Error struct {
	Kind      Kind
	Msg       string
	Substatus int
	// RetryAfterMs is the back-off hint for KindTooManyRequests.
	RetryAfterMs int
	// Err is an optional cause, kept for errors.Is/As and logs (never shown
	// to the client unless Msg includes it).
	Err error
	// SessionToken and ContainerRID, when set, are returned with the error
	// (x-ms-session-token, x-ms-content-path): a read that found nothing
	// still tells a session client how far the region was.
	SessionToken, ContainerRID string
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, resource.ErrNotFound) true for every Error of the
// same kind and substatus, whatever the message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok {
		return false
	}
	return t.Kind == e.Kind && (t.Substatus == 0 || t.Substatus == e.Substatus)
}

// Sentinels, for errors.Is. Create specific errors with Errorf.
var (
	ErrBadRequest              = &Error{Kind: KindBadRequest, Msg: "bad request"}
	ErrNotFound                = &Error{Kind: KindNotFound, Msg: "Entity with the specified id does not exist in the system."}
	ErrConflict                = &Error{Kind: KindConflict, Msg: "Entity with the specified id already exists in the system."}
	ErrPreconditionFailed      = &Error{Kind: KindPreconditionFailed, Msg: "Operation cannot be performed because one of the specified precondition is not met."}
	ErrTooLarge                = &Error{Kind: KindTooLarge, Msg: "Request size is too large."}
	ErrWriteForbidden          = &Error{Kind: KindWriteForbidden, Msg: "The requested operation cannot be performed at this region: writes are accepted only in the write region."}
	ErrReadSessionNotAvailable = &Error{Kind: KindReadSessionNotAvailable, Msg: "The read session is not available for the input session token."}
	ErrServiceUnavailable      = &Error{Kind: KindServiceUnavailable, Msg: "Service is currently unavailable."}
	ErrUnauthorized            = &Error{Kind: KindUnauthorized, Msg: "unauthorized"}
	ErrForbidden               = &Error{Kind: KindForbidden, Msg: "forbidden"}
)

// Errorf returns an *Error of the given kind with a formatted message.
// A %w verb in format is honoured: the wrapped error becomes Err.
func Errorf(kind Kind, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Kind: kind, Msg: err.Error(), Err: errors.Unwrap(err)}
}

// BadRequestf is shorthand for Errorf(KindBadRequest, ...).
func BadRequestf(format string, args ...any) *Error {
	return Errorf(KindBadRequest, format, args...)
}

// KindOf returns the Kind of err, or KindInternal if err is not an *Error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}
