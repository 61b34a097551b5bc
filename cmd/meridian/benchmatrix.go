package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"html"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/meridiandb/meridian/internal/auth"
	"github.com/meridiandb/meridian/internal/loadgen"
	"github.com/meridiandb/meridian/internal/region"
	"github.com/meridiandb/meridian/internal/server"
	"github.com/meridiandb/meridian/internal/session"
)

const benchMatrixUsage = `Usage: meridian bench matrix [flags]

Runs every consistency level (--levels) × simulated round trip (--rtts)
against an in-process account with the dev layout (West US writes, East US,
North Europe; free ports, a temporary data directory), one fresh account
per level with that level as its default, every inter-region link set to
the cell's RTT. Each cell runs a small open-loop workload (YCSB A: 50%
update in West US, 50% read in East US, at --rate) and records write and
read latency from the intended start. Writes DIR/matrix.md (a Markdown
table with the environment), DIR/matrix.svg (p50 bars and p99 marks per
level, grouped by RTT, with the RTT drawn as the floor) and
DIR/matrix.json.

The servers and the generator share this process and its CPUs: keep the
rate low (the default 200 ops/s) so that the cells measure the protocol,
not the machine.

Flags:
`

// matrixCell is one level × RTT measurement.
type matrixCell struct {
	Level  string          `json:"level"`
	RTTms  float64         `json:"rttMs"`
	Write  loadgen.OpStats `json:"write"`
	Read   loadgen.OpStats `json:"read"`
	Result *loadgen.Result `json:"result"`
}

// matrixReport is matrix.json.
type matrixReport struct {
	Machine     string       `json:"machine"`
	GoVersion   string       `json:"goVersion"`
	GOMAXPROCS  int          `json:"gomaxprocs"`
	Label       string       `json:"label,omitempty"`
	Date        time.Time    `json:"date"`
	Workload    string       `json:"workload"`
	Rate        float64      `json:"rate"`
	Records     int64        `json:"records"`
	CellSeconds float64      `json:"cellSeconds"`
	Warmup      float64      `json:"warmupSeconds"`
	WriteRegion string       `json:"writeRegion"`
	ReadRegion  string       `json:"readRegion"`
	StalenessK  int64        `json:"stalenessPrefix"`
	StalenessT  int64        `json:"stalenessSeconds"`
	Levels      []string     `json:"levels"`
	RTTsMs      []float64    `json:"rttsMs"`
	Cells       []matrixCell `json:"cells"`
}

func runBenchMatrix(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench matrix", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, benchMatrixUsage); fs.PrintDefaults() }
	levelsFlag := fs.String("levels", "Strong,BoundedStaleness,Session,ConsistentPrefix,Eventual", "comma-separated consistency levels")
	rttsFlag := fs.String("rtts", "0,20ms,70ms,150ms", "comma-separated round trips between regions")
	cell := fs.Duration("cell-duration", 10*time.Second, "measured window of each cell")
	warmup := fs.Duration("warmup", 2*time.Second, "warm-up of each cell")
	rate := fs.Float64("rate", 200, "offered operations per second in each cell")
	records := fs.Int64("records", 1000, "records loaded into each account")
	workload := fs.String("workload", "A", "YCSB workload of each cell")
	concurrency := fs.Int("concurrency", 64, "most operations in flight")
	kFlag := fs.Int64("staleness-prefix", 100_000, "bounded staleness K (Cosmos's multi-region minimum)")
	tFlag := fs.Int64("staleness-seconds", 300, "bounded staleness T")
	out := fs.String("out", "bench-results", "directory for matrix.md, matrix.svg and matrix.json")
	label := fs.String("label", "", "build description for the report, e.g. the commit (git is not consulted)")
	logLevel := fs.String("log-level", "", "log the servers at this level to stderr (default: discard)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench matrix: unexpected argument %q", fs.Arg(0))
	}
	var levels []session.Level
	for _, s := range splitList(*levelsFlag) {
		l, err := session.ParseLevel(s)
		if err != nil || l == session.LevelUnset {
			return fmt.Errorf("--levels: %q is not a consistency level", s)
		}
		levels = append(levels, l)
	}
	var rtts []time.Duration
	for _, s := range splitList(*rttsFlag) {
		if s == "0" {
			rtts = append(rtts, 0)
			continue
		}
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return fmt.Errorf("--rtts: %q is not a duration", s)
		}
		rtts = append(rtts, d)
	}
	if len(levels) == 0 || len(rtts) == 0 {
		return fmt.Errorf("--levels and --rtts must not be empty")
	}
	if *cell <= 0 || *rate <= 0 {
		return fmt.Errorf("--cell-duration and --rate must be positive")
	}
	logger := slog.New(slog.DiscardHandler)
	if *logLevel != "" {
		var ll slog.Level
		if err := ll.UnmarshalText([]byte(*logLevel)); err != nil {
			return fmt.Errorf("--log-level: %w", err)
		}
		logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: ll}))
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	rep := &matrixReport{
		Machine: machineDescription(), GoVersion: runtime.Version(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		Label: *label, Date: time.Now().UTC(), Workload: strings.ToUpper(*workload), Rate: *rate, Records: *records,
		CellSeconds: cell.Seconds(), Warmup: warmup.Seconds(), WriteRegion: "West US", ReadRegion: "East US",
		StalenessK: *kFlag, StalenessT: *tFlag,
	}
	for _, l := range levels {
		rep.Levels = append(rep.Levels, l.String())
	}
	for _, d := range rtts {
		rep.RTTsMs = append(rep.RTTsMs, float64(d)/float64(time.Millisecond))
	}
	fmt.Fprintf(stderr, "matrix: %d levels × %d RTTs, %s + %s warm-up per cell at %.0f ops/s\n",
		len(levels), len(rtts), cell, warmup, *rate)
	for _, level := range levels {
		cells, err := runMatrixLevel(ctx, level, rtts, matrixParams{
			cell: *cell, warmup: *warmup, rate: *rate, records: *records, workload: *workload,
			concurrency: *concurrency, k: *kFlag, t: *tFlag, label: *label, logger: logger, stderr: stderr,
		})
		rep.Cells = append(rep.Cells, cells...)
		if err != nil {
			if ctx.Err() == nil {
				return err
			}
			break // interrupted: write what was measured
		}
	}
	if len(rep.Cells) == 0 {
		return ctx.Err()
	}
	md := filepath.Join(*out, "matrix.md")
	svg := filepath.Join(*out, "matrix.svg")
	js := filepath.Join(*out, "matrix.json")
	if err := os.WriteFile(md, []byte(renderMatrixMarkdown(rep)), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(svg, []byte(renderMatrixSVG(rep)), 0o644); err != nil {
		return err
	}
	if err := writeJSON(js, rep); err != nil {
		return err
	}
	fmt.Fprint(stdout, renderMatrixMarkdown(rep))
	fmt.Fprintf(stdout, "\nwrote %s, %s and %s\n", md, svg, js)
	return ctx.Err()
}

type matrixParams struct {
	cell, warmup time.Duration
	rate         float64
	records      int64
	workload     string
	concurrency  int
	k, t         int64
	label        string
	logger       *slog.Logger
	stderr       io.Writer
}

// runMatrixLevel starts a dev-layout account whose default level is level
// (free ports, temporary data), then runs one cell per RTT.
func runMatrixLevel(ctx context.Context, level session.Level, rtts []time.Duration, p matrixParams) (cells []matrixCell, err error) {
	dir, err := os.MkdirTemp("", "meridian-matrix-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	topo, err := devTopology(splitList(devRegions), "", 0)
	if err != nil {
		return nil, err
	}
	topo.Consistency = level.String()
	topo.MaxStalenessPrefix, topo.MaxIntervalSeconds = p.k, p.t
	if err := topo.Validate(); err != nil {
		return nil, err
	}
	cfg := server.Config{DataDir: dir, Key: auth.EmulatorKey, Consistency: level,
		MaxStalenessPrefix: p.k, MaxIntervalSeconds: p.t, Logger: p.logger,
		// The matrix measures steady-state latency: no automatic
		// failover (and so no write lease) on a loaded machine.
		Control: region.ControlConfig{DetectTimeout: -1}}
	// Scale 0: a WAN without delay, whose links each cell then sets.
	acc, err := startDev(topo, cfg, nil, 0, true)
	if err != nil {
		return nil, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = acc.close(cctx)
	}()
	for i, rtt := range rtts {
		for _, l := range topo.Links {
			acc.net.SetRTT(l.A, l.B, rtt)
		}
		warm := p.warmup
		if i == 0 {
			warm += 3 * time.Second // the first cell follows the load: let compactions and replication settle
		}
		res, err := loadgen.Run(ctx, loadgen.Config{
			Endpoint: acc.servers[0].Endpoint(), Key: auth.EmulatorKey, Workload: p.workload,
			Records: p.records, Load: i == 0, Consistency: level.String(),
			Rate: p.rate, Concurrency: p.concurrency, Duration: p.cell, Warmup: warm,
			Timeout:     4*rtt + 5*time.Second, // testing.md pitfall 19
			WriteRegion: topo.WriteRegion, ReadRegions: []string{"East US"},
			Seed: uint64(i + 1), Label: p.label,
		})
		if err != nil {
			return cells, fmt.Errorf("%s, RTT %s: %w", level, rtt, err)
		}
		c := matrixCell{Level: level.String(), RTTms: float64(rtt) / float64(time.Millisecond), Result: res,
			Write: writeRow(res), Read: res.Row(loadgen.OpRead, loadgen.AllRegions)}
		cells = append(cells, c)
		fmt.Fprintf(p.stderr, "  %-16s RTT %-6s write p50 %7.2fms p99 %7.2fms   read p50 %7.2fms p99 %7.2fms   %.0f/%.0f ops/s, %d errors, %d dropped\n",
			c.Level, rtt, c.Write.P50, c.Write.P99, c.Read.P50, c.Read.P99, res.AchievedRate, res.OfferedRate,
			res.Total().Errors, res.Dropped)
		if ctx.Err() != nil {
			return cells, ctx.Err()
		}
	}
	return cells, nil
}

// writeRow merges nothing: the cell's writes are its updates, inserts or
// read-modify-writes, whichever the workload has (A: updates).
func writeRow(res *loadgen.Result) loadgen.OpStats {
	for _, op := range []string{loadgen.OpUpdate, loadgen.OpInsert, loadgen.OpRMW} {
		if r := res.Row(op, loadgen.AllRegions); r.OK+r.Errors > 0 {
			return r
		}
	}
	return loadgen.OpStats{}
}

// machineDescription names the CPU (from /proc/cpuinfo where there is
// one), the CPU count and the platform.
func machineDescription() string {
	model := ""
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if model == "" {
		model = "unknown CPU"
	}
	return fmt.Sprintf("%s, %d CPUs, %s/%s", model, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)
}

func renderMatrixMarkdown(r *matrixReport) string {
	var b strings.Builder
	label := r.Label
	if label == "" {
		label = "(not given: --label)"
	}
	fmt.Fprintf(&b, "# Meridian consistency × RTT matrix\n\n")
	fmt.Fprintf(&b, "- machine: %s; GOMAXPROCS %d; %s\n", r.Machine, r.GOMAXPROCS, r.GoVersion)
	fmt.Fprintf(&b, "- build: %s; run %s\n", label, r.Date.Format(time.RFC3339))
	fmt.Fprintf(&b, "- account: in-process dev layout (West US writes, East US, North Europe), one fresh account per level with that level as its default; every inter-region link set to the cell's RTT (simulated WAN); servers and load generator share this process; bounded staleness K=%d, T=%ds\n", r.StalenessK, r.StalenessT)
	fmt.Fprintf(&b, "- workload: YCSB %s, %d records of 1 KB, zipfian keys; writes in %s, reads in %s; open loop at %.0f ops/s, %.0fs per cell after %.0fs warm-up (+3s for each level's first cell, which follows the load); `x-ms-consistency-level` = the level\n",
		r.Workload, r.Records, r.WriteRegion, r.ReadRegion, r.Rate, r.CellSeconds, r.Warmup)
	fmt.Fprintf(&b, "- latencies in ms from each operation's intended start (HdrHistogram); floor = the RTT, which a Strong write cannot beat (it commits in every region); the other levels' writes and all reads in %s have no RTT floor\n\n", r.ReadRegion)
	fmt.Fprintf(&b, "| level | RTT ms | write p50 | write p99 | read p50 | read p99 | Strong write p50 / floor | ok | errors | dropped | achieved / offered ops/s |\n")
	fmt.Fprintf(&b, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, c := range r.Cells {
		ratio := "–"
		if c.Level == session.Strong.String() && c.RTTms > 0 {
			ratio = fmt.Sprintf("%.2f×", c.Write.P50/c.RTTms)
		}
		t := c.Result.Total()
		fmt.Fprintf(&b, "| %s | %g | %.2f | %.2f | %.2f | %.2f | %s | %d | %d | %d | %.1f / %.0f |\n",
			c.Level, c.RTTms, c.Write.P50, c.Write.P99, c.Read.P50, c.Read.P99, ratio,
			t.OK, t.Errors, c.Result.Dropped, c.Result.AchievedRate, c.Result.OfferedRate)
	}
	var notes []string
	for _, c := range r.Cells {
		if c.Level == session.Strong.String() && c.RTTms > 0 && c.Write.OK > 0 && c.Write.P50 < c.RTTms {
			notes = append(notes, fmt.Sprintf("- WARNING: Strong write p50 %.2f ms is below the %g ms floor: the WAN emulation is bypassed.", c.Write.P50, c.RTTms))
		}
		for _, w := range c.Result.Check() {
			notes = append(notes, fmt.Sprintf("- %s, RTT %g ms: %s", c.Level, c.RTTms, w))
		}
	}
	if len(notes) > 0 {
		fmt.Fprintf(&b, "\n%s\n", strings.Join(notes, "\n"))
	}
	return b.String()
}

// renderMatrixSVG draws, per RTT group, a write bar and a read bar per
// level (height: p50; a thin mark: p99) on a log scale, and the RTT floor
// as a dashed line across its group. Hand-written SVG, no dependencies.
func renderMatrixSVG(r *matrixReport) string {
	const (
		width, height             = 1000, 520
		left, right, top, bottom  = 70, 20, 70, 70
		plotW, plotH              = width - left - right, height - top - bottom
		groupPad                  = 0.15
		writeOpacity, readOpacity = "1", "0.45"
		floorColor                = "#d62728"
		fontFamily                = "font-family=\"Helvetica,Arial,sans-serif\""
		minMs                     = 0.1
	)
	colors := []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf"}
	maxMs := 1.0
	for _, c := range r.Cells {
		maxMs = max(maxMs, c.Write.P99, c.Read.P99, c.RTTms)
	}
	hi := math.Pow(10, math.Ceil(math.Log10(maxMs*1.1)))
	lo := minMs
	y := func(v float64) float64 {
		v = max(v, lo)
		return top + plotH*(1-(math.Log10(v)-math.Log10(lo))/(math.Log10(hi)-math.Log10(lo)))
	}
	cellOf := map[[2]string]matrixCell{}
	for _, c := range r.Cells {
		cellOf[[2]string{c.Level, fmt.Sprint(c.RTTms)}] = c
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" %s font-size="12">`+"\n", width, height, width, height, fontFamily)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	title := fmt.Sprintf("Meridian: write (%s) and read (%s) latency by consistency level and RTT", r.WriteRegion, r.ReadRegion)
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", left, html.EscapeString(title))
	sub := fmt.Sprintf("YCSB %s, open loop at %.0f ops/s, %.0fs per cell; bars: p50, thin marks: p99 (ms, log scale); dashed red: the RTT floor",
		r.Workload, r.Rate, r.CellSeconds)
	env := fmt.Sprintf("%s; GOMAXPROCS %d; %s; %s", r.Machine, r.GOMAXPROCS, r.GoVersion, r.Label)
	fmt.Fprintf(&b, `<text x="%d" y="40" fill="#555">%s</text>`+"\n", left, html.EscapeString(sub))
	fmt.Fprintf(&b, `<text x="%d" y="56" fill="#555">%s</text>`+"\n", left, html.EscapeString(env))
	// Grid and y axis: one line per decade.
	for v := lo; v <= hi*1.0001; v *= 10 {
		yy := y(v)
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`+"\n", left, yy, width-right, yy)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" fill="#333">%s</text>`+"\n", left-6, yy+4, fmtAxis(v))
	}
	fmt.Fprintf(&b, `<text x="16" y="%d" transform="rotate(-90 16 %d)" text-anchor="middle" fill="#333">latency (ms)</text>`+"\n", top+plotH/2, top+plotH/2)
	groupW := float64(plotW) / float64(len(r.RTTsMs))
	nBars := 2 * len(r.Levels)
	barW := groupW * (1 - 2*groupPad) / float64(nBars)
	for gi, rtt := range r.RTTsMs {
		gx := float64(left) + float64(gi)*groupW
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#333">RTT %g ms</text>`+"\n", gx+groupW/2, top+plotH+20, rtt)
		for li, level := range r.Levels {
			c, ok := cellOf[[2]string{level, fmt.Sprint(rtt)}]
			if !ok {
				continue
			}
			color := colors[li%len(colors)]
			for k, row := range []loadgen.OpStats{c.Write, c.Read} {
				if row.OK == 0 {
					continue
				}
				x := gx + groupW*groupPad + float64(2*li+k)*barW
				opacity := writeOpacity
				what := "write"
				if k == 1 {
					opacity, what = readOpacity, "read"
				}
				y50, y99 := y(row.P50), y(row.P99)
				fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" fill-opacity="%s" stroke="%s"><title>%s %s, RTT %g ms: p50 %.2f ms, p99 %.2f ms</title></rect>`+"\n",
					x+1, y50, barW-2, float64(top+plotH)-y50, color, opacity, color, level, what, rtt, row.P50, row.P99)
				mid := x + barW/2
				fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#222" stroke-width="1"/>`+"\n", mid, y50, mid, y99)
				fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#222" stroke-width="1.5"/>`+"\n", x+2, y99, x+barW-2, y99)
				if row.Errors > 0 {
					fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="%s" font-weight="bold">!</text>`+"\n", mid, y99-4, floorColor)
				}
			}
		}
		if rtt > 0 {
			fy := y(rtt)
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2" stroke-dasharray="6 4"><title>floor: RTT %g ms</title></line>`+"\n",
				gx+4, fy, gx+groupW-4, fy, floorColor, rtt)
		}
	}
	// Axes.
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333"/>`+"\n", left, top, left, top+plotH)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333"/>`+"\n", left, top+plotH, width-right, top+plotH)
	// Legend.
	lx := float64(left)
	ly := float64(height - 22)
	for li, level := range r.Levels {
		color := colors[li%len(colors)]
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="12" height="12" fill="%s"/><text x="%.1f" y="%.1f">%s</text>`+"\n", lx, ly-10, color, lx+16, ly, html.EscapeString(level))
		lx += 30 + 8*float64(len(level))
	}
	fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="12" height="12" fill="#888"/><text x="%.1f" y="%.1f">write</text>`+"\n", lx, ly-10, lx+16, ly)
	lx += 60
	fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="12" height="12" fill="#888" fill-opacity="0.45" stroke="#888"/><text x="%.1f" y="%.1f">read</text>`+"\n", lx, ly-10, lx+16, ly)
	lx += 55
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2" stroke-dasharray="6 4"/><text x="%.1f" y="%.1f">floor (RTT)</text>`+"\n", lx, ly-4, lx+24, ly-4, floorColor, lx+30, ly)
	b.WriteString("</svg>\n")
	return b.String()
}

func fmtAxis(v float64) string {
	if v < 1 {
		return fmt.Sprintf("%g", math.Round(v*10)/10)
	}
	return fmt.Sprintf("%.0f", v)
}
