package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/meridiandb/meridian/internal/conflict"
	"github.com/meridiandb/meridian/internal/replog"
	"github.com/meridiandb/meridian/internal/resource"
	"github.com/meridiandb/meridian/internal/storage"
)

// CommandKind names a catalog change.
type CommandKind string

// Catalog changes.
const (
	CmdCreateDatabase   CommandKind = "CreateDatabase"
	CmdDeleteDatabase   CommandKind = "DeleteDatabase"
	CmdCreateContainer  CommandKind = "CreateContainer"
	CmdReplaceContainer CommandKind = "ReplaceContainer"
	CmdDeleteContainer  CommandKind = "DeleteContainer"
	CmdReplaceOffer     CommandKind = "ReplaceOffer"
)

// Command is a deterministic catalog change: applying it depends only on
// the current state and the command itself.
type Command struct {
	Kind       CommandKind
	DB         string              `json:",omitempty"`
	ID         string              `json:",omitempty"` // database, container or offer id
	Container  *resource.Container `json:",omitempty"`
	Offer      *resource.Offer     `json:",omitempty"`
	Throughput resource.Throughput `json:",omitempty"`
	IfMatch    string              `json:",omitempty"`
	TS         int64               // Unix seconds, chosen by the proposer
}

// Result is what applying a command produced.
type Result struct {
	Database  Database
	Container Container
	Offer     resource.Offer
	// Dropped lists the partition ids of containers removed by the command.
	Dropped []uint32
}

// DefaultContainerThroughput is the manual RU/s a container gets when
// neither it nor its database provisions throughput, as in Cosmos DB.
const DefaultContainerThroughput = 400

// DefaultConflictResolutionPolicy is Cosmos DB's default.
var DefaultConflictResolutionPolicy = json.RawMessage(`{"mode":"LastWriterWins","conflictResolutionPath":"/_ts","conflictResolutionProcedure":""}`)

// Apply validates and applies cmd in the write region: the state change,
// the command's log entry (partition 0 of the replication log, so that read
// regions replay it) and the new applied LSN are written in one synced
// batch before it returns.
func (c *Catalog) Apply(cmd Command) (Result, error) {
	if !c.writable.Load() {
		return Result{}, resource.ErrWriteForbidden
	}
	c.mu.Lock()
	b := c.db.NewBatch()
	defer b.Close()
	next := c.meta
	res, undo, err := c.apply(&next, cmd, b)
	if err != nil {
		c.mu.Unlock()
		return Result{}, err
	}
	// Validation first (a create of an existing database is still a 409);
	// only a real change is refused on a full volume.
	if err := c.db.CheckSpace(); err != nil {
		undo()
		c.mu.Unlock()
		return Result{}, &resource.Error{Kind: resource.KindInsufficientStorage, Err: err,
			Msg: "The region's data volume is nearly full; changes are refused until space is freed."}
	}
	next.Applied++
	e := &replog.Entry{LSN: next.Applied, Epoch: next.Epoch, Origin: c.regionID, TS: c.clock().UnixNano(),
		Ops: []replog.Op{{Kind: replog.OpPut, Key: []byte(cmdKey), Value: mustJSON(cmd)}}}
	if err := c.commit(b, &next, cmd, e, undo); err != nil {
		c.mu.Unlock()
		return Result{}, err
	}
	c.mu.Unlock()
	c.published(cmd, res)
	return res, nil
}

// ErrApplied is returned by ApplyAt for a position already applied.
var ErrApplied = errors.New("catalog: command already applied")

// ApplyAt applies cmd as the command at position index of an external
// ordered log — the control plane's Raft log, which replicates the catalog
// of a multi-region account to every region in the same order. Applied
// becomes index (positions need not be consecutive). It is idempotent by
// position: an index at or below Applied returns ErrApplied (a replay after
// a restart). A command that fails validation changes nothing and returns
// its *resource.Error, the same in every region (apply is deterministic).
// Unlike Apply it does not check Writable: the log decided.
func (c *Catalog) ApplyAt(index int64, cmd Command) (Result, error) {
	c.mu.Lock()
	if index <= c.meta.Applied {
		c.mu.Unlock()
		return Result{}, ErrApplied
	}
	b := c.db.NewBatch()
	defer b.Close()
	next := c.meta
	res, undo, err := c.apply(&next, cmd, b)
	if err != nil {
		c.mu.Unlock()
		return Result{}, err
	}
	next.Applied = index
	if err := c.commit(b, &next, cmd, nil, undo); err != nil {
		c.mu.Unlock()
		return Result{}, err
	}
	c.mu.Unlock()
	c.published(cmd, res)
	return res, nil
}

// cmdKey is the op key of catalog log entries.
const cmdKey = "catalog"

// commit writes the state change recorded by apply, entry and meta. It must
// be called with mu held; on failure it undoes the in-memory change.
func (c *Catalog) commit(b *storage.Batch, next *meta, cmd Command, e *replog.Entry, undo func()) error {
	if e != nil {
		replog.Append(b, LogPartition, e)
		if e.LSN%1024 == 0 && e.LSN > logRetention {
			replog.Trim(b, LogPartition, e.LSN-logRetention)
		}
	}
	b.Set(storage.CatalogKey("meta"), mustJSON(*next))
	if err := b.Commit(true /* sync */); err != nil {
		undo()
		return fmt.Errorf("catalog %s: %w", cmd.Kind, err)
	}
	c.meta = *next
	c.epoch.Store(next.Epoch)
	return nil
}

func (c *Catalog) published(cmd Command, res Result) {
	c.notifyMu.Lock()
	c.applied.Store(c.meta.Applied)
	close(c.notify)
	c.notify = make(chan struct{})
	c.notifyMu.Unlock()
	if c.onApply != nil {
		c.onApply(cmd, res)
	}
}

// LogPartition is the replication-log partition id of the catalog.
const LogPartition = 0

// logRetention is how many catalog log entries are kept for catch-up.
const logRetention = 10_000

func (c *Catalog) etag(m *meta) string {
	m.Version++
	return resource.ETag(m.Version)
}

// apply mutates the in-memory state. undo reverts it if the storage batch
// fails to commit; persist then writes the affected records.
func (c *Catalog) apply(m *meta, cmd Command, b *storage.Batch) (Result, func(), error) {
	nop := func() {}
	switch cmd.Kind {
	case CmdCreateDatabase:
		if err := resource.ValidateID(cmd.ID); err != nil {
			return Result{}, nop, err
		}
		if _, ok := c.dbs[cmd.ID]; ok {
			return Result{}, nop, resource.Errorf(resource.KindConflict, "Resource with specified id or name already exists: database %q.", cmd.ID)
		}
		m.NextDB++
		rid := resource.DatabaseRID(m.NextDB)
		d := &Database{Num: m.NextDB, Throughput: cmd.Throughput, Database: resource.Database{
			ID: cmd.ID, RID: rid, Self: dbSelf(rid), ETag: c.etag(m), Colls: "colls/", Users: "users/", TS: cmd.TS,
		}}
		var undoOffer func()
		if !cmd.Throughput.IsZero() {
			o := c.newOffer(m, d.Self, d.RID, cmd.Throughput, cmd.TS)
			d.OfferID = o.ID
			b.Set(offerKey(o.ID), mustJSON(o))
			undoOffer = func() { delete(c.offers, o.ID) }
		}
		c.dbs[d.ID] = d
		b.Set(dbKey(d.ID), mustJSON(d))
		return Result{Database: *d}, func() {
			delete(c.dbs, d.ID)
			if undoOffer != nil {
				undoOffer()
			}
		}, nil

	case CmdDeleteDatabase:
		d, ok := c.dbs[cmd.ID]
		if !ok {
			return Result{}, nop, resource.Errorf(resource.KindNotFound, "Resource Not Found: database %q does not exist.", cmd.ID)
		}
		var res Result
		colls := c.colls[cmd.ID]
		for _, co := range colls {
			res.Dropped = append(res.Dropped, co.Num)
			b.Delete(collKey(cmd.ID, co.ID))
			if co.OfferID != "" {
				b.Delete(offerKey(co.OfferID))
				delete(c.offers, co.OfferID)
			}
		}
		if d.OfferID != "" {
			b.Delete(offerKey(d.OfferID))
			delete(c.offers, d.OfferID)
		}
		b.Delete(dbKey(cmd.ID))
		delete(c.dbs, cmd.ID)
		delete(c.colls, cmd.ID)
		res.Database = *d
		// A failed commit after a delete leaves the process unable to trust
		// its state; undo restores the maps from storage on next Open.
		return res, func() { c.dbs[d.ID] = d; c.colls[d.ID] = colls }, nil

	case CmdCreateContainer:
		d, ok := c.dbs[cmd.DB]
		if !ok {
			return Result{}, nop, resource.Errorf(resource.KindNotFound, "Resource Not Found: database %q does not exist.", cmd.DB)
		}
		if cmd.Container == nil {
			return Result{}, nop, resource.BadRequestf("The container definition is required.")
		}
		spec := *cmd.Container
		if err := resource.ValidateID(spec.ID); err != nil {
			return Result{}, nop, err
		}
		if _, ok := c.colls[cmd.DB][spec.ID]; ok {
			return Result{}, nop, resource.Errorf(resource.KindConflict, "Resource with specified id or name already exists: container %q.", spec.ID)
		}
		if err := normalizeContainer(&spec); err != nil {
			return Result{}, nop, err
		}
		m.NextColl++
		rid := resource.ContainerRID(d.Num, m.NextColl)
		co := &Container{DB: cmd.DB, DBNum: d.Num, DBRID: d.RID, Num: m.NextColl, Throughput: cmd.Throughput}
		spec.RID, spec.Self, spec.ETag, spec.TS = rid, collSelf(d.RID, rid), c.etag(m), cmd.TS
		spec.Docs, spec.Sprocs, spec.Triggers, spec.UDFs, spec.Conflicts = "docs/", "sprocs/", "triggers/", "udfs/", "conflicts/"
		co.Container = spec
		tp := cmd.Throughput
		if tp.IsZero() && d.Throughput.IsZero() {
			tp = resource.Throughput{Manual: DefaultContainerThroughput}
		}
		var undoOffer func()
		if !tp.IsZero() {
			o := c.newOffer(m, spec.Self, rid, tp, cmd.TS)
			co.OfferID = o.ID
			b.Set(offerKey(o.ID), mustJSON(o))
			undoOffer = func() { delete(c.offers, o.ID) }
		}
		if c.colls[cmd.DB] == nil {
			c.colls[cmd.DB] = map[string]*Container{}
		}
		c.colls[cmd.DB][spec.ID] = co
		b.Set(collKey(cmd.DB, spec.ID), mustJSON(co))
		return Result{Container: *co}, func() {
			delete(c.colls[cmd.DB], spec.ID)
			if undoOffer != nil {
				undoOffer()
			}
		}, nil

	case CmdReplaceContainer:
		if cmd.Container == nil {
			return Result{}, nop, resource.BadRequestf("The container definition is required.")
		}
		if _, ok := c.dbs[cmd.DB]; !ok {
			return Result{}, nop, resource.Errorf(resource.KindNotFound, "Resource Not Found: database %q does not exist.", cmd.DB)
		}
		old, ok := c.colls[cmd.DB][cmd.Container.ID]
		if !ok {
			return Result{}, nop, resource.Errorf(resource.KindNotFound, "Resource Not Found: container %q does not exist in database %q.", cmd.Container.ID, cmd.DB)
		}
		if cmd.IfMatch != "" && cmd.IfMatch != "*" && cmd.IfMatch != old.ETag {
			return Result{}, nop, resource.ErrPreconditionFailed
		}
		spec := *cmd.Container
		if err := normalizeContainer(&spec); err != nil {
			return Result{}, nop, err
		}
		if !samePK(spec.PartitionKey, old.PartitionKey) {
			return Result{}, nop, resource.BadRequestf("The partition key of a container cannot be changed.")
		}
		if len(cmd.Container.ConflictResolutionPolicy) > 0 && !sameConflictPolicy(spec.ConflictResolutionPolicy, old.ConflictResolutionPolicy) {
			return Result{}, nop, resource.BadRequestf("The conflict resolution policy of a container cannot be changed after creation.")
		}
		spec.ConflictResolutionPolicy = old.ConflictResolutionPolicy
		if len(cmd.Container.UniqueKeyPolicy) == 0 {
			spec.UniqueKeyPolicy = old.UniqueKeyPolicy
		}
		spec.RID, spec.Self, spec.ETag, spec.TS = old.RID, old.Self, c.etag(m), cmd.TS
		spec.Docs, spec.Sprocs, spec.Triggers, spec.UDFs, spec.Conflicts = "docs/", "sprocs/", "triggers/", "udfs/", "conflicts/"
		co := *old
		co.Container = spec
		c.colls[cmd.DB][spec.ID] = &co
		b.Set(collKey(cmd.DB, spec.ID), mustJSON(&co))
		return Result{Container: co}, func() { c.colls[cmd.DB][spec.ID] = old }, nil

	case CmdDeleteContainer:
		if _, ok := c.dbs[cmd.DB]; !ok {
			return Result{}, nop, resource.Errorf(resource.KindNotFound, "Resource Not Found: database %q does not exist.", cmd.DB)
		}
		co, ok := c.colls[cmd.DB][cmd.ID]
		if !ok {
			return Result{}, nop, resource.Errorf(resource.KindNotFound, "Resource Not Found: container %q does not exist in database %q.", cmd.ID, cmd.DB)
		}
		delete(c.colls[cmd.DB], cmd.ID)
		b.Delete(collKey(cmd.DB, cmd.ID))
		var offer *Offer
		if co.OfferID != "" {
			offer = c.offers[co.OfferID]
			delete(c.offers, co.OfferID)
			b.Delete(offerKey(co.OfferID))
		}
		return Result{Container: *co, Dropped: []uint32{co.Num}}, func() {
			c.colls[cmd.DB][cmd.ID] = co
			if offer != nil {
				c.offers[offer.ID] = offer
			}
		}, nil

	case CmdReplaceOffer:
		if cmd.Offer == nil {
			return Result{}, nop, resource.BadRequestf("The offer definition is required.")
		}
		var old *Offer
		for id, o := range c.offers {
			if equalFold(id, cmd.ID) {
				old = o
			}
		}
		if old == nil {
			return Result{}, nop, resource.Errorf(resource.KindNotFound, "Resource Not Found: offer %q does not exist.", cmd.ID)
		}
		nc := cmd.Offer.Content
		manual, auto := nc.OfferThroughput, 0
		if nc.OfferAutopilotSettings != nil {
			auto, manual = nc.OfferAutopilotSettings.MaxThroughput, 0
		}
		if (manual == 0 && auto == 0) || manual < 0 || auto < 0 {
			return Result{}, nop, resource.BadRequestf("The offer must set content.offerThroughput or content.offerAutopilotSettings.maxThroughput to a positive number.")
		}
		if manual != 0 && (manual < 400 || manual%100 != 0) {
			return Result{}, nop, resource.BadRequestf("The offer throughput %d is invalid: it must be at least 400 RU/s and a multiple of 100.", manual)
		}
		if auto != 0 && (auto < 1000 || auto%1000 != 0) {
			return Result{}, nop, resource.BadRequestf("The autoscale maximum %d is invalid: it must be at least 1000 RU/s and a multiple of 1000.", auto)
		}
		no := *old
		no.Content = offerContent(resource.Throughput{Manual: manual, AutoscaleMax: auto})
		no.ETag, no.TS = c.etag(m), cmd.TS
		c.offers[no.ID] = &no
		b.Set(offerKey(no.ID), mustJSON(&no))
		return Result{Offer: no.Offer}, func() { c.offers[no.ID] = old }, nil
	}
	return Result{}, nop, resource.BadRequestf("unknown catalog command %q", cmd.Kind)
}

func (c *Catalog) newOffer(m *meta, resSelf, resRID string, tp resource.Throughput, ts int64) *Offer {
	m.NextOffer++
	id := "of" + strconv.FormatUint(uint64(m.NextOffer), 36)
	o := &Offer{Offer: resource.Offer{
		ID: id, RID: id, Self: "offers/" + id + "/", ETag: c.etag(m), TS: ts,
		OfferVersion: "V2", OfferType: "Invalid", Resource: resSelf, OfferResourceID: resRID,
		Content: offerContent(tp),
	}}
	c.offers[id] = o
	return o
}

func offerContent(tp resource.Throughput) resource.OfferContent {
	if tp.AutoscaleMax > 0 {
		return resource.OfferContent{
			OfferThroughput:        tp.AutoscaleMax / 10,
			OfferAutopilotSettings: &resource.OfferAutopilotSettings{MaxThroughput: tp.AutoscaleMax},
		}
	}
	return resource.OfferContent{OfferThroughput: tp.Manual}
}

func normalizeContainer(spec *resource.Container) error {
	if len(spec.PartitionKey.Paths) == 0 {
		return resource.BadRequestf("The container %q must have a partition key definition (partitionKey.paths).", spec.ID)
	}
	spec.PartitionKey.Normalize()
	if err := spec.PartitionKey.Validate(); err != nil {
		return err
	}
	if len(spec.IndexingPolicy) == 0 || string(spec.IndexingPolicy) == "null" {
		spec.IndexingPolicy = resource.DefaultIndexingPolicy
	} else if !json.Valid(spec.IndexingPolicy) || spec.IndexingPolicy[0] != '{' {
		return resource.BadRequestf("The indexingPolicy must be a JSON object.")
	}
	if len(spec.ConflictResolutionPolicy) == 0 || string(spec.ConflictResolutionPolicy) == "null" {
		spec.ConflictResolutionPolicy = DefaultConflictResolutionPolicy
	} else if _, err := conflict.ParsePolicy(spec.ConflictResolutionPolicy); err != nil {
		return err
	}
	if spec.DefaultTTL != nil && (*spec.DefaultTTL == 0 || *spec.DefaultTTL < -1) {
		return resource.BadRequestf("The defaultTtl %d is invalid: use -1 (on, no default) or a positive number of seconds.", *spec.DefaultTTL)
	}
	return nil
}

func samePK(a, b resource.PartitionKeyDefinition) bool {
	if a.Kind != b.Kind || a.Version != b.Version || len(a.Paths) != len(b.Paths) {
		return false
	}
	for i := range a.Paths {
		if a.Paths[i] != b.Paths[i] {
			return false
		}
	}
	return true
}

// conflictPolicy is the part of a conflict resolution policy that matters.
type conflictPolicy struct {
	Mode      string `json:"mode"`
	Path      string `json:"conflictResolutionPath"`
	Procedure string `json:"conflictResolutionProcedure"`
}

// sameConflictPolicy compares two policies field by field, with Cosmos DB's
// defaults for absent fields (mode LastWriterWins, path /_ts for LWW), so a
// read-modify-write of a container that echoes its policy is not a change.
func sameConflictPolicy(a, b json.RawMessage) bool {
	norm := func(raw json.RawMessage) (conflictPolicy, bool) {
		var p conflictPolicy
		if err := json.Unmarshal(raw, &p); err != nil {
			return p, false
		}
		if p.Mode == "" {
			p.Mode = "LastWriterWins"
		}
		if strings.EqualFold(p.Mode, "LastWriterWins") {
			p.Mode = "LastWriterWins"
			if p.Path == "" {
				p.Path = "/_ts"
			}
		}
		return p, true
	}
	pa, oka := norm(a)
	pb, okb := norm(b)
	return oka && okb && pa == pb
}
