// Package faults_test holds the process-level fault scenarios of the test
// plan that need no failover (testing.md §3.2, docs/VERIFICATION.md):
//
//   - F15 fsync failure (fsync_test.go): a child process runs the server on
//     an errorfs filesystem that starts failing WAL syncs; a supervisor
//     drives SDK writes, restarts the child and checks durability.
//   - F13 crash inside commit (commitcrash_test.go): `meridian serve`
//     processes with gofail failpoints (internal/failpoint) that panic
//     before and after the WAL sync and before a batch is sent to a
//     remote region.
//
// Every write goes through the official Go SDK (azcosmos) and has a unique
// id, so a document found after recovery names exactly one write.
package faults_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/meridiandb/meridian/internal/auth"
	"github.com/meridiandb/meridian/internal/testbin"
)

const (
	faultsDB   = "faultsdb"
	faultsColl = "items"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testbin.Cleanup()
	os.Exit(code)
}

// meridianBinary builds ./cmd/meridian once per test binary (internal/testbin).
func meridianBinary(t *testing.T) string { return testbin.Meridian(t) }

// newClient is a fresh SDK client of endpoint, preferring region (if set).
// azcore's retries are off so a dead server fails fast; a fresh client is
// needed after every restart (the SDK caches a failed bootstrap).
func newClient(t *testing.T, endpoint, region string) *azcosmos.Client {
	t.Helper()
	cred, err := azcosmos.NewKeyCredential(auth.EmulatorKey)
	if err != nil {
		t.Fatal(err)
	}
	opts := &azcosmos.ClientOptions{}
	opts.Retry = policy.RetryOptions{MaxRetries: -1}
	if region != "" {
		opts.PreferredRegions = []string{region}
	}
	c, err := azcosmos.NewClientWithKey(endpoint, cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// createContainer creates the test database and container (/pk).
func createContainer(t *testing.T, c *azcosmos.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.CreateDatabase(ctx, azcosmos.DatabaseProperties{ID: faultsDB}, nil); err != nil {
		t.Fatalf("CreateDatabase: %v", err)
	}
	db, err := c.NewDatabase(faultsDB)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateContainer(ctx, azcosmos.ContainerProperties{ID: faultsColl,
		PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: []string{"/pk"}}}, nil); err != nil {
		t.Fatalf("CreateContainer: %v", err)
	}
}

func container(t *testing.T, c *azcosmos.Client) *azcosmos.ContainerClient {
	t.Helper()
	co, err := c.NewContainer(faultsDB, faultsColl)
	if err != nil {
		t.Fatal(err)
	}
	return co
}

// doc is one write. Every id is unique over a test.
type doc struct {
	ID      string `json:"id"`
	PK      string `json:"pk"`
	Trial   int    `json:"trial"`
	Writer  int    `json:"writer"`
	Seq     int    `json:"seq"`
	Payload string `json:"payload"`
}

// ledger records what writers attempted and what the SDK acknowledged
// (attempted ⊇ acked), and how the rest failed.
type ledger struct {
	mu        sync.Mutex
	attempted map[string]doc
	acked     map[string]doc
	// failures counts failed writes by class ("500", "timeout", ...).
	failures map[string]int
}

func newLedger() *ledger {
	return &ledger{attempted: map[string]doc{}, acked: map[string]doc{}, failures: map[string]int{}}
}

func (l *ledger) attempt(d doc) {
	l.mu.Lock()
	l.attempted[d.ID] = d
	l.mu.Unlock()
}

func (l *ledger) ack(d doc) {
	l.mu.Lock()
	l.acked[d.ID] = d
	l.mu.Unlock()
}

func (l *ledger) fail(class string) {
	l.mu.Lock()
	l.failures[class]++
	l.mu.Unlock()
}

func (l *ledger) counts() (attempted, acked int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.attempted), len(l.acked)
}

// errClass names a failed write: the HTTP status, or the transport error.
func errClass(err error) string {
	var re *azcore.ResponseError
	switch {
	case errors.As(err, &re):
		return fmt.Sprint(re.StatusCode)
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case strings.Contains(err.Error(), "connection refused"):
		return "refused"
	default:
		return "transport"
	}
}

// refused is true when the server is certainly not there.
func refused(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection refused")
}

func (d doc) body() []byte {
	b, err := json.Marshal(d)
	if err != nil {
		panic(err)
	}
	return b
}

// fields decodes a stored item without its system properties.
func fields(raw []byte) (map[string]any, error) {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	for k := range m {
		if strings.HasPrefix(k, "_") {
			delete(m, k)
		}
	}
	return m, nil
}

// readAll returns every item of the container (cross-partition SELECT *)
// by id, without system properties.
func readAll(ctx context.Context, co *azcosmos.ContainerClient) (map[string]map[string]any, error) {
	pager := co.NewQueryItemsPager("SELECT * FROM c", azcosmos.NewPartitionKey(), nil)
	out := map[string]map[string]any{}
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, raw := range page.Items {
			m, err := fields(raw)
			if err != nil {
				return nil, err
			}
			id, _ := m["id"].(string)
			if _, dup := out[id]; dup {
				return nil, fmt.Errorf("id %q returned twice", id)
			}
			out[id] = m
		}
	}
	return out, nil
}

// durability is the comparison of a region's items after recovery with
// the ledger.
type durability struct {
	missing  []string // acknowledged, not present
	wrong    []string // present with other content than written
	invented []string // present, never attempted
	// survived counts unacknowledged writes that are present.
	survived int
}

func (d durability) ok() bool { return len(d.missing)+len(d.wrong)+len(d.invented) == 0 }

// compare checks items (a region's SELECT * after recovery) against the
// ledger: every acknowledged write present with its exact content,
// nothing that was never attempted, every unacknowledged write present at
// most with its own content.
func (l *ledger) compare(items map[string]map[string]any) durability {
	l.mu.Lock()
	defer l.mu.Unlock()
	want := func(d doc) map[string]any {
		m, _ := fields(d.body())
		return m
	}
	var r durability
	for id, d := range l.acked {
		got, ok := items[id]
		switch {
		case !ok:
			r.missing = append(r.missing, id)
		case !reflect.DeepEqual(got, want(d)):
			r.wrong = append(r.wrong, fmt.Sprintf("%s: got %v", id, got))
		}
	}
	for id, got := range items {
		d, ok := l.attempted[id]
		if !ok {
			r.invented = append(r.invented, id)
			continue
		}
		if _, acked := l.acked[id]; !acked {
			r.survived++
			if !reflect.DeepEqual(got, want(d)) {
				r.wrong = append(r.wrong, fmt.Sprintf("%s (unacked): got %v", id, got))
			}
		}
	}
	for _, s := range [][]string{r.missing, r.wrong, r.invented} {
		slices.Sort(s)
	}
	return r
}

// checkDurable reports every violation of compare as a test error and
// returns the number of unacknowledged writes that survived.
func checkDurable(t *testing.T, label string, items map[string]map[string]any, l *ledger) int {
	t.Helper()
	r := l.compare(items)
	_, acked := l.counts()
	if len(r.missing) > 0 {
		t.Errorf("%s: %d of %d acknowledged writes are missing; first %v", label, len(r.missing), acked, r.missing[:min(5, len(r.missing))])
	}
	if len(r.wrong) > 0 {
		t.Errorf("%s: %d writes read back with other content; first %v", label, len(r.wrong), r.wrong[:min(3, len(r.wrong))])
	}
	if len(r.invented) > 0 {
		t.Errorf("%s: %d documents were never written; first %v", label, len(r.invented), r.invented[:min(5, len(r.invented))])
	}
	return r.survived
}

// writers runs n concurrent SDK writers of unique documents through co
// until stop is closed, a writer's server refuses connections, or max
// writes were attempted; it returns once all have stopped.
type writers struct {
	wg   sync.WaitGroup
	stop chan struct{}
	once sync.Once
}

func startWriters(co *azcosmos.ContainerClient, l *ledger, trial, n, max int, timeout time.Duration) *writers {
	w := &writers{stop: make(chan struct{})}
	var mu sync.Mutex
	left := max
	for wi := range n {
		w.wg.Go(func() {
			for seq := 0; ; seq++ {
				select {
				case <-w.stop:
					return
				default:
				}
				mu.Lock()
				if left == 0 {
					mu.Unlock()
					return
				}
				left--
				mu.Unlock()
				d := doc{ID: fmt.Sprintf("t%d-w%02d-%06d", trial, wi, seq), PK: fmt.Sprintf("p%02d", (wi*7+seq)%11),
					Trial: trial, Writer: wi, Seq: seq, Payload: strings.Repeat(fmt.Sprintf("%d/%d/%d;", trial, wi, seq), 20)}
				l.attempt(d)
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				var err error
				if seq%2 == 0 {
					_, err = co.CreateItem(ctx, azcosmos.NewPartitionKeyString(d.PK), d.body(), nil)
				} else {
					_, err = co.UpsertItem(ctx, azcosmos.NewPartitionKeyString(d.PK), d.body(), nil)
				}
				cancel()
				if err == nil {
					l.ack(d)
					continue
				}
				l.fail(errClass(err))
				if refused(err) {
					return
				}
				select {
				case <-w.stop:
					return
				case <-time.After(10 * time.Millisecond):
				}
			}
		})
	}
	return w
}

// halt stops the writers and waits for them.
func (w *writers) halt() {
	w.once.Do(func() { close(w.stop) })
	w.wg.Wait()
}

// lockedBuffer is a goroutine-safe output collector that can signal when
// a line containing a marker appears.
type lockedBuffer struct {
	mu    sync.Mutex
	b     strings.Builder
	watch map[string]chan struct{}
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Write(p)
	s := l.b.String()
	for m, ch := range l.watch {
		if strings.Contains(s, m) {
			close(ch)
			delete(l.watch, m)
		}
	}
	return len(p), nil
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// on returns a channel closed once the output contains marker.
func (l *lockedBuffer) on(marker string) <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	ch := make(chan struct{})
	if strings.Contains(l.b.String(), marker) {
		close(ch)
		return ch
	}
	if l.watch == nil {
		l.watch = map[string]chan struct{}{}
	}
	l.watch[marker] = ch
	return ch
}

// waitAnswers polls GET endpoint until it answers, the process dies or
// 30 s pass.
func waitAnswers(endpoint string, died <-chan struct{}) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	defer hc.CloseIdleConnections()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := hc.Get(endpoint)
		if err == nil {
			_ = resp.Body.Close()
			return nil
		}
		select {
		case <-died:
			return fmt.Errorf("died before GET %s answered: %v", endpoint, err)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("GET %s did not answer within 30s: %v", endpoint, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freeAddrs returns n distinct loopback addresses that were free a moment
// ago.
func freeAddrs(n int) ([]string, error) {
	var out []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		out = append(out, ln.Addr().String())
	}
	return out, nil
}
