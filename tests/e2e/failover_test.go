package e2e_test

// FO-A1 and FO-F4 of issue "Regional outages" (consistency-semantics.md
// §5.5), multi-process and randomized. Each trial starts a fresh
// three-region account as three `meridian serve --topology` processes
// (automatic failover after 1.5 s, random WAN round trips) and runs 2-4
// concurrent azcosmos writers against West US (creates and replaces).
//
//   - FO-A1 trials (Session): every write is synchronized to East US, North
//     Europe or both, natively (x-meridian-sync-regions) or with the
//     two-client pattern (customsync.Syncer.Confirm, whose confirmations
//     may finish after the kill). A write counts once acknowledged after
//     its synchronization.
//   - FO-F4 trials (Strong, no sync header): every acknowledged write
//     counts.
//
// In every Strong trial and half of the others, West US → East US is
// partitioned (one way) for a while before the kill, so that East US, next
// in priority, lacks acknowledged writes that only North Europe holds and
// must catch them up before it takes writes (FO-F1 is the failure mode).
// Then West US is SIGKILLed at a random moment, and the test asserts:
//
//   - a write is accepted in East US (RTO, split with the failover record's
//     fencedAt/promotedAt and a poll of the survivors' status pages), and
//     the record names an Automatic failover from West US to East US;
//   - East US holds every counted write (at its version or a later written
//     one) and nothing never written; North Europe converges to exactly
//     East US's items;
//   - West US, restarted on its data directory, announces East US as the
//     write region, becomes a Healthy read region, answers a write with
//     403/3, and converges to exactly East US's items.
//
// Trials: MERIDIAN_FAILOVER_TRIALS FO-A1 trials (default 3, 1 with
// -short) and MERIDIAN_FAILOVER_STRONG_TRIALS FO-F4 trials (default 1).
// Every trial logs its seed; MERIDIAN_FAILOVER_SEED=N makes trial i use
// seed N+i (timing still varies). Each process's stdout and stderr go to a
// file in the test's temporary directory (or under MERIDIAN_FAILOVER_LOG_DIR,
// kept); their tails are printed when a trial fails. The in-process versions are in tests/geo/failover_test.go.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/meridiandb/meridian/customsync"
	"github.com/meridiandb/meridian/internal/auth"
	"github.com/meridiandb/meridian/internal/topology"
)

const (
	foWest   = "West US"
	foEast   = "East US"
	foEurope = "North Europe"
	foDB     = "fodb"
	foColl   = "items"
	// foDetect is --failover-timeout.
	foDetect = 1500 * time.Millisecond
	// foSyncTimeout bounds a custom-synchronization confirmation.
	foSyncTimeout = 5 * time.Second
)

var foRegions = []string{foWest, foEast, foEurope}

// TestFailoverKillWriteRegion is FO-A1 (synced writes survive the loss of
// the write region) and FO-F4 (Strong: no acknowledged write is lost),
// plus the deposed region's return as a read region (FO-F3 for writes sent
// to it).
func TestFailoverKillWriteRegion(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGKILL")
	}
	synced := foEnvInt(t, "MERIDIAN_FAILOVER_TRIALS", 3)
	if testing.Short() && os.Getenv("MERIDIAN_FAILOVER_TRIALS") == "" {
		synced = 1
	}
	strong := foEnvInt(t, "MERIDIAN_FAILOVER_STRONG_TRIALS", 1)
	base := uint64(time.Now().UnixNano())
	if s := os.Getenv("MERIDIAN_FAILOVER_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("MERIDIAN_FAILOVER_SEED=%q: %v", s, err)
		}
		base = v
	}
	rtos := map[string][]foRTO{}
	trial := 0
	run := func(variant string, n int) {
		for i := range n {
			idx := trial
			seed := base + uint64(idx)
			trial++
			t.Run(fmt.Sprintf("%s/%d", variant, i+1), func(t *testing.T) {
				t.Logf("seed %d (reproduce: MERIDIAN_FAILOVER_SEED=%d, trial %d)", seed, base, idx)
				if r, ok := foTrial(t, variant, seed); ok {
					rtos[variant] = append(rtos[variant], r)
				}
			})
		}
	}
	run("FO-A1-synced", synced)
	run("FO-F4-strong", strong)
	for _, variant := range []string{"FO-A1-synced", "FO-F4-strong"} {
		rs := rtos[variant]
		if len(rs) == 0 {
			continue
		}
		var sum, maxR, elect, detect, promote, open time.Duration
		for _, r := range rs {
			sum += r.total
			maxR = max(maxR, r.total)
			elect += r.elect
			detect += r.detect
			promote += r.promote
			open += r.open
		}
		n := time.Duration(len(rs))
		ms := func(d time.Duration) time.Duration { return (d / n).Round(time.Millisecond) }
		t.Logf("%s RTO over %d trials (detection timeout %v): mean %v, max %v; mean split: detect %v (new Raft leader seen at +%v), promote %v, first write %v",
			variant, len(rs), foDetect, ms(sum), maxR.Round(time.Millisecond), ms(detect), ms(elect), ms(promote), ms(open))
		for i, r := range rs {
			t.Logf("  %s trial %d: %s", variant, i+1, r)
		}
	}
}

func foEnvInt(t *testing.T, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		t.Fatalf("%s=%q: want a non-negative integer", name, s)
	}
	return n
}

// foRTO is one failover's recovery time, split with the control plane's
// own timestamps (fencedAt, promotedAt of the failover record).
type foRTO struct {
	total, detect, promote, open time.Duration
	// elect: kill → a survivor first names a new Raft leader (polled).
	elect time.Duration
	split bool
}

func (r foRTO) String() string {
	ms := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	if !r.split {
		return fmt.Sprintf("RTO %v (no split)", ms(r.total))
	}
	return fmt.Sprintf("RTO %v = detect %v (kill → fencedAt; new Raft leader seen at +%v) + promote %v (fencedAt → promotedAt) + first write %v (promotedAt → accepted)",
		ms(r.total), ms(r.detect), ms(r.elect), ms(r.promote), ms(r.open))
}

// foTrial runs one randomized trial; variant "FO-A1-synced" (Session, every
// write synchronized to a survivor) or "FO-F4-strong" (Strong, no sync).
func foTrial(t *testing.T, variant string, seed uint64) (foRTO, bool) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	strong := variant == "FO-F4-strong"
	level := "Session"
	if strong {
		level = "Strong"
	}
	began := time.Now()
	// Random round trips: sometimes North Europe is nearer West US than
	// East US is, so writes synced only to North Europe may be missing in
	// East US at the kill and East US must catch up from it (§5.5 step 4).
	rtt := func(lo, hi int) time.Duration { return time.Duration(lo+rng.IntN(hi-lo+1)) * time.Millisecond }
	links := [3]time.Duration{rtt(10, 80), rtt(10, 80), rtt(10, 40)} // West–East, West–Europe, East–Europe
	c := startFOCluster(t, level, links)
	c.createContainer()
	t.Logf("%s account of 3 processes up (RTT West–East %v, West–Europe %v, East–Europe %v), container everywhere, in %v",
		level, links[0], links[1], links[2], time.Since(began).Round(time.Millisecond))

	// Writers.
	l := &foLedger{versions: map[string]map[int]foDoc{}, acked: map[string]foDoc{}, synced: map[string]foDoc{}}
	nWriters := 2 + rng.IntN(3)
	writeCtx, stopWrites := context.WithCancel(context.Background())
	defer stopWrites()
	var killed, lagging atomic.Bool
	var wg sync.WaitGroup
	westClient := c.container(foWest)
	syncers := map[string]*customsync.Syncer{}
	readers := map[string]*azcosmos.ContainerClient{foEast: c.container(foEast), foEurope: c.container(foEurope)}
	for _, targets := range [][]string{{foEast}, {foEurope}, {foEast, foEurope}} {
		m := map[string]*azcosmos.ContainerClient{}
		for _, r := range targets {
			m[r] = readers[r]
		}
		s, err := customsync.New(westClient, m, &customsync.Options{Timeout: foSyncTimeout})
		if err != nil {
			t.Fatal(err)
		}
		syncers[strings.Join(targets, ",")] = s
	}
	for w := range nWriters {
		wr := &foWriter{id: w, rng: rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64())), client: westClient,
			syncers: syncers, strong: strong, ledger: l, killed: &killed, lagging: &lagging}
		wg.Add(1)
		go func() {
			defer wg.Done()
			wr.run(writeCtx)
		}()
	}

	// Kill West US at a random moment.
	minAcked := 10 + rng.IntN(50)
	extra := time.Duration(rng.IntN(500)) * time.Millisecond
	deadline := time.Now().Add(30 * time.Second)
	for l.count() < minAcked {
		if errs := l.errors(); len(errs) > 0 {
			t.Fatalf("writes failed with every region up: %v", errs)
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d writes acknowledged after 30s", l.count(), minAcked)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Lag: in some trials (every Strong one) East US stops receiving from
	// West US a while before the kill (a one-way partition of the
	// simulated WAN, held in East US's process), so that acknowledged
	// writes exist only in West US and North Europe: East US, first in
	// priority, must catch up from North Europe before it takes writes
	// (§5.5 step 4; FO-F1 forbids losing them). At Strong the lag outlasts
	// the quorum timeout and lease (2 s + 1 s), so that West US drops East
	// US from its Strong quorum and commits with North Europe alone.
	var eastAtKill map[string]map[string]any
	var lagFor time.Duration
	waited := extra
	if strong || rng.IntN(2) == 0 {
		lagFor = time.Duration(200+rng.IntN(600)) * time.Millisecond
		if strong {
			lagFor = time.Duration(3500+rng.IntN(1000)) * time.Millisecond
		}
		waited = lagFor
		c.setLink(map[string]any{"a": foWest, "b": foEast, "partitioned": true, "oneWay": true}, foWest, foEast)
		lagging.Store(true)
		n := l.count()
		time.Sleep(lagFor)
		t.Logf("%s → %s partitioned for %v before the kill: %d writes acknowledged meanwhile", foWest, foEast, lagFor, l.count()-n)
		eastAtKill, _ = c.tryDump(foEast)
	} else {
		time.Sleep(extra)
	}
	killed.Store(true)
	killAt := time.Now()
	c.kill(foWest)
	stopWrites()
	preKill := l.count()
	t.Logf("%d writers; SIGKILLed %s %v after write %d (%d acknowledged at the kill)", nWriters, foWest, waited, minAcked, preKill)

	// Watch the survivors' control plane while they fail over.
	timeline := c.watchFailover(killAt)
	defer timeline.stop()

	rto := foRTO{}
	probe := fmt.Sprintf(`{"id":"probe","pk":"probe","trial":%d}`, seed)
	var last string
	var answers foAnswers
	for {
		sent := time.Now()
		st, sub, hdr, body, err := foRaw(c.endpoint(foEast), http.MethodPost, "docs", foCollLink, "/"+foCollLink+"/docs", []byte(probe),
			map[string]string{"x-ms-documentdb-partitionkey": `["probe"]`, "x-ms-documentdb-is-upsert": "true"})
		if err == nil && (st == 200 || st == 201) {
			rto.total = time.Since(killAt)
			if r := hdr.Get(customsync.HeaderRegion); r != foEast {
				t.Errorf("the probe write was answered by %q, not %s", r, foEast)
			}
			break
		}
		if err != nil {
			last = err.Error()
			answers.add(sent.Sub(killAt), time.Since(sent), "error")
		} else {
			last = fmt.Sprintf("%d/%s %s", st, sub, foTrunc(body, 200))
			answers.add(sent.Sub(killAt), time.Since(sent), fmt.Sprintf("%d/%s", st, sub))
		}
		if time.Since(killAt) > 30*time.Second {
			t.Fatalf("BUG? no write accepted in %s within 30s of SIGKILLing %s (detection timeout %v); last answer: %s", foEast, foWest, foDetect, last)
		}
		time.Sleep(10 * time.Millisecond)
	}
	firstWrite := killAt.Add(rto.total)
	if lagFor > 0 {
		// East US's process still holds the West US → East US direction.
		c.heal(foEast, foEurope)
	}
	events := timeline.stop()
	t.Logf("survivors' view after the kill: %s", events)
	for _, e := range events {
		if strings.Contains(e.what, "new Raft leader") {
			rto.elect = e.at
			break
		}
	}
	t.Logf("probe writes to %s before the first accepted one: %s", foEast, answers)
	wg.Wait()
	if errs := l.errors(); len(errs) > 0 {
		t.Errorf("writes failed before the kill: %v", errs)
	}

	// The control plane's record of the failover.
	est := c.status(foEast)
	if est.Role != "write" || est.WriteRegion != foEast {
		t.Errorf("%s after the failover: role %q, write region %q; want write, %s", foEast, est.Role, est.WriteRegion, foEast)
	}
	if est.Control == nil || len(est.Control.Failovers) == 0 {
		t.Errorf("%s's status records no failover: %+v", foEast, est.Control)
	} else {
		f := est.Control.Failovers[len(est.Control.Failovers)-1]
		if f.Deposed != foWest || f.Target != foEast || f.Kind != "Automatic" {
			t.Errorf("last failover %+v: want an Automatic one deposing %s and promoting %s (next in priority order)", f, foWest, foEast)
		}
		if f.Epoch < 2 || est.Epoch != f.Epoch {
			t.Errorf("epochs: the failover's %d, %s's %d; want both the new epoch (> 1)", f.Epoch, foEast, est.Epoch)
		}
		if !f.FencedAt.IsZero() && !f.PromotedAt.IsZero() {
			rto.split = true
			rto.detect, rto.promote, rto.open = f.FencedAt.Sub(killAt), f.PromotedAt.Sub(f.FencedAt), firstWrite.Sub(f.PromotedAt)
			// The write region may not be fenced before its silence exceeds
			// the detection timeout. Silence counts from its last contact,
			// which precedes the kill by less than a lease renewal period
			// (it was acknowledging writes, so renewing its 500 ms lease).
			if rto.detect < foDetect-500*time.Millisecond {
				t.Errorf("fenced %v after the kill: the %v detection timeout was not respected", rto.detect, foDetect)
			}
			if rto.promote < 0 || rto.open < 0 {
				t.Errorf("failover timestamps out of order: %s", rto)
			}
		} else {
			t.Errorf("last failover has no fencedAt/promotedAt: %+v", f)
		}
		t.Logf("failover record: %+v", f)
	}
	t.Logf("%s", rto)
	t.Logf("%s's log on the failover: %s", foEast, foGrep(c.procs[foEast].log, "failover: "))

	// FO-A1 / FO-F4: every acknowledged-after-sync write (every
	// acknowledged write at Strong) is in East US.
	l.mu.Lock()
	must := l.synced
	if strong {
		must = l.acked
	}
	t.Logf("ledger: %d writes acknowledged (%d by the kill), %d items must survive (%d confirmed only after the kill), %d unknown outcomes; sync latency %s",
		l.nAcked, preKill, len(must), l.syncedAfterKill, l.unknown, foQuantiles(l.syncLat))
	l.mu.Unlock()
	if len(must) == 0 {
		t.Fatal("no write to check: the trial acknowledged none")
	}
	if eastAtKill != nil {
		l.mu.Lock()
		var behind []string
		for id, d := range must {
			if got, ok := eastAtKill[d.PK+"/"+id]; !ok || got["version"] != float64(d.Version) {
				behind = append(behind, fmt.Sprintf("%s v%d (%s)", id, d.Version, d.Mode))
			}
		}
		l.mu.Unlock()
		sort.Strings(behind)
		t.Logf("at the kill %s lacked %d of the %d writes that must survive (it must catch them up from %s): %v",
			foEast, len(behind), len(must), foEurope, foHead(behind, 8))
	}
	east := c.dump(foEast, 10*time.Second)
	l.check(t, foEast, east, must)
	l.mu.Lock()
	var survived int
	for _, d := range l.unknownDocs {
		if got, ok := east[d.PK+"/"+d.ID]; ok && got["version"] == float64(d.Version) {
			survived++
		}
	}
	t.Logf("of %d writes not acknowledged after synchronization (failed, cut off by the kill, or unconfirmed), %d are in %s at that version",
		len(l.unknownDocs), survived, foEast)
	l.mu.Unlock()

	// North Europe converges to East US.
	europe := c.converge(foEurope, east, 20*time.Second)
	l.check(t, foEurope, europe, must)

	// West US returns on its data directory as a read region.
	restartAt := time.Now()
	p := c.start(foWest, 2)
	if p.readyWriter != foEast {
		t.Errorf("restarted %s announced write region %q, want %s", foWest, p.readyWriter, foEast)
	}
	// FO-F3: the returning region accepts no write, even before it rejoined.
	zombie := func(id string) (int, string, string, error) {
		st, sub, _, body, err := foRaw(c.endpoint(foWest), http.MethodPost, "docs", foCollLink, "/"+foCollLink+"/docs",
			[]byte(`{"id":"`+id+`","pk":"probe"}`), map[string]string{"x-ms-documentdb-partitionkey": `["probe"]`, "x-ms-documentdb-is-upsert": "true"})
		return st, sub, foTrunc(body, 200), err
	}
	if st, sub, body, err := zombie("zombie-early"); err == nil && (st == 200 || st == 201) {
		t.Errorf("FO-F3: %s accepted a write right after its restart: %d/%s %s", foWest, st, sub, body)
	} else {
		t.Logf("a write sent to %s right after its restart: %d/%s (err %v)", foWest, st, sub, err)
	}
	var ws foStatusDoc
	foEventually(t, 30*time.Second, func() (bool, string) {
		var err error
		ws, err = c.tryStatus(foWest)
		if err != nil {
			return false, err.Error()
		}
		ok := ws.Role == "read" && ws.Control != nil && ws.Control.Regions[foWest] == "Healthy" && ws.WriteRegion == foEast && ws.Epoch == est.Epoch
		return ok, fmt.Sprintf("role %q, write region %q, epoch %d (want %d), control %+v", ws.Role, ws.WriteRegion, ws.Epoch, est.Epoch, ws.Control)
	}, "BUG? %s never rejoined as a Healthy read region", foWest)
	t.Logf("%s rejoined as a read region %v after its restart (epoch %d; lost writes per the failover record: %v); its log says: %s",
		foWest, time.Since(restartAt).Round(time.Millisecond), ws.Epoch, foLost(ws), foGrep(p.log, "rejoin", "removed", "deposed"))
	if st, sub, body, err := zombie("zombie"); err != nil || st != 403 || sub != "3" {
		t.Errorf("FO-F3: a write sent to the returned %s must get 403/3; got %d/%s %s (err %v)", foWest, st, sub, body, err)
	}
	west := c.converge(foWest, east, 30*time.Second)
	l.check(t, foWest, west, must)
	for _, id := range []string{"zombie-early", "zombie"} {
		for r, d := range map[string]map[string]map[string]any{foWest: west, foEast: east, foEurope: europe} {
			if _, ok := d["probe/"+id]; ok {
				t.Errorf("the write %s sent to the returned %s exists in %s", id, foWest, r)
			}
		}
	}
	t.Logf("%s converged to %s (%d items) %v after its restart; trial took %v",
		foWest, foEast, len(west), time.Since(restartAt).Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
	return rto, !t.Failed()
}

func foLost(s foStatusDoc) []int64 {
	if s.Control == nil {
		return nil
	}
	var out []int64
	for _, f := range s.Control.Failovers {
		out = append(out, f.LostWrites)
	}
	return out
}

// foAnswers summarizes the probe's answers: runs of the same answer, with
// when the run started (since the kill) and the slowest request in it.
type foAnswers struct{ runs []foRun }

type foRun struct {
	what    string
	from    time.Duration
	n       int
	slowest time.Duration
}

func (a *foAnswers) add(at, took time.Duration, what string) {
	if k := len(a.runs); k > 0 && a.runs[k-1].what == what {
		a.runs[k-1].n++
		a.runs[k-1].slowest = max(a.runs[k-1].slowest, took)
		return
	}
	a.runs = append(a.runs, foRun{what: what, from: at, n: 1, slowest: took})
}

func (a foAnswers) String() string {
	var parts []string
	for _, r := range a.runs {
		parts = append(parts, fmt.Sprintf("from +%v %d× %s (slowest %v)", r.from.Round(time.Millisecond), r.n, r.what, r.slowest.Round(time.Millisecond)))
	}
	return strings.Join(parts, "; ")
}

// foTimeline records what the survivors' status pages show during a
// failover: the first time each region names a new Raft leader, and each
// change of East US's failover phase, write region and role.
type foTimeline struct {
	once   sync.Once
	done   chan struct{}
	over   chan struct{}
	events []foEvent
}

type foEvent struct {
	at   time.Duration // since the kill
	what string
}

func (e foEvent) String() string { return fmt.Sprintf("+%v %s", e.at.Round(time.Millisecond), e.what) }

func (c *foCluster) watchFailover(killAt time.Time) *foTimeline {
	tl := &foTimeline{done: make(chan struct{}), over: make(chan struct{})}
	go func() {
		defer close(tl.over)
		last := map[string]string{}
		newLeader := map[string]bool{}
		note := func(key, val string) {
			if last[key] != val {
				last[key] = val
				tl.events = append(tl.events, foEvent{time.Since(killAt), key + " " + val})
			}
		}
		for {
			for _, r := range []string{foEast, foEurope} {
				s, err := c.tryStatus(r)
				if err != nil || s.Control == nil {
					continue
				}
				if l := s.Control.Leader; l != "" && l != foWest && !newLeader[r] {
					newLeader[r] = true
					tl.events = append(tl.events, foEvent{time.Since(killAt), fmt.Sprintf("%s names the new Raft leader %s", r, l)})
				}
				if r == foEast {
					note("East US phase", fmt.Sprintf("%q epoch %d role %s writeRegion %q", s.Failover, s.Epoch, s.Role, s.WriteRegion))
				}
			}
			select {
			case <-tl.done:
				return
			case <-time.After(25 * time.Millisecond):
			}
		}
	}()
	return tl
}

func (tl *foTimeline) stop() []foEvent {
	tl.once.Do(func() { close(tl.done) })
	<-tl.over
	return tl.events
}

// ---------------------------------------------------------------- writers

// foDoc is one version of one item; the versions of an id only grow.
type foDoc struct {
	ID      string `json:"id"`
	PK      string `json:"pk"`
	Writer  int    `json:"writer"`
	Seq     int    `json:"seq"`
	Version int    `json:"version"`
	Mode    string `json:"mode"`
	Payload string `json:"payload"`
}

func (d foDoc) fields() map[string]any {
	b, _ := json.Marshal(d)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

// foLedger records every version written, the latest acknowledged version
// of each id, and the latest version acknowledged after synchronization.
type foLedger struct {
	mu              sync.Mutex
	versions        map[string]map[int]foDoc // id -> version -> content
	acked           map[string]foDoc
	synced          map[string]foDoc
	nAcked          int
	unknown         int
	unknownDocs     []foDoc // writes that failed or were not confirmed
	syncedAfterKill int
	syncLat         []time.Duration
	errs            []string
}

func (l *foLedger) attempt(d foDoc) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.versions[d.ID] == nil {
		l.versions[d.ID] = map[int]foDoc{}
	}
	l.versions[d.ID][d.Version] = d
}

func (l *foLedger) ack(d foDoc) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if d.Version > l.acked[d.ID].Version {
		l.acked[d.ID] = d
	}
	l.nAcked++
}

func (l *foLedger) sync(d foDoc, took time.Duration, afterKill bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if d.Version > l.synced[d.ID].Version {
		l.synced[d.ID] = d
	}
	l.syncLat = append(l.syncLat, took)
	if afterKill {
		l.syncedAfterKill++
	}
}

func (l *foLedger) fail(d foDoc, msg string, beforeKill bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.unknown++
	l.unknownDocs = append(l.unknownDocs, d)
	if beforeKill {
		l.errs = append(l.errs, msg)
	}
}

func (l *foLedger) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.nAcked
}

func (l *foLedger) errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.errs)
}

// foReporter is the part of *testing.T that foLedger.check uses.
type foReporter interface {
	Helper()
	Errorf(format string, args ...any)
	Logf(format string, args ...any)
}

// check asserts that every write in must is in the region's dump, at its
// version or a later one that was written, and that the dump holds nothing
// that was never written.
func (l *foLedger) check(t foReporter, region string, dump map[string]map[string]any, must map[string]foDoc) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var lost, stale, wrong []string
	for id, want := range must {
		doc, ok := dump[want.PK+"/"+id]
		if !ok {
			lost = append(lost, fmt.Sprintf("%s v%d (%s)", id, want.Version, want.Mode))
			continue
		}
		v, _ := doc["version"].(float64)
		if int(v) < want.Version {
			stale = append(stale, fmt.Sprintf("%s holds v%d, v%d was acknowledged (%s)", id, int(v), want.Version, want.Mode))
			continue
		}
		if w, ok := l.versions[id][int(v)]; !ok || !reflect.DeepEqual(w.fields(), doc) {
			wrong = append(wrong, fmt.Sprintf("%s: %v", id, doc))
		}
	}
	for key, doc := range dump {
		if strings.HasPrefix(key, "probe/") {
			continue
		}
		id, _ := doc["id"].(string)
		v, _ := doc["version"].(float64)
		if w, ok := l.versions[id][int(v)]; !ok || !reflect.DeepEqual(w.fields(), doc) {
			wrong = append(wrong, fmt.Sprintf("never written: %v", doc))
		}
	}
	sort.Strings(lost)
	sort.Strings(stale)
	if len(lost) > 0 {
		t.Errorf("BUG: %d of %d acknowledged synchronized writes are missing in %s: %v", len(lost), len(must), region, foHead(lost, 20))
	}
	if len(stale) > 0 {
		t.Errorf("BUG: %d items in %s are older than their acknowledged synchronized version: %v", len(stale), region, foHead(stale, 20))
	}
	if len(wrong) > 0 {
		t.Errorf("BUG: %d items in %s hold content no writer wrote: %v", len(wrong), region, foHead(wrong, 20))
	}
	if len(lost)+len(stale)+len(wrong) == 0 {
		t.Logf("%s holds all %d writes that must survive (%d items)", region, len(must), len(dump))
	}
}

func foHead(s []string, n int) []string {
	if len(s) > n {
		return append(slices.Clone(s[:n]), fmt.Sprintf("... %d more", len(s)-n))
	}
	return s
}

// foWriter writes new items and new versions of its own items to West US
// until its context ends or a write's outcome is unknown.
type foWriter struct {
	id      int
	rng     *rand.Rand
	client  *azcosmos.ContainerClient
	syncers map[string]*customsync.Syncer
	strong  bool
	ledger  *foLedger
	killed  *atomic.Bool
	// lagging: East US is cut off from West US; sync mostly to North
	// Europe (the region the writer can still reach).
	lagging *atomic.Bool
	mine    []foDoc // latest acknowledged version of each own item
}

func (w *foWriter) run(ctx context.Context) {
	for seq := 0; ctx.Err() == nil; seq++ {
		d := foDoc{ID: fmt.Sprintf("w%d-%05d", w.id, seq), PK: fmt.Sprintf("p%d", w.rng.IntN(8)), Writer: w.id, Seq: seq, Version: 1}
		replace := len(w.mine) > 0 && w.rng.IntN(4) == 0
		var idx int
		if replace {
			idx = w.rng.IntN(len(w.mine))
			prev := w.mine[idx]
			d.ID, d.PK, d.Seq, d.Version = prev.ID, prev.PK, prev.Seq, prev.Version+1
		}
		var targets []string
		switch {
		case w.strong:
			d.Mode = "strong"
		default:
			targets = [][]string{{foEast}, {foEurope}, {foEast, foEurope}}[w.rng.IntN(3)]
			if w.lagging.Load() && w.rng.IntN(5) > 0 {
				targets = []string{foEurope}
			}
			d.Mode = "native:" + strings.Join(targets, "+")
			if w.rng.IntN(2) == 0 {
				d.Mode = "custom:" + strings.Join(targets, "+")
			}
		}
		d.Payload = strings.Repeat(fmt.Sprintf("%d/%d/%d;", w.id, seq, d.Version), 1+w.rng.IntN(12))
		body, _ := json.Marshal(d)
		w.ledger.attempt(d)
		pk := azcosmos.NewPartitionKeyString(d.PK)
		wctx := ctx
		if strings.HasPrefix(d.Mode, "native:") {
			wctx = customsync.Native(ctx, targets...)
		}
		start := time.Now()
		var resp azcosmos.ItemResponse
		var err error
		if replace {
			resp, err = w.client.ReplaceItem(wctx, pk, d.ID, body, nil)
		} else {
			resp, err = w.client.CreateItem(wctx, pk, body, nil)
		}
		beforeKill := !w.killed.Load()
		switch {
		case err == nil:
			w.ledger.ack(d)
		case customsync.IsSyncTimeout(err):
			// Written in West US, not known to be in the targets.
			w.ledger.ack(d)
			w.ledger.fail(d, fmt.Sprintf("%s v%d (%s): %v", d.ID, d.Version, d.Mode, err), beforeKill)
			return
		default:
			w.ledger.fail(d, fmt.Sprintf("%s v%d (%s): %v", d.ID, d.Version, d.Mode, foErr(err)), beforeKill)
			return
		}
		switch {
		case w.strong || strings.HasPrefix(d.Mode, "native:"):
			// Acknowledged after the server's synchronization (or the
			// Strong quorum).
			w.ledger.sync(d, time.Since(start), false)
		default:
			// The two-client pattern: confirm with session reads served by
			// the targets, on a context the kill does not cancel, so that
			// writes confirmed after the kill count too.
			cctx, cancel := context.WithTimeout(context.Background(), foSyncTimeout+time.Second)
			_, cerr := w.syncers[strings.Join(targets, ",")].Confirm(cctx, pk, d.ID, *resp.SessionToken)
			cancel()
			if cerr != nil {
				w.ledger.fail(d, fmt.Sprintf("%s v%d (%s) confirmation: %v", d.ID, d.Version, d.Mode, cerr), !w.killed.Load())
				return
			}
			w.ledger.sync(d, time.Since(start), w.killed.Load())
		}
		if replace {
			w.mine[idx] = d
		} else {
			w.mine = append(w.mine, d)
		}
	}
}

func foErr(err error) string {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		sub := ""
		if re.RawResponse != nil {
			sub = re.RawResponse.Header.Get("x-ms-substatus")
		}
		return fmt.Sprintf("%d/%s %s", re.StatusCode, sub, re.ErrorCode)
	}
	s := err.Error()
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

func foQuantiles(ds []time.Duration) string {
	if len(ds) == 0 {
		return "no samples"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	q := func(p float64) time.Duration {
		return s[min(len(s)-1, int(p*float64(len(s))))].Round(100 * time.Microsecond)
	}
	return fmt.Sprintf("n=%d p50=%v p99=%v max=%v", len(s), q(0.5), q(0.99), s[len(s)-1].Round(100*time.Microsecond))
}

// ---------------------------------------------------------------- cluster

const foCollLink = "dbs/" + foDB + "/colls/" + foColl

// foCluster is a three-region account of `meridian serve --topology`
// processes with automatic failover after foDetect.
type foCluster struct {
	t        *testing.T
	topoPath string
	topo     *topology.Topology
	dirs     map[string]string
	logDir   string
	procs    map[string]*foProc
	mu       sync.Mutex
	logs     []string // every process's log file, in start order
}

// foProc is one region process.
type foProc struct {
	cmd         *exec.Cmd
	log         string
	watch       *foWatcher
	done        chan struct{}
	waitErr     error
	readyWriter string // the write region its ready line named
}

func (p *foProc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// foWatcher scans stdout for the serve lines.
type foWatcher struct {
	mu      sync.Mutex
	buf     []byte
	serving chan struct{}
	ready   chan string
	sOnce   sync.Once
	rOnce   sync.Once
}

var foReadyRE = regexp.MustCompile(`region "([^"]+)" ready: control plane up, write region "([^"]*)"`)

func (w *foWatcher) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		line := string(w.buf[:i])
		w.buf = w.buf[i+1:]
		if strings.Contains(line, "serving at ") {
			w.sOnce.Do(func() { close(w.serving) })
		}
		if m := foReadyRE.FindStringSubmatch(line); m != nil {
			w.rOnce.Do(func() { w.ready <- m[2] })
		}
	}
	return len(b), nil
}

func startFOCluster(t *testing.T, level string, rtt [3]time.Duration) *foCluster {
	t.Helper()
	var lns []net.Listener
	var addrs []string
	for range 2 * len(foRegions) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		addrs = append(addrs, ln.Addr().String())
	}
	for _, ln := range lns {
		_ = ln.Close()
	}
	topo := &topology.Topology{
		Account:     "meridian-fo",
		WriteRegion: foWest,
		Consistency: level,
		Links: []topology.Link{
			{A: foWest, B: foEast, RTT: topology.Duration(rtt[0])},
			{A: foWest, B: foEurope, RTT: topology.Duration(rtt[1])},
			{A: foEast, B: foEurope, RTT: topology.Duration(rtt[2])},
		},
	}
	for i, name := range foRegions {
		topo.Regions = append(topo.Regions, topology.Region{Name: name, ID: uint32(i + 1), Priority: i, Endpoint: addrs[2*i], Peer: addrs[2*i+1]})
	}
	b, err := json.MarshalIndent(topo, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	logDir := filepath.Join(dir, "logs")
	if d := os.Getenv("MERIDIAN_FAILOVER_LOG_DIR"); d != "" {
		// Keep the logs after the test (one directory per trial).
		logDir = filepath.Join(d, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()))
		_ = os.RemoveAll(logDir)
		t.Logf("process logs in %s", logDir)
	}
	c := &foCluster{t: t, topoPath: filepath.Join(dir, "topology.json"), topo: topo, dirs: map[string]string{},
		logDir: logDir, procs: map[string]*foProc{}}
	if err := os.WriteFile(c.topoPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(c.logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range foRegions {
		c.dirs[name] = filepath.Join(dir, strings.ReplaceAll(name, " ", ""))
	}
	// Registered after t.TempDir, so it runs before the directory goes.
	t.Cleanup(func() {
		for _, p := range c.procs {
			p.kill()
		}
		if t.Failed() {
			c.mu.Lock()
			defer c.mu.Unlock()
			for _, f := range c.logs {
				t.Logf("---- tail of %s ----\n%s", filepath.Base(f), foTail(f, 60))
			}
		}
	})
	// The control plane needs a majority: start all three together.
	var wg sync.WaitGroup
	errs := make([]error, len(foRegions))
	procs := make([]*foProc, len(foRegions))
	for i, name := range foRegions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			procs[i], errs[i] = c.tryStart(name, 1)
		}()
	}
	wg.Wait()
	for i, name := range foRegions {
		if procs[i] != nil {
			c.procs[name] = procs[i]
		}
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for _, name := range foRegions {
		if w := c.procs[name].readyWriter; w != foWest {
			t.Fatalf("%s announced write region %q at start, want %s", name, w, foWest)
		}
	}
	return c
}

// start (re)starts region name on its data directory and addresses.
func (c *foCluster) start(name string, incarnation int) *foProc {
	c.t.Helper()
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		var p *foProc
		if p, err = c.tryStart(name, incarnation*10+attempt); err == nil {
			c.procs[name] = p
			return p
		}
		time.Sleep(200 * time.Millisecond)
	}
	c.t.Fatalf("BUG? restart of %s failed: %v", name, err)
	return nil
}

func (c *foCluster) tryStart(name string, incarnation int) (*foProc, error) {
	args := []string{"serve", "--topology", c.topoPath, "--region", name, "--data", c.dirs[name],
		"--log-level", "info", "--failover-timeout", foDetect.String()}
	logPath := filepath.Join(c.logDir, fmt.Sprintf("%s-%d.log", strings.ReplaceAll(name, " ", ""), incarnation))
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.logs = append(c.logs, logPath)
	c.mu.Unlock()
	fmt.Fprintf(f, "$ meridian %s\n", strings.Join(args, " "))
	cmd := exec.Command(meridianBin, args...)
	w := &foWatcher{serving: make(chan struct{}), ready: make(chan string, 1)}
	cmd.Stdout = io.MultiWriter(f, w)
	cmd.Stderr = f
	p := &foProc{cmd: cmd, log: logPath, watch: w, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.waitErr = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	timeout := time.After(45 * time.Second)
	select {
	case <-w.serving:
	case <-p.done:
		return nil, fmt.Errorf("%s exited before serving: %v\n%s", name, p.waitErr, foTail(logPath, 30))
	case <-timeout:
		p.kill()
		return nil, fmt.Errorf("%s did not print its endpoint within 45s\n%s", name, foTail(logPath, 30))
	}
	select {
	case p.readyWriter = <-w.ready:
	case <-p.done:
		return nil, fmt.Errorf("%s exited before its control plane was up: %v\n%s", name, p.waitErr, foTail(logPath, 30))
	case <-timeout:
		p.kill()
		return nil, fmt.Errorf("%s: no `ready: control plane up` line within 45s\n%s", name, foTail(logPath, 30))
	}
	return p, nil
}

func (c *foCluster) kill(name string) { c.procs[name].kill() }

func (c *foCluster) endpoint(name string) string {
	r, ok := c.topo.Region(name)
	if !ok {
		c.t.Fatalf("no region %q", name)
	}
	return "http://" + r.Endpoint + "/"
}

// container returns an SDK client of the container pinned to region.
func (c *foCluster) container(name string) *azcosmos.ContainerClient {
	c.t.Helper()
	cred, err := azcosmos.NewKeyCredential(auth.EmulatorKey)
	if err != nil {
		c.t.Fatal(err)
	}
	cl, err := azcosmos.NewClientWithKey(c.endpoint(name), cred, &azcosmos.ClientOptions{PreferredRegions: []string{name}})
	if err != nil {
		c.t.Fatal(err)
	}
	co, err := cl.NewContainer(foDB, foColl)
	if err != nil {
		c.t.Fatal(err)
	}
	return co
}

// createContainer creates the database and container (/pk) in West US and
// waits until every region has it.
func (c *foCluster) createContainer() {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cred, err := azcosmos.NewKeyCredential(auth.EmulatorKey)
	if err != nil {
		c.t.Fatal(err)
	}
	cl, err := azcosmos.NewClientWithKey(c.endpoint(foWest), cred, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := cl.CreateDatabase(ctx, azcosmos.DatabaseProperties{ID: foDB}, nil); err != nil {
		c.t.Fatalf("CreateDatabase: %v", err)
	}
	db, err := cl.NewDatabase(foDB)
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := db.CreateContainer(ctx, azcosmos.ContainerProperties{ID: foColl,
		PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: []string{"/pk"}}}, nil); err != nil {
		c.t.Fatalf("CreateContainer: %v", err)
	}
	for _, name := range foRegions {
		foEventually(c.t, 20*time.Second, func() (bool, string) {
			st, sub, _, body, err := foRaw(c.endpoint(name), http.MethodGet, "colls", foCollLink, "/"+foCollLink, nil, nil)
			return err == nil && st == 200, fmt.Sprintf("%d/%s %s %v", st, sub, foTrunc(body, 100), err)
		}, "the container never appeared in %s", name)
	}
}

// setLink applies a WAN link change (admin.LinkChange) in the given
// regions' processes.
func (c *foCluster) setLink(change map[string]any, regions ...string) {
	c.t.Helper()
	b, _ := json.Marshal(change)
	for _, r := range regions {
		st, sub, _, body, err := foRaw(c.endpoint(r), http.MethodPost, "", "_meridian/links", "/_meridian/links", b, nil)
		if err != nil || st != 200 {
			c.t.Fatalf("POST /_meridian/links %s in %s: %d/%s %s %v", b, r, st, sub, foTrunc(body, 200), err)
		}
	}
}

// heal ends every WAN partition in the given regions' processes.
func (c *foCluster) heal(regions ...string) {
	c.t.Helper()
	for _, r := range regions {
		st, sub, _, body, err := foRaw(c.endpoint(r), http.MethodPost, "", "_meridian/heal", "/_meridian/heal", nil, nil)
		if err != nil || st != 200 {
			c.t.Fatalf("POST /_meridian/heal in %s: %d/%s %s %v", r, st, sub, foTrunc(body, 200), err)
		}
	}
}

// foStatusDoc is the part of GET /_meridian/status the test reads.
type foStatusDoc struct {
	Region      string `json:"region"`
	Role        string `json:"role"`
	WriteRegion string `json:"writeRegion"`
	Epoch       int64  `json:"epoch"`
	Failover    string `json:"failover"`
	Control     *struct {
		Leader    string            `json:"leader"`
		Regions   map[string]string `json:"regions"`
		Failovers []struct {
			Kind       string    `json:"kind"`
			Epoch      int64     `json:"epoch"`
			Deposed    string    `json:"deposed"`
			Target     string    `json:"target"`
			Reason     string    `json:"reason"`
			FencedAt   time.Time `json:"fencedAt"`
			PromotedAt time.Time `json:"promotedAt"`
			LostWrites int64     `json:"lostWrites"`
		} `json:"failovers"`
	} `json:"control"`
}

func (c *foCluster) tryStatus(name string) (foStatusDoc, error) {
	var s foStatusDoc
	st, sub, _, body, err := foRaw(c.endpoint(name), http.MethodGet, "", "_meridian/status", "/_meridian/status", nil, nil)
	if err != nil {
		return s, err
	}
	if st != 200 {
		return s, fmt.Errorf("GET /_meridian/status in %s: %d/%s %s", name, st, sub, foTrunc(body, 200))
	}
	if err := json.Unmarshal(body, &s); err != nil {
		return s, fmt.Errorf("status of %s: %v: %s", name, err, foTrunc(body, 200))
	}
	return s, nil
}

func (c *foCluster) status(name string) foStatusDoc {
	c.t.Helper()
	s, err := c.tryStatus(name)
	if err != nil {
		c.t.Fatal(err)
	}
	return s
}

// tryDump is SELECT * FROM c at Eventual, cross-partition, in one region,
// keyed "pk/id", without system properties; every page must be served by
// the region itself.
func (c *foCluster) tryDump(name string) (map[string]map[string]any, error) {
	q, _ := json.Marshal(map[string]any{"query": "SELECT * FROM c", "parameters": []any{}})
	out := map[string]map[string]any{}
	cont := ""
	for {
		h := map[string]string{
			"x-ms-documentdb-isquery":                    "true",
			"Content-Type":                               "application/query+json",
			"x-ms-documentdb-query-enablecrosspartition": "true",
			"x-ms-max-item-count":                        "1000",
			"x-ms-consistency-level":                     "Eventual",
		}
		if cont != "" {
			h["x-ms-continuation"] = cont
		}
		st, sub, hdr, body, err := foRaw(c.endpoint(name), http.MethodPost, "docs", foCollLink, "/"+foCollLink+"/docs", q, h)
		if err != nil {
			return nil, err
		}
		if st != 200 {
			return nil, fmt.Errorf("query in %s: %d/%s %s", name, st, sub, foTrunc(body, 200))
		}
		if r := hdr.Get(customsync.HeaderRegion); r != name {
			return nil, fmt.Errorf("query sent to %s was answered by %q", name, r)
		}
		var page struct {
			Documents []map[string]any `json:"Documents"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return nil, fmt.Errorf("query page of %s: %v", name, err)
		}
		for _, d := range page.Documents {
			for k := range d {
				if strings.HasPrefix(k, "_") {
					delete(d, k)
				}
			}
			id, _ := d["id"].(string)
			p, _ := d["pk"].(string)
			key := p + "/" + id
			if _, dup := out[key]; dup {
				return nil, fmt.Errorf("%s: %s appears twice in the query", name, key)
			}
			out[key] = d
		}
		if cont = hdr.Get("x-ms-continuation"); cont == "" {
			return out, nil
		}
	}
}

func (c *foCluster) dump(name string, within time.Duration) map[string]map[string]any {
	c.t.Helper()
	var d map[string]map[string]any
	foEventually(c.t, within, func() (bool, string) {
		var err error
		d, err = c.tryDump(name)
		if err != nil {
			return false, err.Error()
		}
		return true, ""
	}, "no query dump of %s", name)
	return d
}

// converge waits until region's dump equals want.
func (c *foCluster) converge(name string, want map[string]map[string]any, within time.Duration) map[string]map[string]any {
	c.t.Helper()
	var got map[string]map[string]any
	foEventually(c.t, within, func() (bool, string) {
		var err error
		got, err = c.tryDump(name)
		if err != nil {
			return false, err.Error()
		}
		if reflect.DeepEqual(got, want) {
			return true, ""
		}
		return false, foDiff(got, want)
	}, "BUG? %s never converged to %s", name, foEast)
	return got
}

// foDiff summarizes how got differs from want.
func foDiff(got, want map[string]map[string]any) string {
	var missing, extra, differ []string
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			missing = append(missing, k)
		case !reflect.DeepEqual(g, w):
			differ = append(differ, fmt.Sprintf("%s v%v (want v%v)", k, g["version"], w["version"]))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	sort.Strings(differ)
	return fmt.Sprintf("%d items vs %d: missing %v, extra %v, different %v", len(got), len(want),
		foHead(missing, 10), foHead(extra, 10), foHead(differ, 10))
}

// ---------------------------------------------------------------- raw REST

var foHTTP = &http.Client{Timeout: 5 * time.Second}

// foRaw sends a signed REST request to one region.
func foRaw(endpoint, method, resType, resLink, path string, body []byte, hdr map[string]string) (int, string, http.Header, []byte, error) {
	req, err := http.NewRequest(method, strings.TrimSuffix(endpoint, "/")+path, bytes.NewReader(body))
	if err != nil {
		return 0, "", nil, nil, err
	}
	date := time.Now().UTC().Format(http.TimeFormat)
	req.Header.Set("x-ms-date", date)
	req.Header.Set("x-ms-version", "2020-11-05")
	req.Header.Set("Authorization", auth.Sign(auth.MustDecodeKey(auth.EmulatorKey), method, resType, resLink, date))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := foHTTP.Do(req)
	if err != nil {
		return 0, "", nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("x-ms-substatus"), resp.Header, b, err
}

func foTrunc(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

// foEventually polls cond every 50 ms until it holds, or fails the test
// with the last reason after within.
func foEventually(t *testing.T, within time.Duration, cond func() (bool, string), format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s (after %v): %s", fmt.Sprintf(format, args...), within, why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// foGrep returns the lines of a file that contain any of words.
func foGrep(path string, words ...string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		for _, w := range words {
			if strings.Contains(line, w) {
				out = append(out, line)
				break
			}
		}
	}
	return out
}

// foTail returns the last n lines of a file.
func foTail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > 4*n {
			lines = lines[len(lines)-n:]
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
