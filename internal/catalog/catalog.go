package catalog

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meridiandb/meridian/internal/resource"
	"github.com/meridiandb/meridian/internal/storage"
)

// Database is a database record.
type Database struct {
	resource.Database
	Num        uint32
	Throughput resource.Throughput
	OfferID    string `json:",omitempty"`
}

// Container is a container record. Num is unique in the account and is the
// id of the container's partition.
type Container struct {
	resource.Container
	DB         string
	DBNum      uint32
	DBRID      string
	Num        uint32
	Throughput resource.Throughput
	OfferID    string `json:",omitempty"`
}

// Offer is an offer record.
type Offer struct {
	resource.Offer
}

type meta struct {
	NextDB, NextColl, NextOffer uint32
	Version                     uint64
	// Applied is the LSN of the last command in the catalog log (partition
	// 0 of the replication log); Epoch the write epoch it was written in.
	Applied, Epoch int64
}

// Catalog is the account's metadata in this region.
type Catalog struct {
	db       *storage.DB
	regionID uint32
	clock    func() time.Time

	// mu guards the fields below. It is held across the storage commit of
	// a change so that changes are applied and logged in LSN order.
	mu     sync.RWMutex
	meta   meta
	dbs    map[string]*Database
	colls  map[string]map[string]*Container // by database id, container id
	offers map[string]*Offer
	// onApply observes every applied command (local or replicated), after
	// it is durable; onReset observes a snapshot install.
	onApply func(Command, Result)
	onReset func()

	applied  atomic.Int64
	epoch    atomic.Int64
	writable atomic.Bool

	// notifyMu guards notify, closed and replaced when applied advances.
	notifyMu sync.Mutex
	notify   chan struct{}
}

// Options configure a Catalog.
type Options struct {
	// RegionID is written as the origin of locally accepted commands.
	RegionID uint32
	// ReadOnly makes the catalog a replica: Apply is refused and changes
	// arrive through ApplyReplicated.
	ReadOnly bool
	Clock    func() time.Time
	// OnApply is called after each command is durable (in LSN order).
	OnApply func(Command, Result)
	// OnReset is called after a snapshot replaced the whole catalog.
	OnReset func()
}

// Open loads the catalog from storage.
func Open(db *storage.DB, opts Options) (*Catalog, error) {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	c := &Catalog{
		db:       db,
		regionID: opts.RegionID,
		clock:    opts.Clock,
		onApply:  opts.OnApply,
		onReset:  opts.OnReset,
		notify:   make(chan struct{}),
	}
	c.writable.Store(!opts.ReadOnly)
	if err := c.load(); err != nil {
		return nil, err
	}
	return c, nil
}

// load (re)reads the state from storage.
func (c *Catalog) load() error {
	c.dbs = map[string]*Database{}
	c.colls = map[string]map[string]*Container{}
	c.offers = map[string]*Offer{}
	c.meta = meta{}
	p := storage.CatalogPrefix()
	var derr error
	err := c.db.Scan(p, storage.PrefixEnd(p), func(k, v []byte) bool {
		name := string(k[1:])
		var err error
		switch {
		case name == "meta":
			err = json.Unmarshal(v, &c.meta)
		case len(name) > 3 && name[:3] == "db/":
			var d Database
			if err = json.Unmarshal(v, &d); err == nil {
				c.dbs[d.ID] = &d
			}
		case len(name) > 5 && name[:5] == "coll/":
			var co Container
			if err = json.Unmarshal(v, &co); err == nil {
				if c.colls[co.DB] == nil {
					c.colls[co.DB] = map[string]*Container{}
				}
				c.colls[co.DB][co.ID] = &co
			}
		case len(name) > 6 && name[:6] == "offer/":
			var o Offer
			if err = json.Unmarshal(v, &o); err == nil {
				c.offers[o.ID] = &o
			}
		}
		if err != nil {
			derr = fmt.Errorf("catalog record %q: %w", name, err)
			return false
		}
		return true
	})
	if err != nil {
		return err
	}
	if derr != nil {
		return derr
	}
	if c.meta.Epoch == 0 {
		c.meta.Epoch = 1
	}
	c.applied.Store(c.meta.Applied)
	c.epoch.Store(c.meta.Epoch)
	return nil
}

func dbKey(id string) []byte            { return storage.CatalogKey("db/" + id) }
func collKey(db, id string) []byte      { return storage.CatalogKey("coll/" + strconv.Quote(db) + "/" + id) }
func offerKey(id string) []byte         { return storage.CatalogKey("offer/" + id) }
func mustJSON(v any) []byte             { b, _ := json.Marshal(v); return b }
func dbSelf(rid string) string          { return "dbs/" + rid + "/" }
func collSelf(dbRID, rid string) string { return "dbs/" + dbRID + "/colls/" + rid + "/" }

// Database returns a database by id.
func (c *Catalog) Database(id string) (Database, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	d, ok := c.dbs[id]
	if !ok {
		return Database{}, resource.Errorf(resource.KindNotFound, "Resource Not Found: database %q does not exist.", id)
	}
	return *d, nil
}

// Databases returns every database, by id.
func (c *Catalog) Databases() []Database {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]Database, 0, len(c.dbs))
	for _, d := range c.dbs {
		out = append(out, *d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Num < out[j].Num })
	return out
}

// Container returns a container by database and id.
func (c *Catalog) Container(db, id string) (Container, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if _, ok := c.dbs[db]; !ok {
		return Container{}, resource.Errorf(resource.KindNotFound, "Resource Not Found: database %q does not exist.", db)
	}
	co, ok := c.colls[db][id]
	if !ok {
		return Container{}, resource.Errorf(resource.KindNotFound, "Resource Not Found: container %q does not exist in database %q.", id, db)
	}
	return *co, nil
}

// Containers returns the containers of a database.
func (c *Catalog) Containers(db string) ([]Container, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if _, ok := c.dbs[db]; !ok {
		return nil, resource.Errorf(resource.KindNotFound, "Resource Not Found: database %q does not exist.", db)
	}
	out := make([]Container, 0, len(c.colls[db]))
	for _, co := range c.colls[db] {
		out = append(out, *co)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Num < out[j].Num })
	return out, nil
}

// AllContainers returns every container of the account.
func (c *Catalog) AllContainers() []Container {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []Container
	for _, m := range c.colls {
		for _, co := range m {
			out = append(out, *co)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Num < out[j].Num })
	return out
}

// Offers returns every offer.
func (c *Catalog) Offers() []resource.Offer {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]resource.Offer, 0, len(c.offers))
	for _, o := range c.offers {
		out = append(out, o.Offer)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Offer returns an offer by id (case-insensitive, as the SDKs lower-case it).
func (c *Catalog) Offer(id string) (resource.Offer, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for oid, o := range c.offers {
		if equalFold(oid, id) {
			return o.Offer, nil
		}
	}
	return resource.Offer{}, resource.Errorf(resource.KindNotFound, "Resource Not Found: offer %q does not exist.", id)
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
