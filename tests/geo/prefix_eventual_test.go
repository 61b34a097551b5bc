package geo_test

// Consistent prefix and eventual consistency (semantics doc §2.4, §2.5,
// checklist C16-C18), and read regions that return from a partition or a
// restart (§5.2: a returning region serves reads only once caught up; no
// loss, no duplicates).

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/stretchr/testify/require"

	"github.com/meridiandb/meridian/internal/testcluster"
)

// TestConsistentPrefixBatchAtomic is CP-F1/CP-A2 (C17): transactional
// batches {a=i, b=i} (and, now and then, {delete a, delete b}) run in the
// write region while queries in the read regions read a and b together:
// each answer is (⊥,⊥) or (i,i) for a written i, never a mix, also while
// North Europe is cut off and after it returns. Through the SDK (region
// preferred, server checked) and raw queries pinned to the region.
func TestConsistentPrefixBatchAtomic(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Consistency: "ConsistentPrefix", RTTScale: 0.25})
	setup(t, c)
	ctx := ctxT(t)
	w := container(t, c.Client(west))
	var maxInvoked, batches atomic.Int64
	bg := newBackground(t)
	bg.Go(func() {
		for i := 1; !bg.Stopped(); i++ {
			b := w.NewTransactionalBatch(pk("t"))
			if i%10 == 0 {
				b.DeleteItem("a", nil)
				b.DeleteItem("b", nil)
			} else {
				b.UpsertItem(valDoc("a", "t", i), nil)
				b.UpsertItem(valDoc("b", "t", i), nil)
			}
			maxInvoked.Store(int64(i))
			res, err := w.ExecuteTransactionalBatch(ctx, b, nil)
			require.NoError(t, err)
			require.True(t, res.Success, "batch %d", i)
			batches.Add(1)
		}
	})
	var reads, empty atomic.Int64
	// judge checks one query answer.
	judge := func(who string, docs []json.RawMessage) {
		reads.Add(1)
		if len(docs) == 0 {
			empty.Add(1)
			return
		}
		require.Len(t, docs, 2, "CP-F1: %s returned a torn batch: %s", who, docs)
		ids := idsOf(t, docs)
		slices.Sort(ids)
		require.Equal(t, []string{"a", "b"}, ids)
		va, vb := valueOf(t, docs[0]), valueOf(t, docs[1])
		require.Equal(t, va, vb, "CP-F1: %s returned a=%d, b=%d", who, va, vb)
		require.LessOrEqual(t, int64(va), maxInvoked.Load(), "EV-F1: %s returned a value never written", who)
	}
	for _, region := range []string{east, europe} {
		bg.Go(func() { // raw queries, pinned
			for !bg.Stopped() {
				docs, r := queryRaw(t, c, region, `SELECT * FROM c WHERE c.pk = "t"`, nil)
				require.Equal(t, 200, r.Status, "%s", r)
				judge("raw query in "+region, docs)
			}
		})
		rc := container(t, c.Client(region))
		bg.Go(func() { // SDK queries, preferring the region
			for !bg.Stopped() {
				var resp *http.Response
				pager := rc.NewQueryItemsPager("SELECT * FROM c", pk("t"), nil)
				var docs []json.RawMessage
				for pager.More() {
					page, err := pager.NextPage(policy.WithCaptureResponse(ctx, &resp))
					require.NoError(t, err)
					require.Equal(t, region, resp.Header.Get("x-meridian-region"))
					for _, it := range page.Items {
						docs = append(docs, it)
					}
				}
				judge("SDK query in "+region, docs)
			}
		})
	}
	progress := func(n int64, what string) {
		target := batches.Load() + n
		eventually(t, 10*time.Second, 5*time.Millisecond, what, func() (bool, string) {
			return batches.Load() >= target, fmt.Sprint(batches.Load())
		})
	}
	progress(100, "batches before the partition")
	c.Net.Partition(west, europe)
	progress(100, "batches during the partition")
	c.Net.Heal(west, europe)
	progress(100, "batches after healing")
	bg.Stop()
	t.Logf("%d batches; %d consistent query answers (%d empty)", batches.Load(), reads.Load(), empty.Load())
	awaitConverged(t, c, 10*time.Second)
}

// workload is a deterministic single-writer-per-partition mix of creates,
// upserts, replaces, patches, deletes and transactional batches through the
// SDK, with a model of the expected final state and of every value ever
// attempted per item.
type workload struct {
	mu        sync.Mutex
	model     map[string]int          // "pk/id" -> v (absent: deleted or never created)
	attempted map[string]map[int]bool // "pk/id" -> values sent
	acked     atomic.Int64
	nIDs      int // items per partition key written singly; batches also write nIDs..nIDs+3
}

func newWorkload(nIDs int) *workload {
	return &workload{model: map[string]int{}, attempted: map[string]map[int]bool{}, nIDs: nIDs}
}

func (wl *workload) attempt(key string, v int) {
	wl.mu.Lock()
	defer wl.mu.Unlock()
	if wl.attempted[key] == nil {
		wl.attempted[key] = map[int]bool{}
	}
	wl.attempted[key][v] = true
}

func (wl *workload) wasAttempted(key string, v int) bool {
	wl.mu.Lock()
	defer wl.mu.Unlock()
	return wl.attempted[key][v]
}

// run writes partition key p until stopped or n writes (0: no limit).
func (wl *workload) run(t *testing.T, w *azcosmos.ContainerClient, p string, seed uint64, n int, stopped func() bool) {
	ctx := ctxT(t)
	rng := rand.New(rand.NewPCG(seed, 7))
	for seq := 1; !stopped() && (n == 0 || seq <= n); seq++ {
		v := int(seed)*1_000_000 + seq
		id := fmt.Sprintf("i%d", rng.IntN(wl.nIDs))
		key := p + "/" + id
		wl.mu.Lock()
		_, exists := wl.model[key]
		wl.mu.Unlock()
		wl.attempt(key, v)
		var err error
		var want int // expected status
		gone := false
		switch op := rng.IntN(6); op {
		case 0:
			_, err = w.UpsertItem(ctx, pk(p), valDoc(id, p, v), nil)
		case 1:
			_, err = w.CreateItem(ctx, pk(p), valDoc(id, p, v), nil)
			if exists {
				want = 409
			}
		case 2:
			_, err = w.ReplaceItem(ctx, pk(p), id, valDoc(id, p, v), nil)
			if !exists {
				want = 404
			}
		case 3:
			var ops azcosmos.PatchOperations
			ops.AppendSet("/v", v)
			_, err = w.PatchItem(ctx, pk(p), id, ops, nil)
			if !exists {
				want = 404
			}
		case 4:
			_, err = w.DeleteItem(ctx, pk(p), id, nil)
			gone = true
			if !exists {
				want = 404
			}
		case 5: // a batch: this item and another one, atomically
			id2 := fmt.Sprintf("i%d", wl.nIDs+rng.IntN(4))
			wl.attempt(p+"/"+id2, v)
			b := w.NewTransactionalBatch(pk(p))
			b.UpsertItem(valDoc(id, p, v), nil)
			b.UpsertItem(valDoc(id2, p, v), nil)
			var res azcosmos.TransactionalBatchResponse
			res, err = w.ExecuteTransactionalBatch(ctx, b, nil)
			require.NoError(t, err)
			require.True(t, res.Success)
			wl.mu.Lock()
			wl.model[p+"/"+id2] = v
			wl.mu.Unlock()
		}
		st, _ := statusOf(err)
		require.Equal(t, want, st, "op on %s (exists %v): %v", key, exists, err)
		if err == nil {
			wl.mu.Lock()
			if gone {
				delete(wl.model, key)
			} else {
				wl.model[key] = v
			}
			wl.mu.Unlock()
			wl.acked.Add(1)
		}
	}
}

// checkModel compares a full dump with the model.
func (wl *workload) checkModel(t *testing.T, dump []json.RawMessage) {
	t.Helper()
	got := map[string]int{}
	for _, d := range dump {
		var doc struct {
			ID string `json:"id"`
			PK string `json:"pk"`
			V  int    `json:"v"`
		}
		require.NoError(t, json.Unmarshal(d, &doc))
		if doc.PK == "sync" {
			continue
		}
		got[doc.PK+"/"+doc.ID] = doc.V
	}
	wl.mu.Lock()
	defer wl.mu.Unlock()
	require.Equal(t, wl.model, got, "the converged state must be exactly the acknowledged writes")
}

// checkChangeFeeds reads every region's change feed from the beginning:
// each holds every item of the dump exactly once (no loss, no duplicates),
// and all are byte-identical (same versions, same LSNs).
func checkChangeFeeds(t *testing.T, c *testcluster.Cluster, dump []json.RawMessage) {
	t.Helper()
	want := idsKeys(t, dump)
	var ref []json.RawMessage
	for _, region := range regionList(c) {
		cf := changeFeedAll(t, c, region)
		keys := idsKeys(t, cf)
		seen := map[string]bool{}
		for _, k := range keys {
			require.False(t, seen[k], "%s: %s appears twice in the change feed", region, k)
			seen[k] = true
		}
		slices.Sort(keys)
		require.Equal(t, want, keys, "%s: the change feed must hold exactly the items", region)
		if ref == nil {
			ref = cf
			continue
		}
		same, why := sameDocs(ref, cf)
		require.True(t, same, "%s's change feed differs from the write region's: %s", region, why)
	}
}

// idsKeys returns the sorted "pk/id" keys of the documents.
func idsKeys(t *testing.T, docs []json.RawMessage) []string {
	t.Helper()
	out := make([]string, 0, len(docs))
	for _, d := range docs {
		var doc struct {
			ID string `json:"id"`
			PK string `json:"pk"`
		}
		require.NoError(t, json.Unmarshal(d, &doc))
		out = append(out, doc.PK+"/"+doc.ID)
	}
	slices.Sort(out)
	return out
}

// TestEventualNoPhantomsAndConvergence is EV-F1 and EV-L1 (C16, C18) on an
// Eventual account: four clients write a mix of operations while East US
// is cut off and North Europe is stopped and restarted; reads in the read
// regions only ever return values that were written; after the faults end
// and writes stop, every region holds byte-identical data, equal to the
// acknowledged writes, with identical change feeds.
func TestEventualNoPhantomsAndConvergence(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Consistency: "Eventual", RTTScale: 0.1})
	setup(t, c)
	wl := newWorkload(12)
	bg := newBackground(t)
	w := container(t, c.Client(west))
	for i := range 4 {
		bg.Go(func() { wl.run(t, w, fmt.Sprintf("p%d", i), uint64(i+1), 0, bg.Stopped) })
	}
	var europeMu sync.RWMutex // readers hold it for reading while they talk to North Europe
	europeUp := true
	var reads, found atomic.Int64
	for i, region := range []string{east, europe, east, europe} {
		bg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(100+i), 1))
			for !bg.Stopped() {
				p := fmt.Sprintf("p%d", rng.IntN(4))
				id := fmt.Sprintf("i%d", rng.IntN(16))
				if region == europe {
					europeMu.RLock()
					if !europeUp {
						europeMu.RUnlock()
						time.Sleep(5 * time.Millisecond)
						continue
					}
				}
				v, ok, r := readVal(t, c, region, p, id, "", "")
				if region == europe {
					europeMu.RUnlock()
				}
				reads.Add(1)
				if ok {
					found.Add(1)
					require.True(t, wl.wasAttempted(p+"/"+id, v), "EV-F1: %s returned %s/%s v=%d, never written", region, p, id, v)
				} else {
					require.Equal(t, 404, r.Status, "%s: %s", region, r)
				}
			}
		})
	}
	progress := func(n int64, what string) {
		target := wl.acked.Load() + n
		eventually(t, 10*time.Second, 5*time.Millisecond, what, func() (bool, string) {
			return wl.acked.Load() >= target, fmt.Sprint(wl.acked.Load())
		})
	}
	progress(150, "writes")
	c.Net.Partition(west, east)
	progress(150, "writes with East US cut off")
	europeMu.Lock()
	europeUp = false
	c.Stop(europe)
	europeMu.Unlock()
	progress(150, "writes with North Europe down")
	c.Net.Heal(west, east)
	progress(150, "writes after East US returned")
	c.Restart(europe)
	waitContainer(t, c, europe)
	europeMu.Lock()
	europeUp = true
	europeMu.Unlock()
	progress(150, "writes after North Europe returned")
	bg.Stop()
	t.Logf("%d acknowledged writes; %d reads in read regions (%d found)", wl.acked.Load(), reads.Load(), found.Load())

	dump := awaitConverged(t, c, 15*time.Second)
	wl.checkModel(t, dump)
	checkChangeFeeds(t, c, dump)
}

// TestReadRegionCatchUp: North Europe returns from a partition, from a
// stop, and from a stop in the middle of a stream of writes; each time it
// ends up with exactly the write region's items and change feed, and a
// session read with the latest token never returns stale data while it
// catches up (it waits, or answers 404/1002).
func TestReadRegionCatchUp(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{RTTScale: 0.1, SessionWait: 2 * time.Second})
	setup(t, c)
	ctx := ctxT(t)
	w := container(t, c.Client(west))
	wl := newWorkload(150)
	never := func() bool { return false }

	// lastToken writes a marker and returns its token and value.
	marker := 0
	lastToken := func() (string, int) {
		marker++
		r, err := w.UpsertItem(ctx, pk("m"), valDoc("marker", "m", marker), nil)
		require.NoError(t, err)
		wl.mu.Lock()
		wl.model["m/marker"] = marker
		wl.mu.Unlock()
		return *r.SessionToken, marker
	}
	// sessionRead reads the marker in North Europe with tok: the marker's
	// value, or 404/1002; never an older value.
	sessionRead := func(phase, tok string, want int) {
		v, ok, r := readVal(t, c, europe, "m", "marker", "", tok)
		if ok {
			require.Equal(t, want, v, "%s: session read in North Europe returned stale data", phase)
		} else {
			require.Equal(t, "1002", r.Substatus, "%s: %s", phase, r)
		}
		t.Logf("%s: session read in North Europe with the latest token: %s (%v)", phase, truncate(r.String(), 60), r.Took.Round(time.Millisecond))
	}
	check := func(phase string) {
		dump := awaitConverged(t, c, 15*time.Second)
		wl.checkModel(t, dump)
		checkChangeFeeds(t, c, dump)
		t.Logf("%s: converged, %d items", phase, len(dump))
	}

	// 1. Partition.
	c.Net.Partition(west, europe)
	wl.run(t, w, "a", 1, 300, never)
	tok, m := lastToken()
	c.Net.Heal(west, europe)
	sessionRead("after partition", tok, m)
	check("after partition")

	// 2. Stop, write, restart.
	c.Stop(europe)
	wl.run(t, w, "b", 2, 300, never)
	tok, m = lastToken()
	c.Restart(europe)
	waitContainer(t, c, europe)
	sessionRead("after restart", tok, m)
	check("after restart")

	// 3. Stop and restart while writes flow.
	bg := newBackground(t)
	bg.Go(func() { wl.run(t, w, "c", 3, 0, bg.Stopped) })
	progress := func(n int64, what string) {
		target := wl.acked.Load() + n
		eventually(t, 10*time.Second, 5*time.Millisecond, what, func() (bool, string) {
			return wl.acked.Load() >= target, fmt.Sprint(wl.acked.Load())
		})
	}
	progress(100, "writes before the stop")
	c.Stop(europe)
	progress(100, "writes while North Europe is down")
	c.Restart(europe)
	waitContainer(t, c, europe)
	progress(100, "writes after the restart")
	bg.Stop()
	check("stop and restart under writes")
}
