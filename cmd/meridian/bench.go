package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/meridiandb/meridian/internal/loadgen"
)

const benchUsage = `Usage:
  meridian bench [flags]          run a YCSB workload against an account
  meridian bench matrix [flags]   consistency level × simulated RTT matrix on an in-process dev account

meridian bench drives the Cosmos DB REST API of any Meridian or Cosmos DB
account (--endpoint: any region; the others are discovered) with a YCSB core
workload, OPEN LOOP: operation i is due at start + i/--rate whatever
happened before; a late operation is sent at once, and latency is measured
from its due time, so a stall is reported as the users arriving at that
rate would see it. At most --concurrency operations are in flight; an
operation due while they all are is dropped (counted, never queued: queuing
would turn the open loop back into a closed one). Any drop, or an achieved
rate below 95% of the offered one, is flagged: the numbers then describe a
saturated server or generator. When the server reports its own time per
request (x-ms-request-duration-ms, as Meridian and Cosmos DB do), a second
table gives its percentiles: what the network, the kernels, the HTTP
stacks and the generator add is the difference.

Workloads (upstream YCSB settings): A 50% read/50% update, B 95/5, C 100%
read, D 95% read/5% insert (latest keys), E 95% scan of <=100 records/5%
insert, F 50% read/50% read-modify-write, and W 100% update (not YCSB's:
the write-only mix); zipfian keys (theta 0.99, scrambled) except D. Writes go to --write-region, reads and scans to
--read-regions (one chosen at random per operation).

  meridian dev &
  meridian bench --workload A --load --rate 2000 --duration 20s
  meridian bench --workload A --rate 200 --custom-sync "East US"
  meridian bench --workload B --read-regions "East US,North Europe" --json out.json

Flags:
`

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "matrix" {
		return runBenchMatrix(ctx, args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, benchUsage); fs.PrintDefaults() }
	var cf clientFlags
	cf.register(fs)
	var cfg loadgen.Config
	var readRegions, customSync, syncRegions, jsonPath string
	var progress bool
	var cpuprofile string
	fs.StringVar(&cfg.Workload, "workload", "A", "YCSB workload: A, B, C, D, E or F; W: 100% update")
	fs.StringVar(&cfg.Distribution, "distribution", "", "key distribution: zipfian, uniform or latest (default: the workload's)")
	fs.Int64Var(&cfg.Records, "records", 10_000, "records to load and to choose keys from")
	fs.IntVar(&cfg.ItemSize, "item-size", 1024, "JSON size of each item in bytes")
	fs.Int64Var(&cfg.PartitionSize, "partition-size", 100, "consecutive keys per logical partition (scans stay in one)")
	fs.IntVar(&cfg.MaxScanLength, "max-scan", 100, "longest scan (workload E); lengths are uniform in [1, max]")
	fs.BoolVar(&cfg.Load, "load", false, "insert the records first (closed loop, not measured); with --duration 0, only load")
	fs.StringVar(&cfg.Consistency, "consistency", "", "x-ms-consistency-level of each request (default: the account's)")
	fs.Float64Var(&cfg.Rate, "rate", 1000, "offered load in operations per second (open loop)")
	fs.IntVar(&cfg.Concurrency, "concurrency", 64, "most operations in flight; an operation due while all are is dropped and counted")
	fs.DurationVar(&cfg.Duration, "duration", 30*time.Second, "measured window")
	fs.DurationVar(&cfg.Warmup, "warmup", 5*time.Second, "warm-up before the measured window (run at the same rate, not measured)")
	fs.StringVar(&cfg.WriteRegion, "write-region", "", "region that receives the writes (default: the account's write region)")
	fs.StringVar(&readRegions, "read-regions", "", `comma-separated regions that receive reads and scans (default: the first readable region)`)
	fs.StringVar(&customSync, "custom-sync", "", `comma-separated regions: after each write, read it in each with its session token, in parallel ("customsync" rows)`)
	fs.StringVar(&syncRegions, "sync-regions", "", "comma-separated regions sent as x-meridian-sync-regions on every write")
	fs.StringVar(&cfg.DB, "db", "bench", "database (created if missing)")
	fs.StringVar(&cfg.Container, "container", "ycsb", "container (created if missing, partition key /pk)")
	fs.StringVar(&jsonPath, "json", "", "also write the results as JSON to this file")
	fs.BoolVar(&progress, "progress", false, "print a progress line every second even when stderr is not a terminal")
	fs.Uint64Var(&cfg.Seed, "seed", 0, "random seed of the operation sequence (default: from the clock)")
	fs.StringVar(&cfg.Label, "label", "", "free text recorded with the results (e.g. the commit)")
	fs.StringVar(&cpuprofile, "cpuprofile", "", "write a CPU profile of the generator to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench: unexpected argument %q", fs.Arg(0))
	}
	stopProfile, err := cpuProfile(cpuprofile)
	if err != nil {
		return err
	}
	defer stopProfile()
	cfg.Endpoint, cfg.Key, cfg.Insecure, cfg.Timeout = cf.endpoint, cf.key, cf.insecure, cf.timeout
	cfg.ReadRegions, cfg.CustomSync, cfg.SyncRegions = splitList(readRegions), splitList(customSync), splitList(syncRegions)
	cfg.Log = stderr
	tty := isTerminal(stderr)
	if tty || progress {
		cfg.Progress, cfg.ProgressTTY = stderr, tty
	}
	res, err := loadgen.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if cfg.Duration == 0 {
		return nil // load only
	}
	res.WriteTable(stdout)
	if jsonPath != "" {
		if err := writeJSON(jsonPath, res); err != nil {
			return err
		}
	}
	return nil
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("--json: %w", err)
	}
	return nil
}
