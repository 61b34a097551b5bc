package partition

import (
	"context"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"

	"github.com/meridiandb/meridian/internal/failpoint"
)

// TestCommitFailpointsSitOnTheCommitPath enables each commit failpoint
// with a sleep and checks that a write passes through it once per group,
// and that partitionAfterSync holds the write before its LSN is published
// (what tests/faults' crash-inside-commit scenario relies on).
func TestCommitFailpointsSitOnTheCommitPath(t *testing.T) {
	db := openDB(t, vfs.NewMem())
	defer db.Close()
	p := openPart(t, db, nil)
	defer p.Close()
	ctx := context.Background()
	write := func(id string) <-chan error {
		ch := make(chan error, 1)
		go func() {
			_, err := p.Write(ctx, Op{Kind: Upsert, PK: pk("p"), Doc: doc(t, `{"id":"`+id+`","pk":"p"}`)})
			ch <- err
		}()
		return ch
	}
	require.NoError(t, <-write("warm"))
	for _, name := range []string{"partitionBeforeSync", "partitionAfterSync"} {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, failpoint.Enable(name, "1*sleep(300)"))
			defer func() { _ = failpoint.Disable(name) }()
			before := p.Applied()
			done := write(name)
			time.Sleep(100 * time.Millisecond)
			select {
			case err := <-done:
				t.Fatalf("the write returned (%v) while %s was sleeping", err, name)
			default:
			}
			require.Equal(t, before, p.Applied(), "applied LSN published while %s holds the group", name)
			require.NoError(t, <-done)
			require.Equal(t, before+1, p.Applied())
			_, count, err := failpoint.Status(name)
			require.NoError(t, err)
			require.Equal(t, 1, count, "%s fired once for one group", name)
		})
	}
}
