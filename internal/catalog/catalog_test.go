package catalog

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"

	"github.com/meridiandb/meridian/internal/replog"
	"github.com/meridiandb/meridian/internal/resource"
	"github.com/meridiandb/meridian/internal/storage"
)

func open(t *testing.T, opts Options) (*Catalog, *storage.DB) {
	t.Helper()
	db, err := storage.Open(storage.Options{Dir: "d", FS: vfs.NewMem()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	c, err := Open(db, opts)
	require.NoError(t, err)
	return c, db
}

func container(id string) *resource.Container {
	return &resource.Container{ID: id, PartitionKey: resource.PartitionKeyDefinition{Paths: []string{"/pk"}}}
}

func state(t *testing.T, c *Catalog) string {
	t.Helper()
	b, err := json.Marshal([]any{c.Databases(), c.AllContainers(), c.Offers()})
	require.NoError(t, err)
	return string(b)
}

func TestCommandsAndValidation(t *testing.T) {
	c, _ := open(t, Options{RegionID: 1})
	_, err := c.Apply(Command{Kind: CmdCreateDatabase, ID: "db", TS: 10})
	require.NoError(t, err)
	_, err = c.Apply(Command{Kind: CmdCreateDatabase, ID: "db", TS: 10})
	require.ErrorIs(t, err, resource.ErrConflict)
	_, err = c.Apply(Command{Kind: CmdCreateDatabase, ID: "a/b", TS: 10})
	require.Equal(t, resource.KindBadRequest, resource.KindOf(err))
	res, err := c.Apply(Command{Kind: CmdCreateContainer, DB: "db", Container: container("c"), TS: 11})
	require.NoError(t, err)
	require.Equal(t, "MultiHash", func() string {
		r, err := c.Apply(Command{Kind: CmdCreateContainer, DB: "db", Container: &resource.Container{ID: "h", PartitionKey: resource.PartitionKeyDefinition{Paths: []string{"/a", "/b"}}}, TS: 11})
		require.NoError(t, err)
		return r.Container.PartitionKey.Kind
	}())
	require.Equal(t, "Hash", res.Container.PartitionKey.Kind)
	require.Equal(t, 2, res.Container.PartitionKey.Version)
	require.NotEmpty(t, res.Container.OfferID, "a container without shared throughput gets its own offer")
	bad := container("c")
	bad.PartitionKey.Paths = []string{"/other"}
	_, err = c.Apply(Command{Kind: CmdReplaceContainer, DB: "db", Container: bad, TS: 12})
	require.Equal(t, resource.KindBadRequest, resource.KindOf(err), "partition key is immutable")
	_, err = c.Apply(Command{Kind: CmdReplaceContainer, DB: "db", Container: container("c"), IfMatch: `"stale"`, TS: 12})
	require.ErrorIs(t, err, resource.ErrPreconditionFailed)
	del, err := c.Apply(Command{Kind: CmdDeleteDatabase, ID: "db", TS: 13})
	require.NoError(t, err)
	require.Len(t, del.Dropped, 2)
	require.Empty(t, c.Offers())
}

func TestReplicaReplaysTheLogToTheSameState(t *testing.T) {
	var applied []CommandKind
	w, wdb := open(t, Options{RegionID: 1})
	r, _ := open(t, Options{RegionID: 2, ReadOnly: true, OnApply: func(cmd Command, _ Result) { applied = append(applied, cmd.Kind) }})
	_, err := r.Apply(Command{Kind: CmdCreateDatabase, ID: "x"})
	require.ErrorIs(t, err, resource.ErrWriteForbidden)

	for _, cmd := range []Command{
		{Kind: CmdCreateDatabase, ID: "db", Throughput: resource.Throughput{Manual: 1000}, TS: 1},
		{Kind: CmdCreateContainer, DB: "db", Container: container("c1"), TS: 2},
		{Kind: CmdCreateContainer, DB: "db", Container: container("c2"), TS: 3},
		{Kind: CmdDeleteContainer, DB: "db", ID: "c1", TS: 4},
	} {
		_, err := w.Apply(cmd)
		require.NoError(t, err)
	}
	var log []*replog.Entry
	require.NoError(t, w.ReadLog(0, 0, func(e *replog.Entry) bool { log = append(log, e); return true }))
	require.Len(t, log, 4)
	require.ErrorIs(t, r.ApplyReplicated(context.Background(), log[1:]), ErrGap)
	require.NoError(t, r.ApplyReplicated(context.Background(), log))
	require.NoError(t, r.ApplyReplicated(context.Background(), log[2:]), "replay is idempotent")
	require.Equal(t, state(t, w), state(t, r))
	require.Equal(t, []CommandKind{CmdCreateDatabase, CmdCreateContainer, CmdCreateContainer, CmdDeleteContainer}, applied)

	// A snapshot brings a fresh replica to the same state.
	fresh, _ := open(t, Options{RegionID: 3, ReadOnly: true})
	type kv struct{ k, v []byte }
	var items []kv
	lsn, epoch, err := w.Snapshot(context.Background(), func(k, v []byte) error {
		items = append(items, kv{append([]byte(nil), k...), append([]byte(nil), v...)})
		return nil
	})
	require.NoError(t, err)
	i := 0
	require.NoError(t, fresh.InstallSnapshot(context.Background(), lsn, epoch, func() ([]byte, []byte, bool, error) {
		if i == len(items) {
			return nil, nil, false, nil
		}
		i++
		return items[i-1].k, items[i-1].v, true, nil
	}))
	require.Equal(t, state(t, w), state(t, fresh))
	require.Equal(t, int64(4), fresh.Applied())

	// Reopening keeps the applied LSN.
	w2, err := Open(wdb, Options{RegionID: 1})
	require.NoError(t, err)
	require.Equal(t, int64(4), w2.Applied())
}
