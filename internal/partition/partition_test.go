package partition

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"

	"github.com/meridiandb/meridian/internal/document"
	"github.com/meridiandb/meridian/internal/pkey"
	"github.com/meridiandb/meridian/internal/replog"
	"github.com/meridiandb/meridian/internal/resource"
	"github.com/meridiandb/meridian/internal/storage"
)

var testInfo = ContainerInfo{
	DBNum: 1, CollNum: 1, DBRID: "AQAAAA==", CollRID: "AQAAAIAAAAE=",
	PartitionKey: resource.PartitionKeyDefinition{Paths: []string{"/pk"}, Kind: "Hash", Version: 2},
}

func openDB(t testing.TB, fs vfs.FS) *storage.DB {
	t.Helper()
	db, err := storage.Open(storage.Options{Dir: "data", FS: fs})
	require.NoError(t, err)
	return db
}

func openPart(t testing.TB, db *storage.DB, clock func() time.Time) *Partition {
	t.Helper()
	p, err := Open(Config{ID: 1, DB: db, RegionID: 1, Clock: clock, PurgeInterval: 10 * time.Millisecond}, testInfo)
	require.NoError(t, err)
	return p
}

func doc(t testing.TB, body string) *document.Doc {
	t.Helper()
	d, err := document.Parse([]byte(body))
	require.NoError(t, err)
	return d
}

func pk(s string) pkey.Key { return pkey.Key{s} }

func TestWriteReadAndPreconditions(t *testing.T) {
	db := openDB(t, vfs.NewMem())
	defer db.Close()
	p := openPart(t, db, nil)
	defer p.Close()
	ctx := context.Background()

	res, err := p.Write(ctx, Op{Kind: Create, PK: pk("a"), Doc: doc(t, `{"id":"1","pk":"a","v":1}`)})
	require.NoError(t, err)
	require.True(t, res.Created)
	require.Equal(t, int64(1), res.LSN)
	require.Equal(t, int64(1), p.Applied())

	_, err = p.Write(ctx, Op{Kind: Create, PK: pk("a"), Doc: doc(t, `{"id":"1","pk":"a"}`)})
	require.ErrorIs(t, err, resource.ErrConflict)

	_, err = p.Write(ctx, Op{Kind: Create, PK: pk("b"), Doc: doc(t, `{"id":"1","pk":"a"}`)})
	require.Equal(t, resource.KindBadRequest, resource.KindOf(err), "header and body keys differ")

	_, err = p.Write(ctx, Op{Kind: Replace, ID: "1", PK: pk("a"), IfMatch: `"nope"`, Doc: doc(t, `{"id":"1","pk":"a","v":2}`)})
	require.ErrorIs(t, err, resource.ErrPreconditionFailed)

	res, err = p.Write(ctx, Op{Kind: Replace, ID: "1", PK: pk("a"), IfMatch: res.Version.ETag, Doc: doc(t, `{"id":"1","pk":"a","v":2}`)})
	require.NoError(t, err)
	require.False(t, res.Created)

	v, err := p.Get(pk("a"), "1")
	require.NoError(t, err)
	require.Contains(t, string(v.JSON), `"v":2`)
	require.Equal(t, res.Version.ETag, v.ETag)

	_, err = p.Write(ctx, Op{Kind: Delete, ID: "1", PK: pk("a")})
	require.NoError(t, err)
	_, err = p.Get(pk("a"), "1")
	require.ErrorIs(t, err, resource.ErrNotFound)
	_, err = p.Write(ctx, Op{Kind: Delete, ID: "1", PK: pk("a")})
	require.ErrorIs(t, err, resource.ErrNotFound)
}

func TestAtomicBatchAllOrNothing(t *testing.T) {
	db := openDB(t, vfs.NewMem())
	defer db.Close()
	p := openPart(t, db, nil)
	defer p.Close()
	ctx := context.Background()
	_, err := p.Write(ctx, Op{Kind: Create, PK: pk("a"), Doc: doc(t, `{"id":"x","pk":"a"}`)})
	require.NoError(t, err)

	res, err := p.Batch(ctx, []Op{
		{Kind: Create, PK: pk("a"), Doc: doc(t, `{"id":"y","pk":"a"}`)},
		{Kind: Create, PK: pk("a"), Doc: doc(t, `{"id":"x","pk":"a"}`)}, // conflict
	}, true)
	require.NoError(t, err)
	require.ErrorIs(t, res[0].Err, ErrFailedDependency)
	require.ErrorIs(t, res[1].Err, resource.ErrConflict)
	_, err = p.Get(pk("a"), "y")
	require.ErrorIs(t, err, resource.ErrNotFound, "rolled back")

	res, err = p.Batch(ctx, []Op{
		{Kind: Create, PK: pk("a"), Doc: doc(t, `{"id":"y","pk":"a","n":1}`)},
		{Kind: Replace, ID: "y", PK: pk("a"), Doc: doc(t, `{"id":"y","pk":"a","n":2}`)},
		{Kind: Read, ID: "y", PK: pk("a")},
	}, true)
	require.NoError(t, err)
	for _, r := range res {
		require.NoError(t, r.Err)
	}
	require.Contains(t, string(res[2].Version.JSON), `"n":2`, "a batch read sees the batch's own writes")
	require.Equal(t, res[0].LSN, res[1].LSN, "one entry per batch")
	var entries []*replog.Entry
	require.NoError(t, p.ReadLog(0, 0, func(e *replog.Entry) bool { entries = append(entries, e); return true }))
	require.Len(t, entries, 2)
	require.Len(t, entries[1].Ops, 2)
}

// TestGroupCommitOrdersLSNs writes concurrently and checks that LSNs are
// dense, unique, and that the log replays to the stored state.
func TestGroupCommitOrdersLSNs(t *testing.T) {
	db := openDB(t, vfs.NewMem())
	defer db.Close()
	p := openPart(t, db, nil)
	defer p.Close()
	ctx := context.Background()
	const writers, each = 16, 50
	var mu sync.Mutex
	seen := map[int64]bool{}
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				res, err := p.Write(ctx, Op{Kind: Upsert, PK: pk("p"), Doc: doc(t, fmt.Sprintf(`{"id":"%d-%d","pk":"p"}`, w, i))})
				require.NoError(t, err)
				mu.Lock()
				require.False(t, seen[res.LSN], "duplicate LSN %d", res.LSN)
				seen[res.LSN] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	require.Equal(t, int64(writers*each), p.Applied())
	for l := int64(1); l <= p.Applied(); l++ {
		require.True(t, seen[l], "LSN %d missing", l)
	}
	n := 0
	require.NoError(t, p.Scan(ctx, nil, nil, func([]byte, *Version) bool { n++; return true }))
	require.Equal(t, writers*each, n)
}

func TestChangesLatestVersionInLSNOrder(t *testing.T) {
	db := openDB(t, vfs.NewMem())
	defer db.Close()
	p := openPart(t, db, nil)
	defer p.Close()
	ctx := context.Background()
	for i, id := range []string{"a", "b", "c", "a", "d"} {
		_, err := p.Write(ctx, Op{Kind: Upsert, PK: pk("p"), Doc: doc(t, fmt.Sprintf(`{"id":%q,"pk":"p","i":%d}`, id, i))})
		require.NoError(t, err)
	}
	_, err := p.Write(ctx, Op{Kind: Delete, ID: "c", PK: pk("p")})
	require.NoError(t, err)
	// Index now: b@2, a@4, d@5 (c deleted at 6).
	vers, next, err := p.Changes(ctx, 0, 2, nil)
	require.NoError(t, err)
	require.Len(t, vers, 2)
	require.Contains(t, string(vers[0].JSON), `"id":"b"`)
	require.Contains(t, string(vers[1].JSON), `"id":"a","pk":"p","i":3`)
	require.Equal(t, int64(4), next)
	vers, next, err = p.Changes(ctx, next, 2, nil)
	require.NoError(t, err)
	require.Len(t, vers, 1)
	require.Contains(t, string(vers[0].JSON), `"id":"d"`)
	require.Equal(t, int64(6), next)
	vers, next, err = p.Changes(ctx, next, 2, nil)
	require.NoError(t, err)
	require.Empty(t, vers)
	require.Equal(t, int64(6), next)
}

func TestCrashKeepsEveryAcknowledgedWrite(t *testing.T) {
	for trial := 0; trial < 3; trial++ {
		fs := vfs.NewCrashableMem()
		db := openDB(t, fs)
		p := openPart(t, db, nil)
		ctx := context.Background()
		var acked sync.Map
		var stop atomic.Bool
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; !stop.Load(); i++ {
					id := fmt.Sprintf("%d-%d", w, i)
					if _, err := p.Write(ctx, Op{Kind: Create, PK: pk("p"), Doc: doc(t, fmt.Sprintf(`{"id":%q,"pk":"p"}`, id))}); err == nil {
						acked.Store(id, true)
					}
				}
			}()
		}
		time.Sleep(time.Duration(20+rand.IntN(50)) * time.Millisecond)
		// Every write acknowledged now was synced before the clone below.
		var before []string
		acked.Range(func(k, _ any) bool { before = append(before, k.(string)); return true })
		// Power loss: keep only what was synced (and a random half of the rest).
		crashed := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 50, RNG: rand.New(rand.NewPCG(uint64(trial), 7))})
		stop.Store(true)
		wg.Wait()
		p.Close()
		require.NoError(t, db.Close())

		db2 := openDB(t, crashed)
		p2 := openPart(t, db2, nil)
		require.NotEmpty(t, before)
		for _, id := range before {
			_, err := p2.Get(pk("p"), id)
			require.NoError(t, err, "acknowledged write %s lost in trial %d", id, trial)
		}
		var maxLSN int64
		require.NoError(t, p2.ReadLog(0, 0, func(e *replog.Entry) bool { maxLSN = e.LSN; return true }))
		require.Equal(t, maxLSN, p2.Applied(), "log and applied LSN agree after recovery")
		items := 0
		require.NoError(t, p2.Scan(ctx, nil, nil, func([]byte, *Version) bool { items++; return true }))
		require.Equal(t, int(p2.Applied()), items, "one item per entry: nothing half-applied")
		p2.Close()
		require.NoError(t, db2.Close())
	}
}

func TestTTLHidesThenPurgesWithALogDelete(t *testing.T) {
	db := openDB(t, vfs.NewMem())
	defer db.Close()
	var now atomic.Int64
	now.Store(time.Unix(1_000_000, 0).UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	p := openPart(t, db, clock)
	defer p.Close()
	ttl := int32(10)
	info := testInfo
	info.DefaultTTL = &ttl
	p.SetInfo(info)
	ctx := context.Background()
	_, err := p.Write(ctx, Op{Kind: Create, PK: pk("p"), Doc: doc(t, `{"id":"short","pk":"p"}`)})
	require.NoError(t, err)
	_, err = p.Write(ctx, Op{Kind: Create, PK: pk("p"), Doc: doc(t, `{"id":"forever","pk":"p","ttl":-1}`)})
	require.NoError(t, err)

	now.Add(int64(11 * time.Second))
	_, err = p.Get(pk("p"), "short")
	require.ErrorIs(t, err, resource.ErrNotFound, "expired items are hidden at once")
	_, err = p.Get(pk("p"), "forever")
	require.NoError(t, err)

	// The purger turns the expiry into a logged delete.
	require.Eventually(t, func() bool { return p.Applied() == 3 }, 5*time.Second, 5*time.Millisecond)
	var last *replog.Entry
	require.NoError(t, p.ReadLog(2, 0, func(e *replog.Entry) bool { last = e; return true }))
	require.Equal(t, replog.OpDelete, last.Ops[0].Kind)
	// Creating the id again works.
	_, err = p.Write(ctx, Op{Kind: Create, PK: pk("p"), Doc: doc(t, `{"id":"short","pk":"p"}`)})
	require.NoError(t, err)
}
