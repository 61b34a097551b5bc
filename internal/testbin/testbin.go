// Package testbin builds the meridian binary for tests that run it as a
// separate process (the torture harness, the fault tests): once per test
// binary, lazily, into a temporary directory that Cleanup removes.
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	once sync.Once
	path string
	dir  string
	err  error
)

// Meridian returns the path of ./cmd/meridian built from the module this
// test belongs to, building it on first use; it fails t if the build fails.
func Meridian(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		out, gerr := exec.Command("go", "env", "GOMOD").Output()
		if gerr != nil {
			err = fmt.Errorf("go env GOMOD: %w", gerr)
			return
		}
		root := filepath.Dir(strings.TrimSpace(string(out)))
		if dir, err = os.MkdirTemp("", "meridian-test-bin-"); err != nil {
			return
		}
		bin := filepath.Join(dir, "meridian")
		build := exec.Command("go", "build", "-o", bin, "./cmd/meridian")
		build.Dir = root
		if b, berr := build.CombinedOutput(); berr != nil {
			err = fmt.Errorf("go build ./cmd/meridian: %w\n%s", berr, b)
			return
		}
		path = bin
	})
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// Cleanup removes the built binary; call it from TestMain after m.Run.
func Cleanup() {
	if dir != "" {
		_ = os.RemoveAll(dir)
	}
}
