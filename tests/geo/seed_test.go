package geo_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/stretchr/testify/require"

	"github.com/meridiandb/meridian/internal/testcluster"
)

// TestCustomSynchronization is the scenario of the brief, verbatim with the
// Go SDK: a write client in West US creates an item; a read client in East
// US reads it with the write's session token. The read returns only once
// East US holds the write durably (East serves it itself: no fallback to
// the write region), after about one West->East delay; afterwards East
// serves the item to a plain Eventual read, and it survives the loss of
// West US.
func TestCustomSynchronization(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{}) // dev round trips: West-East 60 ms
	setup(t, c)
	ctx := ctxT(t)
	writer := container(t, c.Client(west))
	reader := container(t, c.Client(east))

	for i := 0; i < 5; i++ {
		id := "item" + string(rune('a'+i))
		start := time.Now()
		wr, err := writer.CreateItem(ctx, pk("p"), []byte(`{"id":"`+id+`","pk":"p","v":1}`), nil)
		require.NoError(t, err)
		require.NotNil(t, wr.SessionToken)
		wrote := time.Now()

		var resp *http.Response
		rctx := policy.WithCaptureResponse(ctx, &resp)
		rr, err := reader.ReadItem(rctx, pk("p"), id, &azcosmos.ItemOptions{SessionToken: wr.SessionToken})
		require.NoError(t, err)
		synced := time.Now()
		require.Contains(t, string(rr.Value), `"id":"`+id+`"`)
		require.Equal(t, east, resp.Header.Get("x-meridian-region"), "the sync read must be served by East US itself")
		t.Logf("write %v, synced read %v (one-way West->East is 30 ms)", wrote.Sub(start), synced.Sub(wrote))

		// East now holds the write: a plain Eventual read there sees it.
		rctx = policy.WithCaptureResponse(ctx, &resp)
		_, err = reader.ReadItem(rctx, pk("p"), id, &azcosmos.ItemOptions{ConsistencyLevel: azcosmos.ConsistencyLevelEventual.ToPtr()})
		require.NoError(t, err)
		require.Equal(t, east, resp.Header.Get("x-meridian-region"))
	}

	// The synced writes survive the loss of West US.
	c.Stop(west)
	for i := 0; i < 5; i++ {
		id := "item" + string(rune('a'+i))
		var resp *http.Response
		rctx := policy.WithCaptureResponse(ctx, &resp)
		_, err := reader.ReadItem(rctx, pk("p"), id, nil)
		require.NoError(t, err)
		require.Equal(t, east, resp.Header.Get("x-meridian-region"))
	}
}

// TestParallelSyncToSeveralRegions extends the pattern: read clients in
// East US and North Europe sync the same write in parallel; the pattern
// costs the slowest region, not the sum.
func TestParallelSyncToSeveralRegions(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{})
	setup(t, c)
	ctx := ctxT(t)
	writer := container(t, c.Client(west))
	readers := map[string]*azcosmos.ContainerClient{east: container(t, c.Client(east)), europe: container(t, c.Client(europe))}
	wr, err := writer.CreateItem(ctx, pk("p"), []byte(`{"id":"x","pk":"p"}`), nil)
	require.NoError(t, err)
	start := time.Now()
	var wg sync.WaitGroup
	took := map[string]time.Duration{}
	var mu sync.Mutex
	for name, rc := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var resp *http.Response
			_, err := rc.ReadItem(policy.WithCaptureResponse(ctx, &resp), pk("p"), "x", &azcosmos.ItemOptions{SessionToken: wr.SessionToken})
			require.NoError(t, err)
			require.Equal(t, name, resp.Header.Get("x-meridian-region"))
			mu.Lock()
			took[name] = time.Since(start)
			mu.Unlock()
		}()
	}
	wg.Wait()
	t.Logf("parallel sync: %v total; per region %v", time.Since(start), took)
}

// TestNativeSyncRegions: x-meridian-sync-regions makes the write itself
// wait until the named regions hold it durably, in one client round trip.
func TestNativeSyncRegions(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{})
	setup(t, c)
	ctx := ctxT(t)
	writer := container(t, c.Client(west))
	reader := container(t, c.Client(east))
	nreader := container(t, c.Client(europe))

	start := time.Now()
	_, err := writer.CreateItem(withHeader(ctx, "x-meridian-sync-regions", "East US, North Europe"), pk("p"), []byte(`{"id":"n1","pk":"p"}`), nil)
	require.NoError(t, err)
	t.Logf("synced write to East US and North Europe took %v (largest RTT 140 ms)", time.Since(start))
	require.GreaterOrEqual(t, time.Since(start), 140*time.Millisecond, "the write waited for North Europe's acknowledgement")
	for _, rc := range []*azcosmos.ContainerClient{reader, nreader} {
		_, err = rc.ReadItem(ctx, pk("p"), "n1", &azcosmos.ItemOptions{ConsistencyLevel: azcosmos.ConsistencyLevelEventual.ToPtr()})
		require.NoError(t, err, "present in the sync region without a token")
	}

	// An unknown region is a 400; a partitioned region times out with 408.
	_, err = writer.CreateItem(withHeader(ctx, "x-meridian-sync-regions", "Mars"), pk("p"), []byte(`{"id":"n2","pk":"p"}`), nil)
	st, _ := statusOf(err)
	require.Equal(t, 400, st)
}

// TestReadRegionRefusesWrites: a write sent to a read region gets 403/3,
// and the SDK follows writableLocations to the write region.
func TestReadRegionRefusesWrites(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{RTTScale: 0.1})
	setup(t, c)
	st, hdr := raw(t, c, east, http.MethodPost, "docs", "dbs/db/colls/c", "/dbs/db/colls/c/docs", []byte(`{"id":"w","pk":"p"}`), map[string]string{"x-ms-documentdb-partitionkey": `["p"]`})
	require.Equal(t, 403, st)
	require.Equal(t, "3", hdr.Get("x-ms-substatus"))
	st, hdr = raw(t, c, east, http.MethodPost, "dbs", "", "/dbs", []byte(`{"id":"db2"}`), nil)
	require.Equal(t, 403, st)
	require.Equal(t, "3", hdr.Get("x-ms-substatus"))

	// The SDK, even preferring East US, sends writes to West US.
	ctx := ctxT(t)
	var resp *http.Response
	_, err := container(t, c.Client(east)).CreateItem(policy.WithCaptureResponse(ctx, &resp), pk("p"), []byte(`{"id":"w","pk":"p"}`), nil)
	require.NoError(t, err)
	require.Equal(t, west, resp.Header.Get("x-meridian-region"))
}

var _ = context.Background

// TestSessionReadAcrossContainerCreation: a token for an item in a container
// that the read region has not replicated yet is held like any session read
// (then 404/1002), never answered with a plain 404.
func TestSessionReadAcrossContainerCreation(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{RTTScale: 0.2, SessionWait: 500 * time.Millisecond})
	setup(t, c)
	ctx := ctxT(t)
	c.Net.Partition(west, europe)
	w := c.Client(west)
	db, err := w.NewDatabase("db")
	require.NoError(t, err)
	_, err = db.CreateContainer(ctx, azcosmos.ContainerProperties{ID: "fresh", PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: []string{"/pk"}}}, nil)
	require.NoError(t, err)
	co, err := w.NewContainer("db", "fresh")
	require.NoError(t, err)
	wr, err := co.CreateItem(ctx, pk("p"), []byte(`{"id":"a","pk":"p"}`), nil)
	require.NoError(t, err)
	hdr := map[string]string{"x-ms-documentdb-partitionkey": `["p"]`, "x-ms-session-token": *wr.SessionToken}
	st, h := raw(t, c, europe, http.MethodGet, "docs", "dbs/db/colls/fresh/docs/a", "/dbs/db/colls/fresh/docs/a", nil, hdr)
	require.Equal(t, 404, st)
	require.Equal(t, "1002", h.Get("x-ms-substatus"), "the region cannot prove the container is absent at the token's point")
	require.Equal(t, europe, h.Get("x-meridian-region"), "error responses name the serving region too")

	c.Net.Heal(west, europe)
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, _ = raw(t, c, europe, http.MethodGet, "docs", "dbs/db/colls/fresh/docs/a", "/dbs/db/colls/fresh/docs/a", nil, hdr)
		if st == 200 || time.Now().After(deadline) {
			break
		}
	}
	require.Equal(t, 200, st)
}

// TestSnapshotCatchUp: a region that was down while the write region
// trimmed the entries it missed is rebuilt from a snapshot, then tails the
// log, and ends identical to the write region.
func TestSnapshotCatchUp(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{RTTScale: 0.1, LogRetention: 40})
	setup(t, c)
	ctx := ctxT(t)
	w := container(t, c.Client(west))
	c.Stop(europe)
	for i := 0; i < 300; i++ {
		_, err := w.UpsertItem(ctx, pk(fmt.Sprintf("p%d", i%5)), []byte(fmt.Sprintf(`{"id":"i%d","pk":"p%d","n":%d}`, i%120, i%5, i)), nil)
		require.NoError(t, err)
	}
	_, err := w.DeleteItem(ctx, pk("p0"), "i0", nil)
	require.NoError(t, err)
	c.Restart(europe)
	// A write after the restart: Europe must hold it through the log tail.
	wr, err := w.UpsertItem(ctx, pk("p1"), []byte(`{"id":"last","pk":"p1"}`), nil)
	require.NoError(t, err)
	st, _ := raw(t, c, europe, http.MethodGet, "docs", "dbs/db/colls/c/docs/last", "/dbs/db/colls/c/docs/last", nil,
		map[string]string{"x-ms-documentdb-partitionkey": `["p1"]`, "x-ms-session-token": *wr.SessionToken})
	require.Equal(t, 200, st)
	require.Equal(t, itemsOf(t, c, west), itemsOf(t, c, europe), "Europe equals West after the snapshot and the tail")
}

// itemsOf returns every item of db/c in a region, ordered by id.
func itemsOf(t *testing.T, c *testcluster.Cluster, region string) []string {
	t.Helper()
	docs, ok := dumpAll(t, c, region)
	require.True(t, ok, "query in %s", region)
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = string(d)
	}
	return out
}
