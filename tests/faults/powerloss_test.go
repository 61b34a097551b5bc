package faults_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"

	"github.com/meridiandb/meridian/internal/testcluster"
)

// TestPowerLossOfARegion is F14 at region level (testing.md §3.2): one
// region of a three-region account runs its whole store on Pebble's crash
// filesystem. Under a stream of SDK writes — each synced to East US with
// x-meridian-sync-regions — the region is killed and its filesystem cloned
// as a power loss would leave it (0 % and 50 % of the unsynced data kept),
// and it is restarted on the clone. Every write acknowledged before the clone
// must be there: in the write region (West US) for its own acknowledged
// writes, and in East US for the writes it acknowledged as synced. Then
// every region converges.
func TestPowerLossOfARegion(t *testing.T) {
	if testing.Short() {
		t.Skip("starts clusters")
	}
	for _, tc := range []struct {
		region   string
		unsynced int
	}{
		{"West US", 50}, // the write region
		{"East US", 0},  // the synced-to read region
		{"East US", 50},
	} {
		t.Run(fmt.Sprintf("%s/%d%%", tc.region, tc.unsynced), func(t *testing.T) {
			powerLossTrial(t, tc.region, tc.unsynced)
		})
	}
}

func powerLossTrial(t *testing.T, victim string, unsyncedPercent int) {
	crashFS := vfs.NewCrashableMem()
	c := testcluster.Start(t, testcluster.Options{RTTScale: 0.1, FS: map[string]vfs.FS{victim: crashFS}})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl := c.Client("West US")
	_, err := cl.CreateDatabase(ctx, azcosmos.DatabaseProperties{ID: "db"}, nil)
	require.NoError(t, err)
	db, _ := cl.NewDatabase("db")
	_, err = db.CreateContainer(ctx, azcosmos.ContainerProperties{ID: "c", PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: []string{"/pk"}}}, nil)
	require.NoError(t, err)
	co, _ := cl.NewContainer("db", "c")

	var (
		mu    sync.Mutex
		acked = map[string]time.Time{} // id → when its acknowledgement arrived
		wg    sync.WaitGroup
	)
	stop := make(chan struct{})
	sctx := policy.WithHTTPHeader(ctx, map[string][]string{"x-meridian-sync-regions": {"East US"}})
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("w%d-%d", w, i)
				wctx, wcancel := context.WithTimeout(sctx, 3*time.Second)
				_, err := co.UpsertItem(wctx, azcosmos.NewPartitionKeyString("p"), []byte(fmt.Sprintf(`{"id":%q,"pk":"p"}`, id)), nil)
				wcancel()
				if err == nil {
					mu.Lock()
					acked[id] = time.Now()
					mu.Unlock()
				} else {
					time.Sleep(10 * time.Millisecond)
				}
			}
		}()
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 14))
	time.Sleep(time.Duration(500+rng.IntN(1000)) * time.Millisecond)
	// The power fails now: whatever was acknowledged before this instant
	// was synced, and must survive.
	mu.Lock()
	before := make([]string, 0, len(acked))
	for id := range acked {
		before = append(before, id)
	}
	mu.Unlock()
	// The region stops, then the power fails: the clone keeps what was
	// synced and a share of the rest. (Cloning first would let the running
	// region sync, acknowledge and ship writes the clone lacks — a power
	// loss stops everything at once.)
	c.Kill(victim)
	clone := crashFS.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: unsyncedPercent, RNG: rng})
	time.Sleep(300 * time.Millisecond)
	c.RestartOn(victim, clone)
	c.WaitReady()
	close(stop)
	wg.Wait()
	require.NotEmpty(t, before)
	t.Logf("%s lost power after %d acknowledged synced writes (%d acknowledged in all)", victim, len(before), len(acked))

	// Every region holds every write acknowledged before the power loss,
	// and they converge.
	deadline := time.Now().Add(30 * time.Second)
	for _, r := range []string{"West US", "East US", "North Europe"} {
		rc, _ := c.Client(r).NewContainer("db", "c")
		for {
			missing := 0
			ids := readAllIDs(t, ctx, rc)
			for _, id := range before {
				if !ids[id] {
					missing++
				}
			}
			if missing == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s is missing %d of the %d writes acknowledged before %s lost power", r, missing, len(before), victim)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	var first []string
	for _, r := range []string{"West US", "East US", "North Europe"} {
		rc, _ := c.Client(r).NewContainer("db", "c")
		for {
			ids := readAllIDs(t, ctx, rc)
			got := make([]string, 0, len(ids))
			for id := range ids {
				got = append(got, id)
			}
			sort.Strings(got)
			if first == nil {
				first = got
				break
			}
			if fmt.Sprint(got) == fmt.Sprint(first) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s did not converge with West US (%d vs %d items)", r, len(got), len(first))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// readAllIDs reads every item id of the container as one region serves it.
func readAllIDs(t *testing.T, ctx context.Context, co *azcosmos.ContainerClient) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	pager := co.NewQueryItemsPager("SELECT c.id FROM c", azcosmos.NewPartitionKeyString("p"), nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		require.NoError(t, err)
		for _, it := range page.Items {
			var d struct {
				ID string `json:"id"`
			}
			require.NoError(t, json.Unmarshal(it, &d))
			ids[d.ID] = true
		}
	}
	return ids
}
