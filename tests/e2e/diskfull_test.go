package e2e_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/stretchr/testify/require"
)

// TestDiskFullFailsFast (scenario F16 without root): a region whose data
// volume is below its free-space reserve refuses writes at once with 507,
// never hangs (Pebble would stall), keeps serving reads, and loses nothing
// it acknowledged once it restarts with space.
func TestDiskFullFailsFast(t *testing.T) {
	dir := t.TempDir()
	p := startServe(t, serveOpts{dataDir: dir})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	co := createDBAndContainer(t, newSDKClient(t, p.endpoint, nil), "db", "c")
	pk := azcosmos.NewPartitionKeyString("p")
	_, err := co.CreateItem(ctx, pk, []byte(`{"id":"before","pk":"p"}`), nil)
	require.NoError(t, err)
	_, err = p.terminate(10 * time.Second)
	require.NoError(t, err)

	// Restart with a reserve no disk can satisfy: the volume is "full".
	p = restartServe(t, dir, p.addr, serveOpts{extra: []string{"--space-reserve", "9000000000000000000"}})
	co = existing(t, p.endpoint)
	start := time.Now()
	_, err = co.CreateItem(ctx, pk, []byte(`{"id":"during","pk":"p"}`), nil)
	var re *azcore.ResponseError
	require.True(t, errors.As(err, &re), "write refused: %v", err)
	require.Equal(t, 507, re.StatusCode)
	require.Less(t, time.Since(start), 30*time.Second, "the write failed fast instead of stalling")
	_, err = co.ReadItem(ctx, pk, "before", nil)
	require.NoError(t, err, "reads keep working")

	_, err = p.terminate(10 * time.Second)
	require.NoError(t, err)
	p = restartServe(t, dir, p.addr, serveOpts{})
	co = existing(t, p.endpoint)
	_, err = co.ReadItem(ctx, pk, "before", nil)
	require.NoError(t, err, "nothing acknowledged was lost")
	_, err = co.CreateItem(ctx, pk, []byte(`{"id":"after","pk":"p"}`), nil)
	require.NoError(t, err)
}

func existing(t *testing.T, endpoint string) *azcosmos.ContainerClient {
	t.Helper()
	co, err := newSDKClient(t, endpoint, nil).NewContainer("db", "c")
	require.NoError(t, err)
	return co
}
