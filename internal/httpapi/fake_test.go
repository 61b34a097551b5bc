package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"

	"github.com/meridiandb/meridian/internal/resource"
	"github.com/meridiandb/meridian/internal/session"
)

// fakeBackend is an in-memory Backend that records the last request of
// each kind and can be told to fail or panic.
type fakeBackend struct {
	mu      sync.Mutex
	account AccountInfo
	dbs     map[string]resource.Database
	colls   map[string]resource.Container // key db + "/" + id
	offers  []resource.Offer
	confl   []json.RawMessage

	// err, when set, is returned by every data-plane call.
	err error
	// panicMsg, when set, makes every data-plane call panic.
	panicMsg string

	lastItem   ItemRequest
	lastBatch  BatchRequest
	lastQuery  QueryRequest
	lastFeed   ChangeFeedRequest
	calls      []string
	itemResp   ItemResponse
	batchResp  BatchResponse
	queryResp  QueryResponse
	feedResp   ChangeFeedResponse
	createTP   resource.Throughput
	deletedCon string
}

var _ Backend = (*fakeBackend)(nil)

const testCollRID = "AQAAAIAAAAE=" // resource.ContainerRID(1, 1)

func newFake() *fakeBackend {
	f := &fakeBackend{
		account: AccountInfo{
			ID:                "acct",
			WritableLocations: []Location{{Name: "West US", Endpoint: "127.0.0.1:8081"}},
			ReadableLocations: []Location{{Name: "West US", Endpoint: "127.0.0.1:8081"}, {Name: "East US", Endpoint: "127.0.0.1:8082"}},
			Consistency:       session.Session,
		},
		dbs:   map[string]resource.Database{},
		colls: map[string]resource.Container{},
	}
	f.itemResp = ItemResponse{Body: []byte(`{"id":"x","_etag":"\"e1\""}`), ETag: `"e1"`,
		Meta: ResponseMeta{SessionToken: "0:-1#7", Charge: 1.05, ContainerRID: testCollRID, Region: "westus", LSN: 7}}
	return f
}

func (f *fakeBackend) record(name string) error {
	f.calls = append(f.calls, name)
	if f.panicMsg != "" {
		panic(f.panicMsg)
	}
	return f.err
}

func (f *fakeBackend) Account(context.Context) AccountInfo { return f.account }

func (f *fakeBackend) CreateDatabase(_ context.Context, id string, tp resource.Throughput) (resource.Database, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("CreateDatabase"); err != nil {
		return resource.Database{}, err
	}
	if _, ok := f.dbs[id]; ok {
		return resource.Database{}, resource.ErrConflict
	}
	f.createTP = tp
	n := uint32(len(f.dbs) + 1)
	db := resource.Database{ID: id, RID: resource.DatabaseRID(n), Self: "dbs/" + resource.DatabaseRID(n) + "/",
		ETag: resource.ETag(uint64(n)), Colls: "colls/", Users: "users/", TS: 1764162495}
	f.dbs[id] = db
	return db, nil
}

func (f *fakeBackend) ReadDatabase(_ context.Context, id string) (resource.Database, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("ReadDatabase"); err != nil {
		return resource.Database{}, err
	}
	db, ok := f.dbs[id]
	if !ok {
		return db, resource.ErrNotFound
	}
	return db, nil
}

func (f *fakeBackend) ListDatabases(context.Context) ([]resource.Database, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("ListDatabases"); err != nil {
		return nil, err
	}
	out := make([]resource.Database, 0, len(f.dbs))
	for _, d := range f.dbs {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (f *fakeBackend) DeleteDatabase(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("DeleteDatabase"); err != nil {
		return err
	}
	if _, ok := f.dbs[id]; !ok {
		return resource.ErrNotFound
	}
	delete(f.dbs, id)
	return nil
}

func (f *fakeBackend) CreateContainer(_ context.Context, db string, spec resource.Container, tp resource.Throughput) (resource.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("CreateContainer"); err != nil {
		return resource.Container{}, err
	}
	d, ok := f.dbs[db]
	if !ok {
		return resource.Container{}, resource.ErrNotFound
	}
	if _, ok := f.colls[db+"/"+spec.ID]; ok {
		return resource.Container{}, resource.ErrConflict
	}
	f.createTP = tp
	spec.PartitionKey.Normalize()
	spec.RID = testCollRID
	spec.Self = d.Self + "colls/" + spec.RID + "/"
	spec.ETag = `"c1"`
	spec.TS = 1764162495
	spec.Docs, spec.Sprocs, spec.Triggers, spec.UDFs, spec.Conflicts = "docs/", "sprocs/", "triggers/", "udfs/", "conflicts/"
	if spec.IndexingPolicy == nil {
		spec.IndexingPolicy = resource.DefaultIndexingPolicy
	}
	f.colls[db+"/"+spec.ID] = spec
	return spec, nil
}

func (f *fakeBackend) ReadContainer(_ context.Context, db, id string) (resource.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("ReadContainer"); err != nil {
		return resource.Container{}, err
	}
	c, ok := f.colls[db+"/"+id]
	if !ok {
		return c, resource.ErrNotFound
	}
	return c, nil
}

func (f *fakeBackend) ListContainers(_ context.Context, db string) ([]resource.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("ListContainers"); err != nil {
		return nil, err
	}
	var out []resource.Container
	for k, c := range f.colls {
		if len(k) > len(db) && k[:len(db)+1] == db+"/" {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (f *fakeBackend) ReplaceContainer(_ context.Context, db string, spec resource.Container, ifMatch string) (resource.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("ReplaceContainer"); err != nil {
		return resource.Container{}, err
	}
	c, ok := f.colls[db+"/"+spec.ID]
	if !ok {
		return c, resource.ErrNotFound
	}
	if ifMatch != "" && ifMatch != c.ETag {
		return c, resource.ErrPreconditionFailed
	}
	c.DefaultTTL = spec.DefaultTTL
	c.ETag = `"c2"`
	f.colls[db+"/"+spec.ID] = c
	return c, nil
}

func (f *fakeBackend) DeleteContainer(_ context.Context, db, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("DeleteContainer"); err != nil {
		return err
	}
	if _, ok := f.colls[db+"/"+id]; !ok {
		return resource.ErrNotFound
	}
	delete(f.colls, db+"/"+id)
	f.deletedCon = id
	return nil
}

func (f *fakeBackend) ListOffers(context.Context) ([]resource.Offer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("ListOffers"); err != nil {
		return nil, err
	}
	return f.offers, nil
}

func (f *fakeBackend) ReadOffer(_ context.Context, id string) (resource.Offer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("ReadOffer"); err != nil {
		return resource.Offer{}, err
	}
	for _, o := range f.offers {
		if o.ID == id {
			return o, nil
		}
	}
	return resource.Offer{}, resource.ErrNotFound
}

func (f *fakeBackend) ReplaceOffer(_ context.Context, id string, offer resource.Offer) (resource.Offer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("ReplaceOffer"); err != nil {
		return resource.Offer{}, err
	}
	for i, o := range f.offers {
		if o.ID == id {
			o.Content = offer.Content
			o.ETag = `"o2"`
			f.offers[i] = o
			return o, nil
		}
	}
	return resource.Offer{}, resource.ErrNotFound
}

func (f *fakeBackend) Item(_ context.Context, req ItemRequest) (ItemResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastItem = req
	if err := f.record("Item." + req.Op.String()); err != nil {
		return ItemResponse{}, err
	}
	resp := f.itemResp
	if resp.Status == 0 && (req.Op == OpCreate || req.Op == OpUpsert) {
		resp.Status = 201
	}
	if req.Op == OpDelete {
		resp.Body = nil
	}
	return resp, nil
}

func (f *fakeBackend) Batch(_ context.Context, req BatchRequest) (BatchResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastBatch = req
	if err := f.record("Batch"); err != nil {
		return BatchResponse{}, err
	}
	return f.batchResp, nil
}

func (f *fakeBackend) Query(_ context.Context, req QueryRequest) (QueryResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastQuery = req
	if err := f.record("Query"); err != nil {
		return QueryResponse{}, err
	}
	return f.queryResp, nil
}

func (f *fakeBackend) ChangeFeed(_ context.Context, req ChangeFeedRequest) (ChangeFeedResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastFeed = req
	if err := f.record("ChangeFeed"); err != nil {
		return ChangeFeedResponse{}, err
	}
	return f.feedResp, nil
}

func (f *fakeBackend) Conflicts(_ context.Context, db, coll string) ([]json.RawMessage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("Conflicts"); err != nil {
		return nil, err
	}
	if _, ok := f.colls[db+"/"+coll]; !ok {
		return nil, resource.ErrNotFound
	}
	return f.confl, nil
}

func (f *fakeBackend) DeleteConflict(_ context.Context, db, coll, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("DeleteConflict:" + id); err != nil {
		return err
	}
	for i, c := range f.confl {
		var h struct{ ID string }
		_ = json.Unmarshal(c, &h)
		if h.ID == id {
			f.confl = append(f.confl[:i], f.confl[i+1:]...)
			return nil
		}
	}
	return fmt.Errorf("conflict %s: %w", id, resource.ErrNotFound)
}
