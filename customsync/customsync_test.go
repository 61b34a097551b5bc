package customsync_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/stretchr/testify/require"

	"github.com/meridiandb/meridian/customsync"
	"github.com/meridiandb/meridian/internal/auth"
	"github.com/meridiandb/meridian/internal/testcluster"
)

const (
	west   = "West US"
	east   = "East US"
	europe = "North Europe"
)

// exchange is one HTTP exchange seen by a recorder.
type exchange struct {
	method, host, path string
	status             int
	substatus, region  string
	sessionToken       string
}

// recorder is an SDK transport that records every exchange, so tests can
// check independently of the package where each read really went.
type recorder struct {
	mu  sync.Mutex
	log []exchange
}

func (r *recorder) Do(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.log = append(r.log, exchange{
		method: req.Method, host: req.URL.Host, path: req.URL.Path, status: resp.StatusCode,
		substatus: resp.Header.Get("x-ms-substatus"), region: resp.Header.Get(customsync.HeaderRegion),
		sessionToken: req.Header.Get("x-ms-session-token"),
	})
	r.mu.Unlock()
	return resp, nil
}

func (r *recorder) reset() {
	r.mu.Lock()
	r.log = nil
	r.mu.Unlock()
}

func (r *recorder) exchanges() []exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.log)
}

// env is a running cluster with database "db", container "c" (/pk), a
// writer client and one reader client per read region, all recording.
type env struct {
	c       *testcluster.Cluster
	rec     *recorder
	writer  *azcosmos.ContainerClient
	readers map[string]*azcosmos.ContainerClient
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// containerFor builds a client bootstrapped through the write region that
// prefers region, and returns its container "db"/"c".
func (e *env) containerFor(t *testing.T, region string) *azcosmos.ContainerClient {
	t.Helper()
	cred, err := azcosmos.NewKeyCredential(auth.EmulatorKey)
	require.NoError(t, err)
	cl, err := azcosmos.NewClientWithKey(e.c.Endpoint(e.c.WriteRegion()), cred, &azcosmos.ClientOptions{
		PreferredRegions: []string{region},
		ClientOptions:    policy.ClientOptions{Transport: e.rec, Retry: policy.RetryOptions{MaxRetries: 2}},
	})
	require.NoError(t, err)
	co, err := cl.NewContainer("db", "c")
	require.NoError(t, err)
	return co
}

func start(t *testing.T, opts testcluster.Options) *env {
	t.Helper()
	e := &env{c: testcluster.Start(t, opts), rec: &recorder{}}
	ctx := ctxT(t)
	w := e.c.Client(west)
	_, err := w.CreateDatabase(ctx, azcosmos.DatabaseProperties{ID: "db"}, nil)
	require.NoError(t, err)
	db, err := w.NewDatabase("db")
	require.NoError(t, err)
	_, err = db.CreateContainer(ctx, azcosmos.ContainerProperties{ID: "c", PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: []string{"/pk"}}}, nil)
	require.NoError(t, err)
	e.writer = e.containerFor(t, west)
	e.readers = map[string]*azcosmos.ContainerClient{east: e.containerFor(t, east), europe: e.containerFor(t, europe)}
	// Metadata responses do not carry x-meridian-region: check the host.
	hosts := e.hostRegion()
	for region, co := range e.readers {
		require.Eventually(t, func() bool {
			var resp *http.Response
			_, err := co.Read(policy.WithCaptureResponse(ctx, &resp), nil)
			return err == nil && hosts[resp.Request.URL.Host] == region
		}, 20*time.Second, 10*time.Millisecond, "container never appeared in %s", region)
	}
	e.rec.reset()
	return e
}

func pk(s string) azcosmos.PartitionKey { return azcosmos.NewPartitionKeyString(s) }

// hostRegion maps client hosts to region names.
func (e *env) hostRegion() map[string]string {
	m := map[string]string{}
	for _, r := range e.c.Topo.Regions {
		m[r.Endpoint] = r.Name
	}
	return m
}

// requireConfirmedBy checks, from the recorded traffic, that for every
// target region some read or query carrying token went to that region's
// endpoint and was answered 200 by that region.
func (e *env) requireConfirmedBy(t *testing.T, token string, regions ...string) {
	t.Helper()
	hosts := e.hostRegion()
	for _, region := range regions {
		ok := false
		for _, x := range e.rec.exchanges() {
			if x.sessionToken == token && hosts[x.host] == region && x.region == region && x.status == 200 {
				ok = true
			}
		}
		require.True(t, ok, "no 200 from %s to a read carrying %s; traffic: %+v", region, token, e.rec.exchanges())
	}
}

// readEventual reads id in region without a token: what the region holds.
func (e *env) readEventual(t *testing.T, ctx context.Context, region, p, id string) (map[string]any, int) {
	t.Helper()
	co := e.writer
	if region != west {
		co = e.readers[region]
	}
	var resp *http.Response
	r, err := co.ReadItem(policy.WithCaptureResponse(ctx, &resp), pk(p), id, &azcosmos.ItemOptions{ConsistencyLevel: azcosmos.ConsistencyLevelEventual.ToPtr()})
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return nil, re.StatusCode
	}
	require.NoError(t, err)
	require.Equal(t, region, resp.Header.Get(customsync.HeaderRegion), "the check read must be served by %s", region)
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.Value, &m))
	return m, 200
}

func TestSyncEveryOperation(t *testing.T) {
	e := start(t, testcluster.Options{}) // dev round trips: West-East 60 ms, West-Europe 140 ms
	ctx := ctxT(t)
	s, err := customsync.New(e.writer, e.readers, &customsync.Options{Timeout: 10 * time.Second})
	require.NoError(t, err)
	require.Equal(t, []string{east, europe}, s.Regions())

	check := func(op string, res customsync.Result, err error) {
		t.Helper()
		require.NoError(t, err, op)
		require.Len(t, res.Confirmed, 2, op)
		require.NotNil(t, res.Response.SessionToken)
		e.requireConfirmedBy(t, *res.Response.SessionToken, east, europe)
		t.Logf("%-7s write %6.1f ms, East US %6.1f ms, North Europe %6.1f ms", op,
			ms(res.Write), ms(res.Confirmed[east]), ms(res.Confirmed[europe]))
	}

	res, err := s.CreateItem(ctx, pk("p"), []byte(`{"id":"a","pk":"p","v":1}`), nil)
	check("create", res, err)
	require.Equal(t, 201, res.Response.RawResponse.StatusCode)
	for _, r := range []string{east, europe} {
		doc, st := e.readEventual(t, ctx, r, "p", "a")
		require.Equal(t, 200, st)
		require.EqualValues(t, 1, doc["v"], "present in %s without a token once confirmed", r)
	}

	res, err = s.UpsertItem(ctx, pk("p"), []byte(`{"id":"a","pk":"p","v":2}`), nil)
	check("upsert", res, err)
	res, err = s.ReplaceItem(ctx, pk("p"), "a", []byte(`{"id":"a","pk":"p","v":3}`), nil)
	check("replace", res, err)
	ops := azcosmos.PatchOperations{}
	ops.AppendIncrement("/v", 10)
	res, err = s.PatchItem(ctx, pk("p"), "a", ops, nil)
	check("patch", res, err)
	for _, r := range []string{east, europe} {
		doc, st := e.readEventual(t, ctx, r, "p", "a")
		require.Equal(t, 200, st)
		require.EqualValues(t, 13, doc["v"], "the patch is in %s", r)
	}

	res, err = s.DeleteItem(ctx, pk("p"), "a", nil)
	check("delete", res, err)
	require.Equal(t, 204, res.Response.RawResponse.StatusCode)
	for _, r := range []string{east, europe} {
		_, st := e.readEventual(t, ctx, r, "p", "a")
		require.Equal(t, 404, st, "the deletion is in %s", r)
	}
	// The delete was confirmed by a 404 that is not 404/1002 from each
	// target, then a session query that target served.
	hosts := e.hostRegion()
	tok := *res.Response.SessionToken
	for _, r := range []string{east, europe} {
		saw404 := false
		for _, x := range e.rec.exchanges() {
			if x.sessionToken == tok && hosts[x.host] == r && x.method == http.MethodGet && x.status == 404 && x.substatus != "1002" {
				saw404 = true
			}
		}
		require.True(t, saw404, "no plain 404 from %s for the deleted item", r)
	}

	// Write errors come back unchanged: nothing was written.
	_, err = s.CreateItem(ctx, pk("p"), []byte(`{"id":"b","pk":"p"}`), nil)
	require.NoError(t, err)
	_, err = s.CreateItem(ctx, pk("p"), []byte(`{"id":"b","pk":"p"}`), nil)
	var re *azcore.ResponseError
	require.ErrorAs(t, err, &re)
	require.Equal(t, 409, re.StatusCode)
	var se *customsync.SyncError
	require.False(t, errors.As(err, &se))
	_, err = s.CreateItem(ctx, pk("p"), []byte(`{"pk":"p"}`), nil)
	require.ErrorContains(t, err, `no string "id"`)
}

// TestSyncPartitionedRegion: a target cut off from the write region cannot
// confirm; the SDK's fallback read in the write region is seen and not
// counted; the write exists in West US; after Heal the same write and new
// ones confirm.
func TestSyncPartitionedRegion(t *testing.T) {
	// A short session wait makes North Europe answer 404/1002 quickly, so
	// the SDK's fallback to West US really happens within the timeout.
	e := start(t, testcluster.Options{RTTScale: 0.25, SessionWait: 300 * time.Millisecond})
	ctx := ctxT(t)
	s, err := customsync.New(e.writer, e.readers, &customsync.Options{Timeout: 2 * time.Second})
	require.NoError(t, err)

	e.c.Net.Partition(west, europe)
	start := time.Now()
	res, err := s.CreateItem(ctx, pk("p"), []byte(`{"id":"cut","pk":"p","v":1}`), nil)
	took := time.Since(start)
	var se *customsync.SyncError
	require.ErrorAs(t, err, &se)
	require.Equal(t, []string{europe}, se.Missing)
	require.Contains(t, se.Confirmed, east)
	require.Equal(t, 201, se.Write.RawResponse.StatusCode, "SyncError.Write is the successful write")
	require.NotNil(t, se.Write.SessionToken)
	require.Equal(t, se.Confirmed, res.Confirmed)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	var wr *customsync.WrongRegionError
	require.ErrorAs(t, err, &wr, "the SDK fell back to the write region and the package saw it")
	require.Equal(t, west, wr.ServedBy)
	require.GreaterOrEqual(t, took, 2*time.Second, "gave up only at the timeout")
	t.Logf("partitioned: %v after %v", err, took.Round(time.Millisecond))

	// The fallback really happened on the wire, and was not counted.
	hosts := e.hostRegion()
	var sawFallback, saw1002 bool
	for _, x := range e.rec.exchanges() {
		if x.sessionToken != *se.Write.SessionToken {
			continue
		}
		saw1002 = saw1002 || (hosts[x.host] == europe && x.status == 404 && x.substatus == "1002")
		sawFallback = sawFallback || (hosts[x.host] == west && x.status == 200)
	}
	require.True(t, saw1002, "North Europe answered 404/1002")
	require.True(t, sawFallback, "the SDK retried in West US")

	// The write exists in West US (and East US), not in North Europe.
	_, st := e.readEventual(t, ctx, west, "p", "cut")
	require.Equal(t, 200, st)
	_, st = e.readEventual(t, ctx, east, "p", "cut")
	require.Equal(t, 200, st)
	_, st = e.readEventual(t, ctx, europe, "p", "cut")
	require.Equal(t, 404, st)

	e.c.Net.Heal(west, europe)
	got, err := s.Confirm(ctx, pk("p"), "cut", *se.Write.SessionToken)
	require.NoError(t, err, "the earlier write reaches North Europe after the heal")
	require.Len(t, got, 2)
	res, err = s.CreateItem(ctx, pk("p"), []byte(`{"id":"healed","pk":"p"}`), nil)
	require.NoError(t, err)
	t.Logf("after heal: write %v, confirmed %v", res.Write.Round(time.Millisecond), res.Confirmed)
	e.requireConfirmedBy(t, *res.Response.SessionToken, east, europe)

	// A delete while cut off is not confirmed either; after the heal it is,
	// and the item is absent in both targets.
	e.c.Net.Partition(west, europe)
	res, err = s.DeleteItem(ctx, pk("p"), "healed", nil)
	require.ErrorAs(t, err, &se)
	require.Equal(t, []string{europe}, se.Missing)
	_, st = e.readEventual(t, ctx, europe, "p", "healed")
	require.Equal(t, 200, st, "not deleted in North Europe yet")
	e.c.Net.Heal(west, europe)
	_, err = s.Confirm(ctx, pk("p"), "healed", *se.Write.SessionToken)
	require.NoError(t, err)
	for _, r := range []string{east, europe} {
		_, st = e.readEventual(t, ctx, r, "p", "healed")
		require.Equal(t, 404, st)
	}
	_ = res
}

// TestSyncMisroutedReader: a reader client that sends its reads to another
// region (here: no matching preferred region, so the first readable
// location, West US) never confirms its target.
func TestSyncMisroutedReader(t *testing.T) {
	e := start(t, testcluster.Options{RTTScale: -1})
	ctx := ctxT(t)
	s, err := customsync.New(e.writer, map[string]*azcosmos.ContainerClient{
		east:   e.readers[east],
		europe: e.containerFor(t, "Mars"),
	}, &customsync.Options{Timeout: 500 * time.Millisecond})
	require.NoError(t, err)
	_, err = s.UpsertItem(ctx, pk("p"), []byte(`{"id":"m","pk":"p"}`), nil)
	var se *customsync.SyncError
	require.ErrorAs(t, err, &se)
	require.Equal(t, []string{europe}, se.Missing)
	var wr *customsync.WrongRegionError
	require.ErrorAs(t, err, &wr)
	require.Equal(t, customsync.WrongRegionError{Target: europe, ServedBy: west}, *wr)
	t.Log(err)
}

// TestSyncConcurrent: many writers share one Syncer.
func TestSyncConcurrent(t *testing.T) {
	e := start(t, testcluster.Options{RTTScale: 0.25})
	ctx := ctxT(t)
	s, err := customsync.New(e.writer, e.readers, nil)
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 4 {
				id := fmt.Sprintf("w%d-%d", w, i)
				res, err := s.CreateItem(ctx, pk(fmt.Sprint(w)), []byte(`{"id":"`+id+`","pk":"`+fmt.Sprint(w)+`"}`), nil)
				if err == nil && len(res.Confirmed) != 2 {
					err = fmt.Errorf("%s confirmed in %v", id, res.Confirmed)
				}
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	for w := range 8 {
		for i := range 4 {
			for _, r := range []string{east, europe} {
				_, st := e.readEventual(t, ctx, r, fmt.Sprint(w), fmt.Sprintf("w%d-%d", w, i))
				require.Equal(t, 200, st)
			}
		}
	}
}

// TestNative: the one-round-trip variant through x-meridian-sync-regions.
func TestNative(t *testing.T) {
	e := start(t, testcluster.Options{SyncTimeout: time.Second})
	ctx := ctxT(t)
	s, err := customsync.New(e.writer, e.readers, nil)
	require.NoError(t, err)

	startT := time.Now()
	_, err = e.writer.CreateItem(s.Native(ctx), pk("p"), []byte(`{"id":"n1","pk":"p"}`), nil)
	require.NoError(t, err)
	t.Logf("native sync to East US and North Europe: %v", time.Since(startT).Round(time.Millisecond))
	for _, r := range []string{east, europe} {
		_, st := e.readEventual(t, ctx, r, "p", "n1")
		require.Equal(t, 200, st, "present in %s without a token", r)
	}
	_, err = e.writer.CreateItem(customsync.NativeMin(ctx, 1), pk("p"), []byte(`{"id":"n2","pk":"p"}`), nil)
	require.NoError(t, err)

	e.c.Net.Partition(west, europe)
	_, err = e.writer.CreateItem(customsync.Native(ctx, europe), pk("p"), []byte(`{"id":"n3","pk":"p"}`), nil)
	require.True(t, customsync.IsSyncTimeout(err), "got %v", err)
	require.Contains(t, err.Error(), europe)
	_, st := e.readEventual(t, ctx, west, "p", "n3")
	require.Equal(t, 200, st, "the timed-out write happened in West US")
	require.False(t, customsync.IsSyncTimeout(errors.New("x")))
}

func TestNewValidates(t *testing.T) {
	e := start(t, testcluster.Options{RTTScale: -1})
	_, err := customsync.New(nil, e.readers, nil)
	require.Error(t, err)
	_, err = customsync.New(e.writer, nil, nil)
	require.Error(t, err)
	_, err = customsync.New(e.writer, map[string]*azcosmos.ContainerClient{east: nil}, nil)
	require.Error(t, err)
	_, err = customsync.New(e.writer, map[string]*azcosmos.ContainerClient{east: e.readers[east], "eastus": e.readers[east]}, nil)
	require.ErrorContains(t, err, "same region")
	_, err = customsync.New(e.writer, e.readers, &customsync.Options{Timeout: -1})
	require.Error(t, err)
	s, err := customsync.New(e.writer, e.readers, &customsync.Options{})
	require.NoError(t, err)
	require.Equal(t, customsync.DefaultTimeout, s.Timeout())
}

// TestExampleFlow runs the flow of examples/customsync against an
// in-process cluster with the dev round trips: N items synced both ways,
// with the latency summary logged.
func TestExampleFlow(t *testing.T) {
	e := start(t, testcluster.Options{})
	ctx := ctxT(t)
	s, err := customsync.New(e.writer, e.readers, nil)
	require.NoError(t, err)
	const n = 20
	var twoClient, native []time.Duration
	perRegion := map[string][]time.Duration{}
	for i := range n {
		id := fmt.Sprintf("two-%02d", i)
		start := time.Now()
		res, err := s.CreateItem(ctx, pk("ex"), []byte(`{"id":"`+id+`","pk":"ex"}`), nil)
		require.NoError(t, err)
		twoClient = append(twoClient, time.Since(start))
		for r, d := range res.Confirmed {
			perRegion[r] = append(perRegion[r], d)
		}
		e.requireConfirmedBy(t, *res.Response.SessionToken, east, europe)

		id = fmt.Sprintf("nat-%02d", i)
		start = time.Now()
		_, err = e.writer.CreateItem(customsync.Native(ctx, east, europe), pk("ex"), []byte(`{"id":"`+id+`","pk":"ex"}`), nil)
		require.NoError(t, err)
		native = append(native, time.Since(start))
	}
	t.Logf("two-client pattern: %s", summary(twoClient))
	for _, r := range []string{east, europe} {
		t.Logf("  confirmation in %-12s %s", r, summary(perRegion[r]))
	}
	t.Logf("native header:      %s", summary(native))
	for _, r := range []string{east, europe} {
		for i := range n {
			for _, prefix := range []string{"two", "nat"} {
				_, st := e.readEventual(t, ctx, r, "ex", fmt.Sprintf("%s-%02d", prefix, i))
				require.Equal(t, 200, st)
			}
		}
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func summary(ds []time.Duration) string {
	s := slices.Clone(ds)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	q := func(p float64) time.Duration { return s[min(len(s)-1, int(p*float64(len(s))))] }
	return strings.Join([]string{
		fmt.Sprintf("n=%d", len(s)),
		fmt.Sprintf("p50=%.1fms", ms(q(0.5))),
		fmt.Sprintf("p99=%.1fms", ms(q(0.99))),
		fmt.Sprintf("max=%.1fms", ms(s[len(s)-1])),
	}, " ")
}

// TestSyncMissingContainerIsNotAConfirmation: a region that has not
// received a new container yet answers a session read for its first item
// with 404/0 (not 404/1002) and without saying who served it. That 404
// must not count as a confirmation.
func TestSyncMissingContainerIsNotAConfirmation(t *testing.T) {
	e := start(t, testcluster.Options{RTTScale: -1, SessionWait: 200 * time.Millisecond})
	ctx := ctxT(t)
	e.c.Net.Partition(west, europe)
	db, err := e.c.Client(west).NewDatabase("db")
	require.NoError(t, err)
	_, err = db.CreateContainer(ctx, azcosmos.ContainerProperties{ID: "fresh", PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: []string{"/pk"}}}, nil)
	require.NoError(t, err)
	client := func(region string) *azcosmos.ContainerClient {
		co, err := e.c.Client(region).NewContainer("db", "fresh")
		require.NoError(t, err)
		return co
	}
	s, err := customsync.New(client(west), map[string]*azcosmos.ContainerClient{east: client(east), europe: client(europe)},
		&customsync.Options{Timeout: time.Second})
	require.NoError(t, err)
	_, err = s.CreateItem(ctx, pk("p"), []byte(`{"id":"first","pk":"p"}`), nil)
	var se *customsync.SyncError
	require.ErrorAs(t, err, &se)
	require.Equal(t, []string{europe}, se.Missing)
	t.Log(err)

	e.c.Net.Heal(west, europe)
	_, err = s.Confirm(ctx, pk("p"), "first", *se.Write.SessionToken)
	require.NoError(t, err)
}
