package region

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/meridiandb/meridian/internal/catalog"
	"github.com/meridiandb/meridian/internal/httpapi"
	"github.com/meridiandb/meridian/internal/partition"
	"github.com/meridiandb/meridian/internal/resource"
	"github.com/meridiandb/meridian/internal/session"
	"github.com/meridiandb/meridian/internal/storage"
)

// Config configures a Region.
type Config struct {
	// AccountID is the account name shown in the account document.
	AccountID string
	// Name is the region name, e.g. "West US".
	Name string
	// ID is the region's numeric id (1..255), used in etags and log entries.
	ID uint32
	// Endpoint is the host:port clients reach this region at.
	Endpoint string
	DB       *storage.DB
	// Consistency is the account's default consistency level.
	Consistency session.Level
	// MaxStalenessPrefix and MaxIntervalSeconds are bounded staleness K and T.
	MaxStalenessPrefix int64
	MaxIntervalSeconds int64
	// SessionWait bounds how long a read waits for this region to reach
	// the session token it carries before answering 404/1002. Default 5 s.
	SessionWait time.Duration
	Clock       func() time.Time
	Logger      *slog.Logger
	// PurgeInterval is the TTL purge period (default 1 s).
	PurgeInterval time.Duration
}

// Defaults fills zero fields.
func (c *Config) Defaults() {
	if c.AccountID == "" {
		c.AccountID = "meridian"
	}
	if c.Name == "" {
		c.Name = "West US"
	}
	if c.ID == 0 {
		c.ID = 1
	}
	if c.Consistency == session.LevelUnset {
		c.Consistency = session.Session
	}
	if c.MaxStalenessPrefix == 0 {
		c.MaxStalenessPrefix = 100
	}
	if c.MaxIntervalSeconds == 0 {
		c.MaxIntervalSeconds = 5
	}
	if c.SessionWait == 0 {
		c.SessionWait = 5 * time.Second
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports a configuration error naming the field.
func (c *Config) Validate() error {
	switch {
	case c.DB == nil:
		return errors.New("region: Config.DB is required")
	case c.ID > 255:
		return errors.New("region: Config.ID must be in 1..255")
	case c.Endpoint == "":
		return errors.New("region: Config.Endpoint is required")
	}
	return nil
}

// Region is one region of the account.
type Region struct {
	cfg Config
	log *slog.Logger
	cat *catalog.Catalog

	// mu guards parts.
	mu    sync.RWMutex
	parts map[uint32]*partition.Partition // by container number
}

var _ httpapi.Backend = (*Region)(nil)

// Open loads the catalog and opens every container's partition.
func Open(cfg Config) (*Region, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cat, err := catalog.Open(cfg.DB, catalog.Options{RegionID: cfg.ID, Clock: cfg.Clock})
	if err != nil {
		return nil, fmt.Errorf("open catalog: %w", err)
	}
	r := &Region{cfg: cfg, log: cfg.Logger.With("region", cfg.Name), cat: cat, parts: map[uint32]*partition.Partition{}}
	for _, co := range cat.AllContainers() {
		if _, err := r.openPartition(co); err != nil {
			r.Close()
			return nil, err
		}
	}
	return r, nil
}

// Close stops every partition. Acknowledged writes are already durable.
func (r *Region) Close() {
	r.mu.Lock()
	parts := r.parts
	r.parts = map[uint32]*partition.Partition{}
	r.mu.Unlock()
	for _, p := range parts {
		p.Close()
	}
}

func infoOf(co catalog.Container) partition.ContainerInfo {
	return partition.ContainerInfo{
		DBNum: co.DBNum, CollNum: co.Num, DBRID: co.DBRID, CollRID: co.RID,
		PartitionKey: co.PartitionKey, DefaultTTL: co.DefaultTTL,
	}
}

func (r *Region) openPartition(co catalog.Container) (*partition.Partition, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := r.parts[co.Num]; ok {
		p.SetInfo(infoOf(co))
		return p, nil
	}
	p, err := partition.Open(partition.Config{
		ID: uint64(co.Num), DB: r.cfg.DB, RegionID: r.cfg.ID, Clock: r.cfg.Clock,
		Logger: r.log, PurgeInterval: r.cfg.PurgeInterval,
	}, infoOf(co))
	if err != nil {
		return nil, fmt.Errorf("open partition of %s/%s: %w", co.DB, co.ID, err)
	}
	r.parts[co.Num] = p
	return p, nil
}

func (r *Region) dropPartitions(nums []uint32) error {
	for _, n := range nums {
		r.mu.Lock()
		p := r.parts[n]
		delete(r.parts, n)
		r.mu.Unlock()
		if p != nil {
			p.Close()
		}
		if err := partition.DeleteData(r.cfg.DB, uint64(n)); err != nil {
			return fmt.Errorf("delete data of partition %d: %w", n, err)
		}
	}
	return nil
}

// container resolves a container and its partition.
func (r *Region) container(db, coll string) (catalog.Container, *partition.Partition, error) {
	co, err := r.cat.Container(db, coll)
	if err != nil {
		return catalog.Container{}, nil, err
	}
	r.mu.RLock()
	p := r.parts[co.Num]
	r.mu.RUnlock()
	if p == nil {
		return catalog.Container{}, nil, resource.Errorf(resource.KindServiceUnavailable, "The container %q is not open in region %q yet; retry.", coll, r.cfg.Name)
	}
	return co, p, nil
}

// Account describes the account as this region serves it.
func (r *Region) Account(context.Context) httpapi.AccountInfo {
	loc := httpapi.Location{Name: r.cfg.Name, Endpoint: r.cfg.Endpoint}
	return httpapi.AccountInfo{
		ID:                 r.cfg.AccountID,
		WritableLocations:  []httpapi.Location{loc},
		ReadableLocations:  []httpapi.Location{loc},
		Consistency:        r.cfg.Consistency,
		MaxStalenessPrefix: r.cfg.MaxStalenessPrefix,
		MaxIntervalSeconds: r.cfg.MaxIntervalSeconds,
	}
}

func (r *Region) now() int64 { return r.cfg.Clock().Unix() }
