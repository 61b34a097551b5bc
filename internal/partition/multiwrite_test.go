package partition

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"

	"github.com/meridiandb/meridian/internal/conflict"
	"github.com/meridiandb/meridian/internal/replog"
	"github.com/meridiandb/meridian/internal/resource"
)

// mwRegion is one region's replica of a multi-write partition.
type mwRegion struct {
	id uint32
	p  *Partition
}

func openMW(t *testing.T, ids []uint32, policy conflict.Policy, clock func(id uint32) func() time.Time) []*mwRegion {
	t.Helper()
	info := testInfo
	info.Conflict = policy
	var out []*mwRegion
	for _, id := range ids {
		db := openDB(t, vfs.NewMem())
		var c func() time.Time
		if clock != nil {
			c = clock(id)
		}
		p, err := Open(Config{ID: 1, DB: db, RegionID: id, MultiWrite: true, Clock: c}, info)
		require.NoError(t, err)
		t.Cleanup(func() { p.Close(); _ = db.Close() })
		out = append(out, &mwRegion{id: id, p: p})
	}
	return out
}

// pull applies everything from's log holds (after to's cursor) to to.
func pull(t *testing.T, to, from *mwRegion) {
	t.Helper()
	a := to.p.From(from.id)
	var es []*replog.Entry
	require.NoError(t, from.p.ReadLog(a.Applied(), 0, func(e *replog.Entry) bool { es = append(es, e); return true }))
	require.NoError(t, a.ApplyReplicated(context.Background(), es))
}

func exchangeAll(t *testing.T, rs []*mwRegion) {
	t.Helper()
	for range 2 {
		for _, a := range rs {
			for _, b := range rs {
				if a != b {
					pull(t, a, b)
				}
			}
		}
	}
}

func mwDump(t *testing.T, p *Partition) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, p.Scan(context.Background(), nil, nil, func(k []byte, v *Version) bool {
		out[string(k[9:])] = fmt.Sprintf("%s %s", v.ETag, v.JSON)
		return true
	}))
	return out
}

func conflictIDs(t *testing.T, p *Partition) []string {
	t.Helper()
	recs, err := p.Conflicts(context.Background())
	require.NoError(t, err)
	var ids []string
	for _, r := range recs {
		var m struct {
			ID string `json:"id"`
		}
		require.NoError(t, json.Unmarshal(r, &m))
		ids = append(ids, m.ID)
	}
	return ids
}

func TestMultiWriteConcurrentCreatesConvergeLWW(t *testing.T) {
	rs := openMW(t, []uint32{1, 2, 3}, conflict.DefaultPolicy(), nil)
	ctx := context.Background()
	for _, r := range rs {
		res, err := r.p.Write(ctx, Op{Kind: Create, PK: pk("p"), Doc: doc(t, fmt.Sprintf(`{"id":"k","pk":"p","from":%d}`, r.id))})
		require.NoError(t, err, "every region accepts the create locally")
		require.True(t, res.Created)
	}
	exchangeAll(t, rs)
	want := mwDump(t, rs[0].p)
	require.Len(t, want, 1)
	for _, r := range rs[1:] {
		require.Equal(t, want, mwDump(t, r.p), "region %d converged", r.id)
	}
	require.Contains(t, want["\x00p\x00\x00k"]+fmt.Sprint(want), `"from":3`, "the latest HLC wins; at equal wall time the higher region id (D-7)")
	for _, r := range rs {
		require.Empty(t, conflictIDs(t, r.p), "LWW losers never reach the feed")
		require.Equal(t, conflict.Vector{1: 1, 2: 1, 3: 1}, r.p.Vector())
	}
}

func TestMultiWriteCustomFeedsEachLoserOnce(t *testing.T) {
	rs := openMW(t, []uint32{1, 2, 3}, conflict.CustomPolicy(), nil)
	ctx := context.Background()
	for _, r := range rs {
		_, err := r.p.Write(ctx, Op{Kind: Upsert, PK: pk("p"), Doc: doc(t, fmt.Sprintf(`{"id":"k","pk":"p","from":%d}`, r.id))})
		require.NoError(t, err)
	}
	exchangeAll(t, rs)
	want := mwDump(t, rs[0].p)
	for _, r := range rs {
		require.Equal(t, want, mwDump(t, r.p))
		ids := conflictIDs(t, r.p)
		require.ElementsMatch(t, []string{"mw-1-1-0", "mw-2-1-0"}, ids, "region %d: both losers, once each", r.id)
	}
	// A deleted record never comes back, even when it is published again.
	require.NoError(t, rs[0].p.DeleteConflict(ctx, "mw-1-1-0"))
	exchangeAll(t, rs)
	for _, r := range rs {
		require.Equal(t, []string{"mw-2-1-0"}, conflictIDs(t, r.p), "region %d", r.id)
	}
}

func TestMultiWriteDeleteBeatsConcurrentUpdateAndStays(t *testing.T) {
	rs := openMW(t, []uint32{1, 2}, conflict.DefaultPolicy(), nil)
	ctx := context.Background()
	a, b := rs[0], rs[1]
	_, err := a.p.Write(ctx, Op{Kind: Create, PK: pk("p"), Doc: doc(t, `{"id":"k","pk":"p","v":0}`)})
	require.NoError(t, err)
	exchangeAll(t, rs)
	_, err = a.p.Write(ctx, Op{Kind: Delete, ID: "k", PK: pk("p")})
	require.NoError(t, err)
	time.Sleep(2 * time.Millisecond) // B's update is later by the clock: it still loses
	_, err = b.p.Write(ctx, Op{Kind: Replace, ID: "k", PK: pk("p"), Doc: doc(t, `{"id":"k","pk":"p","v":999}`)})
	require.NoError(t, err)
	exchangeAll(t, rs)
	for _, r := range rs {
		_, err := r.p.Get(pk("p"), "k")
		require.ErrorIs(t, err, resource.ErrNotFound, "region %d: the delete wins (MW-A4)", r.id)
	}
	// A create after the delete starts a new life, everywhere.
	_, err = b.p.Write(ctx, Op{Kind: Create, PK: pk("p"), Doc: doc(t, `{"id":"k","pk":"p","v":2}`)})
	require.NoError(t, err)
	exchangeAll(t, rs)
	require.Equal(t, mwDump(t, a.p), mwDump(t, b.p))
	require.Len(t, mwDump(t, a.p), 1)
}

func TestMultiWriteCustomPathLWW(t *testing.T) {
	pol, err := conflict.LastWriterWinsPolicy("/prio")
	require.NoError(t, err)
	rs := openMW(t, []uint32{1, 2}, pol, nil)
	ctx := context.Background()
	_, err = rs[0].p.Write(ctx, Op{Kind: Upsert, PK: pk("p"), Doc: doc(t, `{"id":"k","pk":"p","prio":5}`)})
	require.NoError(t, err)
	time.Sleep(2 * time.Millisecond)
	_, err = rs[1].p.Write(ctx, Op{Kind: Upsert, PK: pk("p"), Doc: doc(t, `{"id":"k","pk":"p","prio":3}`)})
	require.NoError(t, err)
	exchangeAll(t, rs)
	for _, r := range rs {
		v, err := r.p.Get(pk("p"), "k")
		require.NoError(t, err)
		require.Contains(t, string(v.JSON), `"prio":5`, "MW-A3: the higher path value wins though written earlier")
	}
}

// TestMultiWriteRandomConvergesWithSkewAndRelays writes random operations
// in three regions with skewed clocks and exchanges logs in random order
// and through relays; every region must end byte-identical, and every
// region's vector must cover every write.
func TestMultiWriteRandomConvergesWithSkewAndRelays(t *testing.T) {
	for seed := range uint64(8) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			skew := map[uint32]time.Duration{1: 0, 2: 5 * time.Second, 3: -5 * time.Second}
			pol := conflict.DefaultPolicy()
			if seed%2 == 1 {
				pol = conflict.CustomPolicy()
			}
			rs := openMW(t, []uint32{1, 2, 3}, pol, func(id uint32) func() time.Time {
				return func() time.Time { return time.Now().Add(skew[id]) }
			})
			ctx := context.Background()
			for step := 0; step < 300; step++ {
				r := rs[rng.IntN(3)]
				id := fmt.Sprintf("k%d", rng.IntN(6))
				switch rng.IntN(6) {
				case 0:
					_, _ = r.p.Write(ctx, Op{Kind: Delete, ID: id, PK: pk("p")})
				case 1:
					_, _ = r.p.Write(ctx, Op{Kind: Create, PK: pk("p"), Doc: doc(t, fmt.Sprintf(`{"id":%q,"pk":"p","s":%d}`, id, step))})
				case 2:
					// Pull from a random peer (maybe relaying a third region's writes).
					pull(t, r, rs[rng.IntN(3)%3])
				default:
					_, _ = r.p.Write(ctx, Op{Kind: Upsert, PK: pk("p"), Doc: doc(t, fmt.Sprintf(`{"id":%q,"pk":"p","s":%d}`, id, step))})
				}
			}
			exchangeAll(t, rs)
			want := mwDump(t, rs[0].p)
			for _, r := range rs[1:] {
				require.Equal(t, want, mwDump(t, r.p), "region %d diverged", r.id)
				require.Equal(t, rs[0].p.Vector(), r.p.Vector())
			}
		})
	}
}

func TestMultiWriteStateSurvivesRestart(t *testing.T) {
	db := openDB(t, vfs.NewMem())
	defer db.Close()
	info := testInfo
	p, err := Open(Config{ID: 1, DB: db, RegionID: 2, MultiWrite: true}, info)
	require.NoError(t, err)
	ctx := context.Background()
	_, err = p.Write(ctx, Op{Kind: Create, PK: pk("p"), Doc: doc(t, `{"id":"k","pk":"p"}`)})
	require.NoError(t, err)
	_, err = p.Write(ctx, Op{Kind: Delete, ID: "k", PK: pk("p")})
	require.NoError(t, err)
	p.Close()
	p, err = Open(Config{ID: 1, DB: db, RegionID: 2, MultiWrite: true}, info)
	require.NoError(t, err)
	defer p.Close()
	require.Equal(t, conflict.Vector{2: 2}, p.Vector())
	res, err := p.Write(ctx, Op{Kind: Create, PK: pk("p"), Doc: doc(t, `{"id":"k","pk":"p"}`)})
	require.NoError(t, err)
	require.Equal(t, uint64(1), res.Version.MW.Incarnation, "the tombstone survived the restart")
}

// mergeSnapshot merges a snapshot of from into to, as repl.Receiver does
// when from's log no longer reaches back to to's position.
func mergeSnapshot(t *testing.T, to, from *mwRegion) {
	t.Helper()
	var kvs [][2][]byte
	lsn, epoch, err := from.p.Snapshot(context.Background(), func(k, v []byte) error {
		kvs = append(kvs, [2][]byte{append([]byte(nil), k...), append([]byte(nil), v...)})
		return nil
	})
	require.NoError(t, err)
	i := 0
	require.NoError(t, to.p.From(from.id).InstallSnapshot(context.Background(), lsn, epoch, func() ([]byte, []byte, bool, error) {
		if i == len(kvs) {
			return nil, nil, false, nil
		}
		i++
		return kvs[i-1][0], kvs[i-1][1], true, nil
	}))
}

func TestMultiWriteSnapshotMergeAndOriginGap(t *testing.T) {
	rs := openMW(t, []uint32{1, 2, 3, 4}, conflict.CustomPolicy(), nil)
	a, b, c, d := rs[0], rs[1], rs[2], rs[3]
	ctx := context.Background()
	for i := range 10 {
		_, err := a.p.Write(ctx, Op{Kind: Upsert, PK: pk("p"), Doc: doc(t, fmt.Sprintf(`{"id":"k%d","pk":"p","a":%d}`, i, i))})
		require.NoError(t, err)
	}
	pull(t, b, a)
	_, err := b.p.Write(ctx, Op{Kind: Delete, ID: "k3", PK: pk("p")})
	require.NoError(t, err)
	// C writes a conflicting version of k1 before it hears of anything.
	_, err = c.p.Write(ctx, Op{Kind: Upsert, PK: pk("p"), Doc: doc(t, `{"id":"k1","pk":"p","c":1}`)})
	require.NoError(t, err)

	mergeSnapshot(t, c, b) // C gets A's writes and B's delete without their log entries
	require.Equal(t, conflict.Vector{1: 10, 2: 1, 3: 1}, c.p.Vector())
	_, err = c.p.Get(pk("p"), "k3")
	require.ErrorIs(t, err, resource.ErrNotFound, "the tombstone came with the snapshot")

	for i := 10; i < 13; i++ {
		_, err := a.p.Write(ctx, Op{Kind: Upsert, PK: pk("p"), Doc: doc(t, fmt.Sprintf(`{"id":"k%d","pk":"p","a":%d}`, i, i))})
		require.NoError(t, err)
	}
	pull(t, c, a) // A's first ten are duplicates now; the rest apply
	require.Equal(t, int64(13), c.p.Vector()[1])

	// D has none of A's writes; C's log relays A's later ones without the
	// first ten: the apply asks for a snapshot instead of skipping them.
	var es []*replog.Entry
	require.NoError(t, c.p.ReadLog(0, 0, func(e *replog.Entry) bool { es = append(es, e); return true }))
	err = d.p.From(c.id).ApplyReplicated(ctx, es)
	var ns *NeedSnapshot
	require.ErrorAs(t, err, &ns)
	mergeSnapshot(t, d, c)
	exchangeAll(t, rs)
	want := mwDump(t, a.p)
	for _, r := range rs[1:] {
		require.Equal(t, want, mwDump(t, r.p), "region %d", r.id)
		require.Equal(t, conflictIDs(t, a.p), conflictIDs(t, r.p), "region %d feed", r.id)
	}
	require.Len(t, conflictIDs(t, a.p), 1, "k1's loser, once")
}
