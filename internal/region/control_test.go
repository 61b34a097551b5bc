package region

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/meridiandb/meridian/internal/catalog"
	"github.com/meridiandb/meridian/internal/control"
	"github.com/meridiandb/meridian/internal/storage"
	"github.com/meridiandb/meridian/internal/topology"
)

func newTestFSM(t *testing.T) *controlFSM {
	t.Helper()
	db, err := storage.Open(storage.Options{Dir: "/db", FS: vfs.NewMem(), SpaceReserve: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	cat, err := catalog.Open(db, catalog.Options{RegionID: 1, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	st, err := control.FromTopology(topology.Dev(0, "127.0.0.1"), control.Lease{Timeout: time.Second}, controlEpoch)
	if err != nil {
		t.Fatal(err)
	}
	f := newControlFSM(st)
	f.cat = cat
	return f
}

func applyCatalog(t *testing.T, f *controlFSM, index uint64, id string) catalogOutcome {
	t.Helper()
	b, err := json.Marshal(catalogEnvelope{Kind: "Catalog", Cmd: catalog.Command{Kind: catalog.CmdCreateDatabase, ID: id, TS: 1}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := f.Apply(index, b)
	if err != nil {
		t.Fatal(err)
	}
	var o catalogOutcome
	if out != nil {
		if err := json.Unmarshal(out, &o); err != nil {
			t.Fatal(err)
		}
	}
	return o
}

// TestControlFSMCatalog: catalog commands in the Raft log are applied by
// index, once (a replay is skipped), their client errors come back as
// outcomes; a Raft snapshot carries the catalog and replaces it only when
// it is ahead of the region's own.
func TestControlFSMCatalog(t *testing.T) {
	f := newTestFSM(t)
	if o := applyCatalog(t, f, 5, "db1"); o.Result == nil || o.Err != nil {
		t.Fatalf("create: %+v", o)
	}
	if o := applyCatalog(t, f, 5, "db1"); o.Result != nil || o.Err != nil {
		t.Fatalf("a replayed index must be skipped: %+v", o)
	}
	if o := applyCatalog(t, f, 7, "db1"); o.Err == nil || o.Err.Msg == "" {
		t.Fatalf("a duplicate database must come back as a 409 outcome: %+v", o)
	}
	if o := applyCatalog(t, f, 9, "db2"); o.Result == nil {
		t.Fatalf("create db2: %+v", o)
	}
	if got := f.cat.Applied(); got != 9 {
		t.Fatalf("catalog applied %d, want the Raft index 9", got)
	}
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}

	// A region behind the snapshot takes its catalog.
	behind := newTestFSM(t)
	if err := behind.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if len(behind.cat.Databases()) != 2 || behind.cat.Applied() != 9 {
		t.Fatalf("restored catalog: %d databases at %d", len(behind.cat.Databases()), behind.cat.Applied())
	}
	// A region ahead of it (its own catalog is durable) keeps its own.
	ahead := newTestFSM(t)
	applyCatalog(t, ahead, 20, "other")
	if err := ahead.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if dbs := ahead.cat.Databases(); len(dbs) != 1 || dbs[0].ID != "other" || ahead.cat.Applied() != 20 {
		t.Fatalf("a catalog ahead of the snapshot was replaced: %v at %d", dbs, ahead.cat.Applied())
	}
	// Lease renewals change nothing.
	if out, err := f.Apply(10, leaseCmd); err != nil || out != nil {
		t.Fatalf("lease command: %s %v", out, err)
	}
}
