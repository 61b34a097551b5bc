package geo_test

// Session consistency (semantics doc §2.3, §3, checklist C10-C15) on a
// three-region single-write account, with the Go SDK (which has no
// session container: the caller carries tokens) and raw requests pinned
// to one region.

import (
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

// TestSessionReadYourWrites is SE-F1/SE-A2 (C10): a read in another region
// carrying the write's token returns that write (never ⊥, never the
// previous version), served by that region after waiting for replication,
// so never sooner than the one-way delay from the write region. Deletes
// too: after a delete, a read with its token is 404, never the old item.
func TestSessionReadYourWrites(t *testing.T) {
	const scale = 0.25
	oneWay := map[string]time.Duration{east: time.Duration(30 * scale * float64(time.Millisecond)), europe: time.Duration(70 * scale * float64(time.Millisecond))}
	c := testcluster.Start(t, testcluster.Options{RTTScale: scale})
	setup(t, c)
	ctx := ctxT(t)
	w := container(t, c.Client(west))
	sdk := map[string]*azcosmos.ContainerClient{east: container(t, c.Client(east)), europe: container(t, c.Client(europe))}
	waits := map[string][]time.Duration{}
	var mu sync.Mutex
	for i := 1; i <= 25; i++ {
		start := time.Now()
		wr, err := w.UpsertItem(ctx, pk("p"), valDoc("x", "p", i), nil)
		require.NoError(t, err)
		require.NotNil(t, wr.SessionToken)
		tok := *wr.SessionToken
		var wg sync.WaitGroup
		for _, region := range []string{east, europe} {
			wg.Add(2)
			go func() { // raw, pinned to the region
				defer wg.Done()
				v, ok, r := readVal(t, c, region, "p", "x", "", tok)
				require.True(t, ok, "SE-F1: write x=%d -> %s; read in %s with the token -> %s", i, tok, region, r)
				require.Equal(t, i, v, "SE-F1: read in %s with the write's token", region)
				require.Equal(t, region, r.Header.Get("x-meridian-region"))
				d := time.Since(start)
				require.GreaterOrEqual(t, d, oneWay[region], "the read in %s returned before the write could reach it", region)
				mu.Lock()
				waits[region] = append(waits[region], r.Took)
				mu.Unlock()
			}()
			go func() { // the SDK, preferring the region
				defer wg.Done()
				var resp *http.Response
				rr, err := sdk[region].ReadItem(policy.WithCaptureResponse(ctx, &resp), pk("p"), "x", &azcosmos.ItemOptions{SessionToken: &tok})
				require.NoError(t, err)
				require.Equal(t, i, valueOf(t, rr.Value), "SE-F1: SDK read preferring %s", region)
				require.Equal(t, region, resp.Header.Get("x-meridian-region"))
			}()
		}
		wg.Wait()
	}
	t.Logf("session reads with the write's token, time in the region: East US (one-way %v) %v; North Europe (one-way %v) %v",
		oneWay[east], waits[east][:5], oneWay[europe], waits[europe][:5])

	// A delete, then a read with its token: 404 (not the old item), and a
	// plain 404 (substatus 0), not 404/1002.
	for i := range 5 {
		id := fmt.Sprintf("d%d", i)
		_, err := w.CreateItem(ctx, pk("p"), valDoc(id, "p", i), nil)
		require.NoError(t, err)
		dr, err := w.DeleteItem(ctx, pk("p"), id, nil)
		require.NoError(t, err)
		for _, region := range []string{east, europe} {
			_, ok, r := readVal(t, c, region, "p", id, "", *dr.SessionToken)
			require.False(t, ok, "SE-F1: %s deleted; read in %s with the delete's token -> %s", id, region, r)
			require.Equal(t, 404, r.Status)
			require.Empty(t, r.Substatus)
		}
	}
}

// TestSessionMonotonicReads is SE-F2 (C11) with the dev round trips: while
// one client keeps writing x, a session reads x alternately in East US and
// North Europe (which lags East US by about 40 ms), carrying the merge of
// every token it received. Its reads never go backwards. Since only x is
// written, x=v is at LSN offset+v, so the test also checks the cause of
// any regression: the token a read returns must cover the version it
// returned (C14). Tokenless reads taken alongside show that without the
// token the reads would have gone backwards (logged).
func TestSessionMonotonicReads(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{})
	setup(t, c)
	ctx := ctxT(t)
	bg := newBackground(t)
	offset := make(chan int64, 1)
	bg.Go(func() {
		for v := 1; !bg.Stopped(); v++ {
			r := upsertRaw(t, c, west, "p", valDoc("x", "p", v), nil)
			require.True(t, isOK(r), "%s", r)
			if v == 1 {
				_, lsn := tokenLSN(t, r.Header.Get("x-ms-session-token"))
				offset <- lsn - 1
			}
			time.Sleep(2 * time.Millisecond)
		}
	})
	off := <-offset
	sdk := map[string]*azcosmos.ContainerClient{east: container(t, c.Client(east)), europe: container(t, c.Client(europe))}
	for _, region := range []string{east, europe} {
		eventually(t, 5*time.Second, 10*time.Millisecond, "x replicated to "+region, func() (bool, string) {
			_, ok, r := readVal(t, c, region, "p", "x", "", "")
			return ok, r.String()
		})
	}
	var regressions, behind []string
	// check records one session read: v read with token tok (the merged
	// token it was sent with: sent), after last.
	check := func(who, region string, n, v, last int, sent, tok string) {
		if v < last {
			regressions = append(regressions, fmt.Sprintf("%s read %d in %s with the merged token %s returned x=%d after x=%d", who, n, region, sent, v, last))
		}
		if _, lsn := tokenLSN(t, tok); lsn < off+int64(v) {
			behind = append(behind, fmt.Sprintf("%s read %d in %s returned x=%d (LSN %d) with session token %s", who, n, region, v, off+int64(v), tok))
		}
	}
	rawTok, sdkTok := "", ""
	rawLast, sdkLast := 0, 0
	wouldRegress := 0
	deadline := time.Now().Add(1500 * time.Millisecond)
	n := 0
	for ; time.Now().Before(deadline); n++ {
		region := []string{east, europe}[n%2]
		// Raw, pinned to the region.
		v, ok, r := readVal(t, c, region, "p", "x", "", rawTok)
		require.True(t, ok, "%s", r)
		check("raw", region, n, v, rawLast, rawTok, r.Header.Get("x-ms-session-token"))
		rawLast = max(rawLast, v)
		rawTok = mergeTokens(t, rawTok, r.Header.Get("x-ms-session-token"))
		// Without a token, the same region may return an older value.
		if u, ok, _ := readVal(t, c, region, "p", "x", "", ""); ok && u < rawLast {
			wouldRegress++
		}
		// The SDK, the caller merging tokens.
		o := &azcosmos.ItemOptions{}
		if sdkTok != "" {
			o.SessionToken = &sdkTok
		}
		rr, err := sdk[region].ReadItem(ctx, pk("p"), "x", o)
		require.NoError(t, err)
		require.NotNil(t, rr.SessionToken)
		sv := valueOf(t, rr.Value)
		check("SDK", region, n, sv, sdkLast, sdkTok, *rr.SessionToken)
		sdkLast = max(sdkLast, sv)
		sdkTok = mergeTokens(t, sdkTok, *rr.SessionToken)
	}
	bg.Stop()
	t.Logf("%d session reads alternating East US / North Europe; %d went backwards; %d returned a token below the version read; "+
		"tokenless reads would have gone backwards %d times", 2*n, len(regressions), len(behind), wouldRegress)
	if len(behind) > 0 {
		t.Fatalf("a read's session token does not always cover the item version it returned (%d of %d reads), e.g. %s; "+
			"so a session carrying that token can read older data next (SE-F2, %d regressions, e.g. %v). The response token is "+
			"built from p.Applied() after the item was read, and a replicated batch is visible in storage before Applied is "+
			"published (ApplyReplicated commits, then publish(lsn))",
			len(behind), 2*n, behind[0], len(regressions), summarize(regressions))
	}
	require.Empty(t, summarize(regressions), "SE-F2: session reads went backwards")
}

// TestSessionTokenUnreachable is SE-A4: East US is cut off from West US; a
// read in East US with a token it cannot reach within SessionWait answers
// 404/1002 (after waiting SessionWait), never older data. The Go SDK then
// retries once in the write region, which succeeds. After healing, East US
// serves the token itself.
func TestSessionTokenUnreachable(t *testing.T) {
	const wait = time.Second
	c := testcluster.Start(t, testcluster.Options{RTTScale: 0.1, SessionWait: wait})
	setup(t, c)
	ctx := ctxT(t)
	w := container(t, c.Client(west))
	_, err := w.UpsertItem(ctx, pk("p"), valDoc("x", "p", 1), nil)
	require.NoError(t, err)
	syncAll(t, c, "s0")

	c.Net.Partition(west, east)
	wr, err := w.UpsertItem(ctx, pk("p"), valDoc("x", "p", 2), nil)
	require.NoError(t, err)
	tok := *wr.SessionToken

	r := readRaw(t, c, east, "p", "x", "", tok)
	require.Equal(t, 404, r.Status, "SE-A4: %s", r)
	require.Equal(t, "1002", r.Substatus)
	require.GreaterOrEqual(t, r.Took, wait, "East US answers 404/1002 only after SessionWait")
	require.Less(t, r.Took, wait+2*time.Second)
	t.Logf("East US with an unreachable token: %s after %v", r, r.Took.Round(time.Millisecond))

	// A query with the token is refused the same way.
	_, qr := queryRaw(t, c, east, `SELECT * FROM c WHERE c.id = "x"`, map[string]string{"x-ms-session-token": tok})
	require.Equal(t, 404, qr.Status, "%s", qr)
	require.Equal(t, "1002", qr.Substatus)

	// The SDK preferring East US: 404/1002 there, one retry in the write
	// region, which has the write.
	var resp *http.Response
	start := time.Now()
	rr, err := container(t, c.Client(east)).ReadItem(policy.WithCaptureResponse(ctx, &resp), pk("p"), "x", &azcosmos.ItemOptions{SessionToken: &tok})
	require.NoError(t, err)
	require.Equal(t, 2, valueOf(t, rr.Value))
	require.Equal(t, west, resp.Header.Get("x-meridian-region"), "the SDK retries 404/1002 in the write region")
	require.GreaterOrEqual(t, time.Since(start), wait)
	t.Logf("SDK read preferring East US with the token: %v, served by %s", time.Since(start).Round(time.Millisecond), resp.Header.Get("x-meridian-region"))

	c.Net.Heal(west, east)
	eventually(t, 10*time.Second, 20*time.Millisecond, "East US serves the token after healing", func() (bool, string) {
		v, ok, r := readVal(t, c, east, "p", "x", "", tok)
		if ok {
			require.Equal(t, 2, v)
		} else {
			require.Equal(t, "1002", r.Substatus, "%s", r)
		}
		return ok, r.String()
	})
}

// TestSessionTokenValidation covers tokens the region cannot or must not
// honour (§3.1, §3.3, §3.5, D-5): malformed tokens are 400; a token ahead
// of everything written, or of a newer version (epoch), is 404/1002 in
// every region, including the write region, and never returns data;
// legacy and lower-version tokens whose LSN is reached are honoured.
func TestSessionTokenValidation(t *testing.T) {
	const wait = 500 * time.Millisecond
	c := testcluster.Start(t, testcluster.Options{RTTScale: 0.1, SessionWait: wait})
	setup(t, c)
	ctx := ctxT(t)
	w := container(t, c.Client(west))
	wr, err := w.UpsertItem(ctx, pk("p"), valDoc("x", "p", 1), nil)
	require.NoError(t, err)
	version, lsn := tokenLSN(t, *wr.SessionToken)
	syncAll(t, c, "s0")

	for _, bad := range []string{"garbage", "0:abc", "0:1#x", "0:1#2#r", ":1#2", "0:1#2#3=x"} {
		for _, region := range []string{west, east} {
			r := readRaw(t, c, region, "p", "x", "", bad)
			require.Equal(t, 400, r.Status, "malformed token %q in %s: %s", bad, region, r)
		}
		_, err := container(t, c.Client(east)).ReadItem(ctx, pk("p"), "x", &azcosmos.ItemOptions{SessionToken: &bad})
		st, _ := statusOf(err)
		require.Equal(t, 400, st, "SDK read with malformed token %q: %v", bad, err)
	}

	future := []string{
		fmt.Sprintf("0:%d#%d", version, lsn+1_000_000), // far ahead of the log
		fmt.Sprintf("0:%d#%d", version+5, 1),           // a version (epoch) not reached
	}
	for _, tok := range future {
		var wg sync.WaitGroup
		for _, region := range []string{west, east, europe} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := readRaw(t, c, region, "p", "x", "", tok)
				require.Equal(t, 404, r.Status, "token %s in %s must not return data: %s", tok, region, r)
				require.Equal(t, "1002", r.Substatus)
				require.GreaterOrEqual(t, r.Took, wait)
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := container(t, c.Client(east)).ReadItem(ctx, pk("p"), "x", &azcosmos.ItemOptions{SessionToken: &tok})
			st, sub := statusOf(err)
			require.Equal(t, 404, st, "SDK read with token %s: %v", tok, err)
			require.Equal(t, "1002", sub)
		}()
		wg.Wait()
	}

	// Tokens the region has reached: legacy form, lower version, no token.
	for _, tok := range []string{fmt.Sprintf("0:%d", lsn), fmt.Sprintf("0:%d#%d", version-1, lsn), ""} {
		v, ok, r := readVal(t, c, east, "p", "x", "", tok)
		require.True(t, ok, "token %q: %s", tok, r)
		require.Equal(t, 1, v)
	}
}

// TestConsistencyLevelRelaxOnly is §1.3: a request may ask for the
// account's level or a weaker one, never a stronger one (400), for point
// reads and queries, raw and through the SDK.
func TestConsistencyLevelRelaxOnly(t *testing.T) {
	levels := []string{"Strong", "BoundedStaleness", "Session", "ConsistentPrefix", "Eventual"}
	sdkLevel := map[string]azcosmos.ConsistencyLevel{
		"Strong": azcosmos.ConsistencyLevelStrong, "BoundedStaleness": azcosmos.ConsistencyLevelBoundedStaleness,
		"Session": azcosmos.ConsistencyLevelSession, "ConsistentPrefix": azcosmos.ConsistencyLevelConsistentPrefix,
		"Eventual": azcosmos.ConsistencyLevelEventual,
	}
	for ai, account := range levels {
		t.Run(account, func(t *testing.T) {
			c := testcluster.Start(t, testcluster.Options{Consistency: account, RTTScale: -1})
			setup(t, c)
			ctx := ctxT(t)
			_, err := container(t, c.Client(west)).UpsertItem(ctx, pk("p"), valDoc("x", "p", 1), nil)
			require.NoError(t, err)
			syncAll(t, c, "s0")
			rc := container(t, c.Client(east))
			for ri, req := range levels {
				allowed := ri >= ai
				for _, region := range []string{west, east} {
					r := readRaw(t, c, region, "p", "x", req, "")
					_, qr := queryRaw(t, c, region, `SELECT * FROM c WHERE c.id = "x"`, map[string]string{"x-ms-consistency-level": req})
					if allowed {
						require.Equal(t, 200, r.Status, "account %s, read at %s in %s: %s", account, req, region, r)
						require.Equal(t, 200, qr.Status, "account %s, query at %s in %s: %s", account, req, region, qr)
					} else {
						require.Equal(t, 400, r.Status, "account %s, read at %s in %s: %s", account, req, region, r)
						require.Equal(t, 400, qr.Status, "account %s, query at %s in %s: %s", account, req, region, qr)
					}
				}
				lvl := sdkLevel[req]
				_, err := rc.ReadItem(ctx, pk("p"), "x", &azcosmos.ItemOptions{ConsistencyLevel: &lvl})
				if allowed {
					require.NoError(t, err, "account %s, SDK read at %s", account, req)
				} else {
					st, _ := statusOf(err)
					require.Equal(t, 400, st, "account %s, SDK read at %s: %v", account, req, err)
				}
			}
		})
	}
}
