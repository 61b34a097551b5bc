package geo_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/stretchr/testify/require"

	"github.com/meridiandb/meridian/internal/auth"
	"github.com/meridiandb/meridian/internal/testcluster"
)

const (
	west   = "West US"
	east   = "East US"
	europe = "North Europe"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// setup creates database "db" and container "c" (/pk) through the write
// region and waits until every region has the container.
func setup(t *testing.T, c *testcluster.Cluster) {
	t.Helper()
	ctx := ctxT(t)
	w := c.Client(c.WriteRegion())
	_, err := w.CreateDatabase(ctx, azcosmos.DatabaseProperties{ID: "db"}, nil)
	require.NoError(t, err)
	db, err := w.NewDatabase("db")
	require.NoError(t, err)
	_, err = db.CreateContainer(ctx, azcosmos.ContainerProperties{ID: "c", PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: []string{"/pk"}}}, nil)
	require.NoError(t, err)
	for _, r := range c.Topo.Regions {
		waitContainer(t, c, r.Name)
	}
}

func waitContainer(t *testing.T, c *testcluster.Cluster, region string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		status, _ := raw(t, c, region, http.MethodGet, "colls", "dbs/db/colls/c", "/dbs/db/colls/c", nil, nil)
		if status == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("container never appeared in %s (last status %d)", region, status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func container(t *testing.T, cl *azcosmos.Client) *azcosmos.ContainerClient {
	t.Helper()
	co, err := cl.NewContainer("db", "c")
	require.NoError(t, err)
	return co
}

// raw sends a signed REST request straight to one region.
func raw(t *testing.T, c *testcluster.Cluster, region, method, resType, resLink, path string, body []byte, hdr map[string]string) (int, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, strings.TrimSuffix(c.Endpoint(region), "/")+path, strings.NewReader(string(body)))
	require.NoError(t, err)
	date := time.Now().UTC().Format(http.TimeFormat)
	req.Header.Set("x-ms-date", date)
	req.Header.Set("x-ms-version", "2020-11-05")
	req.Header.Set("Authorization", auth.Sign(auth.MustDecodeKey(auth.EmulatorKey), method, resType, resLink, date))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	return resp.StatusCode, resp.Header
}

func statusOf(err error) (int, string) {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode, re.RawResponse.Header.Get("x-ms-substatus")
	}
	return 0, ""
}

// withHeader adds request headers the SDK has no option for.
func withHeader(ctx context.Context, k, v string) context.Context {
	return policy.WithHTTPHeader(ctx, http.Header{k: []string{v}})
}

func pk(s string) azcosmos.PartitionKey { return azcosmos.NewPartitionKeyString(s) }
