package partition

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meridiandb/meridian/internal/resource"
	"github.com/meridiandb/meridian/internal/storage"
)

// TestDiskFullFailsFastAndReadsStillWork: below the free-space reserve a
// write is refused at once with 507, never stalls; reads keep working; when
// space returns, writes succeed and nothing acknowledged was lost.
func TestDiskFullFailsFastAndReadsStillWork(t *testing.T) {
	var free atomic.Uint64
	free.Store(1 << 40)
	db, err := storage.Open(storage.Options{Dir: t.TempDir(), SpaceReserve: 1 << 30,
		FreeSpace: func(string) (uint64, error) { return free.Load(), nil }})
	require.NoError(t, err)
	defer db.Close()
	p := openPart(t, db, nil)
	defer p.Close()
	ctx := context.Background()
	_, err = p.Write(ctx, Op{Kind: Create, PK: pk("p"), Doc: doc(t, `{"id":"a","pk":"p"}`)})
	require.NoError(t, err)

	free.Store(1 << 20) // 1 MiB left: below the 1 GiB reserve
	waitSpaceRecheck()
	_, err = p.Write(ctx, Op{Kind: Create, PK: pk("p"), Doc: doc(t, `{"id":"b","pk":"p"}`)})
	require.Equal(t, resource.KindInsufficientStorage, resource.KindOf(err))
	_, err = p.Get(pk("p"), "a")
	require.NoError(t, err, "reads still work")

	free.Store(1 << 40)
	waitSpaceRecheck()
	_, err = p.Write(ctx, Op{Kind: Create, PK: pk("p"), Doc: doc(t, `{"id":"b","pk":"p"}`)})
	require.NoError(t, err)
	_, err = p.Get(pk("p"), "a")
	require.NoError(t, err)
}

// waitSpaceRecheck outlasts the guard's cache of the free-space reading.
func waitSpaceRecheck() { time.Sleep(150 * time.Millisecond) }
