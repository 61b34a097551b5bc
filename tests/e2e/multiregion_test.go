package e2e_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/stretchr/testify/require"

	"github.com/meridiandb/meridian/customsync"
	"github.com/meridiandb/meridian/internal/auth"
	"github.com/meridiandb/meridian/internal/topology"
)

const (
	mrWest   = "West US"
	mrEast   = "East US"
	mrEurope = "North Europe"
	mrDB     = "mrdb"
	mrColl   = "items"
	// mrWriters write concurrently; writer w owns partition key "w<w>" and
	// every id it writes, so its writes to one id are ordered.
	mrWriters = 4
)

var mrRegions = []string{mrWest, mrEast, mrEurope}

// mrCluster is a three-region account of `meridian serve --topology`
// processes, each on its own data directory.
type mrCluster struct {
	t        *testing.T
	topoPath string
	topo     *topology.Topology
	dirs     map[string]string
	procs    map[string]*mrProc
}

// freeAddrs returns n distinct loopback addresses that were free a moment
// ago.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var lns []net.Listener
	var out []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		lns = append(lns, ln)
		out = append(out, ln.Addr().String())
	}
	for _, ln := range lns {
		require.NoError(t, ln.Close())
	}
	return out
}

func startMRCluster(t *testing.T) *mrCluster {
	t.Helper()
	addrs := freeAddrs(t, 2*len(mrRegions))
	topo := &topology.Topology{
		Account:     "meridian-e2e",
		WriteRegion: mrWest,
		Consistency: "Session",
		Links: []topology.Link{
			{A: mrWest, B: mrEast, RTT: topology.Duration(20 * time.Millisecond)},
			{A: mrWest, B: mrEurope, RTT: topology.Duration(40 * time.Millisecond)},
			{A: mrEast, B: mrEurope, RTT: topology.Duration(20 * time.Millisecond)},
		},
	}
	for i, name := range mrRegions {
		topo.Regions = append(topo.Regions, topology.Region{
			Name: name, ID: uint32(i + 1), Priority: i, Endpoint: addrs[2*i], Peer: addrs[2*i+1],
		})
	}
	b, err := json.MarshalIndent(topo, "", "  ")
	require.NoError(t, err)
	c := &mrCluster{t: t, topoPath: filepath.Join(t.TempDir(), "topology.json"), topo: topo,
		dirs: map[string]string{}, procs: map[string]*mrProc{}}
	require.NoError(t, os.WriteFile(c.topoPath, b, 0o644))
	base := t.TempDir()
	for _, name := range mrRegions {
		c.dirs[name] = filepath.Join(base, strings.ReplaceAll(name, " ", ""))
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, name := range mrRegions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := c.tryStart(name)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Error(err)
				return
			}
			c.procs[name] = p
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return c
}

// start (re)starts region name on its data directory and its addresses
// from the topology, retrying briefly while the old ports are released.
func (c *mrCluster) start(name string) {
	c.t.Helper()
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		var p *mrProc
		if p, err = c.tryStart(name); err == nil {
			c.procs[name] = p
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	c.t.Fatalf("restart %s: %v", name, err)
}

func (c *mrCluster) tryStart(name string) (*mrProc, error) {
	args := []string{"serve", "--topology", c.topoPath, "--region", name, "--data", c.dirs[name], "--log-level", "warn", "--failover-timeout", "0"}
	cmd := exec.Command(meridianBin, args...)
	p := &mrProc{cmd: cmd, ready: make(chan struct{}), done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &p.out, &p.out
	p.out.onLine = func(s string) {
		if strings.Contains(s, "serving at ") {
			p.readyOnce.Do(func() { close(p.ready) })
		}
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	c.t.Cleanup(func() {
		p.kill()
		if c.t.Failed() {
			c.t.Logf("meridian %v (pid %d) output:\n%s", args, cmd.Process.Pid, p.out.String())
		}
	})
	select {
	case <-p.ready:
	case <-p.done:
		return nil, fmt.Errorf("%s exited before becoming ready: %v\n%s", name, p.waitErr, p.out.String())
	case <-time.After(30 * time.Second):
		p.kill()
		return nil, fmt.Errorf("%s did not print its endpoint within 30s\n%s", name, p.out.String())
	}
	// Ready once GET / answers.
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := hc.Get(c.endpoint(name))
		if err == nil {
			_ = resp.Body.Close()
			return p, nil
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("%s died while starting: %v\n%s", name, p.waitErr, p.out.String())
		default:
		}
		if time.Now().After(deadline) {
			p.kill()
			return nil, fmt.Errorf("%s: GET / did not answer within 30s: %v", name, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// mrProc is one `meridian serve --topology` child process.
type mrProc struct {
	cmd       *exec.Cmd
	out       lineBuffer
	ready     chan struct{}
	readyOnce sync.Once
	done      chan struct{}
	waitErr   error
}

// kill SIGKILLs the process (if alive) and waits for it.
func (p *mrProc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// lineBuffer collects a process's output and reports each write.
type lineBuffer struct {
	mu     sync.Mutex
	b      strings.Builder
	onLine func(string)
}

func (l *lineBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.b.Write(p)
	s := l.b.String()
	l.mu.Unlock()
	if l.onLine != nil {
		l.onLine(s)
	}
	return len(p), nil
}

func (l *lineBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (c *mrCluster) kill(name string) { c.procs[name].kill() }

func (c *mrCluster) endpoint(name string) string {
	r, ok := c.topo.Region(name)
	require.True(c.t, ok)
	return "http://" + r.Endpoint + "/"
}

// container returns a fresh client of "mrdb"/"items" bootstrapped through
// region's own endpoint and preferring only region. Fresh clients are
// needed after a restart: the SDK caches a failed bootstrap, and marks an
// unreachable region unavailable, for five minutes.
func (c *mrCluster) container(name string) *azcosmos.ContainerClient {
	c.t.Helper()
	cred, err := azcosmos.NewKeyCredential(auth.EmulatorKey)
	require.NoError(c.t, err)
	cl, err := azcosmos.NewClientWithKey(c.endpoint(name), cred, &azcosmos.ClientOptions{PreferredRegions: []string{name}})
	require.NoError(c.t, err)
	co, err := cl.NewContainer(mrDB, mrColl)
	require.NoError(c.t, err)
	return co
}

// createContainer creates the database and the container (/pk) through
// the write region.
func (c *mrCluster) createContainer() {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cred, err := azcosmos.NewKeyCredential(auth.EmulatorKey)
	require.NoError(c.t, err)
	cl, err := azcosmos.NewClientWithKey(c.endpoint(mrWest), cred, nil)
	require.NoError(c.t, err)
	_, err = cl.CreateDatabase(ctx, azcosmos.DatabaseProperties{ID: mrDB}, nil)
	require.NoError(c.t, err)
	db, err := cl.NewDatabase(mrDB)
	require.NoError(c.t, err)
	_, err = db.CreateContainer(ctx, azcosmos.ContainerProperties{ID: mrColl,
		PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: []string{"/pk"}}}, nil)
	require.NoError(c.t, err)
}

// mrUserFields decodes a stored item without its system properties.
func mrUserFields(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	for k := range m {
		if strings.HasPrefix(k, "_") {
			delete(m, k)
		}
	}
	return m
}

// syncer is a customsync.Syncer writing through a fresh West US client and
// confirming in targets through fresh clients of theirs.
func (c *mrCluster) syncer(targets ...string) *customsync.Syncer {
	c.t.Helper()
	readers := map[string]*azcosmos.ContainerClient{}
	for _, r := range targets {
		readers[r] = c.container(r)
	}
	s, err := customsync.New(c.container(mrWest), readers, &customsync.Options{Timeout: 20 * time.Second})
	require.NoError(c.t, err)
	return s
}

// mrDoc is one version of one item. Versions of an id only grow.
type mrDoc struct {
	ID      string `json:"id"`
	PK      string `json:"pk"`
	Writer  int    `json:"writer"`
	Seq     int    `json:"seq"`
	Version int    `json:"version"`
	Phase   string `json:"phase"`
	Payload string `json:"payload"`
}

func (d mrDoc) fields() map[string]any {
	b, _ := json.Marshal(d)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

// mrLedger records every version written, which were acknowledged by the
// write region, and which were confirmed in every target of their phase.
type mrLedger struct {
	mu       sync.Mutex
	versions map[string]map[int]mrDoc // id -> version -> content
	acked    map[string]mrDoc         // latest acknowledged version
	pending  map[string]mrDoc         // attempted, outcome unknown
	synced   map[string]mrDoc         // latest version confirmed in all targets
	nAcked   int
	syncLat  []time.Duration
}

func newLedger() *mrLedger {
	return &mrLedger{versions: map[string]map[int]mrDoc{}, acked: map[string]mrDoc{}, pending: map[string]mrDoc{}, synced: map[string]mrDoc{}}
}

func (l *mrLedger) attempt(d mrDoc) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.versions[d.ID] == nil {
		l.versions[d.ID] = map[int]mrDoc{}
	}
	l.versions[d.ID][d.Version] = d
	l.pending[d.ID] = d
}

func (l *mrLedger) ack(d mrDoc, synced bool, took time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.pending, d.ID)
	l.acked[d.ID] = d
	l.nAcked++
	if synced {
		l.synced[d.ID] = d
		l.syncLat = append(l.syncLat, took)
	}
}

func (l *mrLedger) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.nAcked
}

// latencies returns and resets the recorded sync latencies.
func (l *mrLedger) latencies() []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.syncLat
	l.syncLat = nil
	return out
}

// stream is a set of concurrent writers using one Syncer.
type stream struct {
	t      *testing.T
	ledger *mrLedger
	phase  string
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// killed is set just before a process is killed on purpose: errors
	// after it are expected.
	killed atomic.Bool
	// draining asks the writers to stop after their current write.
	draining atomic.Bool
	errMu    sync.Mutex
	errs     []string
}

// nextSeq continues each writer's sequence across phases.
var nextSeq [mrWriters]int

func startStream(t *testing.T, l *mrLedger, s *customsync.Syncer, phase string) *stream {
	ctx, cancel := context.WithCancel(context.Background())
	st := &stream{t: t, ledger: l, phase: phase, cancel: cancel}
	for w := range mrWriters {
		st.wg.Add(1)
		go func() {
			defer st.wg.Done()
			st.write(ctx, s, w)
		}()
	}
	return st
}

func (st *stream) write(ctx context.Context, s *customsync.Syncer, w int) {
	pk := fmt.Sprintf("w%d", w)
	for ctx.Err() == nil && !st.draining.Load() {
		seq := nextSeq[w]
		nextSeq[w]++
		d := mrDoc{ID: fmt.Sprintf("w%d-%05d", w, seq), PK: pk, Writer: w, Seq: seq, Version: 1, Phase: st.phase,
			Payload: strings.Repeat(fmt.Sprintf("%s/%d/%d;", st.phase, w, seq), 8)}
		replace := seq%4 == 3
		if replace {
			// Replace the writer's item of 3 writes ago with a new version.
			st.ledger.mu.Lock()
			prev, ok := st.ledger.acked[fmt.Sprintf("w%d-%05d", w, seq-3)]
			st.ledger.mu.Unlock()
			if !ok {
				replace = false
			} else {
				d.ID, d.Seq, d.Version = prev.ID, prev.Seq, prev.Version+1
			}
		}
		body, _ := json.Marshal(d)
		st.ledger.attempt(d)
		start := time.Now()
		var err error
		if replace {
			_, err = s.ReplaceItem(ctx, azcosmos.NewPartitionKeyString(pk), d.ID, body, nil)
		} else {
			_, err = s.CreateItem(ctx, azcosmos.NewPartitionKeyString(pk), body, nil)
		}
		var se *customsync.SyncError
		switch {
		case err == nil:
			st.ledger.ack(d, true, time.Since(start))
			continue
		case errors.As(err, &se):
			// Written in West US, not confirmed everywhere.
			st.ledger.ack(d, false, 0)
		}
		if !st.killed.Load() {
			st.errMu.Lock()
			st.errs = append(st.errs, fmt.Sprintf("%s: %v", d.ID, err))
			st.errMu.Unlock()
		}
		return // after an unknown outcome this writer's ledger must stay exact
	}
}

// waitAcked blocks until the ledger holds n acknowledged writes.
func (st *stream) waitAcked(n int) {
	st.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for st.ledger.count() < n {
		if time.Now().After(deadline) {
			st.t.Fatalf("%s: only %d of %d writes acknowledged after 30s; errors: %v", st.phase, st.ledger.count(), n, st.errors())
		}
		if errs := st.errors(); len(errs) > 0 {
			st.t.Fatalf("%s: write failed: %v", st.phase, errs)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (st *stream) errors() []string {
	st.errMu.Lock()
	defer st.errMu.Unlock()
	return slices.Clone(st.errs)
}

// drain lets every writer finish its current write (and its
// confirmations), then waits for them.
func (st *stream) drain() {
	st.draining.Store(true)
	st.wg.Wait()
	st.cancel()
}

// stop cancels the writers' requests at once and waits for them.
func (st *stream) stop() {
	st.cancel()
	st.wg.Wait()
}

// requireNoErrors fails on writes that failed while no process was down.
func (st *stream) requireNoErrors() {
	st.t.Helper()
	require.Empty(st.t, st.errors(), "%s: writes failed", st.phase)
}

// regionItems reads every item of every writer's partition in region with
// session token tok (so the region must have caught up with it), checking
// that the region itself served every page and that no id appears twice.
func regionItems(t *testing.T, co *azcosmos.ContainerClient, region, tok string) map[string]map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := map[string]map[string]any{}
	for w := range mrWriters {
		pk := azcosmos.NewPartitionKeyString(fmt.Sprintf("w%d", w))
		pager := co.NewQueryItemsPager("SELECT * FROM c", pk, &azcosmos.QueryOptions{SessionToken: &tok})
		rows := 0
		for pager.More() {
			var raw *http.Response
			page, err := pager.NextPage(policy.WithCaptureResponse(ctx, &raw))
			require.NoError(t, err, "query %s", region)
			require.Equal(t, region, raw.Header.Get(customsync.HeaderRegion), "the query must be served by %s", region)
			for _, item := range page.Items {
				m := mrUserFields(t, item)
				id, _ := m["id"].(string)
				require.NotContains(t, out, id, "%s: id %s appears twice", region, id)
				out[id] = m
				rows++
			}
		}
		var raw *http.Response
		cp := co.NewQueryItemsPager("SELECT VALUE COUNT(1) FROM c", pk, &azcosmos.QueryOptions{SessionToken: &tok})
		page, err := cp.NextPage(policy.WithCaptureResponse(ctx, &raw))
		require.NoError(t, err)
		require.Equal(t, region, raw.Header.Get(customsync.HeaderRegion))
		require.Len(t, page.Items, 1)
		require.Equal(t, fmt.Sprint(rows), string(page.Items[0]), "%s: COUNT agrees with the rows of %v", region, pk)
	}
	return out
}

// verifyAll checks every region against the ledger after a fence write
// synced to every region: each acknowledged id is present with its
// acknowledged content (or, if a later write's outcome is unknown, that
// write's content), nothing else exists, and all regions are identical.
func verifyAll(t *testing.T, c *mrCluster, l *mrLedger, label string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := c.syncer(mrEast, mrEurope)
	fence := fmt.Sprintf("fence-%s", strings.ReplaceAll(label, " ", "-"))
	res, err := s.UpsertItem(ctx, azcosmos.NewPartitionKeyString("fence"), []byte(`{"id":"`+fence+`","pk":"fence"}`), nil)
	require.NoError(t, err, "%s: fence write synced to every region", label)
	tok := *res.Response.SessionToken

	l.mu.Lock()
	defer l.mu.Unlock()
	var first map[string]map[string]any
	for _, region := range mrRegions {
		got := regionItems(t, c.container(region), region, tok)
		for id, want := range l.acked {
			doc, ok := got[id]
			if !ok {
				require.Fail(t, "lost write", "%s: %s: acknowledged %s v%d is missing", label, region, id, want.Version)
			}
			if p, ok := l.pending[id]; ok && reflect.DeepEqual(doc, p.fields()) {
				continue // the unacknowledged later write did happen
			}
			require.Equal(t, want.fields(), doc, "%s: %s: content of %s", label, region, id)
		}
		for id, doc := range got {
			if _, ok := l.acked[id]; ok {
				continue
			}
			p, ok := l.pending[id]
			require.True(t, ok, "%s: %s: %s was never written", label, region, id)
			require.Equal(t, p.fields(), doc, "%s: %s: content of unacknowledged %s", label, region, id)
		}
		if first == nil {
			first = got
		} else {
			require.Equal(t, len(first), len(got), "%s: %s holds as many items as %s", label, region, mrWest)
			require.Equal(t, first, got, "%s: %s is identical to %s", label, region, mrWest)
		}
		t.Logf("%s: %s holds %d items, identical to the ledger", label, region, len(got))
	}
}

// verifySyncedIn reads every synced write in region during an outage of
// the write region: each must be there, at its synced version or later.
func verifySyncedIn(t *testing.T, c *mrCluster, l *mrLedger, region string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	co := c.container(region)
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, want := range l.synced {
		var raw *http.Response
		r, err := co.ReadItem(policy.WithCaptureResponse(ctx, &raw), azcosmos.NewPartitionKeyString(want.PK), id, nil)
		require.NoError(t, err, "synced %s v%d must be readable in %s while %s is down", id, want.Version, region, mrWest)
		require.Equal(t, region, raw.Header.Get(customsync.HeaderRegion))
		got := mrUserFields(t, r.Value)
		v, _ := got["version"].(float64)
		require.GreaterOrEqual(t, int(v), want.Version, "%s in %s", id, region)
		require.Equal(t, l.versions[id][int(v)].fields(), got, "%s in %s holds a version that was written", id, region)
	}
	return len(l.synced)
}

func quantiles(ds []time.Duration) string {
	if len(ds) == 0 {
		return "no samples"
	}
	s := slices.Clone(ds)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	q := func(p float64) time.Duration {
		return s[min(len(s)-1, int(p*float64(len(s))))].Round(10 * time.Microsecond)
	}
	return fmt.Sprintf("n=%d p50=%v p99=%v max=%v", len(s), q(0.5), q(0.99), s[len(s)-1].Round(10*time.Microsecond))
}

// TestMultiRegionProcesses runs a three-region account as three `meridian
// serve --topology` processes and writes through the Go SDK to West US,
// every write confirmed by session reads served by East US and North
// Europe (package customsync). It SIGKILLs a read region mid-stream, keeps
// writing, restarts it and checks that it caught up without loss or
// duplicates; then SIGKILLs the write region mid-stream, reads the synced
// writes in East US and North Europe during the outage, restarts it, and
// checks that every acknowledged write is in every region.
func TestMultiRegionProcesses(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGKILL")
	}
	began := time.Now()
	c := startMRCluster(t)
	t.Logf("3 regions up in %v", time.Since(began).Round(time.Millisecond))
	c.createContainer()
	l := newLedger()

	// Phase 1: steady state, synced to both read regions.
	st := startStream(t, l, c.syncer(mrEast, mrEurope), "steady")
	st.waitAcked(40)
	st.drain()
	st.requireNoErrors()
	t.Logf("steady: %d writes, synced to East US and North Europe: %s", l.count(), quantiles(l.latencies()))
	verifyAll(t, c, l, "steady")

	// Phase 2: North Europe dies mid-stream; writes continue, synced to
	// East US; it restarts and must catch up.
	st = startStream(t, l, c.syncer(mrEast), "read-region-kill")
	st.waitAcked(l.count() + 20)
	c.kill(mrEurope)
	t.Logf("SIGKILLed %s at %d acknowledged writes", mrEurope, l.count())
	st.waitAcked(l.count() + 30)
	c.start(mrEurope)
	t.Logf("restarted %s at %d acknowledged writes", mrEurope, l.count())
	st.waitAcked(l.count() + 20)
	st.drain()
	st.requireNoErrors()
	t.Logf("read-region kill: %d writes in all, synced to East US: %s", l.count(), quantiles(l.latencies()))
	verifyAll(t, c, l, "read region restarted")

	// Phase 3: West US (the write region) dies mid-stream.
	st = startStream(t, l, c.syncer(mrEast, mrEurope), "write-region-kill")
	st.waitAcked(l.count() + 40)
	st.killed.Store(true)
	c.kill(mrWest)
	st.stop()
	l.mu.Lock()
	acked, pending, synced := len(l.acked), len(l.pending), len(l.synced)
	l.mu.Unlock()
	t.Logf("SIGKILLed %s: %d items acknowledged (%d confirmed in every target of their phase), %d writes with unknown outcome; synced: %s",
		mrWest, acked, synced, pending, quantiles(l.latencies()))
	for _, r := range []string{mrEast, mrEurope} {
		n := verifySyncedIn(t, c, l, r)
		t.Logf("outage: %d synced items readable in %s while %s is down", n, r, mrWest)
	}
	c.start(mrWest)
	verifyAll(t, c, l, "write region restarted")

	// The account keeps working: a new write syncs to both regions.
	res, err := c.syncer(mrEast, mrEurope).CreateItem(context.Background(), azcosmos.NewPartitionKeyString("after"),
		[]byte(`{"id":"after-restart","pk":"after"}`), nil)
	require.NoError(t, err)
	t.Logf("after the restarts: write %v, confirmed %v; whole test %v", res.Write.Round(time.Microsecond), res.Confirmed, time.Since(began).Round(time.Millisecond))
}
