package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/meridiandb/meridian/internal/torture"
)

const tortureUsage = `Usage: meridian torture [flags]

Runs the Jepsen-style fault scenarios that need no failover against real
separate "meridian serve --topology" processes (three regions r1, r2, r3;
r1 writes) on loopback: concurrent logical clients write unique values to
the write region and read in their home region at the scenario's level,
while faults are injected (WAN partitions and latency through the
management API, kill -9 and restart, SIGSTOP/SIGCONT, clock skew). After
a heal, a final write per region and a quiescence wait, every region is
dumped and the history is checked: linearizability (Strong), session
guarantees (Session), the K/T bound (BoundedStaleness), the prefix rules
(every level), durability of every acknowledged write and convergence of
the regions. The multi-write scenarios (F12, F9, F11m) run a
multi-region-write account instead: every client writes through its home
region, to a LastWriterWins and a Custom container, and the checks are
causal session guarantees, no acknowledged write lost, deletes stay
deleted, conflict accounting (the conflicts feeds) and convergence. Each scenario runs on a fresh cluster in --dir/<ID>, which keeps
history.jsonl, result.json, each checker's report (and the porcupine HTML
when linearizability fails), the servers' logs and, for a failing scenario
(or with --keep-data), the data directories.

Scenarios:
%s
--duration is the client run time PER SCENARIO: fault cycles repeat (each
followed by a quiet 1.5 s) until it passes. The command exits non-zero if
any checker reports a violation. F16 (disk full) needs a small tmpfs
(root) and is not included. "all" leaves out the scenarios that reproduce
a known bug (marked above); name them to run them.

  meridian torture --scenario F0,F3 --duration 15s
  meridian torture --scenario all --duration 10m --rate 100 --seed 42

Flags:
`

func scenarioList() string {
	var b strings.Builder
	for _, s := range torture.Scenarios {
		fault := s.Fault
		if s.KnownBug != "" {
			fault += " [KNOWN BUG: " + s.KnownBug + "]"
		}
		fmt.Fprintf(&b, "  %-5s %-16s %s\n", s.ID, s.Level, fault)
	}
	return b.String()
}

func runTorture(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("torture", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintf(stderr, tortureUsage, scenarioList()); fs.PrintDefaults() }
	duration := fs.Duration("duration", 15*time.Second, "client run time per scenario")
	scenarios := fs.String("scenario", "all", `"all" or a comma-separated list of scenario ids (F0,F3,...)`)
	binary := fs.String("binary", "", "meridian binary to run the regions with (default: this executable)")
	dir := fs.String("dir", "", "run directory (default: a new directory under the system temp dir)")
	rate := fs.Float64("rate", 60, "offered load, ops/s over all clients")
	seed := fs.Uint64("seed", 0, "seed of every random choice (0: from the clock)")
	clients := fs.Int("clients", 6, "logical clients (pinned round-robin to the regions)")
	keys := fs.Int("keys", 8, "keys written and read")
	rtt := fs.Duration("rtt", 20*time.Millisecond, "simulated WAN round trip of every region pair")
	logLevel := fs.String("log-level", "warn", "servers' log level")
	keepData := fs.Bool("keep-data", false, "keep the regions' data directories of passing scenarios too")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("torture: unexpected argument %q", fs.Arg(0))
	}
	list, err := torture.Lookup(*scenarios)
	if err != nil {
		return err
	}
	if *binary == "" {
		if *binary, err = os.Executable(); err != nil {
			return err
		}
	}
	if *dir == "" {
		if *dir, err = os.MkdirTemp("", "meridian-torture-"); err != nil {
			return err
		}
	}
	if *dir, err = filepath.Abs(*dir); err != nil {
		return err
	}
	if *seed == 0 {
		*seed = uint64(time.Now().UnixNano())
	}
	fmt.Fprintf(stdout, "meridian torture: %d scenario(s), %s each at %.0f ops/s, seed %d, run directory %s\n\n",
		len(list), *duration, *rate, *seed, *dir)
	var failed []string
	for _, sc := range list {
		res, err := torture.Run(ctx, torture.Config{Binary: *binary, Dir: *dir, Duration: *duration, Rate: *rate,
			Clients: *clients, Keys: *keys, Seed: *seed, RTT: *rtt, Log: stderr, LogLevel: *logLevel, KeepData: *keepData}, sc)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("torture: interrupted during %s: %w", sc.ID, err)
			}
			fmt.Fprintf(stdout, "%s ERROR: %v\n\n", sc.ID, err)
			failed = append(failed, sc.ID+" (error)")
			continue
		}
		fmt.Fprintln(stdout, res.Summary())
		if !res.OK() {
			failed = append(failed, sc.ID)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("torture: %s failed (seed %d, artifacts in %s)", strings.Join(failed, ", "), *seed, *dir)
	}
	fmt.Fprintf(stdout, "all %d scenario(s) passed (seed %d)\n", len(list), *seed)
	return nil
}
