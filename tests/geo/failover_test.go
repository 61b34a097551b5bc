package geo_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/stretchr/testify/require"

	"github.com/meridiandb/meridian/internal/auth"
	"github.com/meridiandb/meridian/internal/region"
	"github.com/meridiandb/meridian/internal/testcluster"
)

// Regional failover (issue "Regional outages", semantics §5, FO-*
// histories), on an in-process account with the simulated WAN. The
// multi-process randomized version (SIGKILL) is in tests/e2e.

// failoverCluster starts the dev layout with automatic failover on.
func failoverCluster(t *testing.T, consistency string) *testcluster.Cluster {
	t.Helper()
	c := testcluster.Start(t, testcluster.Options{
		Consistency: consistency, RTTScale: 0.25, SessionWait: 2 * time.Second, SyncTimeout: 5 * time.Second,
		Control: region.ControlConfig{DetectTimeout: 1500 * time.Millisecond},
	})
	setup(t, c)
	return c
}

// writeRegionIs waits until region accepts a write and answers it.
func awaitWritable(t *testing.T, c *testcluster.Cluster, regionName string, within time.Duration) (time.Duration, rawResp) {
	t.Helper()
	start := time.Now()
	var last rawResp
	eventually(t, within, 20*time.Millisecond, "a write accepted in "+regionName, func() (bool, string) {
		last = upsertRaw(t, c, regionName, "probe", valDoc("probe", "probe", 1), nil)
		return last.Status == 200 || last.Status == 201, last.String()
	})
	return time.Since(start), last
}

// TestFailoverSyncedWritesSurvive is FO-A1 in process: every write
// acknowledged after x-meridian-sync-regions named a surviving region is
// present after the write region crashes and the survivors fail over; the
// account document names the new write region; the epoch (session-token
// version) grows; a token of a synced write stays valid.
func TestFailoverSyncedWritesSurvive(t *testing.T) {
	c := failoverCluster(t, "Session")
	var acked []string
	var lastToken string
	for i := range 40 {
		id := fmt.Sprintf("s%d", i)
		r := upsertRaw(t, c, west, "p", valDoc(id, "p", i), map[string]string{"x-meridian-sync-regions": east})
		require.Contains(t, []int{200, 201}, r.Status, r.String())
		acked = append(acked, id)
		lastToken = r.Header.Get("x-ms-session-token")
	}
	v0, _ := tokenLSN(t, lastToken)
	killed := time.Now()
	c.Kill(west)
	_, probe := awaitWritable(t, c, east, 20*time.Second)
	firstWrite := time.Now()
	st := rawDo(t, c, east, http.MethodGet, "", "_meridian/status", "/_meridian/status", nil, nil)
	var status struct {
		Control struct {
			Failovers []struct {
				FencedAt, PromotedAt time.Time
			}
		}
	}
	require.NoError(t, json.Unmarshal(st.Body, &status))
	require.Len(t, status.Control.Failovers, 1, string(st.Body))
	fo := status.Control.Failovers[0]
	t.Logf("RTO (kill → first write accepted in %s): %v = detect and elect %v + fence to promote %v + promote to first write %v (detection timeout 1.5s)",
		east, firstWrite.Sub(killed).Round(time.Millisecond), fo.FencedAt.Sub(killed).Round(time.Millisecond),
		fo.PromotedAt.Sub(fo.FencedAt).Round(time.Millisecond), firstWrite.Sub(fo.PromotedAt).Round(time.Millisecond))
	v1, _ := tokenLSN(t, probe.Header.Get("x-ms-session-token"))
	require.Greater(t, v1, v0, "the session-token version (epoch) must grow on failover")
	require.Equal(t, east, c.WriteRegion())

	for _, id := range acked {
		r := readRaw(t, c, east, "p", id, "", "")
		require.Equal(t, 200, r.Status, "synced write %s lost: %s", id, r)
	}
	// A token covering only surviving writes stays valid in every survivor.
	for _, reg := range []string{east, europe} {
		r := readRaw(t, c, reg, "p", acked[len(acked)-1], "Session", lastToken)
		require.Equal(t, 200, r.Status, "%s with the last synced write's token: %s", reg, r)
	}
	// The account document follows.
	acct := rawDo(t, c, europe, http.MethodGet, "", "", "/", nil, nil)
	require.Equal(t, 200, acct.Status)
	var doc struct {
		Writable []struct{ Name string } `json:"writableLocations"`
	}
	require.NoError(t, json.Unmarshal(acct.Body, &doc))
	require.Len(t, doc.Writable, 1)
	require.Equal(t, east, doc.Writable[0].Name)
	// Europe follows the new write region.
	eventually(t, 10*time.Second, 20*time.Millisecond, "europe replicates the new write region", func() (bool, string) {
		_, ok, r := readVal(t, c, europe, "probe", "probe", "", "")
		return ok, r.String()
	})
}

// TestFailoverStrongLosesNothing is FO-F4: at Strong every acknowledged
// write is held by the quorum before it is acknowledged, so losing the
// write region loses none of them.
func TestFailoverStrongLosesNothing(t *testing.T) {
	c := failoverCluster(t, "Strong")
	var acked []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
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
				if st := tryUpsert(c, west, "p", valDoc(id, "p", i)); st != 200 && st != 201 {
					return // the region is gone
				}
				mu.Lock()
				acked = append(acked, id)
				mu.Unlock()
			}
		}()
	}
	time.Sleep(700 * time.Millisecond)
	c.Kill(west)
	close(stop)
	wg.Wait()
	awaitWritable(t, c, east, 20*time.Second)
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, acked)
	for _, id := range acked {
		for _, reg := range []string{east, europe} {
			v, ok, r := readVal(t, c, reg, "p", id, "Strong", "")
			require.True(t, ok, "Strong write %s acknowledged before the crash is missing in %s: %s", id, reg, r)
			_ = v
		}
	}
	t.Logf("%d Strong writes acknowledged before the write region crashed; none lost", len(acked))
}

// TestFailoverFencesIsolatedWriter is FO-F3 and FO-F2: the write region,
// cut off from every other region while it keeps running, stops accepting
// writes within its lease; the survivors fail over; when the partition
// heals the deposed region refuses writes, rejoins as a read region, and
// the writes it acknowledged that no survivor held are removed, published
// once to the conflicts feed, and their session tokens get 404/1002.
func TestFailoverFencesIsolatedWriter(t *testing.T) {
	c := failoverCluster(t, "Session")
	for i := range 5 {
		r := upsertRaw(t, c, west, "p", valDoc(fmt.Sprintf("base%d", i), "p", i), map[string]string{"x-meridian-sync-regions": east + "," + europe})
		require.Contains(t, []int{200, 201}, r.Status, r.String())
	}
	c.Net.Isolate(west)
	cut := time.Now()
	// Writes acknowledged in the lease window are durable only in West.
	var lost []string
	var lostToken string
	for i := 0; ; i++ {
		id := fmt.Sprintf("lost%d", i)
		r := upsertRaw(t, c, west, "p", valDoc(id, "p", i), nil)
		if r.Status != 200 && r.Status != 201 {
			require.Equal(t, 403, r.Status, "an isolated write region refuses writes with 403/3: %s", r)
			require.Equal(t, "3", r.Substatus, r.String())
			break
		}
		lost = append(lost, id)
		lostToken = r.Header.Get("x-ms-session-token")
		require.Less(t, time.Since(cut), 2*time.Second, "the isolated write region kept accepting writes past its lease")
	}
	t.Logf("writes acknowledged by the isolated write region before its lease lapsed: %d (in %v)", len(lost), time.Since(cut).Round(time.Millisecond))

	awaitWritable(t, c, east, 20*time.Second)
	// FO-F3: West never accepts a write again under the old epoch, even
	// once it hears from the others.
	r := upsertRaw(t, c, west, "p", valDoc("zombie", "p", 1), nil)
	require.Equal(t, 403, r.Status, "deposed write region accepted a write: %s", r)
	c.Net.Rejoin(west)
	eventually(t, 20*time.Second, 50*time.Millisecond, "west rejoins as a read region", func() (bool, string) {
		st := rawDo(t, c, west, http.MethodGet, "", "_meridian/status", "/_meridian/status", nil, nil)
		var s struct {
			Role    string
			Control struct{ Regions map[string]string }
		}
		_ = json.Unmarshal(st.Body, &s)
		return s.Role == "read" && s.Control.Regions[west] == "Healthy", string(st.Body[:min(300, len(st.Body))])
	})
	r = upsertRaw(t, c, west, "p", valDoc("zombie", "p", 1), nil)
	require.Equal(t, 403, r.Status, "rejoined read region accepted a write: %s", r)

	// FO-F2: each write the isolated region acknowledged either reached a
	// survivor before the cut (then it survived everywhere) or is in the
	// conflicts feed exactly once, in every region, and in no region's data.
	var survived, removed []string
	for _, id := range lost {
		if _, ok, _ := readVal(t, c, east, "p", id, "Eventual", ""); ok {
			survived = append(survived, id)
		} else {
			removed = append(removed, id)
		}
	}
	t.Logf("of %d writes acknowledged only locally: %d had replicated before the cut, %d removed by the failover", len(lost), len(survived), len(removed))
	require.NotEmpty(t, removed, "the test meant to leave writes that only the isolated region held")
	for _, reg := range []string{east, europe, west} {
		eventually(t, 10*time.Second, 50*time.Millisecond, "conflicts feed in "+reg, func() (bool, string) {
			got, why := conflictIDs(t, c, reg)
			if why != "" {
				return false, why
			}
			want := slices.Clone(removed)
			slices.Sort(want)
			return slices.Equal(got, want), fmt.Sprintf("feed %d records, removed %d", len(got), len(want))
		})
		for _, id := range removed {
			_, ok, rr := readVal(t, c, reg, "p", id, "Eventual", "")
			require.False(t, ok, "removed write %s readable in %s: %s", id, reg, rr)
		}
		for _, id := range survived {
			eventually(t, 10*time.Second, 20*time.Millisecond, id+" in "+reg, func() (bool, string) {
				_, ok, rr := readVal(t, c, reg, "p", id, "Eventual", "")
				return ok, rr.String()
			})
		}
		for i := range 5 {
			_, ok, rr := readVal(t, c, reg, "p", fmt.Sprintf("base%d", i), "Eventual", "")
			require.True(t, ok, "synced write base%d missing in %s: %s", i, reg, rr)
		}
	}
	if lostToken != "" {
		for _, reg := range []string{east, europe, west} {
			rr := readRaw(t, c, reg, "p", removed[len(removed)-1], "Session", lostToken)
			require.Equal(t, 404, rr.Status, "a token covering lost writes must get 404/1002 in %s: %s", reg, rr)
			require.Equal(t, "1002", rr.Substatus, rr.String())
		}
	}
}

// TestManualFailoverLosesNothing is FO-A3: a planned failover under a
// continuous writer loses no acknowledged write, at Session and at
// Eventual (the weakest level: no write waits for another region).
func TestManualFailoverLosesNothing(t *testing.T) {
	for _, level := range []string{"Eventual", "Strong"} {
		t.Run(level, func(t *testing.T) {
			c := failoverCluster(t, level)
			var (
				mu    sync.Mutex
				acked []string
			)
			stop := make(chan struct{})
			done := make(chan struct{})
			go func() {
				defer close(done)
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					id := fmt.Sprintf("m%d", i)
					for _, reg := range []string{west, east} {
						if st := tryUpsert(c, reg, "p", valDoc(id, "p", i)); st == 200 || st == 201 {
							mu.Lock()
							acked = append(acked, id)
							mu.Unlock()
							break
						}
					}
				}
			}()
			time.Sleep(300 * time.Millisecond)
			st := rawDo(t, c, europe, http.MethodPost, "", "_meridian/failover", "/_meridian/failover", []byte(`{"writeRegion":"East US"}`), nil)
			require.Equal(t, 200, st.Status, st.String())
			time.Sleep(300 * time.Millisecond)
			close(stop)
			<-done
			require.Equal(t, east, c.WriteRegion())
			r := upsertRaw(t, c, west, "p", valDoc("after", "p", 1), nil)
			require.Equal(t, 403, r.Status, "old write region accepted a write after the failover: %s", r)
			mu.Lock()
			defer mu.Unlock()
			require.NotEmpty(t, acked)
			for _, reg := range []string{east, west, europe} {
				eventually(t, 10*time.Second, 50*time.Millisecond, "every acknowledged write in "+reg, func() (bool, string) {
					var missing []string
					for _, id := range acked {
						if _, ok, _ := readVal(t, c, reg, "p", id, "Eventual", ""); !ok {
							missing = append(missing, id)
						}
					}
					return len(missing) == 0, strings.Join(missing, ",")
				})
			}
			t.Logf("%d writes acknowledged across the planned failover, none lost", len(acked))
		})
	}
}

// conflictIDs lists the resourceIds of a container's conflicts feed in one
// region, following continuation tokens; why is set if it cannot.
func conflictIDs(t *testing.T, c *testcluster.Cluster, reg string) (ids []string, why string) {
	cont := ""
	for {
		var hdr map[string]string
		if cont != "" {
			hdr = map[string]string{"x-ms-continuation": cont}
		}
		cr := rawDo(t, c, reg, http.MethodGet, "conflicts", "dbs/db/colls/c", "/dbs/db/colls/c/conflicts", nil, hdr)
		if cr.Status != 200 {
			return nil, cr.String()
		}
		var feed struct {
			Conflicts []struct {
				ResourceID    string `json:"resourceId"`
				OperationType string `json:"operationType"`
				Content       string `json:"content"`
			} `json:"Conflicts"`
		}
		require.NoError(t, json.Unmarshal(cr.Body, &feed), string(cr.Body))
		for _, cf := range feed.Conflicts {
			require.NotEmpty(t, cf.Content, "a lost upsert's record carries the version")
			ids = append(ids, cf.ResourceID)
		}
		if cont = cr.Header.Get("x-ms-continuation"); cont == "" {
			break
		}
	}
	slices.Sort(ids)
	return ids, ""
}

// tryUpsert upserts doc in one region from any goroutine: the status, or
// -1 when the request failed (a killed region).
func tryUpsert(c *testcluster.Cluster, region, p string, doc []byte) int {
	req, err := http.NewRequest(http.MethodPost, strings.TrimSuffix(c.Endpoint(region), "/")+"/dbs/db/colls/c/docs", bytes.NewReader(doc))
	if err != nil {
		return -1
	}
	date := time.Now().UTC().Format(http.TimeFormat)
	req.Header.Set("x-ms-date", date)
	req.Header.Set("x-ms-version", "2020-11-05")
	req.Header.Set("Authorization", auth.Sign(auth.MustDecodeKey(auth.EmulatorKey), http.MethodPost, "docs", "dbs/db/colls/c", date))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-ms-documentdb-partitionkey", pkHeader(p))
	req.Header.Set("x-ms-documentdb-is-upsert", "true")
	resp, err := rawHTTP.Do(req)
	if err != nil {
		return -1
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// TestFailoverSDKFollows: a Go SDK client that prefers the write region
// keeps working through a failover, with no change to the application,
// provided its account endpoint is not the region that died: azcosmos
// v1.5.0 refreshes the account (GET / on the client endpoint) when a
// region's read fails to connect (it marks it unavailable) or a write gets
// 403/3, and then routes writes to the new write region. A write that
// cannot connect alone triggers no refresh in a single-write account; the
// application's next read does.
func TestFailoverSDKFollows(t *testing.T) {
	c := failoverCluster(t, "Session")
	cred, err := azcosmos.NewKeyCredential(auth.EmulatorKey)
	require.NoError(t, err)
	cl, err := azcosmos.NewClientWithKey(c.Endpoint(europe), cred, &azcosmos.ClientOptions{PreferredRegions: []string{west, east, europe}})
	require.NoError(t, err)
	co := container(t, cl)
	ctx := ctxT(t)
	for i := range 5 {
		_, err := co.UpsertItem(ctx, pk("p"), valDoc(fmt.Sprintf("before%d", i), "p", i), nil)
		require.NoError(t, err)
	}
	c.Kill(west)
	start := time.Now()
	for time.Since(start) < 30*time.Second {
		if _, err = co.UpsertItem(ctx, pk("p"), valDoc("after", "p", 1), nil); err == nil {
			break
		}
		// What an application does anyway: read (here the item it wrote
		// before); the read fails over to East US and the SDK refreshes.
		_, _ = co.ReadItem(ctx, pk("p"), "before0", nil)
		time.Sleep(100 * time.Millisecond)
	}
	require.NoError(t, err, "the SDK never wrote again after the failover")
	t.Logf("the SDK client wrote again %v after the write region crashed", time.Since(start).Round(time.Millisecond))
	_, ok, r := readVal(t, c, east, "p", "after", "", "")
	require.True(t, ok, r.String())
}

// TestFailoverWithoutContainers: an account with no container yet (nothing
// to catch up) fails over too, planned and automatic.
func TestFailoverWithoutContainers(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{RTTScale: 0.25, Control: region.ControlConfig{DetectTimeout: 1500 * time.Millisecond}})
	st := rawDo(t, c, europe, http.MethodPost, "", "_meridian/failover", "/_meridian/failover", []byte(`{"writeRegion":"East US"}`), nil)
	require.Equal(t, 200, st.Status, st.String())
	eventually(t, 10*time.Second, 20*time.Millisecond, "a database created in East US", func() (bool, string) {
		r := rawDo(t, c, east, http.MethodPost, "dbs", "", "/dbs", []byte(`{"id":"db"}`), nil)
		return r.Status == 201, r.String()
	})
	c.Kill(east)
	eventually(t, 20*time.Second, 50*time.Millisecond, "a database created after East US crashed", func() (bool, string) {
		for _, reg := range []string{west, europe} {
			if r := rawDo(t, c, reg, http.MethodPost, "dbs", "", "/dbs", []byte(`{"id":"db2"}`), nil); r.Status == 201 {
				return true, ""
			}
		}
		return false, "no region accepted the write"
	})
}
