package geo_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/stretchr/testify/require"

	"github.com/meridiandb/meridian/customsync"
	"github.com/meridiandb/meridian/internal/auth"
	"github.com/meridiandb/meridian/internal/testcluster"
)

// Multi-region writes (issue 7), through azcosmos v1.5.0 on an in-process
// three-region account with the simulated WAN.

var regions3 = []string{west, east, europe}

func startMW(t *testing.T, opts testcluster.Options) *testcluster.Cluster {
	t.Helper()
	opts.MultiWrite = true
	if opts.RTTScale == 0 {
		opts.RTTScale = 0.25
	}
	c := testcluster.Start(t, opts)
	t.Cleanup(c.Close)
	return c
}

// setupMW creates database "db" and container id with policy (nil: the
// default) through region via, and waits until every region has it.
func setupMW(t *testing.T, c *testcluster.Cluster, via, id string, policy *azcosmos.ConflictResolutionPolicy) {
	t.Helper()
	ctx := ctxT(t)
	cl := c.Client(via)
	if _, err := cl.CreateDatabase(ctx, azcosmos.DatabaseProperties{ID: "db"}, nil); err != nil {
		if code, _ := statusOf(err); code != http.StatusConflict {
			require.NoError(t, err)
		}
	}
	db, err := cl.NewDatabase("db")
	require.NoError(t, err)
	_, err = db.CreateContainer(ctx, azcosmos.ContainerProperties{ID: id,
		PartitionKeyDefinition:   azcosmos.PartitionKeyDefinition{Paths: []string{"/pk"}},
		ConflictResolutionPolicy: policy}, nil)
	require.NoError(t, err)
	for _, r := range c.Topo.Regions {
		deadline := time.Now().Add(20 * time.Second)
		for {
			status, _ := raw(t, c, r.Name, http.MethodGet, "colls", "dbs/db/colls/"+id, "/dbs/db/colls/"+id, nil, nil)
			if status == 200 {
				break
			}
			require.False(t, time.Now().After(deadline), "container %s never appeared in %s", id, r.Name)
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// rawJSON sends a signed REST request to one region and returns the body.
func rawJSON(t *testing.T, c *testcluster.Cluster, region, method, resType, resLink, path string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, strings.TrimSuffix(c.Endpoint(region), "/")+path, nil)
	require.NoError(t, err)
	date := time.Now().UTC().Format(http.TimeFormat)
	req.Header.Set("x-ms-date", date)
	req.Header.Set("x-ms-version", "2020-11-05")
	req.Header.Set("Authorization", auth.Sign(auth.MustDecodeKey(auth.EmulatorKey), method, resType, resLink, date))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

// items returns every item of container id as one region serves it
// (read feed), sorted by id: the bytes the regions must agree on.
func items(t *testing.T, c *testcluster.Cluster, region, id string) []string {
	t.Helper()
	code, b := rawJSON(t, c, region, http.MethodGet, "docs", "dbs/db/colls/"+id, "/dbs/db/colls/"+id+"/docs")
	require.Equal(t, 200, code, string(b))
	var feed struct {
		Documents []json.RawMessage `json:"Documents"`
	}
	require.NoError(t, json.Unmarshal(b, &feed))
	out := make([]string, len(feed.Documents))
	for i, d := range feed.Documents {
		out[i] = string(d)
	}
	sort.Strings(out)
	return out
}

// conflicts returns the ids of container id's conflicts feed in region.
func conflicts(t *testing.T, c *testcluster.Cluster, region, id string) []string {
	t.Helper()
	code, b := rawJSON(t, c, region, http.MethodGet, "conflicts", "dbs/db/colls/"+id, "/dbs/db/colls/"+id+"/conflicts")
	require.Equal(t, 200, code, string(b))
	var feed struct {
		Conflicts []struct {
			ID         string `json:"id"`
			ResourceID string `json:"resourceId"`
		} `json:"Conflicts"`
	}
	require.NoError(t, json.Unmarshal(b, &feed))
	var ids []string
	for _, x := range feed.Conflicts {
		ids = append(ids, x.ResourceID+"/"+x.ID)
	}
	sort.Strings(ids)
	return ids
}

// converge waits until every region serves the same items (and returns
// them).
func converge(t *testing.T, c *testcluster.Cluster, id string) []string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		first := items(t, c, west, id)
		same := true
		for _, r := range regions3[1:] {
			if !slices.Equal(first, items(t, c, r, id)) {
				same = false
			}
		}
		if same {
			return first
		}
		if time.Now().After(deadline) {
			for _, r := range regions3 {
				t.Logf("%s: %v", r, items(t, c, r, id))
			}
			t.Fatalf("the regions did not converge")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestMultiWriteEveryRegionWritesAndReadsOthersWithToken(t *testing.T) {
	c := startMW(t, testcluster.Options{})
	setupMW(t, c, east, "c", nil)
	ctx := ctxT(t)
	var acct struct {
		Multi    bool `json:"enableMultipleWriteLocations"`
		Writable []struct {
			Name string `json:"name"`
		} `json:"writableLocations"`
	}
	_, b := rawJSON(t, c, europe, http.MethodGet, "", "", "/")
	require.NoError(t, json.Unmarshal(b, &acct))
	require.True(t, acct.Multi)
	require.Len(t, acct.Writable, 3, "every region is writable")

	for i, r := range regions3 {
		co := container(t, c.Client(r))
		resp, err := co.CreateItem(ctx, pk("p"), []byte(fmt.Sprintf(`{"id":"from-%d","pk":"p"}`, i)), nil)
		require.NoError(t, err, "region %s accepts writes", r)
		require.Equal(t, r, resp.RawResponse.Header.Get("x-meridian-region"), "the SDK writes to its preferred region")
		tok := *resp.SessionToken
		require.Regexp(t, `^0:1#\d+#1=\d+#2=\d+#3=\d+$`, tok, "a vector session token")
		// Custom synchronization: another region reads it with the token.
		other := regions3[(i+1)%3]
		rresp, err := container(t, c.Client(other)).ReadItem(ctx, pk("p"), fmt.Sprintf("from-%d", i), &azcosmos.ItemOptions{SessionToken: &tok})
		require.NoError(t, err)
		require.Equal(t, other, rresp.RawResponse.Header.Get("x-meridian-region"))
	}
	converge(t, c, "c")
	// A write carrying a token waits until its region has what the token
	// covers (writes follow reads).
	c.Net.Partition(west, east)
	co := container(t, c.Client(west))
	resp, err := co.UpsertItem(ctx, pk("p"), []byte(`{"id":"x","pk":"p","v":1}`), nil)
	require.NoError(t, err)
	tok := *resp.SessionToken
	// East reaches West's write only through North Europe's relay.
	_, err = container(t, c.Client(east)).UpsertItem(ctx, pk("p"), []byte(`{"id":"x","pk":"p","v":2}`), &azcosmos.ItemOptions{SessionToken: &tok})
	require.NoError(t, err)
	c.Net.Heal(west, east)
	final := converge(t, c, "c")
	require.Contains(t, strings.Join(final, "\n"), `"v":2`, "East's write followed West's: it wins everywhere")
}

// TestMultiWriteConflictsDuringPartition: the same keys written from all
// three regions while they are cut apart; after healing every region holds
// byte-identical data, the policy's winner, and (Custom) every loser in the
// conflicts feed exactly once.
func TestMultiWriteConflictsDuringPartition(t *testing.T) {
	c := startMW(t, testcluster.Options{})
	prio := "/prio"
	setupMW(t, c, west, "lww", nil)
	setupMW(t, c, west, "path", &azcosmos.ConflictResolutionPolicy{Mode: azcosmos.ConflictResolutionModeLastWriteWins, ResolutionPath: prio})
	setupMW(t, c, west, "custom", &azcosmos.ConflictResolutionPolicy{Mode: azcosmos.ConflictResolutionModeCustom})
	ctx := ctxT(t)
	const keys = 6
	// Items 0..keys-1 exist everywhere before the partition (for replace
	// and delete conflicts).
	for _, coll := range []string{"lww", "path", "custom"} {
		co, err := c.Client(west).NewContainer("db", coll)
		require.NoError(t, err)
		for k := 0; k < keys; k++ {
			_, err := co.CreateItem(ctx, pk("p"), []byte(fmt.Sprintf(`{"id":"k%d","pk":"p","prio":0}`, k)), nil)
			require.NoError(t, err)
		}
		converge(t, c, coll)
	}
	c.Net.Partition(west, east)
	c.Net.Partition(west, europe)
	c.Net.Partition(east, europe)
	// Every region writes every key: k0 replace/replace/replace, k1 one
	// region deletes, the others replace, k2..: new ids inserted
	// everywhere (insert/insert), the prio descending with the region so
	// the path policy's winner differs from _ts's.
	var wg sync.WaitGroup
	for ri, r := range regions3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, coll := range []string{"lww", "path", "custom"} {
				co, err := c.Client(r).NewContainer("db", coll)
				require.NoError(t, err)
				prio := 10 - ri
				for k := 0; k < keys; k++ {
					body := []byte(fmt.Sprintf(`{"id":"k%d","pk":"p","prio":%d,"by":%q}`, k, prio, r))
					switch {
					case k == 1 && ri == 2:
						_, err = co.DeleteItem(ctx, pk("p"), "k1", nil)
					case k < 2:
						_, err = co.ReplaceItem(ctx, pk("p"), fmt.Sprintf("k%d", k), body, nil)
					default:
						nb := []byte(fmt.Sprintf(`{"id":"n%d","pk":"p","prio":%d,"by":%q}`, k, prio, r))
						_, err = co.CreateItem(ctx, pk("p"), nb, nil)
					}
					require.NoError(t, err, "%s %s k%d", r, coll, k)
				}
			}
		}()
	}
	wg.Wait()
	// Partitioned: each region sees its own writes.
	for _, r := range regions3 {
		require.Contains(t, strings.Join(items(t, c, r, "lww"), "\n"), fmt.Sprintf(`"by":%q`, r))
	}
	c.Net.HealAll()

	for _, coll := range []string{"lww", "path", "custom"} {
		final := converge(t, c, coll)
		all := strings.Join(final, "\n")
		require.NotContains(t, all, `"id":"k1"`, "%s: the delete beats the concurrent replaces (MW-A4)", coll)
		require.Len(t, final, keys-1+keys-2, "%s: k0, k2..k5 and n2..n5", coll)
		for _, doc := range final {
			var d struct {
				ID   string `json:"id"`
				Prio int    `json:"prio"`
				By   string `json:"by"`
			}
			require.NoError(t, json.Unmarshal([]byte(doc), &d))
			if d.ID[0] == 'k' && d.ID != "k0" {
				continue // untouched during the partition
			}
			if coll == "path" {
				require.Equal(t, 10, d.Prio, "%s %s: the highest /prio (West's) wins", coll, d.ID)
			} else {
				require.NotEmpty(t, d.By, "%s %s", coll, d.ID)
			}
		}
		// The conflicts feed: LWW feeds nothing; Custom feeds each loser
		// once, the same in every region.
		for _, r := range regions3 {
			feed := conflicts(t, c, r, coll)
			if coll != "custom" {
				require.Empty(t, feed, "%s %s: LWW conflicts are only counted", coll, r)
				continue
			}
			// k0: 2 replace losers; k1: 2 replace losers (the delete won);
			// n2..n5: 2 insert losers each.
			require.Len(t, feed, 2+2+2*(keys-2), "%s: %v", r, feed)
			require.Len(t, slices.Compact(slices.Clone(feed)), len(feed), "each loser exactly once")
			require.Equal(t, conflicts(t, c, west, coll), feed, "%s serves the same feed", r)
		}
	}
	// LWW losers are counted by a metric.
	code, m := rawJSON(t, c, west, http.MethodGet, "", "", "/metrics")
	require.Equal(t, 200, code)
	require.Contains(t, string(m), `meridian_conflicts_total{fed="false",region="West US",type=`)
}

// TestMultiWriteClockSkewKeepsSessionOrder: with West's clock 5 s ahead and
// East's 5 s behind, a session that reads West's write in East and then
// writes there still ends with its own (later) write everywhere: the HLC
// orders the write after what its session read; LWW on wall clocks alone
// would let West's older write win.
func TestMultiWriteClockSkewKeepsSessionOrder(t *testing.T) {
	c := startMW(t, testcluster.Options{ClockOffset: map[string]time.Duration{west: 5 * time.Second, east: -5 * time.Second}})
	setupMW(t, c, west, "c", nil)
	ctx := ctxT(t)
	wco, eco := container(t, c.Client(west)), container(t, c.Client(east))
	for i := 0; i < 20; i++ {
		id := fmt.Sprintf("s%d", i)
		w, err := wco.UpsertItem(ctx, pk("p"), []byte(fmt.Sprintf(`{"id":%q,"pk":"p","v":"west"}`, id)), nil)
		require.NoError(t, err)
		r, err := eco.ReadItem(ctx, pk("p"), id, &azcosmos.ItemOptions{SessionToken: w.SessionToken})
		require.NoError(t, err)
		require.Contains(t, string(r.Value), `"v":"west"`, "read-your-writes across regions")
		tok := *r.SessionToken
		_, err = eco.UpsertItem(ctx, pk("p"), []byte(fmt.Sprintf(`{"id":%q,"pk":"p","v":"east"}`, id)), &azcosmos.ItemOptions{SessionToken: &tok})
		require.NoError(t, err)
	}
	final := converge(t, c, "c")
	require.Len(t, final, 20)
	for _, d := range final {
		require.Contains(t, d, `"v":"east"`, "monotonic writes under skew")
	}
}

// TestMultiWriteParallelSync measures a write synced to two regions in
// parallel against the slowest single-region sync (reported, not asserted:
// speed is measured by benchmarks), and checks the synced write is in both.
func TestMultiWriteParallelSync(t *testing.T) {
	c := startMW(t, testcluster.Options{RTTScale: 1})
	setupMW(t, c, east, "c", nil)
	ctx := ctxT(t)
	co := container(t, c.Client(east))
	measure := func(regions string, n int) time.Duration {
		var total time.Duration
		for i := 0; i < n; i++ {
			sctx := withHeader(ctx, "x-meridian-sync-regions", regions)
			start := time.Now()
			_, err := co.UpsertItem(sctx, pk("p"), []byte(fmt.Sprintf(`{"id":"%s-%d","pk":"p"}`, strings.ReplaceAll(regions, " ", ""), i)), nil)
			total += time.Since(start)
			require.NoError(t, err)
		}
		return total / time.Duration(n)
	}
	w := measure(west, 10)
	e := measure(europe, 10)
	both := measure(west+","+europe, 10)
	t.Logf("sync from East US: to West US %v, to North Europe %v, to both in parallel %v", w, e, both)
	// Both regions hold every parallel-synced write.
	for _, r := range []string{west, europe} {
		n := 0
		for _, d := range items(t, c, r, "c") {
			if strings.Contains(d, `"id":"WestUS,NorthEurope-`) {
				n++
			}
		}
		require.Equal(t, 10, n, "%s holds every write synced to it", r)
	}
}

// TestMultiWriteCatchUpPastTrimmedLogs: North Europe is cut off while West
// and East write more than their logs keep; on healing it merges snapshots
// of their partitions (nothing of its own is lost) and converges.
func TestMultiWriteCatchUpPastTrimmedLogs(t *testing.T) {
	c := startMW(t, testcluster.Options{LogRetention: 20})
	setupMW(t, c, west, "c", &azcosmos.ConflictResolutionPolicy{Mode: azcosmos.ConflictResolutionModeCustom})
	ctx := ctxT(t)
	c.Net.Isolate(europe)
	_, err := container(t, c.Client(europe)).UpsertItem(ctx, pk("p"), []byte(`{"id":"eu-only","pk":"p"}`), nil)
	require.NoError(t, err)
	for i := 0; i < 120; i++ {
		r := regions3[i%2]
		_, err := container(t, c.Client(r)).UpsertItem(ctx, pk("p"), []byte(fmt.Sprintf(`{"id":"k%d","pk":"p","by":%q}`, i%60, r)), nil)
		require.NoError(t, err)
	}
	c.Net.Rejoin(europe)
	final := converge(t, c, "c")
	require.Len(t, final, 61)
	require.Contains(t, strings.Join(final, "\n"), `"id":"eu-only"`, "North Europe's own write survived the merge")
	for _, r := range regions3 {
		require.Equal(t, conflicts(t, c, west, "c"), conflicts(t, c, r, "c"))
	}
}

// TestMultiWriteRegionLossKeepsSyncedWrites (issue 7 §5): West's writes
// synced to East alone, while West cannot reach North Europe, reach North
// Europe through East after West dies; the writes that never left West
// arrive once it restarts; East and North Europe accept writes throughout.
// The customsync package syncs a write made in a non-first region to two
// regions in parallel.
func TestMultiWriteRegionLossKeepsSyncedWrites(t *testing.T) {
	c := startMW(t, testcluster.Options{})
	setupMW(t, c, west, "c", nil)
	ctx := ctxT(t)
	c.Net.Partition(west, europe)
	wco := container(t, c.Client(west))
	var tokens []string
	for i := 0; i < 20; i++ {
		resp, err := wco.UpsertItem(withHeader(ctx, "x-meridian-sync-regions", east), pk("p"), []byte(fmt.Sprintf(`{"id":"synced-%d","pk":"p"}`, i)), nil)
		require.NoError(t, err)
		tokens = append(tokens, *resp.SessionToken)
	}
	c.Net.Partition(west, east)
	for i := 0; i < 5; i++ {
		_, err := wco.UpsertItem(ctx, pk("p"), []byte(fmt.Sprintf(`{"id":"west-only-%d","pk":"p"}`, i)), nil)
		require.NoError(t, err)
	}
	c.Kill(west)
	c.Net.HealAll()

	eu := container(t, c.Client(europe))
	for i, tok := range tokens {
		resp, err := eu.ReadItem(ctx, pk("p"), fmt.Sprintf("synced-%d", i), &azcosmos.ItemOptions{SessionToken: &tok})
		require.NoError(t, err, "synced write %d reached North Europe through East US", i)
		require.Equal(t, europe, resp.RawResponse.Header.Get("x-meridian-region"))
	}
	// The survivors keep writing; customsync, writing through East US,
	// confirms in North Europe.
	s, err := customsync.New(container(t, c.Client(east)), map[string]*azcosmos.ContainerClient{europe: eu}, nil)
	require.NoError(t, err)
	res, err := s.UpsertItem(ctx, pk("p"), []byte(`{"id":"after-loss","pk":"p"}`), nil)
	require.NoError(t, err)
	require.Contains(t, res.Confirmed, europe)

	c.Restart(west)
	final := converge(t, c, "c")
	all := strings.Join(final, "\n")
	for i := 0; i < 5; i++ {
		require.Contains(t, all, fmt.Sprintf(`"id":"west-only-%d"`, i), "West's durable writes spread once it is back")
	}
	require.Contains(t, all, `"id":"after-loss"`)
	require.Len(t, final, 26)
}

// TestMultiWriteBoundedStaleness: in a multi-write account every region
// bounds how far each other region lags behind its own log: with North
// Europe cut off, West US and East US each accept at most K writes, then
// answer 429/3200 until it catches up.
func TestMultiWriteBoundedStaleness(t *testing.T) {
	const K = 5
	c := startMW(t, testcluster.Options{Consistency: "BoundedStaleness", K: K, T: 30, RTTScale: 0.1})
	setupMW(t, c, west, "c", nil)
	c.Net.Isolate(europe)
	for _, r := range []string{west, east} {
		accepted := 0
		for v := 0; v < 3*K; v++ {
			resp := upsertRaw(t, c, r, "p", valDoc("x-"+r, "p", v), nil)
			if isOK(resp) {
				accepted++
				continue
			}
			requireThrottled(t, resp)
		}
		// East US's log also holds West US's relayed writes, which count
		// toward North Europe's lag: it may admit fewer.
		require.LessOrEqual(t, accepted, K, "%s admits at most K writes ahead of North Europe", r)
		if r == west {
			require.Positive(t, accepted)
		}
	}
	c.Net.Rejoin(europe)
	require.Eventually(t, func() bool { return isOK(upsertRaw(t, c, west, "p", valDoc("after", "p", 1), nil)) },
		20*time.Second, 50*time.Millisecond, "writes are admitted again once North Europe caught up")
}
