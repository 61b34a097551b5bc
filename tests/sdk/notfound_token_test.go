package sdk_test

import (
	"regexp"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/stretchr/testify/require"
)

// TestNotFoundReadCarriesSessionToken: like Cosmos DB, a read of a missing
// item still returns the session token and the container's content path
// (the Node.js SDK harvests tokens from 404s).
func TestNotFoundReadCarriesSessionToken(t *testing.T) {
	e := start(t)
	co := e.createContainer(e.createDB("db"), "c", "/pk")
	ctx := ctxT(t)
	_, err := co.CreateItem(ctx, azcosmos.NewPartitionKeyString("p"), []byte(`{"id":"a","pk":"p"}`), nil)
	require.NoError(t, err)
	_, err = co.ReadItem(ctx, azcosmos.NewPartitionKeyString("p"), "missing", nil)
	re := respErr(t, err, 404)
	require.Equal(t, "", substatus(re), "a plain not-found")
	require.Regexp(t, regexp.MustCompile(`^0:\d+#\d+$`), re.RawResponse.Header.Get("x-ms-session-token"))
	require.NotEmpty(t, re.RawResponse.Header.Get("x-ms-content-path"))
}
