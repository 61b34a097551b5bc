package metrics_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/meridiandb/meridian/internal/admin"
	"github.com/meridiandb/meridian/internal/metrics"
	"github.com/meridiandb/meridian/internal/storage"
	"github.com/meridiandb/meridian/internal/topology"
)

func writeStatus() admin.Status {
	return admin.Status{
		Region: "West US", Role: admin.RoleWrite, WriteRegion: "West US", Offline: true,
		Partitions: []admin.Partition{
			{ID: 0, Applied: 4, Peers: []admin.Peer{{Region: "East US", Acked: 4, Connected: true, Reachable: true}}},
			{ID: 1, Database: "shop", Container: "orders", Applied: 120, Peers: []admin.Peer{
				{Region: "East US", Acked: 100, LagOps: 20, LagMs: 1500, Connected: true, Reachable: false},
			}},
		},
		WAN:   true,
		Links: []admin.Link{{A: "West US", B: "East US", RTT: topology.Duration(60 * time.Millisecond), Partitioned: true}},
	}
}

func readStatus() admin.Status {
	return admin.Status{
		Region: "East US", Role: admin.RoleRead, WriteRegion: "West US",
		Partitions: []admin.Partition{
			{ID: 1, Database: "shop", Container: "orders", Applied: 100, Upstream: &admin.Upstream{
				Region: "West US", Head: 120, Committed: 90, Behind: 20, HeardAgoMs: 250, Connected: true, Reachable: true,
			}},
			{ID: 2, Database: "shop", Container: "carts", Applied: 0, Upstream: &admin.Upstream{Region: "West US", HeardAgoMs: -1}},
		},
	}
}

func TestStateCollectorWriteRegion(t *testing.T) {
	m := metrics.New(metrics.Options{
		Region: "West US", NoProcessMetrics: true,
		Status: writeStatus,
		Storage: func() storage.Metrics {
			return storage.Metrics{WALBytes: 10, DiskBytes: 20, MemTableSize: 30, Compactions: 2,
				WriteStalls: 3, WriteStallTime: 1500 * time.Millisecond}
		},
	})
	want := `
# HELP meridian_replication_lag_operations Write region: writes a read region does not hold yet (head - acked), per partition.
# TYPE meridian_replication_lag_operations gauge
meridian_replication_lag_operations{partition="catalog",peer="East US",region="West US"} 0
meridian_replication_lag_operations{partition="shop/orders",peer="East US",region="West US"} 20
# HELP meridian_replication_lag_seconds Write region: age of the oldest write a read region does not hold, per partition; 0 when caught up.
# TYPE meridian_replication_lag_seconds gauge
meridian_replication_lag_seconds{partition="catalog",peer="East US",region="West US"} 0
meridian_replication_lag_seconds{partition="shop/orders",peer="East US",region="West US"} 1.5
# HELP meridian_replication_reachable 0 while the simulated WAN partitions the region from its peer.
# TYPE meridian_replication_reachable gauge
meridian_replication_reachable{peer="East US",region="West US"} 0
# HELP meridian_region_offline 1 while the region was taken offline through the management API (it answers 503 to client requests and keeps replicating).
# TYPE meridian_region_offline gauge
meridian_region_offline{region="West US"} 1
# HELP meridian_storage_compactions_total Pebble: compactions since the store was opened.
# TYPE meridian_storage_compactions_total counter
meridian_storage_compactions_total{region="West US"} 2
# HELP meridian_storage_write_stalls_total Pebble: write stalls (every commit waited for a flush or an L0 compaction) since the store was opened.
# TYPE meridian_storage_write_stalls_total counter
meridian_storage_write_stalls_total{region="West US"} 3
# HELP meridian_storage_write_stall_seconds_total Pebble: total time commits were stalled since the store was opened.
# TYPE meridian_storage_write_stall_seconds_total counter
meridian_storage_write_stall_seconds_total{region="West US"} 1.5
# HELP meridian_wan_link_rtt_seconds Configured round trip of a simulated WAN link (both one-way delays).
# TYPE meridian_wan_link_rtt_seconds gauge
meridian_wan_link_rtt_seconds{a="West US",b="East US",region="West US"} 0.06
`
	hasLines(t, m, want)
	// A one-peer partition that is reachable in another partition: the
	// reachable series exists once (no duplicate-series scrape error).
	if n := count(t, m, metrics.NameReachable); n != 1 {
		t.Fatalf("reachable series: %d", n)
	}
	// The read-region series are absent in the write region.
	if n := count(t, m, metrics.NameCommittedLSN) + count(t, m, metrics.NameBehindOps); n != 0 {
		t.Fatalf("%d read-region series in the write region", n)
	}
}

func TestStateCollectorReadRegion(t *testing.T) {
	m := metrics.New(metrics.Options{Region: "East US", NoProcessMetrics: true, Status: readStatus})
	want := `
# HELP meridian_committed_lsn Read regions: the globally committed LSN as last heard from the write region, per partition.
# TYPE meridian_committed_lsn gauge
meridian_committed_lsn{partition="shop/carts",region="East US"} 0
meridian_committed_lsn{partition="shop/orders",region="East US"} 90
# HELP meridian_replication_behind_operations Read regions: the write region's head LSN minus the applied LSN, as last heard, per partition.
# TYPE meridian_replication_behind_operations gauge
meridian_replication_behind_operations{partition="shop/carts",peer="West US",region="East US"} 0
meridian_replication_behind_operations{partition="shop/orders",peer="West US",region="East US"} 20
# HELP meridian_replication_heard_ago_seconds Read regions: time since the write region was last heard from, per partition.
# TYPE meridian_replication_heard_ago_seconds gauge
meridian_replication_heard_ago_seconds{partition="shop/orders",peer="West US",region="East US"} 0.25
# HELP meridian_region_info Always 1: the region's role (write or read) and the account's write region.
# TYPE meridian_region_info gauge
meridian_region_info{region="East US",role="read",write_region="West US"} 1
`
	hasLines(t, m, want)
	// No Raft series until the control plane reports.
	if n := count(t, m, metrics.NameRaftTerm) + count(t, m, metrics.NameRaftIsLeader); n != 0 {
		t.Fatalf("%d raft series before SetRaftState", n)
	}
	m.SetRaftState(metrics.RaftState{Leader: "West US", Term: 7, CommitIndex: 42, AppliedIndex: 41})
	want = `
# HELP meridian_raft_is_leader 1 if this region's Raft node is the control-plane leader.
# TYPE meridian_raft_is_leader gauge
meridian_raft_is_leader{region="East US"} 0
# HELP meridian_raft_leader Always 1: the control-plane leader as this region's Raft node knows it.
# TYPE meridian_raft_leader gauge
meridian_raft_leader{leader="West US",region="East US"} 1
# HELP meridian_raft_term Current Raft term of this region's node.
# TYPE meridian_raft_term gauge
meridian_raft_term{region="East US"} 7
`
	hasLines(t, m, want)
}

func TestObserveRequest(t *testing.T) {
	m := metrics.New(metrics.Options{Region: "East US", Consistency: "Session", NoProcessMetrics: true})
	for _, r := range []metrics.Request{
		{Op: metrics.OpRead, Status: 200, Duration: time.Millisecond},
		{Op: metrics.OpRead, Status: 200, Consistency: "eventual", Duration: time.Millisecond},
		{Op: metrics.OpRead, Status: 200, Consistency: "Nonsense", Duration: time.Millisecond},
		{Op: metrics.OpRead, Status: 200, SessionToken: true, Duration: 30 * time.Millisecond},
		{Op: metrics.OpRead, Status: 404, Substatus: 1002, SessionToken: true, Duration: 5 * time.Second},
		{Op: metrics.OpQuery, Status: 404, SessionToken: true, Duration: time.Millisecond}, // absent: an answer
		{Op: metrics.OpCreate, Status: 429, Substatus: 3200, SessionToken: true, Duration: time.Millisecond},
		{Status: 404},
	} {
		m.ObserveRequest(r)
	}
	want := `
# HELP meridian_requests_total Client requests served by the region's REST edge, by operation, HTTP status code and consistency level.
# TYPE meridian_requests_total counter
meridian_requests_total{consistency="Eventual",op="read",region="East US",status="200"} 1
meridian_requests_total{consistency="Session",op="create",region="East US",status="429"} 1
meridian_requests_total{consistency="Session",op="other",region="East US",status="404"} 1
meridian_requests_total{consistency="Session",op="query",region="East US",status="404"} 1
meridian_requests_total{consistency="Session",op="read",region="East US",status="200"} 2
meridian_requests_total{consistency="Session",op="read",region="East US",status="404"} 1
meridian_requests_total{consistency="invalid",op="read",region="East US",status="200"} 1
# HELP meridian_session_reads_total Reads (read, query, change feed) that carried an x-ms-session-token, by outcome: ok, not_available (404/1002: the region did not reach the token within SessionWait) or error.
# TYPE meridian_session_reads_total counter
meridian_session_reads_total{op="query",outcome="ok",region="East US"} 1
meridian_session_reads_total{op="read",outcome="not_available",region="East US"} 1
meridian_session_reads_total{op="read",outcome="ok",region="East US"} 1
# HELP meridian_session_not_available_total Reads answered 404 with substatus 1002 (read session not available).
# TYPE meridian_session_not_available_total counter
meridian_session_not_available_total{region="East US"} 1
`
	hasLines(t, m, want)
	if v := value(t, m, metrics.NameThrottled, map[string]string{"op": "create", "region": "East US"}); v != 1 {
		t.Fatalf("throttled creates: %v", v)
	}
	// The session wait histogram saw the three session reads.
	if !strings.Contains(expose(t, m), `meridian_session_read_wait_seconds_count{region="East US"} 3`) {
		t.Fatal("the wait histogram did not see the three session reads")
	}
	var nilM *metrics.Metrics
	nilM.ObserveRequest(metrics.Request{}) // a nil Metrics records nothing
}

// expose renders the registry in the text format.
func expose(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// hasLines checks that every line of want is in the exposition.
func hasLines(t *testing.T, m *metrics.Metrics, want string) {
	t.Helper()
	got := expose(t, m)
	for _, line := range strings.Split(strings.TrimSpace(want), "\n") {
		if !strings.Contains(got, line+"\n") {
			t.Errorf("the exposition lacks %q", line)
		}
	}
	if t.Failed() {
		t.Logf("exposition:\n%s", got)
	}
}

// count is the number of series of a metric family.
func count(t *testing.T, m *metrics.Metrics, name string) int {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return len(mf.GetMetric())
		}
	}
	return 0
}

// value is the value of the counter or gauge name with exactly labels.
func value(t *testing.T, m *metrics.Metrics, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, mt := range mf.GetMetric() {
			if len(mt.GetLabel()) != len(labels) {
				continue
			}
			for _, lp := range mt.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue next
				}
			}
			if c := mt.GetCounter(); c != nil {
				return c.GetValue()
			}
			return mt.GetGauge().GetValue()
		}
	}
	t.Fatalf("no series %s%v", name, labels)
	return 0
}

func TestHandlerExposition(t *testing.T) {
	m := metrics.New(metrics.Options{Region: "West US", Status: writeStatus})
	m.ObserveRequest(metrics.Request{Op: metrics.OpUpsert, Status: 200, Duration: 3 * time.Millisecond})
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("Content-Type %q", resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		`meridian_request_duration_seconds_bucket{consistency="Session",op="upsert",region="West US",status="200",le="0.005"} 1`,
		`meridian_throttled_requests_total{op="batch",region="West US"} 0`,
		`meridian_applied_lsn{partition="shop/orders",region="West US"} 120`,
		"go_goroutines ",
		"process_",
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
}
