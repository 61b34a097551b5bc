package e2e_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/meridiandb/meridian/internal/server"
)

// TestNodeSDKCheck runs scripts/node-sdk-check/check.mjs (the official
// @azure/cosmos Node.js SDK) against an in-process server. It needs `node`
// on PATH and `npm install` done in scripts/node-sdk-check; otherwise it is
// skipped.
func TestNodeSDKCheck(t *testing.T) {
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not on PATH")
	}
	dir := filepath.Join(moduleRoot, "scripts", "node-sdk-check")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@azure", "cosmos")); err != nil {
		t.Skipf("%s/node_modules/@azure/cosmos is missing (run npm install there)", dir)
	}

	s, err := server.New(server.Config{
		Listen:  "127.0.0.1:0",
		DataDir: t.TempDir(),
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	s.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("server Close: %v", err)
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, "check.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MERIDIAN_ENDPOINT="+s.Endpoint())
	out, err := cmd.CombinedOutput()
	t.Logf("node check.mjs against %s:\n%s", s.Endpoint(), out)
	if err != nil {
		t.Fatalf("node check.mjs: %v", err)
	}
}
