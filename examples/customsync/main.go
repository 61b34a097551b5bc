// Command customsync demonstrates custom synchronization against a local
// Meridian account: every write to the write region returns only once East
// US and North Europe hold it durably, done two ways:
//
//   - the two-client pattern (package customsync): the write goes to West
//     US, then one reader client per target region reads the item with the
//     write's session token, and each read counts only if that region
//     served it itself;
//   - natively: the write carries x-meridian-sync-regions and the server
//     waits for the regions' acknowledgements in one round trip.
//
// Start the account first:
//
//	meridian dev            # West US :8081 (writes), East US :8082, North Europe :8083
//	go run ./examples/customsync -n 50
//
// It prints each write's latency (write, and each region's confirmation)
// and a p50/p99 summary.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/meridiandb/meridian/customsync"
	"github.com/meridiandb/meridian/examples/customsync/latency"
)

// emulatorKey is the Cosmos DB emulator's well-known master key, which
// `meridian dev` accepts by default. Never use it for a real deployment.
const emulatorKey = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="

func main() {
	endpoint := flag.String("endpoint", "http://127.0.0.1:8081/", "account endpoint (any region; the SDK discovers the others)")
	key := flag.String("key", emulatorKey, "master key")
	writeRegion := flag.String("write-region", "West US", "the account's write region")
	targets := flag.String("targets", "East US,North Europe", "comma-separated regions every write must reach")
	n := flag.Int("n", 20, "items to write each way")
	dbName := flag.String("db", "customsync", "database")
	collName := flag.String("container", "items", "container (partition key /pk)")
	timeout := flag.Duration("timeout", 10*time.Second, "confirmation timeout per write")
	flag.Parse()

	var regions []string
	for _, r := range strings.Split(*targets, ",") {
		if r = strings.TrimSpace(r); r != "" {
			regions = append(regions, r)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := run(ctx, config{
		endpoint: *endpoint, key: *key, writeRegion: *writeRegion, targets: regions,
		n: *n, db: *dbName, container: *collName, timeout: *timeout,
	}); err != nil {
		fmt.Fprintln(os.Stderr, "customsync:", err)
		os.Exit(1)
	}
}

type config struct {
	endpoint, key, writeRegion string
	targets                    []string
	n                          int
	db, container              string
	timeout                    time.Duration
}

func run(ctx context.Context, cfg config) error {
	if len(cfg.targets) == 0 {
		return errors.New("no target regions")
	}
	cred, err := azcosmos.NewKeyCredential(cfg.key)
	if err != nil {
		return err
	}
	// One client per region, each preferring only its region: the writer's
	// writes go to the write region whatever it prefers, and each reader's
	// reads go to its region.
	newContainer := func(region string) (*azcosmos.ContainerClient, error) {
		cl, err := azcosmos.NewClientWithKey(cfg.endpoint, cred, &azcosmos.ClientOptions{PreferredRegions: []string{region}})
		if err != nil {
			return nil, err
		}
		return cl.NewContainer(cfg.db, cfg.container)
	}
	if err := ensureContainer(ctx, cfg, cred); err != nil {
		return err
	}
	writer, err := newContainer(cfg.writeRegion)
	if err != nil {
		return err
	}
	readers := map[string]*azcosmos.ContainerClient{}
	for _, r := range cfg.targets {
		if readers[r], err = newContainer(r); err != nil {
			return err
		}
	}
	syncer, err := customsync.New(writer, readers, &customsync.Options{Timeout: cfg.timeout})
	if err != nil {
		return err
	}
	pk := azcosmos.NewPartitionKeyString("demo")
	run := time.Now().UTC().Format("20060102T150405.000")

	// Warm up: the first sync also waits for the container to reach the
	// target regions and for the clients to bootstrap.
	if _, err := syncer.UpsertItem(ctx, pk, fmt.Appendf(nil, `{"id":"warmup","pk":"demo","run":%q}`, run), nil); err != nil {
		return fmt.Errorf("warm-up write: %w", err)
	}

	fmt.Printf("Two-client pattern: write in %s, confirm by session reads served by %s\n", cfg.writeRegion, strings.Join(syncer.Regions(), " and "))
	var total, writes latency.Samples
	perRegion := map[string]*latency.Samples{}
	for _, r := range syncer.Regions() {
		perRegion[r] = &latency.Samples{}
	}
	for i := range cfg.n {
		id := fmt.Sprintf("%s-two-%04d", run, i)
		item := fmt.Appendf(nil, `{"id":%q,"pk":"demo","n":%d,"mode":"two-client"}`, id, i)
		start := time.Now()
		res, err := syncer.CreateItem(ctx, pk, item, nil)
		elapsed := time.Since(start)
		var se *customsync.SyncError
		if errors.As(err, &se) {
			fmt.Printf("  %s: written in %s but NOT confirmed in %s: %v\n", id, cfg.writeRegion, strings.Join(se.Missing, ", "), se.Cause)
			continue
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", id, err)
		}
		total.Add(elapsed)
		writes.Add(res.Write)
		line := fmt.Sprintf("  %s  write %7s", id, latency.MS(res.Write))
		for _, r := range syncer.Regions() {
			perRegion[r].Add(res.Confirmed[r])
			line += fmt.Sprintf("  %s +%7s", r, latency.MS(res.Confirmed[r]))
		}
		fmt.Printf("%s  total %7s\n", line, latency.MS(elapsed))
	}

	fmt.Printf("\nNative: one write with %s: %s\n", customsync.HeaderSyncRegions, strings.Join(syncer.Regions(), ", "))
	var native latency.Samples
	for i := range cfg.n {
		id := fmt.Sprintf("%s-native-%04d", run, i)
		item := fmt.Appendf(nil, `{"id":%q,"pk":"demo","n":%d,"mode":"native"}`, id, i)
		start := time.Now()
		_, err := writer.CreateItem(syncer.Native(ctx), pk, item, nil)
		elapsed := time.Since(start)
		if customsync.IsSyncTimeout(err) {
			fmt.Printf("  %s: written in %s but not acknowledged in time: %v\n", id, cfg.writeRegion, err)
			continue
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", id, err)
		}
		native.Add(elapsed)
		fmt.Printf("  %s  total %7s\n", id, latency.MS(elapsed))
	}

	fmt.Printf("\nSummary (%d writes each way)\n", cfg.n)
	fmt.Printf("  %-38s %v\n", "two-client: write", writes)
	for _, r := range syncer.Regions() {
		fmt.Printf("  %-38s %v\n", "two-client: confirmed in "+r, perRegion[r])
	}
	fmt.Printf("  %-38s %v\n", "two-client: total", total)
	fmt.Printf("  %-38s %v\n", "native: total", native)
	return nil
}

// ensureContainer creates the database and the container unless they
// exist (through a client of the write region's endpoint; metadata writes
// always go to the write region).
func ensureContainer(ctx context.Context, cfg config, cred azcosmos.KeyCredential) error {
	cl, err := azcosmos.NewClientWithKey(cfg.endpoint, cred, nil)
	if err != nil {
		return err
	}
	if _, err := cl.CreateDatabase(ctx, azcosmos.DatabaseProperties{ID: cfg.db}, nil); err != nil && !isConflict(err) {
		return fmt.Errorf("create database %s: %w", cfg.db, err)
	}
	db, err := cl.NewDatabase(cfg.db)
	if err != nil {
		return err
	}
	_, err = db.CreateContainer(ctx, azcosmos.ContainerProperties{
		ID:                     cfg.container,
		PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: []string{"/pk"}},
	}, nil)
	if err != nil && !isConflict(err) {
		return fmt.Errorf("create container %s: %w", cfg.container, err)
	}
	return nil
}

func isConflict(err error) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusConflict
}
