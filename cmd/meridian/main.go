// Command meridian runs a Meridian region (serve), a whole account on one
// machine (dev), and the tools around them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/meridiandb/meridian/internal/goruntime"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The least Go heap goal (internal/goruntime: a 64th of the machine's
	// memory, 64-256 MiB): MERIDIAN_HEAP_FLOOR overrides it in bytes, 0
	// turns it off.
	floor := goruntime.DefaultHeapFloor(goruntime.TotalRAM())
	if v, ok := os.LookupEnv("MERIDIAN_HEAP_FLOOR"); ok {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			fmt.Fprintf(os.Stderr, "meridian: MERIDIAN_HEAP_FLOOR=%q: want a number of bytes\n", v)
			os.Exit(2)
		}
		floor = n
	}
	defer goruntime.HeapFloor(floor)()
	if len(os.Args) > 1 && (os.Args[1] == "serve" || os.Args[1] == "dev") {
		// A server process runs with spare Ps (internal/goruntime).
		goruntime.OversubscribeProcs()
	}
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "meridian:", err)
		}
		os.Exit(2)
	}
}

const usage = `meridian: a self-hostable, Cosmos DB-compatible, globally distributed document database.

Usage:
  meridian dev       [flags]                 run a whole account in this process (embedded default)
  meridian serve     [flags]                 run one region (--topology FILE --region NAME: multi-region)
  meridian status    [flags]                 show every region's role and replication state
  meridian region    offline|online NAME     take a region offline (503 to clients) or back online
  meridian region    kill|restore NAME       drill (meridian dev): crash a region, start it again
  meridian failover  --write-region NAME     move the write region (planned: nothing is lost)
  meridian witness   --topology FILE         run the data-less control-plane voter of a two-region account
  meridian link      --a A --b B --rtt 60ms  change the simulated WAN between two regions
  meridian partition --a A --b B             partition two regions
  meridian heal      [--a A --b B]           end simulated WAN partitions
  meridian certgen   [flags]                 write a self-signed TLS certificate and key
  meridian bench     [matrix] [flags]        open-loop YCSB load generator; matrix: consistency × RTT report
  meridian torture   [flags]                 fault scenarios on real region processes, checked histories
  meridian version                           print the version

The management commands (status, region, link, partition, heal) talk to
--endpoint (default http://127.0.0.1:8081/) with the master key (--key,
default $MERIDIAN_KEY or the emulator's key).

Run "meridian <command> -h" for a command's flags.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], stdout, stderr)
	case "dev":
		return runDev(ctx, args[1:], stdout, stderr)
	case "status":
		return runStatus(ctx, args[1:], stdout, stderr)
	case "region":
		return runRegion(ctx, args[1:], stdout, stderr)
	case "link", "partition", "heal":
		return runLink(ctx, args[0], args[1:], stdout, stderr)
	case "certgen":
		return runCertgen(args[1:], stdout, stderr)
	case "bench":
		return runBench(ctx, args[1:], stdout, stderr)
	case "torture":
		return runTorture(ctx, args[1:], stdout, stderr)
	case "failover":
		return runFailover(ctx, args[1:], stdout, stderr)
	case "witness":
		return runWitness(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "meridian", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
