package loadgen

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meridiandb/meridian/internal/session"
)

// Result is what a run measured; it is also the --json document.
type Result struct {
	Workload     string   `json:"workload"`
	Mix          string   `json:"mix"`
	Distribution string   `json:"distribution"`
	Consistency  string   `json:"consistency"` // "" : the account's default
	Endpoint     string   `json:"endpoint"`
	WriteRegion  string   `json:"writeRegion"`
	ReadRegions  []string `json:"readRegions"`
	CustomSync   []string `json:"customSync,omitempty"`
	SyncRegions  []string `json:"syncRegions,omitempty"`
	Records      int64    `json:"records"`
	ItemSize     int      `json:"itemSize"`
	Concurrency  int      `json:"concurrency"`
	Label        string   `json:"label,omitempty"`
	Seed         uint64   `json:"seed"`

	Started     time.Time `json:"started"`
	LoadSeconds float64   `json:"loadSeconds,omitempty"`
	// WarmupSeconds precede the measured window of WindowSeconds (shorter
	// than asked if the run was interrupted).
	WarmupSeconds float64 `json:"warmupSeconds"`
	WindowSeconds float64 `json:"windowSeconds"`

	// OfferedRate is the schedule's rate; AchievedRate is the operations
	// that completed (successfully or not) per second of the window.
	OfferedRate  float64 `json:"offeredRate"`
	AchievedRate float64 `json:"achievedRate"`
	// Scheduled operations fell due in the window; Dropped ones were not
	// sent because Concurrency operations were in flight; Late ones were
	// sent more than 1 ms after their due time (their latency includes
	// the delay).
	Scheduled int64   `json:"scheduled"`
	Dropped   int64   `json:"dropped"`
	Late      int64   `json:"late"`
	MaxLateMs float64 `json:"maxLateMs"`

	Ops []OpStats `json:"ops"`

	Env Env `json:"env"`
}

// Env describes where the numbers were taken.
type Env struct {
	GoVersion  string `json:"goVersion"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	NumCPU     int    `json:"numCPU"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	// ClientCPUSeconds is this process's CPU time (user + system) during
	// the measured window; it includes in-process servers, if any.
	ClientCPUSeconds float64 `json:"clientCPUSeconds"`
	ClientCPUPer1k   float64 `json:"clientCPUSecondsPer1kOps"`
}

// Total returns the "total" row (zero if nothing was recorded).
func (r *Result) Total() OpStats { return r.Row(OpTotal, AllRegions) }

// Row returns the row of an operation type in a region ("*": every region;
// for an operation seen in one region only, its single row).
func (r *Result) Row(op, region string) OpStats {
	var only OpStats
	n := 0
	for _, s := range r.Ops {
		if s.Op != op {
			continue
		}
		if canonical(s.Region) == canonical(region) {
			return s
		}
		only = s
		n++
	}
	if region == AllRegions && n == 1 {
		return only
	}
	return OpStats{Op: op, Region: region}
}

// lateAfter is the lateness from which a sent operation counts as late.
const lateAfter = time.Millisecond

// Run discovers the account, creates the container if needed, optionally
// loads the records, then runs the workload open-loop and returns the
// measurements. On ctx cancellation it stops scheduling, waits for the
// operations in flight and returns what it measured so far.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg.defaults()
	w, key, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	if cfg.Seed == 0 {
		cfg.Seed = uint64(time.Now().UnixNano())
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x6d65726964696e))

	c := newRESTClient(key, cfg.Concurrency, cfg.Insecure)
	defer c.close()
	setupCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	regions, err := c.discover(setupCtx, cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg, c: c, rec: NewRecorder(), payload: newPayload(cfg.ItemSize, rng)}
	toTarget := func(reg Region) (target, error) {
		b, err := baseOf(reg.Endpoint)
		return target{name: reg.Name, base: b}, err
	}
	var writeReg Region
	if cfg.WriteRegion != "" {
		if writeReg, err = findRegion(regions, cfg.WriteRegion); err != nil {
			return nil, fmt.Errorf("write region: %w", err)
		}
	} else {
		writeReg = regions[0]
		for _, reg := range regions {
			if reg.Write {
				writeReg = reg
				break
			}
		}
	}
	if r.write, err = toTarget(writeReg); err != nil {
		return nil, err
	}
	names := cfg.ReadRegions
	if len(names) == 0 {
		names = []string{regions[0].Name}
	}
	all := []Region{writeReg}
	for _, group := range []struct {
		names []string
		dst   *[]target
		what  string
	}{{names, &r.reads, "read region"}, {cfg.CustomSync, &r.syncs, "custom-sync region"}} {
		for _, n := range group.names {
			reg, err := findRegion(regions, n)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", group.what, err)
			}
			t, err := toTarget(reg)
			if err != nil {
				return nil, err
			}
			*group.dst = append(*group.dst, t)
			all = append(all, reg)
		}
	}
	var syncNames []string
	for _, n := range cfg.SyncRegions {
		reg, err := findRegion(regions, n)
		if err != nil {
			return nil, fmt.Errorf("sync region: %w", err)
		}
		syncNames = append(syncNames, reg.Name)
	}
	r.syncHdr = strings.Join(syncNames, ", ")
	r.collLink = "dbs/" + cfg.DB + "/colls/" + cfg.Container
	r.collPath = "/" + escLink(r.collLink)
	r.docsPath = r.collPath + "/docs"

	res := &Result{
		Workload: w.Name, Mix: w.Description, Distribution: w.Distribution, Consistency: cfg.Consistency,
		Endpoint: cfg.Endpoint, WriteRegion: r.write.name, Records: cfg.Records, ItemSize: cfg.ItemSize,
		Concurrency: cfg.Concurrency, Label: cfg.Label, Seed: cfg.Seed, OfferedRate: cfg.Rate,
		CustomSync: names2(r.syncs), SyncRegions: syncNames, ReadRegions: names2(r.reads),
		Env: Env{GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH,
			NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0)},
	}

	if err := c.ensureContainer(setupCtx, writeReg, dedupe(all), cfg.DB, cfg.Container); err != nil {
		return nil, err
	}
	if cfg.Load {
		fmt.Fprintf(cfg.Log, "loading %d records of %d bytes into %s in %s...\n", cfg.Records, cfg.ItemSize, r.collLink, r.write.name)
		t0 := time.Now()
		if err := r.load(ctx, dedupe(all)); err != nil {
			return nil, err
		}
		res.LoadSeconds = time.Since(t0).Seconds()
		fmt.Fprintf(cfg.Log, "loaded in %.1fs (%.0f records/s)\n", res.LoadSeconds, float64(cfg.Records)/res.LoadSeconds)
	} else {
		rep := r.readItem(setupCtx, r.write, cfg.Records-1, "")
		if rep.status == http.StatusNotFound {
			fmt.Fprintf(cfg.Log, "warning: record %s is missing in %s: run with --load first\n", keyID(cfg.Records-1), r.write.name)
		}
	}
	if cfg.Duration == 0 {
		return res, nil
	}

	// The run.
	expectedInserts := int64(cfg.Rate*(cfg.Warmup+cfg.Duration).Seconds()*w.Insert*2) + 1
	r.acks = newAckCounter(cfg.Records)
	pl := newPlanner(w, rng, r.acks, cfg.Records, expectedInserts, len(r.reads), cfg.MaxScanLength)
	clock := cfg.clock
	start := clock.Now().Add(10 * time.Millisecond)
	measureFrom := start.Add(cfg.Warmup)
	sched := schedule{start: start, rate: cfg.Rate}
	n := sched.count(cfg.Warmup + cfg.Duration)
	d := newDispatcher(clock, start, cfg.Rate, n, cfg.Concurrency, lateAfter)
	res.Started = start
	res.WarmupSeconds = cfg.Warmup.Seconds()

	var (
		wg      sync.WaitGroup
		dropped atomic.Int64
	)
	stopProgress := r.progress(cfg, start, measureFrom, d, &dropped)
	var cpu0 float64
	cpuTaken := false
	measured := func(due time.Time) bool {
		if !cpuTaken && !due.Before(measureFrom) {
			cpu0, cpuTaken = cpuSeconds(), true
		}
		return !due.Before(measureFrom)
	}
	// A pool of Concurrency workers runs the operations rather than a
	// goroutine per operation: a fresh goroutine grows its stack through
	// fasthttp's calls every time, and creating, growing and exiting them
	// was 15 % of the generator's CPU at 10,000 reads/s. The dispatcher
	// sends a job only after taking a slot, and a worker frees the slot
	// when the job is done, so at most Concurrency jobs are ever queued or
	// running: the channel, which holds that many, never blocks it.
	type job struct {
		p   plan
		due time.Time
		m   bool
	}
	jobs := make(chan job, cfg.Concurrency)
	for range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				r.exec(ctx, j.p, j.due, j.m)
				d.release()
			}
		}()
	}
	st := d.run(ctx, measured, func(_ int64, due time.Time) {
		jobs <- job{p: pl.next(), due: due, m: !due.Before(measureFrom)}
	}, func(_ int64, _ time.Time) {
		// Draw the dropped operation anyway, so that the sequence of
		// operations does not depend on timing; a dropped insert's key is
		// acknowledged so that readers do not wait for it forever.
		if p := pl.next(); p.op == OpInsert {
			r.acks.Acknowledge(p.key)
		}
		dropped.Add(1)
	})
	end := clock.Now()
	close(jobs)
	wg.Wait()
	stopProgress()
	window := cfg.Duration
	if ctx.Err() != nil { // interrupted: the window is what elapsed of it
		window = max(0, min(cfg.Duration, end.Sub(measureFrom)))
	}
	if cpuTaken {
		res.Env.ClientCPUSeconds = cpuSeconds() - cpu0
	}
	res.WindowSeconds = window.Seconds()
	res.Scheduled, res.Dropped, res.Late = st.Scheduled, st.Dropped, st.Late
	res.MaxLateMs = float64(st.MaxLate) / float64(time.Millisecond)
	res.Ops = r.rec.Stats(window)
	if t := res.Total(); window > 0 {
		res.AchievedRate = float64(t.OK+t.Errors) / window.Seconds()
		if done := t.OK + t.Errors; done > 0 {
			res.Env.ClientCPUPer1k = res.Env.ClientCPUSeconds / float64(done) * 1000
		}
	}
	return res, nil
}

func names2(ts []target) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.name)
	}
	return out
}

func dedupe(rs []Region) []Region {
	seen := map[string]bool{}
	var out []Region
	for _, r := range rs {
		if !seen[canonical(r.Name)] {
			seen[canonical(r.Name)] = true
			out = append(out, r)
		}
	}
	return out
}

// load upserts the records with Concurrency closed-loop workers, then
// waits until every region in regions has them (a session read with the
// merged session token of the load), so that the measured reads do not
// start on a half-replicated container.
func (r *runner) load(ctx context.Context, regions []Region) error {
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		tokens   = map[string]session.Token{}
	)
	merge := func(h string) {
		parsed, err := session.ParseHeader(h)
		if err != nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for id, t := range parsed {
			if old, ok := tokens[id]; ok {
				if m, err := session.Merge(old, t); err == nil {
					t = m
				}
			}
			tokens[id] = t
		}
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range min(int64(r.cfg.Concurrency), r.cfg.Records) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := next.Add(1) - 1
				if k >= r.cfg.Records || lctx.Err() != nil {
					return
				}
				var rep reply
				for attempt := 0; ; attempt++ {
					rctx, rcancel := context.WithTimeout(lctx, r.cfg.Timeout)
					rep = r.upsertItem(rctx, k, "")
					rcancel()
					// Retry what a loader should: throttling and
					// unavailability, a few times.
					if (rep.status != http.StatusTooManyRequests && rep.status != http.StatusServiceUnavailable) || attempt == 5 {
						break
					}
					time.Sleep(time.Duration(attempt+1) * 50 * time.Millisecond)
				}
				if err := rep.error(); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("load record %d: %w", k, err)
					}
					mu.Unlock()
					cancel()
					return
				}
				merge(rep.sessionToken)
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	token := session.FormatHeader(tokens)
	if token == "" {
		return nil
	}
	for _, reg := range regions {
		if canonical(reg.Name) == canonical(r.write.name) {
			continue
		}
		t, err := baseOf(reg.Endpoint)
		if err != nil {
			return err
		}
		deadline := time.Now().Add(2 * time.Minute)
		for {
			rctx, rcancel := context.WithTimeout(ctx, r.cfg.Timeout)
			rep := r.readItem(rctx, target{name: reg.Name, base: t}, 0, token)
			rcancel()
			if rep.status == http.StatusOK {
				break
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("the loaded records did not reach %s: %w", reg.Name, rep.error())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}

// progress starts the live progress line (if cfg.Progress is set) and
// returns the function that stops it.
func (r *runner) progress(cfg Config, start, measureFrom time.Time, d *dispatcher, dropped *atomic.Int64) func() {
	if cfg.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		last := time.Now()
		for {
			select {
			case <-done:
				if cfg.ProgressTTY {
					fmt.Fprint(cfg.Progress, "\r\033[K")
				}
				return
			case now := <-t.C:
				iv := r.rec.TakeInterval()
				secs := now.Sub(last).Seconds()
				last = now
				phase := "run"
				if now.Before(measureFrom) {
					phase = "warm-up"
				}
				line := fmt.Sprintf("%5.0fs %-7s %7.0f ops/s  p99 %s  errors %d (total %d)  in flight %d  dropped %d",
					now.Sub(start).Seconds(), phase, float64(iv.OK+iv.Errors)/secs, fmtMs(iv.P99), iv.Errors,
					iv.TotalErrors, d.inFlight(), dropped.Load())
				if cfg.ProgressTTY {
					fmt.Fprint(cfg.Progress, "\r\033[K"+line)
				} else {
					fmt.Fprintln(cfg.Progress, line)
				}
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func fmtMs(d time.Duration) string {
	return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
}

// Check applies the guards of testing.md (pitfall 17): a run is
// trustworthy only if the generator delivered the offered rate (no drops,
// at least 95 % achieved). It returns a description of each problem.
func (r *Result) Check() []string {
	var out []string
	if r.Dropped > 0 {
		out = append(out, fmt.Sprintf("%d operations were dropped because %d were in flight: the offered rate was not delivered (raise --concurrency, or lower --rate: the server is saturated)", r.Dropped, r.Concurrency))
	}
	if r.OfferedRate > 0 && r.WindowSeconds > 0 && r.AchievedRate < 0.95*r.OfferedRate {
		out = append(out, fmt.Sprintf("achieved %.0f ops/s, below 95%% of the offered %.0f ops/s", r.AchievedRate, r.OfferedRate))
	}
	if t := r.Total(); t.Errors > 0 {
		out = append(out, fmt.Sprintf("%d of %d operations failed", t.Errors, t.OK+t.Errors))
	}
	if sent := r.Scheduled - r.Dropped; sent > 0 && r.Late*100 > sent {
		pct := 100 * float64(r.Late) / float64(sent)
		out = append(out, fmt.Sprintf("%d operations (%.1f %%) were sent more than 1 ms after their due time: the generator could not keep its schedule (on a shared machine it competes for CPU with the server), so percentiles from p%.1f up include the generator's own delay", r.Late, pct, 100-pct))
	}
	return out
}

// writeServerTable prints the server's own times, when it reported them:
// the share of each latency that the network, the kernels, the HTTP stacks
// and the generator did not add.
func (r *Result) writeServerTable(w io.Writer, opW, regW int) {
	var rows []OpStats
	for _, s := range r.Ops {
		if s.ServerCount > 0 {
			rows = append(rows, s)
		}
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintln(w, "\nserver time in ms (x-ms-request-duration-ms, from the server's handler start to its status line):")
	fmt.Fprintf(w, "%-*s  %-*s %9s %8s %8s %8s\n", opW, "op", regW, "region", "requests", "p50", "p99", "p99.9")
	for _, s := range rows {
		fmt.Fprintf(w, "%-*s  %-*s %9d %8.2f %8.2f %8.2f\n", opW, s.Op, regW, s.Region, s.ServerCount, s.ServerP50, s.ServerP99, s.ServerP999)
	}
}

// WriteTable prints the result as a table.
func (r *Result) WriteTable(w io.Writer) {
	cons := r.Consistency
	if cons == "" {
		cons = "account default"
	}
	fmt.Fprintf(w, "workload %s (%s, %s keys), %d records of %d B, consistency %s\n",
		r.Workload, r.Mix, r.Distribution, r.Records, r.ItemSize, cons)
	fmt.Fprintf(w, "writes to %s, reads from %s", r.WriteRegion, strings.Join(r.ReadRegions, ", "))
	if len(r.SyncRegions) > 0 {
		fmt.Fprintf(w, ", x-meridian-sync-regions: %s", strings.Join(r.SyncRegions, ", "))
	}
	if len(r.CustomSync) > 0 {
		fmt.Fprintf(w, ", custom sync in %s", strings.Join(r.CustomSync, ", "))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "open loop: offered %.0f ops/s, achieved %.1f ops/s over %.1fs (after %.1fs warm-up); concurrency %d; scheduled %d, dropped %d, late >1ms %d (max %.1fms)\n",
		r.OfferedRate, r.AchievedRate, r.WindowSeconds, r.WarmupSeconds, r.Concurrency, r.Scheduled, r.Dropped, r.Late, r.MaxLateMs)
	fmt.Fprintf(w, "latency in ms from each operation's intended start; %s %s/%s, GOMAXPROCS %d, %d CPUs; this process used %.2f CPU-s (%.3f per 1k ops)\n",
		r.Env.GoVersion, r.Env.OS, r.Env.Arch, r.Env.GOMAXPROCS, r.Env.NumCPU, r.Env.ClientCPUSeconds, r.Env.ClientCPUPer1k)
	if r.Label != "" {
		fmt.Fprintf(w, "label: %s\n", r.Label)
	}
	fmt.Fprintln(w)
	opW, regW := len("op"), len("region")
	for _, s := range r.Ops {
		opW, regW = max(opW, len(s.Op)), max(regW, len(s.Region))
	}
	fmt.Fprintf(w, "%-*s  %-*s %9s %7s %9s %8s %8s %8s %8s %8s %8s\n", opW, "op", regW, "region",
		"ok", "errors", "ops/s", "p50", "p90", "p99", "p99.9", "max", "p99+err")
	for _, s := range r.Ops {
		fmt.Fprintf(w, "%-*s  %-*s %9d %7d %9.1f %8.2f %8.2f %8.2f %8.2f %8.2f %8.2f\n", opW, s.Op, regW, s.Region,
			s.OK, s.Errors, s.Throughput, s.P50, s.P90, s.P99, s.P999, s.Max, s.P99All)
	}
	r.writeServerTable(w, opW, regW)
	var errLines []string
	for _, s := range r.Ops {
		if s.Region == AllRegions && s.Op != OpCustomSync {
			continue // the per-region rows list the errors
		}
		for class, n := range s.ErrorsByClass {
			errLines = append(errLines, fmt.Sprintf("  %s %s: %d × %s", s.Op, s.Region, n, class))
		}
	}
	if len(errLines) > 0 {
		slices.Sort(errLines)
		fmt.Fprintln(w, "\nerrors (HTTP status/substatus, timeout, network):")
		for _, l := range errLines {
			fmt.Fprintln(w, l)
		}
	}
	if warnings := r.Check(); len(warnings) > 0 {
		fmt.Fprintln(w)
		for _, s := range warnings {
			fmt.Fprintln(w, "WARNING:", s)
		}
	}
}
