package httpapi

import (
	"errors"
	"log/slog"

	"github.com/meridiandb/meridian/internal/auth"
	"github.com/meridiandb/meridian/internal/resource"
)

// DefaultMaxBodyBytes is the default request body limit: the 2 MB item limit
// plus room for the JSON around a batch or a patch.
const DefaultMaxBodyBytes = resource.MaxItemSize + 64*1024

// Config configures a Handler.
type Config struct {
	// Logger receives request logs (Debug) and internal errors (Error).
	// Keys, signatures and the Authorization header are never logged.
	Logger *slog.Logger
	// Verifier checks master-key signatures. Required unless DisableAuth.
	Verifier *auth.Verifier
	// DisableAuth accepts unsigned requests as if signed with the master
	// key. For tests and local experiments only.
	DisableAuth bool
	// MaxBodyBytes limits request bodies; larger bodies get 413.
	MaxBodyBytes int64
	// RegionName is this region's name, sent as x-meridian-region when the
	// Backend reports none.
	RegionName string
	// Admin serves the management API (/_meridian/...) and takes the
	// region offline; nil: those paths are 404 and the region is always
	// online.
	Admin Admin
}

// Defaults returns c with zero fields set to their defaults.
func (c Config) Defaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	return c
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.Verifier == nil && !c.DisableAuth {
		errs = append(errs, errors.New("httpapi: Verifier is required (or set DisableAuth for tests)"))
	}
	if c.Verifier != nil && c.DisableAuth {
		errs = append(errs, errors.New("httpapi: Verifier and DisableAuth are mutually exclusive"))
	}
	if c.MaxBodyBytes < 0 {
		errs = append(errs, errors.New("httpapi: MaxBodyBytes must not be negative"))
	}
	if c.Logger == nil {
		errs = append(errs, errors.New("httpapi: Logger is required (call Defaults)"))
	}
	return errors.Join(errs...)
}
