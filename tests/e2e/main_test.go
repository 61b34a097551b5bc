// Package e2e_test holds end-to-end tests that run the real meridian binary
// (built once per package run in TestMain) and talk to it through the
// official Cosmos DB SDKs.
package e2e_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/meridiandb/meridian/internal/auth"
)

var (
	// moduleRoot is the directory holding go.mod.
	moduleRoot string
	// meridianBin is the binary built from ./cmd/meridian for this run.
	meridianBin string
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	root, err := findModuleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	moduleRoot = root
	dir, err := os.MkdirTemp("", "meridian-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "meridian")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	build := exec.Command("go", "build", "-o", bin, "./cmd/meridian")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build ./cmd/meridian: %v\n%s", err, out)
		return 1
	}
	meridianBin = bin
	return m.Run()
}

func findModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("go env GOMOD: not inside a module")
	}
	return filepath.Dir(gomod), nil
}

// lockedBuffer is a goroutine-safe bytes.Buffer.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// readyWriter collects stdout and reports the endpoint from the
// `region "X" serving at URL` line.
type readyWriter struct {
	lockedBuffer
	once     sync.Once
	endpoint chan string
}

var servingRE = regexp.MustCompile(`serving at (\S+)`)

func (r *readyWriter) Write(p []byte) (int, error) {
	n, err := r.lockedBuffer.Write(p)
	if m := servingRE.FindStringSubmatch(r.String()); m != nil {
		r.once.Do(func() { r.endpoint <- m[1] })
	}
	return n, err
}

// proc is a running `meridian serve` child process.
type proc struct {
	cmd      *exec.Cmd
	endpoint string // e.g. http://127.0.0.1:40123/
	addr     string // 127.0.0.1:40123
	stdout   *readyWriter
	stderr   *lockedBuffer
	done     chan struct{}
	waitErr  error
}

// serveOpts configures startServe.
type serveOpts struct {
	listen  string // default 127.0.0.1:0
	dataDir string
	extra   []string // more flags, e.g. --tls-cert
	https   bool     // poll GET / over https without verification
}

// startServe runs `meridian serve` and returns once it prints its endpoint
// and GET / answers. The process is killed at test cleanup if still alive;
// on failure its output is logged.
func startServe(t testing.TB, o serveOpts) *proc {
	t.Helper()
	p, err := tryStartServe(t, o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// tryStartServe is startServe returning an error instead of failing.
func tryStartServe(t testing.TB, o serveOpts) (*proc, error) {
	if o.listen == "" {
		o.listen = "127.0.0.1:0"
	}
	args := append([]string{"serve", "--listen", o.listen, "--data", o.dataDir, "--log-level", "warn"}, o.extra...)
	cmd := exec.Command(meridianBin, args...)
	p := &proc{
		cmd:    cmd,
		stdout: &readyWriter{endpoint: make(chan string, 1)},
		stderr: &lockedBuffer{},
		done:   make(chan struct{}),
	}
	cmd.Stdout = p.stdout
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start meridian serve: %w", err)
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("meridian %v\nstdout:\n%s\nstderr:\n%s", args, p.stdout.String(), p.stderr.String())
		}
	})
	select {
	case ep := <-p.stdout.endpoint:
		p.endpoint = ep
	case <-p.done:
		return nil, fmt.Errorf("meridian serve %v exited before becoming ready: %v\nstderr:\n%s", args, p.waitErr, p.stderr.String())
	case <-time.After(60 * time.Second):
		p.kill()
		return nil, fmt.Errorf("meridian serve %v did not print its endpoint within 60s\nstderr:\n%s", args, p.stderr.String())
	}
	p.addr = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(p.endpoint, "http://"), "https://"), "/")
	if err := waitAnswers(p.endpoint, o.https, p.done); err != nil {
		p.kill()
		return nil, err
	}
	return p, nil
}

// waitAnswers polls GET endpoint until any HTTP response arrives.
func waitAnswers(endpoint string, insecure bool, died <-chan struct{}) error {
	tr := &http.Transport{}
	if insecure {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 2 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := c.Get(endpoint)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-died:
			return fmt.Errorf("meridian serve died while waiting for GET %s: %v", endpoint, err)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("GET %s did not answer within 30s: %v", endpoint, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// restartServe starts the server again on dataDir, on addr if it can be
// rebound (a few attempts), else on a new port.
func restartServe(t testing.TB, dataDir, addr string, o serveOpts) *proc {
	t.Helper()
	o.dataDir = dataDir
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		o.listen = addr
		p, err := tryStartServe(t, o)
		if err == nil {
			return p
		}
		lastErr = err
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("restart on %s failed (%v); using a new port", addr, lastErr)
	o.listen = "127.0.0.1:0"
	return startServe(t, o)
}

// kill SIGKILLs the process (if alive) and waits for it.
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// terminate sends SIGTERM and waits up to timeout for a clean exit,
// returning the exit code.
func (p *proc) terminate(timeout time.Duration) (int, error) {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return -1, err
	}
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.kill()
		return -1, fmt.Errorf("did not exit within %v of SIGTERM", timeout)
	}
	return p.cmd.ProcessState.ExitCode(), nil
}

// newSDKClient builds a fresh azcosmos client. Always build a new one after
// a server restart: the SDK caches a failed account bootstrap for 5 minutes.
func newSDKClient(t testing.TB, endpoint string, httpClient *http.Client) *azcosmos.Client {
	t.Helper()
	cred, err := azcosmos.NewKeyCredential(auth.EmulatorKey)
	if err != nil {
		t.Fatalf("NewKeyCredential: %v", err)
	}
	opts := &azcosmos.ClientOptions{}
	if httpClient != nil {
		opts.Transport = httpClient
	}
	c, err := azcosmos.NewClientWithKey(endpoint, cred, opts)
	if err != nil {
		t.Fatalf("NewClientWithKey: %v", err)
	}
	return c
}

// createDBAndContainer creates database db and container c (partition key
// /pk) and returns the container client.
func createDBAndContainer(t testing.TB, client *azcosmos.Client, db, coll string) *azcosmos.ContainerClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := client.CreateDatabase(ctx, azcosmos.DatabaseProperties{ID: db}, nil); err != nil {
		t.Fatalf("CreateDatabase %s: %v", db, err)
	}
	dbc, err := client.NewDatabase(db)
	if err != nil {
		t.Fatalf("NewDatabase: %v", err)
	}
	_, err = dbc.CreateContainer(ctx, azcosmos.ContainerProperties{
		ID:                     coll,
		PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: []string{"/pk"}},
	}, nil)
	if err != nil {
		t.Fatalf("CreateContainer %s: %v", coll, err)
	}
	cc, err := client.NewContainer(db, coll)
	if err != nil {
		t.Fatalf("NewContainer: %v", err)
	}
	return cc
}

// userFields decodes a stored document and drops the system properties
// (keys starting with "_").
func userFields(t testing.TB, raw []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("decode item %q: %v", raw, err)
	}
	for k := range m {
		if strings.HasPrefix(k, "_") {
			delete(m, k)
		}
	}
	return m
}

// queryAll runs a query and returns every row of every page.
func queryAll(ctx context.Context, c *azcosmos.ContainerClient, q string, pk azcosmos.PartitionKey) ([][]byte, error) {
	pager := c.NewQueryItemsPager(q, pk, nil)
	var rows [][]byte
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		rows = append(rows, page.Items...)
	}
	return rows, nil
}

// certPool returns a pool holding the PEM certificate at path.
func certPool(t testing.TB, path string) *x509.CertPool {
	t.Helper()
	pemBytes, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatalf("%s: no certificate found", path)
	}
	return pool
}
