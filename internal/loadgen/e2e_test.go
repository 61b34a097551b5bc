package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/meridiandb/meridian/internal/auth"
	"github.com/meridiandb/meridian/internal/server"
	"github.com/meridiandb/meridian/internal/testcluster"
)

func startOneRegion(t *testing.T) string {
	t.Helper()
	s, err := server.New(server.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Close(ctx)
	})
	return s.Endpoint()
}

// checkComplete: every operation due in the window was sent (or dropped)
// and succeeded. No timing is asserted: a slow machine may drop operations,
// which the accounting must then show.
func checkComplete(t *testing.T, res *Result) {
	t.Helper()
	var buf bytes.Buffer
	res.WriteTable(&buf)
	t.Logf("\n%s", buf.String())
	tot := res.Total()
	if tot.Errors != 0 {
		t.Errorf("%d errors: %v", tot.Errors, tot.ErrorsByClass)
	}
	if tot.OK+tot.Errors+res.Dropped != res.Scheduled {
		t.Errorf("%d ok + %d errors + %d dropped != %d scheduled", tot.OK, tot.Errors, res.Dropped, res.Scheduled)
	}
	if want := int64(res.OfferedRate * res.WindowSeconds); res.Scheduled != want {
		t.Errorf("scheduled %d, want rate × window = %d", res.Scheduled, want)
	}
	if tot.OK == 0 {
		t.Error("nothing succeeded")
	}
}

func TestRunWorkloadsAgainstOneRegion(t *testing.T) {
	ep := startOneRegion(t)
	for i, w := range []string{"A", "E"} {
		t.Run(w, func(t *testing.T) {
			res, err := Run(context.Background(), Config{
				Endpoint: ep, Key: auth.EmulatorKey, Workload: w, Container: "c" + w,
				Records: 500, Load: true, Rate: 200, Duration: 2 * time.Second, Concurrency: 32,
				Seed: uint64(i + 1),
			})
			if err != nil {
				t.Fatal(err)
			}
			checkComplete(t, res)
			switch w {
			case "A":
				if res.Row(OpRead, AllRegions).OK == 0 || res.Row(OpUpdate, AllRegions).OK == 0 {
					t.Errorf("workload A needs reads and updates: %+v", res.Ops)
				}
				// Every answer carried the server's own time, which is
				// part of the latency measured around it.
				for _, op := range []string{OpRead, OpUpdate} {
					row := res.Row(op, AllRegions)
					if row.ServerCount != row.OK || row.ServerP50 <= 0 || row.ServerP99 > row.P99 {
						t.Errorf("%s: server time of %d of %d operations, p50 %.3f p99 %.3f (latency p99 %.3f)",
							op, row.ServerCount, row.OK, row.ServerP50, row.ServerP99, row.P99)
					}
				}
			case "E":
				if res.Row(OpScan, AllRegions).OK == 0 {
					t.Errorf("workload E ran no scan: %+v", res.Ops)
				}
				checkScan(t, ep, "c"+w)
			}
		})
	}
}

// checkScan runs the scan query directly: it returns the records from the
// start key on, in id order, within the start key's partition.
func checkScan(t *testing.T, ep, coll string) {
	t.Helper()
	cfg := Config{Endpoint: ep, Key: auth.EmulatorKey, Container: coll}
	cfg.defaults()
	c := newRESTClient(auth.MustDecodeKey(auth.EmulatorKey), 1, false)
	defer c.close()
	base, _ := baseOf(ep)
	r := &runner{cfg: cfg, c: c, collLink: "dbs/bench/colls/" + coll}
	r.docsPath = "/" + escLink(r.collLink) + "/docs"
	q, _ := json.Marshal(map[string]any{
		"query":      "SELECT TOP 10 VALUE c.id FROM c WHERE c.id >= @k ORDER BY c.id",
		"parameters": []map[string]any{{"name": "@k", "value": keyID(195)}},
	})
	rep := c.do(context.Background(), base, request{method: "POST", path: r.docsPath, resType: "docs",
		resLink: r.collLink, pk: pkHeader(r.keyPK(195)), contentType: "application/query+json", query: true, body: q}, true)
	if err := rep.error(); err != nil {
		t.Fatal(err)
	}
	var page struct{ Documents []string }
	if err := json.Unmarshal(rep.body, &page); err != nil {
		t.Fatal(err)
	}
	want := []string{keyID(195), keyID(196), keyID(197), keyID(198), keyID(199)} // partition p0000001 ends at 199
	if strings.Join(page.Documents, ",") != strings.Join(want, ",") {
		t.Errorf("scan from %s: %v, want %v", keyID(195), page.Documents, want)
	}
	// And the generator's own scan succeeds.
	if rep := r.scan(context.Background(), target{base: base}, 195, 100); rep.class() != "" {
		t.Errorf("scan: %v", rep.error())
	}
}

// TestRunCustomSync: with --custom-sync, each write is followed by session
// reads in the named regions, and each region records its legs.
func TestRunCustomSync(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{RTTScale: 0.1})
	res, err := Run(context.Background(), Config{
		Endpoint: c.Endpoint(c.WriteRegion()), Key: auth.EmulatorKey, Workload: "A",
		Records: 200, Load: true, Rate: 50, Duration: 2 * time.Second,
		ReadRegions: []string{"East US"}, CustomSync: []string{"East US", "North Europe"}, Seed: 7,
	})
	if err != nil {
		t.Fatal(err)
	}
	checkComplete(t, res)
	seq := res.Row(OpCustomSync, AllRegions)
	if seq.OK == 0 || seq.Errors != 0 {
		t.Errorf("customsync sequences: %+v", seq)
	}
	for _, region := range []string{"East US", "North Europe"} {
		leg := res.Row(OpCustomSync, region)
		if leg.OK != seq.OK || leg.Errors != 0 {
			t.Errorf("customsync leg in %s: %d ok %d errors, want %d ok (one per sequence)", region, leg.OK, leg.Errors, seq.OK)
		}
	}
	if up := res.Row(OpUpdate, c.WriteRegion()); up.OK != seq.OK {
		t.Errorf("updates %d, customsync sequences %d: want one per update", up.OK, seq.OK)
	}
	if rd := res.Row(OpRead, "East US"); rd.OK == 0 {
		t.Errorf("no reads recorded in East US: %+v", res.Ops)
	}
}
