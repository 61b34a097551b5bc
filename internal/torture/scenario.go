package torture

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/meridiandb/meridian/internal/checker"
)

// Scenario is one row of the scenario table (testing.md §3.2).
type Scenario struct {
	ID    string
	Level string
	// What the fault is and what is checked, for the report.
	Fault string
	// K and T are the bounded staleness bounds of the account (0: the
	// topology defaults).
	K, T int64
	// Long marks scenarios left out of the CI test unless -torture.long.
	Long bool
	// ClockOffsets skews regions' clocks for the whole run (region name
	// -> offset; `serve --test-clock-offset`).
	ClockOffsets map[string]time.Duration
	// KnownBug, when set, names a known bug the scenario reproduces
	// (docs/VERIFICATION.md): it is left out of "all" and of the CI test,
	// and runs only when asked for by id.
	KnownBug string
	// FailoverTimeout turns automatic failover on in the regions (`serve
	// --failover-timeout`); 0 leaves it off.
	FailoverTimeout time.Duration
	// ReportedLoss (an automatic failover below Strong) allows an
	// acknowledged write to be lost only if the conflicts feed reports it
	// once the deposed region has rejoined (checker.LostReported, C25), and
	// checks the feed's failover records (checker.CheckReportedLoss).
	ReportedLoss bool
	// Retry adds F19's retry storm (retry.go): clients with a timeout of a
	// tenth of the round trip retrying non-idempotent requests.
	Retry bool
	// Feed runs a change-feed consumer in r2 beside the clients (F18:
	// checker.CheckChangeFeed after a final drain).
	Feed bool
	// Failpoints is GOFAIL_FAILPOINTS for every region process
	// (internal/failpoint), e.g. to make replication lag.
	Failpoints string
	// MultiWrite runs a multi-region-write account (multiwrite.go): every
	// region takes its home clients' writes, a LastWriterWins and a Custom
	// container, and the multi-write checkers.
	MultiWrite bool
	// Nemesis injects one fault cycle and heals; it returns once healed.
	Nemesis func(ctx context.Context, n *Nemesis) error
}

// Scenarios is the table of scenarios that need no failover.
var Scenarios = []Scenario{
	{ID: "F0", Level: "Session", Fault: "none (baseline, no false positives)", Nemesis: func(ctx context.Context, n *Nemesis) error {
		return n.Sleep(ctx, n.Between(3*time.Second, 4*time.Second))
	}},
	{ID: "F1", Level: "Strong", Fault: "symmetric partition of the write region from every other region, 3-5 s", Nemesis: isolateWrite},
	{ID: "F2", Level: "BoundedStaleness", K: 20, T: 2, Fault: "symmetric partition of the write region, 3-5 s (K=20, T=2s)", Nemesis: isolateWrite},
	{ID: "F3", Feed: true, Level: "Session", Fault: "symmetric partition of the write region, 3-5 s", Nemesis: isolateWrite},
	{ID: "F4", Level: "Eventual", Fault: "symmetric partition of the write region, 3-5 s", Nemesis: isolateWrite},
	{ID: "F4cp", Level: "ConsistentPrefix", Long: true, Fault: "symmetric partition of the write region, 3-5 s", Nemesis: isolateWrite},
	{ID: "F5", Level: "Session", Fault: "asymmetric partition (r1 -> r2 held, r2 -> r1 open), then a bridge (r1-r3 cut, r2 sees both)", Nemesis: asymBridge},
	{ID: "F5s", Level: "Strong", Long: true, Fault: "F5 at Strong", Nemesis: asymBridge},
	{ID: "F6", Level: "Session", Fault: "latency: r1-r2 70ms±20ms, then 150ms, then restored", Nemesis: latency},
	{ID: "F6s", Level: "Strong", Long: true, Fault: "F6 at Strong", Nemesis: latency},
	{ID: "F7", Feed: true, Level: "Session", Fault: "kill -9 of a read region, restart after 1-3 s; kill -9 of the write region, restart on its data after 1-3 s (no failover)", Nemesis: killRestart},
	{ID: "F7s", Level: "Strong", Long: true, Fault: "F7 at Strong", Nemesis: killRestart},
	{ID: "F10", Level: "Strong", Fault: "SIGSTOP of the write region for 2-5 s, then SIGCONT", Nemesis: pauseWrite},
	{ID: "F10s", Level: "Session", Long: true, Fault: "F10 at Session", Nemesis: pauseWrite},
	{ID: "F8", Feed: true, Level: "Strong", FailoverTimeout: 1500 * time.Millisecond, Fault: "kill -9 of the write region, automatic failover (1.5 s timeout), the old region restarted 1-3 s later rejoins as a read region", Nemesis: killFailover},
	{ID: "F8s", Level: "Session", FailoverTimeout: 1500 * time.Millisecond, ReportedLoss: true, Failpoints: lagFailpoint, Fault: "kill -9 of the write region while its replication sender stalls now and then (failpoint replBeforeSend 5% sleep 600 ms), automatic failover (1.5 s timeout), restart 1-3 s later: acknowledged writes no survivor had may be lost, each must be reported in the conflicts feed", Nemesis: killFailover},
	{ID: "F8e", Level: "Eventual", Long: true, FailoverTimeout: 1500 * time.Millisecond, ReportedLoss: true, Failpoints: lagFailpoint, Fault: "F8s at Eventual", Nemesis: killFailover},
	{ID: "F8m", Feed: true, Level: "Session", FailoverTimeout: 1500 * time.Millisecond, Fault: "planned (manual) failover of the write region to the next region under load, every cycle", Nemesis: manualFailover},
	{ID: "F8b", Level: "BoundedStaleness", K: 20, T: 2, Long: true, FailoverTimeout: 1500 * time.Millisecond, Fault: "F8m at BoundedStaleness", Nemesis: manualFailover},
	{ID: "F20", Level: "Session", Long: true, ClockOffsets: skew, Fault: "combined soak: each cycle one of F1 (isolate the write region), F5 (asymmetric partition, bridge), F7 (kill -9), F10 (SIGSTOP), chosen by the seed, with F11's skewed clocks; run it for 10-30 min", Nemesis: soak},
	{ID: "F19", Level: "Session", Retry: true, Fault: "retry storm: 3 more clients time out after RTT/10 and retry PATCH incr (If-Match) and creates until answered; latency r1-r2 70ms±20ms, then 150ms", Nemesis: latency},
	{ID: "F11", Level: "Session", ClockOffsets: skew, Fault: "clock skew r1 +0.5s, r2 +5s, r3 -5s (static, whole run); symmetric partition of the write region, 3-5 s", Nemesis: isolateWrite},
	{ID: "F11b", Level: "BoundedStaleness", K: 20, T: 2, ClockOffsets: skew, Fault: "F11 at BoundedStaleness (K=20, T=2s)", Nemesis: isolateWrite},
	{ID: "F11s", Level: "Strong", Long: true, ClockOffsets: skew,
		Fault: "F11 at Strong: r3 (clock -5s) cut from the write region only, 6-8 s", Nemesis: cutSkewedReader},
	{ID: "F12", Level: "Session", MultiWrite: true,
		Fault:   "multi-write: the same hot keys written from every region during a full partition (every pair cut, 2-4 s), then healed; LWW and Custom containers",
		Nemesis: partitionAll},
	{ID: "F9", Level: "Session", MultiWrite: true,
		Fault:   "multi-write: a region isolated 1-2 s, then kill -9 under load (the others keep writing), restarted on its data 1-3 s later; its unreplicated writes are reconciled",
		Nemesis: killOneMW},
	{ID: "F11m", Level: "Session", MultiWrite: true, Long: true, ClockOffsets: skew,
		Fault:   "multi-write LWW/Custom under clock skew r1 +0.5s, r2 +5s, r3 -5s; the fast region r2 partitioned from the others, 3-5 s",
		Nemesis: isolateFastClock},
}

// lagFailpoint stalls 5 % of the replication sends for 600 ms, so that a
// kill -9 of the write region catches acknowledged writes it has not
// shipped yet (Session and weaker acknowledge after the local fsync).
const lagFailpoint = "replBeforeSend=5.0%sleep(600)"

// skew is F11's clocks: the read regions 5 s ahead and behind, the write
// region slightly off (testing.md §3.2 F11; its ±500 ms strobe of r1 needs
// a clock that moves at run time, which `serve` does not have).
var skew = map[string]time.Duration{"r1": 500 * time.Millisecond, "r2": 5 * time.Second, "r3": -5 * time.Second}

// Lookup finds scenarios by id ("all": every one without a known bug).
func Lookup(ids string) ([]Scenario, error) {
	if ids == "" || ids == "all" {
		var out []Scenario
		for _, sc := range Scenarios {
			if sc.KnownBug == "" {
				out = append(out, sc)
			}
		}
		return out, nil
	}
	var out []Scenario
	for _, id := range strings.Split(ids, ",") {
		id = strings.TrimSpace(id)
		i := slices.IndexFunc(Scenarios, func(s Scenario) bool { return strings.EqualFold(s.ID, id) })
		if i < 0 {
			return nil, fmt.Errorf("unknown scenario %q", id)
		}
		out = append(out, Scenarios[i])
	}
	return out, nil
}

// Nemesis is what a scenario's fault schedule acts on.
type Nemesis struct {
	C   *Cluster
	rng *rand.Rand
	rec *checker.Recorder
	mu  sync.Mutex
	// Faults lists the faults injected, in order.
	Faults []string
	errs   []error
}

// Between returns a seeded duration in [lo, hi].
func (n *Nemesis) Between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(n.rng.Int64N(int64(hi-lo)+1))
}

// Sleep waits d or until ctx ends.
func (n *Nemesis) Sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// Fault runs f as a named fault lasting until the returned end function is
// called, annotating the history.
func (n *Nemesis) Fault(name string, f func() error) (end func()) {
	start := n.rec.Now()
	err := f()
	n.mu.Lock()
	n.Faults = append(n.Faults, name)
	if err != nil {
		n.errs = append(n.errs, fmt.Errorf("%s: %w", name, err))
	}
	n.mu.Unlock()
	return func() { n.rec.Annotate("nemesis", name, start, n.rec.Now()) }
}

func (n *Nemesis) note(err error) {
	if err != nil {
		n.mu.Lock()
		n.errs = append(n.errs, err)
		n.mu.Unlock()
	}
}

func isolateWrite(ctx context.Context, n *Nemesis) error {
	w := n.C.WriteRegion()
	end := n.Fault("partition "+w+" | others", func() error {
		var errs []error
		for _, r := range n.C.Regions()[1:] {
			errs = append(errs, n.C.Partition(ctx, w, r))
		}
		return errors.Join(errs...)
	})
	err := n.Sleep(ctx, n.Between(3*time.Second, 5*time.Second))
	n.note(n.C.Heal(context.Background()))
	end()
	return err
}

func asymBridge(ctx context.Context, n *Nemesis) error {
	rs := n.C.Regions()
	end := n.Fault(fmt.Sprintf("asymmetric partition: %s -> %s held, %s -> %s open", rs[0], rs[1], rs[1], rs[0]), func() error {
		return n.C.PartitionOneWay(ctx, rs[0], rs[1])
	})
	err := n.Sleep(ctx, n.Between(2*time.Second, 3*time.Second))
	n.note(n.C.Heal(context.Background()))
	end()
	if err != nil {
		return err
	}
	if err := n.Sleep(ctx, time.Second); err != nil {
		return err
	}
	end = n.Fault(fmt.Sprintf("bridge: %s | %s, %s sees both", rs[0], rs[2], rs[1]), func() error {
		return n.C.Partition(ctx, rs[0], rs[2])
	})
	err = n.Sleep(ctx, n.Between(2*time.Second, 3*time.Second))
	n.note(n.C.Heal(context.Background()))
	end()
	return err
}

func latency(ctx context.Context, n *Nemesis) error {
	rs := n.C.Regions()
	base := n.C.opts.RTT
	end := n.Fault(fmt.Sprintf("rtt %s-%s 70ms jitter 20ms", rs[0], rs[1]), func() error {
		return n.C.SetLink(ctx, rs[0], rs[1], 70*time.Millisecond, 20*time.Millisecond)
	})
	err := n.Sleep(ctx, n.Between(2*time.Second, 3*time.Second))
	end()
	if err == nil {
		end = n.Fault(fmt.Sprintf("rtt %s-%s 150ms", rs[0], rs[1]), func() error {
			return n.C.SetLink(ctx, rs[0], rs[1], 150*time.Millisecond, 0)
		})
		err = n.Sleep(ctx, n.Between(2*time.Second, 3*time.Second))
		end()
	}
	n.note(n.C.SetLink(context.Background(), rs[0], rs[1], base, 0))
	return err
}

func killRestart(ctx context.Context, n *Nemesis) error {
	rs := n.C.Regions()
	for _, r := range []string{rs[1], rs[0]} {
		end := n.Fault("kill -9 "+r, func() error { return n.C.Kill(r) })
		err := n.Sleep(ctx, n.Between(time.Second, 3*time.Second))
		n.note(n.C.Restart(context.Background(), r))
		end()
		if err != nil {
			return err
		}
		if err := n.Sleep(ctx, 1500*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

// cutSkewedReader partitions the write region from the read region whose
// clock is furthest behind (r3 in F11), leaving it reachable by its
// clients and the other read region: the write region drops it from the
// Strong quorum and, a lease later, commits without it; the cut-off
// region must have stopped serving Strong reads by then.
func cutSkewedReader(ctx context.Context, n *Nemesis) error {
	w := n.C.WriteRegion()
	behind := n.C.Regions()[len(n.C.Regions())-1]
	for _, r := range n.C.Regions() {
		if r != w && n.C.opts.ClockOffsets[r] < n.C.opts.ClockOffsets[behind] {
			behind = r
		}
	}
	end := n.Fault(fmt.Sprintf("partition %s | %s (clock %s)", w, behind, n.C.opts.ClockOffsets[behind]), func() error {
		return n.C.Partition(ctx, w, behind)
	})
	err := n.Sleep(ctx, n.Between(6*time.Second, 8*time.Second))
	n.note(n.C.Heal(context.Background()))
	end()
	return err
}

// killFailover crashes the write region, waits until another region takes
// the write role (automatic failover), then restarts the old one on its
// data and waits until it serves again (as a read region).
func killFailover(ctx context.Context, n *Nemesis) error {
	w := n.C.WriteRegion()
	killed := time.Now()
	end := n.Fault("kill -9 "+w+" (automatic failover)", func() error { return n.C.Kill(w) })
	next, err := n.C.AwaitWriteRegion(ctx, w, 30*time.Second)
	restarted := false
	if err != nil && ctx.Err() == nil {
		// No survivor holds the committed log (after earlier failovers
		// they may all have just rejoined and be re-replicating from the
		// region that died), or every other region is fenced out: the
		// failover rightly waits. Bring the region
		// back as an operator would; it reports its final heads and the
		// failover catches up from it.
		n.note(n.C.Restart(context.Background(), w))
		restarted = true
		n.mu.Lock()
		n.Faults = append(n.Faults, "restart "+w+" so that the failover can complete (no survivor held the committed log)")
		n.mu.Unlock()
		// It may also simply resume as the write region: no other region
		// was healthy enough to take over (control.HasTakeover).
		next, err = n.C.AwaitWriteRegion(ctx, "", 30*time.Second)
	}
	if err != nil {
		end()
		return err
	}
	n.C.SetWriteRegion(next)
	n.mu.Lock()
	n.Faults = append(n.Faults, fmt.Sprintf("failover %s -> %s after %v", w, next, time.Since(killed).Round(10*time.Millisecond)))
	n.mu.Unlock()
	err = n.Sleep(ctx, n.Between(time.Second, 3*time.Second))
	if !restarted {
		n.note(n.C.Restart(context.Background(), w))
	}
	end()
	return err
}

// manualFailover moves the write region to the next region (a planned
// failover: the old one drains, nothing is lost).
func manualFailover(ctx context.Context, n *Nemesis) error {
	rs := n.C.Regions()
	w := n.C.WriteRegion()
	target := rs[(slices.Index(rs, w)+1)%len(rs)]
	end := n.Fault("planned failover "+w+" -> "+target, func() error {
		if err := n.C.Failover(ctx, target); err != nil {
			return err
		}
		n.C.SetWriteRegion(target)
		return nil
	})
	err := n.Sleep(ctx, n.Between(2*time.Second, 3*time.Second))
	end()
	return err
}

// soak is F20's nemesis: one of F1, F5, F7 and F10's faults per cycle, by
// the seed.
func soak(ctx context.Context, n *Nemesis) error {
	faults := []func(context.Context, *Nemesis) error{isolateWrite, asymBridge, killRestart, pauseWrite}
	return faults[n.rng.IntN(len(faults))](ctx, n)
}

func pauseWrite(ctx context.Context, n *Nemesis) error {
	w := n.C.WriteRegion()
	end := n.Fault("SIGSTOP "+w, func() error { return n.C.Stop(w) })
	err := n.Sleep(ctx, n.Between(2*time.Second, 5*time.Second))
	n.note(n.C.Cont(w))
	end()
	return err
}

// Config configures Run.
type Config struct {
	// Binary is the meridian executable.
	Binary string
	// Dir is the run directory: one subdirectory per scenario.
	Dir string
	// Duration is how long clients run per scenario (fault cycles repeat,
	// each followed by a quiet second, until it passes; at least one).
	Duration time.Duration
	// Rate is the offered load, ops/s over all clients (default 60).
	Rate float64
	// Clients is the number of logical clients (default 6), Keys the
	// number of keys (default 8; the multi-write workload has fixed key
	// sets, see multiwrite.go).
	Clients, Keys int
	// WriteFraction of the ops are writes (default 0.5).
	WriteFraction float64
	Seed          uint64
	// RTT of every region pair (default 20ms).
	RTT time.Duration
	// Log receives progress lines (nil: none).
	Log io.Writer
	// LogLevel of the servers (default warn).
	LogLevel string

	// KeepData keeps the regions' data directories of a passing scenario
	// (a failing one always keeps them).
	KeepData bool

	// sendLevel: see workload.sendLevel (negative control only).
	sendLevel string
}

func (c *Config) defaults() {
	if c.Duration == 0 {
		c.Duration = 10 * time.Second
	}
	if c.Rate == 0 {
		c.Rate = 60
	}
	if c.Clients == 0 {
		c.Clients = 6
	}
	if c.Keys == 0 {
		c.Keys = 8
	}
	if c.WriteFraction == 0 {
		c.WriteFraction = 0.5
	}
	if c.RTT == 0 {
		c.RTT = 20 * time.Millisecond
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
}

// Result is one scenario's outcome.
type Result struct {
	Scenario string           `json:"scenario"`
	Level    string           `json:"level"`
	Seed     uint64           `json:"seed"`
	Dir      string           `json:"dir"`
	Ops      map[string]int   `json:"ops"` // "write ok", "read fail", ...
	Faults   []string         `json:"faults"`
	Harness  []string         `json:"harness_errors,omitempty"`
	Notes    []string         `json:"notes,omitempty"`
	Reports  []checker.Report `json:"reports"`
	Elapsed  time.Duration    `json:"elapsed_ns"`
}

// OK is true if every checker passed and the harness found nothing wrong.
func (r *Result) OK() bool {
	if len(r.Harness) > 0 {
		return false
	}
	for _, rep := range r.Reports {
		if !rep.OK {
			return false
		}
	}
	return true
}

// Summary is a few lines: ops, faults, verdicts.
func (r *Result) Summary() string {
	var b strings.Builder
	verdict := "PASS"
	if !r.OK() {
		verdict = "FAIL"
	}
	fmt.Fprintf(&b, "%s %s (%s, seed %d, %s): %s\n", r.Scenario, verdict, r.Level, r.Seed, r.Elapsed.Round(100*time.Millisecond), r.Dir)
	keys := make([]string, 0, len(r.Ops))
	for k := range r.Ops {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	fmt.Fprintf(&b, "  ops:")
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%d", k, r.Ops[k])
	}
	fmt.Fprintf(&b, "\n  faults: %s\n", strings.Join(r.Faults, "; "))
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "  note: %s\n", n)
	}
	for _, h := range r.Harness {
		fmt.Fprintf(&b, "  harness: %s\n", h)
	}
	for _, rep := range r.Reports {
		v := "ok"
		if !rep.OK {
			v = fmt.Sprintf("FAIL %v", rep.Kinds())
		}
		fmt.Fprintf(&b, "  %-14s %s\n", rep.Checker, v)
		if !rep.OK {
			for i, vio := range rep.Violations {
				if i == 5 {
					fmt.Fprintf(&b, "    ... %d more\n", len(rep.Violations)-5)
					break
				}
				fmt.Fprintf(&b, "    %s %s ops %v: %s\n", vio.Kind, vio.Key, vio.Ops, vio.Explain)
			}
		}
	}
	return b.String()
}

// Run runs one scenario on a fresh cluster in cfg.Dir/<id>: warm-up,
// fault cycles, heal, a final write per region, quiescence, dumps of every
// region, the checkers of the level, and the artifacts (history.jsonl,
// result.json, per-checker reports, the porcupine HTML on failure, server
// logs and the data directories, which a passing scenario removes unless
// cfg.KeepData). An error means the harness could not run the scenario;
// violations are in the Result.
func Run(ctx context.Context, cfg Config, sc Scenario) (*Result, error) {
	cfg.defaults()
	start := time.Now()
	dir := filepath.Join(cfg.Dir, sc.ID)
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	res := &Result{Scenario: sc.ID, Level: sc.Level, Seed: cfg.Seed, Dir: dir, Ops: map[string]int{}}
	logf := func(format string, args ...any) {
		fmt.Fprintf(cfg.Log, "%s %s: %s\n", time.Now().Format("15:04:05.000"), sc.ID, fmt.Sprintf(format, args...))
	}
	cl, err := StartCluster(ctx, ClusterOptions{Binary: cfg.Binary, Dir: dir, Consistency: sc.Level, K: sc.K, T: sc.T,
		RTT: cfg.RTT, LogLevel: cfg.LogLevel, ClockOffsets: sc.ClockOffsets, FailoverTimeout: sc.FailoverTimeout,
		MultiWrite: sc.MultiWrite, Failpoints: sc.Failpoints})
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	hc := newHTTPClient(cfg.Clients + 4)
	defer hc.CloseIdleConnections()
	rec := checker.NewRecorder()
	// Strong and BS writes wait for remote regions; a Session read for
	// replication (session-wait 5 s). Deadlines scale with the RTT.
	timeout := 10*time.Second + 8*cfg.RTT
	var mw *mwWorkload
	if sc.MultiWrite {
		mw = &mwWorkload{c: cl, rec: rec, hc: hc, clients: cfg.Clients, rate: cfg.Rate, writeP: cfg.WriteFraction,
			remoteP: 0.25, timeout: timeout, seed: cfg.Seed, sendLevel: cfg.sendLevel}
		if err := setupMultiWrite(ctx, hc, cl, mw); err != nil {
			return nil, err
		}
	} else if err := setupContainer(ctx, hc, cl); err != nil {
		return nil, err
	}
	if len(sc.ClockOffsets) > 0 {
		if err := checkClocks(ctx, hc, cl); err != nil {
			res.Harness = append(res.Harness, err.Error())
		}
	}
	logf("cluster up (%s), running %s at %.0f ops/s", strings.Join(cl.Regions(), ", "), cfg.Duration, cfg.Rate)

	keys := make([]string, cfg.Keys)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d", i)
	}
	w := &workload{c: cl, rec: rec, hc: hc, level: sc.Level, keys: keys, clients: cfg.Clients, rate: cfg.Rate,
		writeP: cfg.WriteFraction, timeout: timeout, seed: cfg.Seed, session: sc.Level == "Session", sendLevel: cfg.sendLevel}
	nem := &Nemesis{C: cl, rng: rand.New(rand.NewPCG(cfg.Seed, 0x6e656d)), rec: rec}

	wctx, stopClients := context.WithCancel(ctx)
	var wg sync.WaitGroup
	if mw != nil {
		wg.Go(func() { mw.run(wctx) })
	} else {
		wg.Go(func() { w.run(wctx) })
	}
	var storm *retryWorkload
	if sc.Retry && mw == nil {
		storm = &retryWorkload{c: cl, hc: hc, clients: 3, short: max(cfg.RTT/10, time.Millisecond)}
		if err := storm.setup(ctx); err != nil {
			stopClients()
			wg.Wait()
			return nil, err
		}
		wg.Go(func() { storm.run(wctx) })
	}
	var feed *feedConsumer
	if sc.Feed && mw == nil {
		feed = &feedConsumer{c: cl, rec: rec, hc: hc, region: cl.Regions()[1]}
		wg.Go(func() { feed.run(wctx) })
	}
	runEnd := time.Now().Add(cfg.Duration)
	nerr := nem.Sleep(ctx, 1500*time.Millisecond) // warm-up
	for cycle := 1; nerr == nil; cycle++ {
		logf("fault cycle %d", cycle)
		if nerr = sc.Nemesis(ctx, nem); nerr != nil {
			break
		}
		nerr = nem.Sleep(ctx, 1500*time.Millisecond) // after the heal
		if time.Now().After(runEnd) {
			break
		}
	}
	stopClients()
	wg.Wait()
	// Make sure every region runs and nothing stays partitioned or paused.
	for _, r := range cl.Regions() {
		if _, err := cl.proc(r); err != nil {
			nem.note(cl.Restart(context.Background(), r))
		} else {
			_ = cl.Cont(r)
		}
	}
	nem.note(cl.Heal(context.Background()))
	if nerr != nil {
		return nil, nerr
	}
	res.Faults = nem.Faults
	for _, e := range nem.errs {
		res.Harness = append(res.Harness, "nemesis: "+e.Error())
	}

	// A final write per region, which must succeed (pitfall 11): through
	// the write region (single-write account), or through the region
	// itself (multi-write), one key per region.
	final := &client{id: 1000}
	for _, r := range cl.Regions() {
		key := "final-" + r
		if mw != nil {
			key = mwContainers[0].name + "-" + key
		}
		ok := false
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
			var op checker.Op
			if mw != nil {
				op = mw.write(final, r, itemUpsert, key)
			} else {
				op = w.write(final, cl.WriteRegion(), key)
			}
			if op.Result == checker.OK {
				ok = true
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if !ok {
			res.Harness = append(res.Harness, "the final write of "+key+" never succeeded within 30 s")
		}
	}

	// Quiescence: wait (bounded) until every region's dump is the same,
	// then keep the dumps.
	var dumps map[string]checker.State
	var mwf mwFinal
	var derr error
	if mw != nil {
		mwf, derr = quiesceMW(ctx, hc, cl, 15*time.Second)
		dumps = mwf.dumps
		res.Notes = append(res.Notes, "LastWriterWins conflicts counted (meridian_conflicts_total, fed=false): "+lwwConflictCounts(ctx, hc, cl))
	} else {
		dumps, derr = quiesce(ctx, hc, cl, 10*time.Second)
		if feed != nil {
			feed.drain(ctx, 10*time.Second)
		}
	}
	if derr != nil {
		res.Harness = append(res.Harness, derr.Error())
	}
	h := rec.History()
	for _, o := range h.Ops {
		if o.Client == final.id || o.Client == mwSetupClient {
			continue
		}
		res.Ops[string(o.Kind)+" "+string(o.Result)]++
	}
	// Guard against a starved generator passing (pitfall 17).
	want := int(cfg.Rate * cfg.Duration.Seconds() / 10)
	if n := res.Ops["write ok"]; n < want/2 || res.Ops["read ok"] < want/2 {
		res.Harness = append(res.Harness, fmt.Sprintf("too few successful ops (write ok %d, read ok %d; want ≥ %d each): the run proves little",
			res.Ops["write ok"], res.Ops["read ok"], want/2))
	}
	logf("%d ops recorded, checking", len(h.Ops))
	if mw != nil {
		res.Reports = checkMultiWrite(h, cl, mwf)
		for _, rep := range res.Reports {
			if rep.Checker == "conflicts" {
				res.Notes = append(res.Notes, fmt.Sprintf("Custom conflicts fed: %d records (%d deletes)", rep.Stats["records"], rep.Stats["records_delete"]))
			}
		}
	} else {
		var loss *lossInfo
		if sc.ReportedLoss {
			var lerr error
			if loss, lerr = readLoss(ctx, hc, cl.Endpoint(cl.WriteRegion())); lerr != nil {
				res.Harness = append(res.Harness, lerr.Error())
			}
		}
		res.Reports = check(h, sc, cl, dumps, loss, dir)
		if feed != nil {
			res.Reports = append(res.Reports, checker.CheckChangeFeed(h, checker.ChangeFeedOptions{Final: dumps[feed.region]}))
		}
		if storm != nil {
			rep, err := storm.check(ctx)
			if err != nil {
				res.Harness = append(res.Harness, "retry storm: "+err.Error())
			} else {
				res.Reports = append(res.Reports, rep)
				res.Notes = append(res.Notes, fmt.Sprintf("retry storm: %d operations, %d attempts (timeout %s), %d concluded applied, %d in doubt",
					rep.Stats["items"], rep.Stats["attempts"], storm.short, rep.Stats["applied"], rep.Stats["in_doubt"]))
			}
		}
		if sc.ReportedLoss {
			var rec, acked, unknown, lost int64
			for _, rep := range res.Reports {
				switch rep.Checker {
				case "reported-loss":
					rec, acked, unknown = rep.Stats["records"], rep.Stats["acked_reported"], rep.Stats["unknown_reported"]
				case "durability":
					lost = rep.Stats["lost_allowed"]
				}
			}
			res.Notes = append(res.Notes, fmt.Sprintf("failover records in the conflicts feed: %d (acknowledged writes %d, unknown %d); acknowledged writes missing from the final state and reported: %d (the others were overwritten later anyway)", rec, acked, unknown, lost))
		}
	}
	res.Elapsed = time.Since(start)
	if err := saveArtifacts(dir, h, res); err != nil {
		res.Harness = append(res.Harness, "artifacts: "+err.Error())
	}
	if res.OK() && !cfg.KeepData {
		cl.Close()
		for _, r := range cl.Regions() {
			_ = os.RemoveAll(cl.DataDir(r))
		}
	}
	return res, nil
}

// quiesce polls every region's dump until all hold the same values and
// LSNs, or within passes; it returns the last dumps.
func quiesce(ctx context.Context, hc *http.Client, cl *Cluster, within time.Duration) (map[string]checker.State, error) {
	deadline := time.Now().Add(within)
	var last error
	for {
		dumps := map[string]checker.State{}
		last = nil
		for _, r := range cl.Regions() {
			items, err := dumpRegion(ctx, hc, cl.Endpoint(r))
			if err == nil {
				var st checker.State
				if st, err = checker.StateFromItems(items, checker.ItemFields{}); err == nil {
					dumps[r] = st
					continue
				}
			}
			last = fmt.Errorf("dump of %s: %w", r, err)
			break
		}
		if last == nil && sameStates(dumps) {
			return dumps, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			if last == nil {
				return dumps, nil // the convergence checker reports the difference
			}
			return dumps, last
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func sameStates(d map[string]checker.State) bool {
	var ref checker.State
	for _, st := range d {
		if ref == nil {
			ref = st
			continue
		}
		if len(st) != len(ref) {
			return false
		}
		for k, v := range st {
			if rv, ok := ref[k]; !ok || rv.Value != v.Value || rv.LSN != v.LSN {
				return false
			}
		}
	}
	return true
}

// check runs the checkers of the scenario's level, then durability and
// convergence.
// lossInfo is what a failover below Strong reports about the writes it
// removed: the write region's conflicts feed and the container partition's
// epoch history (checker.CheckReportedLoss).
type lossInfo struct {
	feed   []checker.ConflictRecord
	starts map[int64]int64 // epoch -> first LSN
}

func readLoss(ctx context.Context, hc *http.Client, endpoint string) (*lossInfo, error) {
	feed, err := conflictsFeed(ctx, hc, endpoint, collName)
	if err != nil {
		return nil, err
	}
	st, err := regionStatus(ctx, hc, endpoint)
	if err != nil {
		return nil, err
	}
	li := &lossInfo{feed: feed, starts: map[int64]int64{}}
	if st.Control != nil {
		for pid, hs := range st.Control.History {
			if pid == "0" { // the catalog's log
				continue
			}
			for _, e := range hs {
				li.starts[e.Epoch] = e.Start
			}
		}
	}
	return li, nil
}

func check(h checker.History, sc Scenario, cl *Cluster, dumps map[string]checker.State, loss *lossInfo, dir string) []checker.Report {
	var feed []checker.ConflictRecord
	var starts map[int64]int64
	if loss != nil {
		feed, starts = loss.feed, loss.starts
	}
	var out []checker.Report
	switch sc.Level {
	case "Strong":
		out = append(out, checker.CheckLinearizable(h, checker.StrongOptions{ReportDir: dir, Name: sc.ID}))
	case "Session":
		so := checker.SessionOptions{}
		if sc.ReportedLoss {
			// A write the failover removed is covered by no valid token:
			// tokens of its epoch are refused, later epochs renumber.
			so.AllowLost = checker.LostReported(feed, "")
			if starts != nil {
				so.EpochFirstLSN = map[string]map[int64]int64{"0": starts}
			}
		}
		out = append(out, checker.CheckSession(h, so))
	case "BoundedStaleness":
		out = append(out, checker.CheckBoundedStaleness(h, checker.BoundedOptions{
			K: cl.Topo.MaxStalenessPrefix, T: time.Duration(cl.Topo.MaxIntervalSeconds) * time.Second,
			Epsilon: 50 * time.Millisecond}))
	}
	out = append(out, checker.CheckPrefix(h, checker.PrefixOptions{}))
	if final, ok := dumps[cl.WriteRegion()]; ok {
		opts := checker.DurabilityOptions{Final: final}
		if sc.ReportedLoss {
			opts.AllowLost = checker.LostReported(feed, "")
			out = append(out, checker.CheckReportedLoss(h, checker.ReportedLossOptions{Feed: feed, Final: final, EpochStarts: starts}))
		}
		out = append(out, checker.CheckDurability(h, opts))
	} else {
		out = append(out, checker.Report{Checker: "durability", OK: false,
			Violations: []checker.Violation{{Kind: "H", Explain: "no final dump of the write region"}}})
	}
	if len(dumps) == len(cl.Regions()) {
		out = append(out, checker.CheckConvergence(h, checker.ConvergenceOptions{Dumps: dumps}))
	} else {
		out = append(out, checker.Report{Checker: "convergence", OK: false,
			Violations: []checker.Violation{{Kind: "H", Explain: fmt.Sprintf("only %d of %d regions dumped", len(dumps), len(cl.Regions()))}}})
	}
	return out
}

func saveArtifacts(dir string, h checker.History, res *Result) error {
	f, err := os.Create(filepath.Join(dir, "history.jsonl"))
	if err != nil {
		return err
	}
	if err := h.Encode(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	for _, rep := range res.Reports {
		if _, err := rep.WriteJSON(dir); err != nil {
			return err
		}
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "result.json"), b, 0o644)
}
