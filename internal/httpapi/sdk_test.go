package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/meridiandb/meridian/internal/auth"
	"github.com/meridiandb/meridian/internal/pkey"
	"github.com/meridiandb/meridian/internal/resource"
)

// TestGoSDK drives the handler with the real Go SDK (azcosmos v1.5.0) over
// HTTP: account bootstrap, real signatures, escaped ids, every request shape
// the SDK sends, and its parsing of every response shape.
func TestGoSDK(t *testing.T) {
	e := newEnv(t)
	// Empty endpoints render as this request's host, i.e. the test server.
	e.f.account.WritableLocations = []Location{{Name: "West US"}}
	e.f.account.ReadableLocations = []Location{{Name: "West US"}}
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	cred, err := azcosmos.NewKeyCredential(auth.EmulatorKey)
	if err != nil {
		t.Fatal(err)
	}
	client, err := azcosmos.NewClientWithKey(srv.URL+"/", cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	tp := azcosmos.NewManualThroughputProperties(400)
	if _, err := client.CreateDatabase(ctx, azcosmos.DatabaseProperties{ID: "db 1"}, &azcosmos.CreateDatabaseOptions{ThroughputProperties: &tp}); err != nil {
		t.Fatal("CreateDatabase:", err)
	}
	if e.f.createTP.Manual != 400 {
		t.Fatalf("throughput %+v", e.f.createTP)
	}
	db, _ := client.NewDatabase("db 1")
	if r, err := db.Read(ctx, nil); err != nil || r.DatabaseProperties.ID != "db 1" {
		t.Fatal("db.Read:", err)
	}
	_, err = db.CreateContainer(ctx, azcosmos.ContainerProperties{ID: "c+1",
		PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: []string{"/pk"}}}, nil)
	if err != nil {
		t.Fatal("CreateContainer:", err)
	}
	cc, _ := db.NewContainer("c+1")
	cr, err := cc.Read(ctx, nil)
	if err != nil || cr.ContainerProperties.PartitionKeyDefinition.Paths[0] != "/pk" {
		t.Fatal("container Read:", err)
	}

	// Items, with an id that needs escaping and a non-ASCII key.
	id := "a b+é:@"
	pk := azcosmos.NewPartitionKeyString("p+é😀")
	ir, err := cc.CreateItem(ctx, pk, []byte(`{"id":"a b+é:@","pk":"p+é😀"}`), nil)
	if err != nil {
		t.Fatal("CreateItem:", err)
	}
	if ir.SessionToken == nil || *ir.SessionToken != "0:-1#7" || ir.RequestCharge != 1.05 || ir.ETag != `"e1"` || len(ir.Value) != 0 {
		t.Fatalf("CreateItem response: token %v charge %v etag %q value %q", ir.SessionToken, ir.RequestCharge, ir.ETag, ir.Value)
	}
	if got := e.f.lastItem; got.Op != OpCreate || got.DB != "db 1" || got.Container != "c+1" || !got.PartitionKey.Equal(pkey.Key{"p+é😀"}) {
		t.Fatalf("backend got %+v", got)
	}
	ir, err = cc.ReadItem(ctx, pk, id, nil)
	if err != nil || e.f.lastItem.ID != id || len(ir.Value) == 0 {
		t.Fatalf("ReadItem: %v, backend id %q", err, e.f.lastItem.ID)
	}
	if _, err := cc.UpsertItem(ctx, pk, []byte(`{"id":"u","pk":"p"}`), nil); err != nil || e.f.lastItem.Op != OpUpsert {
		t.Fatal("UpsertItem:", err)
	}
	if _, err := cc.ReplaceItem(ctx, pk, id, []byte(`{"id":"a b+é:@","pk":"p+é😀"}`), &azcosmos.ItemOptions{IfMatchEtag: (*azcore.ETag)(&ir.ETag)}); err != nil ||
		e.f.lastItem.Options.IfMatch != `"e1"` {
		t.Fatal("ReplaceItem:", err)
	}
	var ops azcosmos.PatchOperations
	ops.SetCondition("from c where c.x = 2")
	ops.AppendIncrement("/n", 1)
	if _, err := cc.PatchItem(ctx, pk, id, ops, nil); err != nil || e.f.lastItem.Patch == nil || e.f.lastItem.Patch.Condition == "" {
		t.Fatal("PatchItem:", err)
	}
	if _, err := cc.DeleteItem(ctx, pk, id, nil); err != nil || e.f.lastItem.Op != OpDelete {
		t.Fatal("DeleteItem:", err)
	}

	// Query, cross-partition and single-partition.
	e.f.queryResp = QueryResponse{Documents: []json.RawMessage{[]byte(`{"id":"a"}`), []byte(`{"id":"b"}`)},
		Meta: ResponseMeta{ContainerRID: testCollRID}}
	pager := cc.NewQueryItemsPager("SELECT * FROM c WHERE c.x = @x", azcosmos.NewPartitionKey(),
		&azcosmos.QueryOptions{QueryParameters: []azcosmos.QueryParameter{{Name: "@x", Value: 2}}})
	var n int
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal("query:", err)
		}
		n += len(page.Items)
	}
	if n != 2 || e.f.lastQuery.PartitionKey != nil || string(e.f.lastQuery.Parameters[0].Value) != "2" {
		t.Fatalf("query: %d items, request %+v", n, e.f.lastQuery)
	}

	// Transactional batch: success, then a rolled-back batch (207).
	b := cc.NewTransactionalBatch(pk)
	b.CreateItem([]byte(`{"id":"i1","pk":"p+é😀"}`), nil)
	b.ReadItem("i1", nil)
	e.f.batchResp = BatchResponse{Results: []BatchOpResult{{Status: 201, ETag: `"x"`}, {Status: 200, Body: []byte(`{"id":"i1"}`)}},
		Meta: ResponseMeta{SessionToken: "0:-1#8"}}
	br, err := cc.ExecuteTransactionalBatch(ctx, b, nil)
	if err != nil || !br.Success || len(br.OperationResults) != 2 || br.OperationResults[0].StatusCode != 201 || br.SessionToken != "0:-1#8" {
		t.Fatalf("batch: %v %+v", err, br)
	}
	e.f.batchResp = BatchResponse{Failed: true, Results: []BatchOpResult{{Status: 409, Message: "exists"}, {Status: 424}}}
	br, err = cc.ExecuteTransactionalBatch(ctx, b, nil)
	if err != nil || br.Success || br.OperationResults[0].StatusCode != 409 {
		t.Fatalf("failed batch: %v %+v", err, br)
	}

	// Feed ranges (the pkranges loop must end with a 304) and change feed.
	ranges, err := cc.ReadFeedRanges(ctx, nil)
	if err != nil || len(ranges) != 1 {
		t.Fatalf("ReadFeedRanges: %v %v", ranges, err)
	}
	if !strings.Contains(e.logs.String(), "path=/dbs/db%201/colls/c+1/pkranges status=304") {
		t.Fatalf("the SDK's pkranges loop did not end on a 304:\n%s", e.logs.String())
	}
	e.f.feedResp = ChangeFeedResponse{ETag: `"9"`, Documents: []json.RawMessage{[]byte(`{"id":"a","_lsn":9}`)}, Meta: ResponseMeta{ContainerRID: testCollRID}}
	cf, err := cc.ReadChangeFeed(ctx, &azcosmos.ChangeFeedOptions{FeedRange: &ranges[0]})
	if err != nil || len(cf.Items) != 1 || cf.ContinuationToken == "" || e.f.lastFeed.Start != StartBeginning {
		t.Fatalf("ReadChangeFeed: %v %+v %+v", err, cf, e.f.lastFeed)
	}
	e.f.feedResp = ChangeFeedResponse{ETag: `"9"`, NotModified: true, Meta: ResponseMeta{ContainerRID: testCollRID}}
	cf, err = cc.ReadChangeFeed(ctx, &azcosmos.ChangeFeedOptions{Continuation: &cf.ContinuationToken})
	if err != nil || len(cf.Items) != 0 || e.f.lastFeed.Start != StartAfterLSN || e.f.lastFeed.AfterLSN != 9 {
		t.Fatalf("ReadChangeFeed (continuation): %v %+v %+v", err, cf, e.f.lastFeed)
	}

	// Throughput: offers query by _rid, then GET of the offer's _self.
	e.f.offers = []resource.Offer{{ID: "OfFr", RID: "OfFr", Self: "offers/OfFr/", ETag: `"o1"`, OfferVersion: "V2", OfferType: "Invalid",
		Resource: cr.ContainerProperties.SelfLink, OfferResourceID: testCollRID, Content: resource.OfferContent{OfferThroughput: 400}}}
	thr, err := cc.ReadThroughput(ctx, nil)
	if err != nil {
		t.Fatal("ReadThroughput:", err)
	}
	if mt, ok := thr.ThroughputProperties.ManualThroughput(); !ok || mt != 400 {
		t.Fatalf("throughput %v %v", mt, ok)
	}

	// Listing databases.
	dp := client.NewQueryDatabasesPager("SELECT * FROM dbs d WHERE d.id = 'db 1'", nil)
	n = 0
	for dp.More() {
		page, err := dp.NextPage(ctx)
		if err != nil {
			t.Fatal("query databases:", err)
		}
		n += len(page.Databases)
	}
	if n != 1 {
		t.Fatalf("query databases: %d", n)
	}

	// Errors surface with their status and substatus.
	e.f.err = resource.ErrReadSessionNotAvailable
	_, err = cc.ReadItem(ctx, pk, "x", nil)
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusNotFound || re.RawResponse.Header.Get("x-ms-substatus") != "1002" {
		t.Fatalf("404/1002: %v", err)
	}
	e.f.err = resource.ErrConflict
	_, err = cc.CreateItem(ctx, pk, []byte(`{"id":"dup","pk":"p"}`), nil)
	if !errors.As(err, &re) || re.StatusCode != http.StatusConflict || !strings.Contains(err.Error(), `"code": "Conflict"`) {
		t.Fatalf("409: %v", err)
	}
	e.f.err = nil

	if _, err := cc.Delete(ctx, nil); err != nil {
		t.Fatal("container Delete:", err)
	}
	if _, err := db.Delete(ctx, nil); err != nil {
		t.Fatal("db Delete:", err)
	}
}
