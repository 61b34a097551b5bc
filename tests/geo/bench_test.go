package geo_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/meridiandb/meridian/internal/auth"
	"github.com/meridiandb/meridian/internal/testcluster"
)

// These benchmarks run the dev topology's round trips (West–East 60 ms,
// West–Europe 140 ms, East–Europe 80 ms) through the simulated WAN and
// report latency percentiles. Run with e.g.
//
//	go test -run x -bench . -benchtime 200x ./tests/geo/

func report(b *testing.B, name string, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	q := func(p float64) float64 { return float64(d[int(p*float64(len(d)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(q(0.5), name+"-p50-ms")
	b.ReportMetric(q(0.99), name+"-p99-ms")
}

func benchCluster(b *testing.B, consistency string) (*testcluster.Cluster, *azcosmos.ContainerClient) {
	c := testcluster.Start(b, testcluster.Options{Consistency: consistency, RTTScale: benchRTTScale()})
	ctx := context.Background()
	w := c.Client(west)
	if _, err := w.CreateDatabase(ctx, azcosmos.DatabaseProperties{ID: "db"}, nil); err != nil {
		b.Fatal(err)
	}
	db, _ := w.NewDatabase("db")
	if _, err := db.CreateContainer(ctx, azcosmos.ContainerProperties{ID: "c", PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: []string{"/pk"}}}, nil); err != nil {
		b.Fatal(err)
	}
	co, _ := w.NewContainer("db", "c")
	// Warm up: the first write opens every region's subscription.
	for i := 0; i < 20; i++ {
		if _, err := co.UpsertItem(withHeader(ctx, "x-meridian-sync-regions", "East US, North Europe"), pk("p"), []byte(`{"id":"warm","pk":"p"}`), nil); err != nil && consistency != "Strong" {
			b.Fatal(err)
		}
	}
	return c, co
}

var payload = strings.Repeat("x", 900)

func item(i int) []byte {
	return []byte(fmt.Sprintf(`{"id":"i%d","pk":"p%d","data":%q}`, i, i%16, payload))
}

// BenchmarkCustomSync is the two-client pattern: write in West US, then a
// session read in East US. Target p50 <= RTT(West,East) + 3 ms.
func BenchmarkCustomSync(b *testing.B) {
	c, w := benchCluster(b, "Session")
	r, _ := c.Client(east).NewContainer("db", "c")
	ctx := context.Background()
	d := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		wr, err := w.CreateItem(ctx, pk(fmt.Sprintf("p%d", i%16)), item(i), nil)
		if err != nil {
			b.Fatal(err)
		}
		var resp *http.Response
		if _, err := r.ReadItem(policy.WithCaptureResponse(ctx, &resp), pk(fmt.Sprintf("p%d", i%16)), fmt.Sprintf("i%d", i), &azcosmos.ItemOptions{SessionToken: wr.SessionToken}); err != nil {
			b.Fatal(err)
		}
		if resp.Header.Get("x-meridian-region") != east {
			b.Fatalf("served by %s", resp.Header.Get("x-meridian-region"))
		}
		d = append(d, time.Since(start))
	}
	report(b, "write+syncread", d)
}

// BenchmarkNativeSyncRegions is one write with x-meridian-sync-regions:
// East US. Target p50 <= RTT(West,East) + 3 ms.
func BenchmarkNativeSyncRegions(b *testing.B) {
	_, w := benchCluster(b, "Session")
	for _, regions := range []string{"East US", "East US, North Europe"} {
		b.Run(strings.ReplaceAll(regions, " ", ""), func(b *testing.B) {
			ctx := withHeader(context.Background(), "x-meridian-sync-regions", regions)
			d := make([]time.Duration, 0, b.N)
			for i := 0; i < b.N; i++ {
				start := time.Now()
				if _, err := w.UpsertItem(ctx, pk(fmt.Sprintf("p%d", i%16)), item(i), nil); err != nil {
					b.Fatal(err)
				}
				d = append(d, time.Since(start))
			}
			report(b, "syncwrite", d)
		})
	}
}

// BenchmarkStrongWrite is a write in a three-region Strong account. Target
// p50 <= largest RTT from the write region (140 ms) + 3 ms.
func BenchmarkStrongWrite(b *testing.B) {
	_, w := benchCluster(b, "Strong")
	ctx := context.Background()
	d := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if _, err := w.UpsertItem(ctx, pk(fmt.Sprintf("p%d", i%16)), item(i), nil); err != nil {
			b.Fatal(err)
		}
		d = append(d, time.Since(start))
	}
	report(b, "strongwrite", d)
}

// BenchmarkReplicationLag offers writes at 1,000/s (open loop) in West US
// and measures, per write, the time from its commit in West US to its
// being durable and visible in East US (server-side timestamps). The writes
// go through a lean signed HTTP client rather than the SDK, whose CPU cost
// in this one-process, two-core setup would show up as replication lag.
// Target: p99 <= one-way delay (30 ms) + 5 ms.
func BenchmarkReplicationLag(b *testing.B) {
	c, _ := benchCluster(b, "Session")
	ctx := context.Background()
	eastRegion := c.Server(east).Region()
	_, _ = eastRegion.ReplicationLags("db", "c") // drop the warm-up samples
	rate := lagRate()
	lean := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128, MaxConnsPerHost: 128}}
	base := strings.TrimSuffix(c.Endpoint(west), "/")
	key := auth.MustDecodeKey(auth.EmulatorKey)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	var failed atomic.Int64
	for i := 0; i < b.N; i++ {
		due := start.Add(time.Duration(i) * time.Second / time.Duration(rate))
		time.Sleep(time.Until(due))
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/dbs/db/colls/c/docs", bytes.NewReader(item(i)))
			date := time.Now().UTC().Format(http.TimeFormat)
			req.Header.Set("x-ms-date", date)
			req.Header.Set("x-ms-version", "2020-11-05")
			req.Header.Set("Authorization", auth.Sign(key, http.MethodPost, "docs", "dbs/db/colls/c", date))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("x-ms-documentdb-is-upsert", "true")
			req.Header.Set("Prefer", "return=minimal")
			req.Header.Set("x-ms-documentdb-partitionkey", fmt.Sprintf(`["p%d"]`, i%16))
			resp, err := lean.Do(req)
			if err != nil {
				failed.Add(1)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode >= 300 {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d writes failed", n)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "writes/s")
	// Let the last entries arrive, then read the server-side samples.
	time.Sleep(200 * time.Millisecond)
	server, err := eastRegion.ReplicationLags("db", "c")
	if err != nil {
		b.Fatal(err)
	}
	report(b, "lag", server)
}

// lagRate is the offered write rate of BenchmarkReplicationLag
// (MERIDIAN_LAG_RATE, default 1000/s).
func lagRate() int {
	if v, err := strconv.Atoi(os.Getenv("MERIDIAN_LAG_RATE")); err == nil && v > 0 {
		return v
	}
	return 1000
}

// benchRTTScale scales the dev round trips (MERIDIAN_RTT_SCALE; -1 turns
// the WAN delays off to measure Meridian's own overhead).
func benchRTTScale() float64 {
	if v, err := strconv.ParseFloat(os.Getenv("MERIDIAN_RTT_SCALE"), 64); err == nil {
		return v
	}
	return 1
}
