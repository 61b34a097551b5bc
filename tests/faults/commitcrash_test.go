package faults_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/meridiandb/meridian/internal/topology"
)

// F13: crash inside commit (testing.md §3.2), with the gofail failpoints
// of internal/failpoint:
//
//   - partitionBeforeSync: the group is prepared (LSNs assigned), not yet
//     committed nor synced;
//   - partitionAfterSync: the group is durable, its applied LSN not yet
//     published and no request answered;
//   - replBeforeSend: the write region is about to ship a batch to the
//     read region.
//
// A two-region account of `meridian serve --topology` processes (w writes,
// rd reads). For each failpoint, twice, on the same data directories: the
// write region is restarted with GOFAIL_FAILPOINTS='<name>=<N>*off->panic'
// (gofail terms: N hits do nothing, the next panics; N seeded), concurrent
// SDK writers run until it panics there, and it is restarted without
// failpoints; then every acknowledged write must be in the write region
// with its content, and the read region must converge to exactly the
// write region's items (unacknowledged writes may or may not have
// survived, but the same way in both regions).

const (
	ccWrite = "w"
	ccRead  = "rd"
	// ccRounds is how many times each failpoint crashes the write region.
	ccRounds = 2
)

// ccCluster is the two-region account.
type ccCluster struct {
	t        *testing.T
	bin      string
	topoPath string
	topo     *topology.Topology
	dirs     map[string]string
	procs    map[string]*ccProc
}

type ccProc struct {
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{}
	err  error
}

func (p *ccProc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func (p *ccProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func startCCCluster(t *testing.T, bin string) *ccCluster {
	t.Helper()
	addrs, err := freeAddrs(4)
	if err != nil {
		t.Fatal(err)
	}
	topo := &topology.Topology{Account: "meridian-faults", WriteRegion: ccWrite, Consistency: "Session",
		Links: []topology.Link{{A: ccWrite, B: ccRead, RTT: topology.Duration(10 * time.Millisecond)}}}
	for i, name := range []string{ccWrite, ccRead} {
		topo.Regions = append(topo.Regions, topology.Region{Name: name, ID: uint32(i + 1), Priority: i,
			Endpoint: addrs[2*i], Peer: addrs[2*i+1]})
	}
	topo.Defaults()
	if err := topo.Validate(); err != nil {
		t.Fatal(err)
	}
	b, err := json.MarshalIndent(topo, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	c := &ccCluster{t: t, bin: bin, topoPath: filepath.Join(base, "topology.json"), topo: topo,
		dirs:  map[string]string{ccWrite: filepath.Join(base, "w.data"), ccRead: filepath.Join(base, "rd.data")},
		procs: map[string]*ccProc{}}
	if err := os.WriteFile(c.topoPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	c.start(ccRead, "")
	c.start(ccWrite, "")
	return c
}

func (c *ccCluster) endpoint(region string) string {
	r, _ := c.topo.Region(region)
	return "http://" + r.Endpoint + "/"
}

// start (re)starts region with GOFAIL_FAILPOINTS=failpoints (none if
// empty), retrying briefly while its old ports are released.
func (c *ccCluster) start(region, failpoints string) {
	c.t.Helper()
	var err error
	for attempt := range 5 {
		if attempt > 0 {
			time.Sleep(200 * time.Millisecond)
		}
		if err = c.tryStart(region, failpoints); err == nil {
			return
		}
	}
	c.t.Fatalf("start %s: %v", region, err)
}

func (c *ccCluster) tryStart(region, failpoints string) error {
	cmd := exec.Command(c.bin, "serve", "--topology", c.topoPath, "--region", region, "--data", c.dirs[region], "--log-level", "warn")
	cmd.Env = os.Environ()
	if failpoints != "" {
		cmd.Env = append(cmd.Env, "GOFAIL_FAILPOINTS="+failpoints)
	}
	p := &ccProc{cmd: cmd, out: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	c.t.Cleanup(func() {
		p.kill()
		if c.t.Failed() {
			c.t.Logf("%s (GOFAIL_FAILPOINTS=%q) output:\n%s", region, failpoints, tail(p.out.String(), 3000))
		}
	})
	if err := waitAnswers(c.endpoint(region), p.done); err != nil {
		p.kill()
		return fmt.Errorf("%w\n%s", err, p.out.String())
	}
	c.procs[region] = p
	return nil
}

// stop ends region gracefully (SIGTERM).
func (c *ccCluster) stop(region string) {
	c.t.Helper()
	p := c.procs[region]
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		p.kill()
		c.t.Errorf("%s did not stop within 15 s of SIGTERM", region)
	}
}

// items is region's SELECT * (through a fresh client preferring it).
func (c *ccCluster) items(ctx context.Context, region string) (map[string]map[string]any, error) {
	return readAll(ctx, container(c.t, newClient(c.t, c.endpoint(region), region)))
}

// converge waits (bounded) until the read region holds exactly the write
// region's items and returns both.
func (c *ccCluster) converge(within time.Duration) (w, r map[string]map[string]any, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), within+10*time.Second)
	defer cancel()
	deadline := time.Now().Add(within)
	for {
		if w, err = c.items(ctx, ccWrite); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", ccWrite, err)
		}
		r, err = c.items(ctx, ccRead)
		if err == nil && reflect.DeepEqual(w, r) {
			return w, r, nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return w, nil, fmt.Errorf("%s: %w", ccRead, err)
			}
			return w, r, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestCrashInsideCommit is F13.
func TestCrashInsideCommit(t *testing.T) {
	if testing.Short() {
		t.Skip("runs meridian processes")
	}
	bin := meridianBinary(t)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("MERIDIAN_FAULTS_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (MERIDIAN_FAULTS_SEED=%d reruns it)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0x63636f6d))
	start := time.Now()
	c := startCCCluster(t, bin)
	createContainer(t, newClient(t, c.endpoint(ccWrite), ccWrite))
	l := newLedger()

	points := []struct {
		name   string
		lo, hi int // the panic comes at hit N+1, N in [lo, hi]
	}{
		{"partitionBeforeSync", 30, 200},
		{"partitionAfterSync", 30, 200},
		{"replBeforeSend", 10, 60},
	}
	for trial := range ccRounds * len(points) {
		fp := points[trial%len(points)]
		n := fp.lo + rng.IntN(fp.hi-fp.lo+1)
		terms := fmt.Sprintf("%s=%d*off->panic", fp.name, n)
		c.stop(ccWrite)
		c.start(ccWrite, terms)
		p := c.procs[ccWrite]
		_, ackedBefore := l.counts()
		failedBefore := failureClasses(l)
		w := startWriters(container(t, newClient(t, c.endpoint(ccWrite), ccWrite)), l, trial, 12, 20000, 5*time.Second)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			w.halt()
			t.Fatalf("%s: the write region did not crash within 15 s", terms)
		}
		w.halt()
		attempted, acked := l.counts()
		failed := failureClasses(l)
		for k, v := range failed {
			failed[k] = v - failedBefore[k]
		}
		out := p.out.String()
		if !strings.Contains(out, "panic: failpoint "+fp.name+":") {
			t.Fatalf("%s: the write region exited (%v) but not at the failpoint:\n%s", terms, p.err, tail(out, 3000))
		}
		if acked == ackedBefore {
			t.Errorf("%s: no write was acknowledged before the crash: the trial proves nothing", terms)
		}
		if c.procs[ccRead].exited() {
			t.Fatalf("the read region died: %v", c.procs[ccRead].err)
		}

		c.start(ccWrite, "")
		wItems, rItems, err := c.converge(10 * time.Second)
		if err != nil {
			t.Fatalf("%s: after restart: %v", terms, err)
		}
		survived := checkDurable(t, terms+" (write region)", wItems, l)
		checkDurable(t, terms+" (read region)", rItems, l)
		if !reflect.DeepEqual(wItems, rItems) {
			onlyW, onlyR := diffIDs(wItems, rItems)
			t.Errorf("%s: the read region did not converge within 10 s: %d items vs %d; only in %s %v, only in %s %v",
				terms, len(wItems), len(rItems), ccWrite, onlyW, ccRead, onlyR)
		}
		t.Logf("%s: crashed after %d acked this trial (%d total, %d attempted; failed this trial %v); after restart %d items in both regions, %d unacked writes survived",
			terms, acked-ackedBefore, acked, attempted, failed, len(wItems), survived)
		if t.Failed() {
			return
		}
	}
	t.Logf("%d crashes (%d rounds of %d failpoints) in %s", ccRounds*len(points), ccRounds, len(points), time.Since(start).Round(100*time.Millisecond))
}

func diffIDs(a, b map[string]map[string]any) (onlyA, onlyB []string) {
	for id := range a {
		if _, ok := b[id]; !ok && len(onlyA) < 5 {
			onlyA = append(onlyA, id)
		}
	}
	for id := range b {
		if _, ok := a[id]; !ok && len(onlyB) < 5 {
			onlyB = append(onlyB, id)
		}
	}
	return onlyA, onlyB
}
