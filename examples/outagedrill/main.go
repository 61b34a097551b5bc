// Command outagedrill is the application side of the outage drill in the
// README: it writes continuously to a Meridian account, each write
// acknowledged only once at least one other region holds it durably
// (custom synchronization, natively: x-meridian-sync-min-regions: 1), while
// you kill the write region of `meridian dev`. When you stop it (Ctrl-C or
// -duration) it reads back every acknowledged write from the current write
// region and reports how many are missing: after a failover, none.
//
//	meridian dev --failover-timeout 2s
//	go run ./examples/outagedrill
//	meridian region kill "West US" --endpoint http://127.0.0.1:8082/
//
// The client's account endpoint must be a region that stays up (here East
// US, :8082): azcosmos v1.5.0 re-reads the account document from that
// endpoint when a request to a dead region fails, and then sends writes to
// the new write region. A write that cannot connect does not trigger that
// refresh on its own in a single-write account, so after a failed write
// this app reads an item back, as most applications would anyway.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
)

// emulatorKey is the Cosmos DB emulator's well-known master key, which
// `meridian dev` accepts by default. Never use it for a real deployment.
const emulatorKey = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="

func main() {
	endpoint := flag.String("endpoint", "http://127.0.0.1:8082/", "account endpoint: a region that stays up during the drill")
	key := flag.String("key", emulatorKey, "master key")
	preferred := flag.String("preferred", "West US,East US,North Europe", "preferred regions, in order")
	every := flag.Duration("every", 50*time.Millisecond, "time between writes")
	duration := flag.Duration("duration", 0, "stop after this long (0: at Ctrl-C)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	if err := run(ctx, *endpoint, *key, strings.Split(*preferred, ","), *every); err != nil {
		fmt.Fprintln(os.Stderr, "outagedrill:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, endpoint, key string, preferred []string, every time.Duration) error {
	cred, err := azcosmos.NewKeyCredential(key)
	if err != nil {
		return err
	}
	client, err := azcosmos.NewClientWithKey(endpoint, cred, &azcosmos.ClientOptions{PreferredRegions: preferred})
	if err != nil {
		return err
	}
	setup, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	co, err := ensureContainer(setup, client)
	if err != nil {
		return err
	}
	run := time.Now().UTC().Format("150405")
	var (
		acked      []string
		failed     int
		lastRegion string
		lastPrint  time.Time
	)
	sync := policy.WithHTTPHeader(context.Background(), http.Header{"x-meridian-sync-min-regions": {"1"}})
	for i := 0; ctx.Err() == nil; i++ {
		id := fmt.Sprintf("%s-%06d", run, i)
		body := fmt.Appendf(nil, `{"id":%q,"pk":"drill","n":%d}`, id, i)
		wctx, wcancel := context.WithTimeout(sync, 5*time.Second)
		resp, err := co.CreateItem(wctx, azcosmos.NewPartitionKeyString("drill"), body, nil)
		wcancel()
		switch {
		case err == nil:
			acked = append(acked, id)
			if r := resp.RawResponse.Header.Get("x-meridian-region"); r != lastRegion {
				fmt.Printf("%s  writes acknowledged by %s (synced to one more region)\n", time.Now().Format("15:04:05.000"), r)
				lastRegion = r
			}
		default:
			failed++
			fmt.Printf("%s  write %s failed: %s\n", time.Now().Format("15:04:05.000"), id, short(err))
			// A read lets the SDK notice a dead region and re-read the
			// account document.
			if len(acked) > 0 {
				rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
				_, _ = co.ReadItem(rctx, azcosmos.NewPartitionKeyString("drill"), acked[len(acked)-1], nil)
				rcancel()
			}
		}
		if time.Since(lastPrint) > 5*time.Second {
			fmt.Printf("%s  %d synced writes acknowledged, %d failed\n", time.Now().Format("15:04:05.000"), len(acked), failed)
			lastPrint = time.Now()
		}
		select {
		case <-ctx.Done():
		case <-time.After(every):
		}
	}
	fmt.Printf("stopping: reading back %d acknowledged writes...\n", len(acked))
	vctx, vcancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer vcancel()
	missing := 0
	for _, id := range acked {
		if _, err := co.ReadItem(vctx, azcosmos.NewPartitionKeyString("drill"), id, nil); err != nil {
			missing++
			fmt.Printf("  %s: %s\n", id, short(err))
		}
	}
	fmt.Printf("%d synced writes acknowledged, %d present now, %d lost; %d writes failed (and were not acknowledged) during the outage\n",
		len(acked), len(acked)-missing, missing, failed)
	if missing > 0 {
		return fmt.Errorf("%d acknowledged writes lost", missing)
	}
	return nil
}

func ensureContainer(ctx context.Context, client *azcosmos.Client) (*azcosmos.ContainerClient, error) {
	if _, err := client.CreateDatabase(ctx, azcosmos.DatabaseProperties{ID: "drill"}, nil); err != nil && !isConflict(err) {
		return nil, fmt.Errorf("create database: %w", err)
	}
	db, err := client.NewDatabase("drill")
	if err != nil {
		return nil, err
	}
	props := azcosmos.ContainerProperties{ID: "items", PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: []string{"/pk"}}}
	if _, err := db.CreateContainer(ctx, props, nil); err != nil && !isConflict(err) {
		return nil, fmt.Errorf("create container: %w", err)
	}
	return client.NewContainer("drill", "items")
}

func isConflict(err error) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusConflict
}

func short(err error) string {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return fmt.Sprintf("%d %s", re.StatusCode, re.ErrorCode)
	}
	s := err.Error()
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return s
}
