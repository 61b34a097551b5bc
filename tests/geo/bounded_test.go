package geo_test

// Bounded staleness (semantics doc §2.2, checklist C6-C9) with tiny K and T
// (D-1) on a three-region single-write account.

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/stretchr/testify/require"

	"github.com/meridiandb/meridian/internal/testcluster"
)

func isOK(r rawResp) bool { return r.Status == 200 || r.Status == 201 }

// requireThrottled checks a bounded-staleness 429.
func requireThrottled(t *testing.T, r rawResp) {
	t.Helper()
	require.Equal(t, 429, r.Status, "%s", r)
	require.Equal(t, "3200", r.Substatus)
	ms, err := strconv.Atoi(r.Header.Get("x-ms-retry-after-ms"))
	require.NoError(t, err, "x-ms-retry-after-ms must be present: %v", r.Header)
	require.Positive(t, ms)
}

// TestBoundedStalenessVersionBound is BS-F1 (C8): with both read regions
// cut off, the write region accepts exactly K more writes and then refuses
// with 429/3200 (x-ms-retry-after-ms set), through raw requests and the
// SDK, until the regions catch up after healing. Reads in a cut-off region
// meanwhile lag by at most K versions (BS-A1).
func TestBoundedStalenessVersionBound(t *testing.T) {
	const K = 5
	c := testcluster.Start(t, testcluster.Options{Consistency: "BoundedStaleness", K: K, T: 30, RTTScale: 0.1})
	setup(t, c)
	r := upsertRaw(t, c, west, "p", valDoc("x", "p", 0), nil)
	require.True(t, isOK(r), "%s", r)
	syncAll(t, c, "s0") // both read regions acknowledged everything

	c.Net.Partition(west, east)
	c.Net.Partition(west, europe)
	accepted := 0
	for v := 1; v <= 3*K; v++ {
		r := upsertRaw(t, c, west, "p", valDoc("x", "p", v), nil)
		if isOK(r) {
			require.Equal(t, v, accepted+1, "no write is accepted after a refusal while the regions are away")
			accepted++
			continue
		}
		requireThrottled(t, r)
		t.Logf("write %d: %s", v, r)
	}
	require.Equal(t, K, accepted, "BS-F1: the write region must accept exactly K writes the read regions have not acknowledged")

	// The SDK surfaces the 429 once its own retries are exhausted.
	ctx := ctxT(t)
	_, err := container(t, c.Client(west)).UpsertItem(ctx, pk("p"), valDoc("x", "p", 100), nil)
	st, sub := statusOf(err)
	require.Equal(t, 429, st, "%v", err)
	require.Equal(t, "3200", sub)

	// Reads in the cut-off regions (within T) return data at most K
	// versions old: x=0 while the last acknowledged write is x=K.
	for _, region := range []string{east, europe} {
		v, ok, r := readVal(t, c, region, "p", "x", "", "")
		require.True(t, ok, "%s: %s", region, r)
		require.GreaterOrEqual(t, v, accepted-K, "BS: read in %s lags by more than K", region)
	}

	c.Net.Heal(west, east)
	c.Net.Heal(west, europe)
	next := K + 1
	eventually(t, 10*time.Second, 50*time.Millisecond, "writes accepted again after healing", func() (bool, string) {
		r := upsertRaw(t, c, west, "p", valDoc("x", "p", next), nil)
		return isOK(r), r.String()
	})
	for _, region := range []string{east, europe} {
		eventually(t, 5*time.Second, 10*time.Millisecond, region+" catches up", func() (bool, string) {
			v, ok, r := readVal(t, c, region, "p", "x", "", "")
			return ok && v == next, r.String()
		})
	}
}

// TestBoundedStalenessConcurrentAdmission is BS-F1 under concurrency (C8):
// with the read regions cut off, many writers at once must still get at
// most K writes acknowledged.
func TestBoundedStalenessConcurrentAdmission(t *testing.T) {
	const K = 5
	c := testcluster.Start(t, testcluster.Options{Consistency: "BoundedStaleness", K: K, T: 30, RTTScale: 0.1})
	setup(t, c)
	syncAll(t, c, "s0")
	c.Net.Partition(west, east)
	c.Net.Partition(west, europe)
	var ok, throttled atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r := upsertRaw(t, c, west, "p", valDoc(fmt.Sprintf("c%d", i), "p", i), nil)
			switch {
			case isOK(r):
				ok.Add(1)
			case r.Status == 429:
				throttled.Add(1)
			default:
				t.Errorf("write %d: %s", i, r)
			}
		}()
	}
	close(start)
	wg.Wait()
	t.Logf("40 concurrent writes with both read regions cut off: %d acknowledged, %d throttled (K = %d)", ok.Load(), throttled.Load(), K)
	if ok.Load() > K {
		// Confirm the lag is real: the whole batch is in the write region.
		docs, r := queryRaw(t, c, west, `SELECT * FROM c WHERE STARTSWITH(c.id, "c")`, nil)
		require.Equal(t, 200, r.Status)
		t.Fatalf("BS-F1 under concurrency: %d writes were acknowledged (%d items now in West US) while both read regions "+
			"were cut off, with K = %d. admitWrite checks head - acked against K before p.Write, without serializing the "+
			"check with the write, so concurrent writers all pass it", ok.Load(), len(docs), K)
	}
	require.LessOrEqual(t, ok.Load(), int64(K))
}

// cutOffEastBeforeX1 starts a bounded-staleness account (K = 1000,
// T = 2 s), writes x = 0 everywhere, cuts East US off from West US (at
// the returned time) and writes x = 1 in West US.
func cutOffEastBeforeX1(t *testing.T) (*testcluster.Cluster, time.Time) {
	t.Helper()
	c := testcluster.Start(t, testcluster.Options{Consistency: "BoundedStaleness", K: 1000, T: 2, RTTScale: 0.1})
	setup(t, c)
	r := upsertRaw(t, c, west, "p", valDoc("x", "p", 0), nil)
	require.True(t, isOK(r), "%s", r)
	syncAll(t, c, "s0")

	c.Net.Partition(west, east)
	cut := time.Now()
	r = upsertRaw(t, c, west, "p", valDoc("x", "p", 1), nil)
	require.True(t, isOK(r), "%s", r)
	return c, cut
}

// TestBoundedStalenessTimeBound is BS-F2 and the time half of C7/C8: with
// East US cut off from West US, (1) East US stops serving reads once it has
// not heard from the write region for T, and not much before (it refuses
// with 503, and the SDK's read then succeeds in another region); (2) the
// write region stops acknowledging writes once East US is T behind (429).
// After healing both recover.
func TestBoundedStalenessTimeBound(t *testing.T) {
	const T = 2 * time.Second
	c, cut := cutOffEastBeforeX1(t)
	// East US misses x=1, committed in West US between cut and firstMissed.
	firstMissed := time.Now()
	const eps = 150 * time.Millisecond

	var wg sync.WaitGroup
	var first503 time.Time
	wg.Add(1)
	go func() { // reads in East US
		defer wg.Done()
		deadline := time.Now().Add(T + 5*time.Second)
		for time.Now().Before(deadline) {
			inv := time.Now()
			v, ok, r := readVal(t, c, east, "p", "x", "", "")
			if ok {
				require.Equal(t, 0, v, "East US cannot have x=1")
				require.False(t, inv.After(firstMissed.Add(T+eps)),
					"BS-F2: East US served x=0 at %v after missing x=1 (T = %v)", inv.Sub(firstMissed), T)
				time.Sleep(20 * time.Millisecond)
				continue
			}
			require.Equal(t, 503, r.Status, "%s", r)
			first503 = time.Now()
			return
		}
		t.Errorf("East US never refused reads after being cut off for %v", T+5*time.Second)
	}()
	var firstThrottle time.Time
	var throttleMsg rawResp
	wg.Add(1)
	go func() { // writes in West US
		defer wg.Done()
		deadline := time.Now().Add(T + 5*time.Second)
		for v := 2; time.Now().Before(deadline); v++ {
			r := upsertRaw(t, c, west, "p", valDoc("y", "p", v), nil)
			if isOK(r) {
				require.False(t, time.Now().After(firstMissed.Add(T+eps)),
					"a write was acknowledged %v after East US stopped acknowledging (T = %v)", time.Since(firstMissed), T)
				time.Sleep(100 * time.Millisecond)
				continue
			}
			requireThrottled(t, r)
			firstThrottle, throttleMsg = time.Now(), r
			return
		}
		t.Errorf("writes were never throttled with East US cut off for %v", T+5*time.Second)
	}()
	wg.Wait()
	require.False(t, first503.IsZero() || firstThrottle.IsZero())
	require.GreaterOrEqual(t, first503.Sub(cut), T-100*time.Millisecond, "East US refused reads before T had passed")
	require.GreaterOrEqual(t, firstThrottle.Sub(cut), T, "writes were throttled before East US was T behind")
	require.Contains(t, string(throttleMsg.Body), "East US")
	t.Logf("cut at 0: East US refuses reads at %v; West US throttles writes at %v: %s",
		first503.Sub(cut).Round(time.Millisecond), firstThrottle.Sub(cut).Round(time.Millisecond), throttleMsg)

	// The SDK, preferring East US, reads elsewhere.
	ctx := ctxT(t)
	var resp *http.Response
	rr, err := container(t, c.Client(east, europe)).ReadItem(policy.WithCaptureResponse(ctx, &resp), pk("p"), "x", nil)
	require.NoError(t, err)
	require.NotEqual(t, east, resp.Header.Get("x-meridian-region"))
	require.Equal(t, 1, valueOf(t, rr.Value))

	c.Net.Heal(west, east)
	eventually(t, 10*time.Second, 20*time.Millisecond, "East US serves reads again, up to date", func() (bool, string) {
		v, ok, r := readVal(t, c, east, "p", "x", "", "")
		return ok && v == 1, r.String()
	})
	eventually(t, 10*time.Second, 50*time.Millisecond, "writes accepted again", func() (bool, string) {
		r := upsertRaw(t, c, west, "p", valDoc("x", "p", 2), nil)
		return isOK(r), r.String()
	})
}

// TestBoundedStalenessMonotonicReads is BS-F3 and C6 under load with the
// dev round trips: one writer writes x = 1, 2, ... as fast as the bound
// lets it (retrying 429s); readers in each read region check that reads in
// a region never go backwards and never lag the last acknowledged write
// by more than K. Halfway, East US is cut off for a while.
func TestBoundedStalenessMonotonicReads(t *testing.T) {
	const K = 5
	c := testcluster.Start(t, testcluster.Options{Consistency: "BoundedStaleness", K: K, T: 5, RTTScale: 1})
	setup(t, c)

	type ack struct {
		v  int
		at time.Time
	}
	var mu sync.Mutex
	var acks []ack
	// ackedBefore is the last value acknowledged before t.
	ackedBefore := func(t0 time.Time) int {
		mu.Lock()
		defer mu.Unlock()
		best := 0
		for _, a := range acks {
			if a.at.Before(t0) {
				best = a.v
			}
		}
		return best
	}
	lastAcked := func() int {
		mu.Lock()
		defer mu.Unlock()
		if len(acks) == 0 {
			return 0
		}
		return acks[len(acks)-1].v
	}
	bg := newBackground(t)
	var throttled atomic.Int64
	bg.Go(func() {
		for v := 1; !bg.Stopped(); {
			r := upsertRaw(t, c, west, "p", valDoc("x", "p", v), nil)
			if isOK(r) {
				mu.Lock()
				acks = append(acks, ack{v, time.Now()})
				mu.Unlock()
				v++
				continue
			}
			requireThrottled(t, r)
			throttled.Add(1)
			ms, _ := strconv.Atoi(r.Header.Get("x-ms-retry-after-ms"))
			time.Sleep(time.Duration(ms) * time.Millisecond / 4)
		}
	})
	type read struct {
		v        int
		inv, ret time.Time
	}
	reads := map[string][]read{}
	var unavailable atomic.Int64
	for _, region := range []string{east, east, europe, europe} {
		bg.Go(func() {
			for !bg.Stopped() {
				inv := time.Now()
				bound := ackedBefore(inv) - K
				v, ok, r := readVal(t, c, region, "p", "x", "", "")
				if !ok && r.Status == 404 && r.Substatus == "" {
					v, ok = 0, true
				}
				if !ok {
					require.Equal(t, 503, r.Status, "%s: %s", region, r)
					unavailable.Add(1)
					continue
				}
				require.GreaterOrEqual(t, v, bound, "C6: read in %s returned x=%d; x=%d was acknowledged before the read began (K = %d)", region, v, bound+K, K)
				mu.Lock()
				reads[region] = append(reads[region], read{v, inv, time.Now()})
				mu.Unlock()
				time.Sleep(time.Millisecond)
			}
		})
	}
	eventually(t, 10*time.Second, 10*time.Millisecond, "writes before the partition", func() (bool, string) {
		return lastAcked() >= 50, fmt.Sprint(lastAcked())
	})
	c.Net.Partition(west, east)
	atCut, throttledAtCut := lastAcked(), throttled.Load()
	// East US holds at most what was acknowledged at the cut, so at most
	// K more writes can be acknowledged until it is back.
	eventually(t, 5*time.Second, 10*time.Millisecond, "the writer is throttled with East US cut off", func() (bool, string) {
		return throttled.Load() > throttledAtCut+20, fmt.Sprintf("acked %d, cut at %d", lastAcked(), atCut)
	})
	require.LessOrEqual(t, lastAcked(), atCut+K, "BS-F1: more than K writes acknowledged while East US was cut off")
	c.Net.Heal(west, east)
	eventually(t, 10*time.Second, 10*time.Millisecond, "writes resume after healing", func() (bool, string) {
		return lastAcked() >= atCut+K+30, fmt.Sprint(lastAcked())
	})
	bg.Stop()

	// BS-F3: within a region, a read that began after another finished
	// never returns an older value.
	for region, rs := range reads {
		tr := make([]timedRead, len(rs))
		for i, r := range rs {
			tr[i] = timedRead{r.v, r.inv, r.ret}
		}
		require.Empty(t, nonMonotonic(tr), "BS-F3 in %s", region)
	}
	t.Logf("%d writes acknowledged, %d throttled; reads: East US %d, North Europe %d, %d refused (503)",
		lastAcked(), throttled.Load(), len(reads[east]), len(reads[europe]), unavailable.Load())
}

// TestBoundedStalenessAfterHeal is BS-F2 right after a partition heals:
// the cut-off region hears the write region again at once, but its data is
// still as old as the partition until its log catches up. Until then it
// must not serve reads (the torture harness caught one such stale read);
// from the heal on, every read East US serves has x = 1, written more than
// T before.
func TestBoundedStalenessAfterHeal(t *testing.T) {
	const T = 2 * time.Second
	c, _ := cutOffEastBeforeX1(t)
	// More writes East US must catch up on after the heal.
	for i := range 50 {
		r := upsertRaw(t, c, west, "p", valDoc(fmt.Sprintf("f%d", i), "p", i), nil)
		require.True(t, isOK(r), "%s", r)
	}
	time.Sleep(T + 500*time.Millisecond)
	c.Net.Heal(west, east)
	deadline := time.Now().Add(3 * time.Second)
	served := 0
	for time.Now().Before(deadline) {
		v, ok, r := readVal(t, c, east, "p", "x", "", "")
		if !ok {
			require.Equal(t, 503, r.Status, "%s", r)
			continue
		}
		require.Equal(t, 1, v, "East US served x = %d after the heal; x = 1 was acknowledged more than T = %v before", v, T)
		served++
	}
	require.Positive(t, served, "East US never served a read after the heal")
}
