package partition

import (
	"context"
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"

	"github.com/meridiandb/meridian/internal/replog"
	"github.com/meridiandb/meridian/internal/resource"
)

func openReplica(t *testing.T) *Partition {
	t.Helper()
	db := openDB(t, vfs.NewMem())
	t.Cleanup(func() { _ = db.Close() })
	p, err := Open(Config{ID: 1, DB: db, RegionID: 2, ReadOnly: true}, testInfo)
	require.NoError(t, err)
	t.Cleanup(p.Close)
	return p
}

func dump(t *testing.T, p *Partition) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, p.Scan(context.Background(), nil, nil, func(k []byte, v *Version) bool {
		out[string(k[9:])] = fmt.Sprintf("%d %s %s", v.LSN, v.ETag, v.JSON)
		return true
	}))
	return out
}

func TestReplicaAppliesLogIdempotentlyAndDetectsGaps(t *testing.T) {
	db := openDB(t, vfs.NewMem())
	defer db.Close()
	src := openPart(t, db, nil)
	defer src.Close()
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		_, err := src.Write(ctx, Op{Kind: Upsert, PK: pk("p"), Doc: doc(t, fmt.Sprintf(`{"id":"%d","pk":"p","v":%d}`, i%7, i))})
		require.NoError(t, err)
	}
	_, err := src.Write(ctx, Op{Kind: Delete, ID: "3", PK: pk("p")})
	require.NoError(t, err)
	var log []*replog.Entry
	require.NoError(t, src.ReadLog(0, 0, func(e *replog.Entry) bool { log = append(log, e); return true }))

	rep := openReplica(t)
	_, err = rep.Write(ctx, Op{Kind: Create, PK: pk("p"), Doc: doc(t, `{"id":"x","pk":"p"}`)})
	require.ErrorIs(t, err, resource.ErrWriteForbidden, "replicas refuse local writes")

	require.ErrorIs(t, rep.ApplyReplicated(ctx, log[5:]), ErrGap)
	require.Equal(t, int64(0), rep.Applied())
	require.NoError(t, rep.ApplyReplicated(ctx, log[:10]))
	require.NoError(t, rep.ApplyReplicated(ctx, log[5:])) // overlap is skipped
	require.Equal(t, src.Applied(), rep.Applied())
	require.Equal(t, dump(t, src), dump(t, rep))

	vs, _, err := rep.Changes(ctx, 0, 100, nil)
	require.NoError(t, err)
	require.Len(t, vs, 6, "change feed of the replica holds the 6 live items")
}

func TestSnapshotInstallThenTail(t *testing.T) {
	db := openDB(t, vfs.NewMem())
	defer db.Close()
	src := openPart(t, db, nil)
	defer src.Close()
	ctx := context.Background()
	for i := 0; i < 50; i++ {
		_, err := src.Write(ctx, Op{Kind: Upsert, PK: pk(fmt.Sprint(i % 3)), Doc: doc(t, fmt.Sprintf(`{"id":"%d","pk":"%d"}`, i, i%3))})
		require.NoError(t, err)
	}
	type kv struct{ k, v []byte }
	var items []kv
	lsn, epoch, err := src.Snapshot(ctx, func(k, v []byte) error {
		items = append(items, kv{append([]byte(nil), k...), append([]byte(nil), v...)})
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, int64(50), lsn)
	require.Equal(t, int64(1), epoch)

	rep := openReplica(t)
	i := 0
	require.NoError(t, rep.InstallSnapshot(ctx, lsn, epoch, func() ([]byte, []byte, bool, error) {
		if i == len(items) {
			return nil, nil, false, nil
		}
		i++
		return items[i-1].k, items[i-1].v, true, nil
	}))
	require.Equal(t, lsn, rep.Applied())
	_, err = src.Write(ctx, Op{Kind: Upsert, PK: pk("0"), Doc: doc(t, `{"id":"new","pk":"0"}`)})
	require.NoError(t, err)
	var tail []*replog.Entry
	require.NoError(t, src.ReadLog(lsn, 0, func(e *replog.Entry) bool { tail = append(tail, e); return true }))
	require.NoError(t, rep.ApplyReplicated(ctx, tail))
	require.Equal(t, dump(t, src), dump(t, rep))
}

func TestConflictsFeedReplicatesAndPublishesOnce(t *testing.T) {
	db := openDB(t, vfs.NewMem())
	defer db.Close()
	src := openPart(t, db, nil)
	defer src.Close()
	ctx := context.Background()
	cs := []Conflict{{ID: "2-7-0", JSON: []byte(`{"id":"2-7-0"}`)}, {ID: "2-8-0", JSON: []byte(`{"id":"2-8-0"}`)}}
	require.NoError(t, src.PublishConflicts(ctx, cs))
	require.NoError(t, src.PublishConflicts(ctx, cs[:1]), "publishing again is a no-op")
	got, err := src.Conflicts(ctx)
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.NoError(t, src.DeleteConflict(ctx, "2-7-0"))
	require.ErrorIs(t, src.DeleteConflict(ctx, "2-7-0"), resource.ErrNotFound)

	var log []*replog.Entry
	require.NoError(t, src.ReadLog(0, 0, func(e *replog.Entry) bool { log = append(log, e); return true }))
	rep := openReplica(t)
	require.NoError(t, rep.ApplyReplicated(ctx, log))
	repGot, err := rep.Conflicts(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{`{"id":"2-8-0"}`}, func() []string {
		var s []string
		for _, c := range repGot {
			s = append(s, string(c))
		}
		return s
	}())

	// A snapshot carries the feed too.
	type kv struct{ k, v []byte }
	var items []kv
	lsn, epoch, err := src.Snapshot(ctx, func(k, v []byte) error {
		items = append(items, kv{append([]byte(nil), k...), append([]byte(nil), v...)})
		return nil
	})
	require.NoError(t, err)
	fresh := openReplica(t)
	i := 0
	require.NoError(t, fresh.InstallSnapshot(ctx, lsn, epoch, func() ([]byte, []byte, bool, error) {
		if i == len(items) {
			return nil, nil, false, nil
		}
		i++
		return items[i-1].k, items[i-1].v, true, nil
	}))
	fg, err := fresh.Conflicts(ctx)
	require.NoError(t, err)
	require.Len(t, fg, 1)
}

// TestUnreplicatedConflictsRepublishesRecords: the suffix a failover
// removes may hold the conflicts-feed records of an earlier failover's
// losses (published to this region just before it was deposed). They are
// returned again, unchanged, with one record per lost item change.
func TestUnreplicatedConflictsRepublishesRecords(t *testing.T) {
	db := openDB(t, vfs.NewMem())
	defer db.Close()
	p := openPart(t, db, nil)
	defer p.Close()
	ctx := context.Background()
	_, err := p.Write(ctx, Op{Kind: Upsert, PK: pk("p"), Doc: doc(t, `{"id":"a","pk":"p"}`)})
	require.NoError(t, err)
	require.NoError(t, p.PublishConflicts(ctx, []Conflict{{ID: "1-35-0", JSON: []byte(`{"id":"1-35-0","resourceId":"x"}`)}}))
	_, err = p.Write(ctx, Op{Kind: Delete, ID: "a", PK: pk("p")})
	require.NoError(t, err)
	recs, err := p.UnreplicatedConflicts(1, p.Applied(), "r2")
	require.NoError(t, err)
	require.Len(t, recs, 3)
	require.Equal(t, "1-35-0", recs[1].ID, "the earlier failover's record comes back unchanged")
	require.JSONEq(t, `{"id":"1-35-0","resourceId":"x"}`, string(recs[1].JSON))
	require.Contains(t, string(recs[2].JSON), `"operationType":"delete"`)
}
