package e2e_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/stretchr/testify/require"

	"github.com/meridiandb/meridian/internal/auth"
)

// devRegionRE matches a region line of `meridian dev`'s banner.
var devRegionRE = regexp.MustCompile(`^\s+(\S.*?\S)\s+(http://\S+/)\s+\(write region\)$`)

// startDevMW runs `meridian dev --multi-write` and returns its regions'
// endpoints once it printed its banner.
func startDevMW(t *testing.T) map[string]string {
	t.Helper()
	cmd := exec.Command(meridianBin, "dev", "--multi-write", "--base-port", "0", "--rtt-scale", "0.25",
		"--data", t.TempDir(), "--log-level", "warn")
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("meridian dev stderr:\n%s", stderr.String())
		}
	})
	eps := map[string]string{}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, out)
	}()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			require.True(t, ok, "meridian dev exited: %s", stderr.String())
			if m := devRegionRE.FindStringSubmatch(l); m != nil {
				eps[m[1]] = m[2]
			}
			if strings.HasPrefix(l, "Press Ctrl-C") {
				go func() {
					for range lines {
					}
				}()
				require.Len(t, eps, 3, "every region is a write region")
				return eps
			}
		case <-deadline:
			t.Fatalf("meridian dev --multi-write did not come up: %s", stderr.String())
		}
	}
}

// TestDevMultiWrite runs `meridian dev --multi-write` and writes in every
// region through azcosmos (each client preferring its region), reads each
// write in another region with its session token, then runs the Node.js
// SDK's multi-write check (scripts/node-sdk-check/multiwrite.mjs) when
// node and its modules are installed.
func TestDevMultiWrite(t *testing.T) {
	eps := startDevMW(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cred, err := azcosmos.NewKeyCredential(auth.EmulatorKey)
	require.NoError(t, err)
	client := func(region string) *azcosmos.Client {
		cl, err := azcosmos.NewClientWithKey(eps[region], cred, &azcosmos.ClientOptions{PreferredRegions: []string{region},
			ClientOptions: policy.ClientOptions{Retry: policy.RetryOptions{MaxRetries: 2}}})
		require.NoError(t, err)
		return cl
	}
	names := []string{"West US", "East US", "North Europe"}
	_, err = client(names[1]).CreateDatabase(ctx, azcosmos.DatabaseProperties{ID: "db"}, nil)
	require.NoError(t, err)
	db, err := client(names[1]).NewDatabase("db")
	require.NoError(t, err)
	_, err = db.CreateContainer(ctx, azcosmos.ContainerProperties{ID: "c", PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: []string{"/pk"}}}, nil)
	require.NoError(t, err)
	co := func(region string) *azcosmos.ContainerClient {
		c, err := client(region).NewContainer("db", "c")
		require.NoError(t, err)
		return c
	}
	for i, r := range names {
		var resp azcosmos.ItemResponse
		require.Eventually(t, func() bool { // the container reaches every region
			resp, err = co(r).CreateItem(ctx, azcosmos.NewPartitionKeyString("p"), []byte(fmt.Sprintf(`{"id":"w%d","pk":"p"}`, i)), nil)
			return err == nil
		}, 20*time.Second, 50*time.Millisecond, "write in %s: %v", r, err)
		require.Equal(t, r, resp.RawResponse.Header.Get("x-meridian-region"))
		other := names[(i+1)%3]
		got, err := co(other).ReadItem(ctx, azcosmos.NewPartitionKeyString("p"), fmt.Sprintf("w%d", i), &azcosmos.ItemOptions{SessionToken: resp.SessionToken})
		require.NoError(t, err)
		require.Equal(t, other, got.RawResponse.Header.Get("x-meridian-region"))
	}

	nodeBin, err := exec.LookPath("node")
	dir := filepath.Join(moduleRoot, "scripts", "node-sdk-check")
	if _, serr := os.Stat(filepath.Join(dir, "node_modules", "@azure", "cosmos")); err != nil || serr != nil {
		t.Log("node or scripts/node-sdk-check/node_modules missing: Node.js multi-write check skipped")
		return
	}
	cmd := exec.CommandContext(ctx, nodeBin, "multiwrite.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MERIDIAN_ENDPOINT="+eps[names[1]])
	out, err := cmd.CombinedOutput()
	t.Logf("node multiwrite.mjs:\n%s", out)
	require.NoError(t, err)
}
