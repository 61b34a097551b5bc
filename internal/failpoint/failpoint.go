// Package failpoint declares Meridian's code failpoints (testing.md §3.2,
// F13) on gofail's runtime (go.etcd.io/gofail/runtime) without gofail's
// code generator: a package declares a Point with New, and a hook on the
// hot path is one line, p.Hit().
//
// A failpoint does nothing unless the process was started with
// GOFAIL_FAILPOINTS (or GOFAIL_HTTP) set, or a test called Enable: until
// then Hit is one atomic load and a branch, inlined at the call site (the
// runtime's own disabled path takes a read lock). Terms are gofail's, for
// example
//
//	GOFAIL_FAILPOINTS='partitionAfterSync=50*off->panic'
//	GOFAIL_FAILPOINTS='partitionBeforeSync=sleep(100);replBeforeSend=10.0%panic'
//
// ("N*" counts, "P.0%" is a probability in percent — gofail wants a float, "->" chains terms; the actions are
// off, panic, sleep(ms or "duration"), print, return(v) — a Hit ignores
// the value).
package failpoint

import (
	"fmt"
	"os"
	"sync/atomic"

	gofail "go.etcd.io/gofail/runtime"
)

// armed is true when any failpoint may be enabled.
var armed atomic.Bool

func init() {
	armed.Store(os.Getenv("GOFAIL_FAILPOINTS") != "" || os.Getenv("GOFAIL_HTTP") != "")
}

// Point is one named failpoint.
type Point struct {
	name string
	fp   *gofail.Failpoint
}

// New registers the failpoint name (it panics if name is taken). Declare
// points as package variables, so GOFAIL_FAILPOINTS applies from the start.
func New(name string) *Point {
	return &Point{name: name, fp: gofail.NewFailpoint(name)}
}

// Name is the failpoint's name.
func (p *Point) Name() string { return p.name }

// Hit evaluates the failpoint's terms when failpoints are armed: a panic
// term panics here, a sleep term sleeps here. Disabled, it costs one
// atomic load.
func (p *Point) Hit() {
	if armed.Load() {
		p.eval()
	}
}

func (p *Point) eval() {
	defer func() {
		// gofail's bare panic term says only "failpoint panic: {}": name
		// the failpoint, so a crash log tells which one fired.
		if r := recover(); r != nil {
			panic(fmt.Sprintf("failpoint %s: %v", p.name, r))
		}
	}()
	_, _ = p.fp.Acquire() // the action runs inside; a returned value is ignored
}

// Enable sets the terms of failpoint name (gofail syntax) and arms the
// failpoints of this process.
func Enable(name, terms string) error {
	armed.Store(true)
	return gofail.Enable(name, terms)
}

// Disable clears failpoint name's terms.
func Disable(name string) error { return gofail.Disable(name) }

// Status is failpoint name's terms and how many times they fired.
func Status(name string) (terms string, count int, err error) { return gofail.Status(name) }

// List names every registered failpoint.
func List() []string { return gofail.List() }
