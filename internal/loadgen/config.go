// Package loadgen is the load generator behind `meridian bench`: YCSB
// core workloads A–F over the Cosmos DB REST API of any Meridian or Cosmos
// DB account, driven open-loop at a fixed offered rate, with latencies
// measured from each operation's intended start time into HdrHistograms,
// per operation type and per region.
//
// See schedule.go for the open-loop discipline, zipf.go for the key
// generators and rest.go for why the client is hand-written.
package loadgen

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/meridiandb/meridian/internal/session"
)

// Key distributions.
const (
	DistZipfian = "zipfian" // YCSB's scrambled zipfian, theta 0.99
	DistUniform = "uniform"
	DistLatest  = "latest" // YCSB's skewed latest (workload D)
)

// Workload is one YCSB core workload: the operation mix (proportions that
// add up to 1) and its default key distribution.
type Workload struct {
	Name                            string
	Read, Update, Insert, Scan, RMW float64
	Distribution                    string
	Description                     string
}

// Workloads are YCSB's core workloads with upstream YCSB's settings
// (zipfian requests except D, scans of up to 100 records), not go-ycsb's
// files (uniform, scans of 1).
var Workloads = map[string]Workload{
	"A": {Name: "A", Read: 0.5, Update: 0.5, Distribution: DistZipfian, Description: "50% read, 50% update (update heavy)"},
	"B": {Name: "B", Read: 0.95, Update: 0.05, Distribution: DistZipfian, Description: "95% read, 5% update (read mostly)"},
	"C": {Name: "C", Read: 1, Distribution: DistZipfian, Description: "100% read (read only)"},
	"D": {Name: "D", Read: 0.95, Insert: 0.05, Distribution: DistLatest, Description: "95% read, 5% insert (read latest)"},
	"E": {Name: "E", Scan: 0.95, Insert: 0.05, Distribution: DistZipfian, Description: "95% short scan (<=100), 5% insert (short ranges)"},
	"F": {Name: "F", Read: 0.5, RMW: 0.5, Distribution: DistZipfian, Description: "50% read, 50% read-modify-write"},
	// W is not YCSB's: the write-only mix that the "synced writes" targets
	// of the performance plan are measured with.
	"W": {Name: "W", Update: 1, Distribution: DistZipfian, Description: "100% update (write only; not a YCSB core workload)"},
}

// Config is one benchmark run.
type Config struct {
	// Endpoint is any region of the account; the others are discovered
	// from its account document (GET /).
	Endpoint string
	// Key is the base64 master key.
	Key string
	// Insecure accepts any TLS certificate.
	Insecure bool
	// DB and Container are created if missing (partition key /pk).
	DB, Container string

	// Workload is "A" to "F", or "W" (100% update).
	Workload string
	// Distribution overrides the workload's key distribution.
	Distribution string
	// Records is the number of records the load phase writes and reads
	// choose from (default 10,000).
	Records int64
	// ItemSize is the JSON size of each item in bytes (default 1024).
	ItemSize int
	// PartitionSize is the number of consecutive keys per logical
	// partition (default 100): scans stay within one partition key.
	PartitionSize int64
	// MaxScanLength bounds a scan (default 100; the length is uniform in
	// [1, MaxScanLength]).
	MaxScanLength int
	// Load writes the records first (closed loop, not measured).
	Load bool

	// Consistency is sent as x-ms-consistency-level ("" : the account's).
	Consistency string
	// Rate is the offered load in operations per second (open loop).
	Rate float64
	// Concurrency bounds the operations in flight (default 64).
	Concurrency int
	// Duration is the measured window; Warmup precedes it (run, not
	// measured). Duration 0 with Load only loads.
	Duration, Warmup time.Duration
	// Timeout bounds each operation (a customsync sequence as a whole);
	// default 10 s.
	Timeout time.Duration

	// WriteRegion receives writes (default: the first writable region).
	WriteRegion string
	// ReadRegions receive reads and scans, chosen at random per operation
	// (default: the first readable region).
	ReadRegions []string
	// CustomSync: after each write, read the item with the write's session
	// token in each of these regions in parallel (the custom
	// synchronization pattern); the sequence is a "customsync" operation.
	CustomSync []string
	// SyncRegions is sent as x-meridian-sync-regions on writes.
	SyncRegions []string

	// Seed makes the operation sequence reproducible (0: from the clock).
	Seed uint64
	// Label describes the build (commit) for the report.
	Label string

	// Log receives progress messages (phases, warnings); nil: discarded.
	Log io.Writer
	// Progress, if set, receives a line per second (ops/s, p99 of the
	// last second, errors); ProgressTTY rewrites it in place.
	Progress    io.Writer
	ProgressTTY bool

	// clock replaces the real clock (tests).
	clock Clock
}

func (c *Config) defaults() {
	if c.Endpoint == "" {
		c.Endpoint = "http://127.0.0.1:8081/"
	}
	if c.DB == "" {
		c.DB = "bench"
	}
	if c.Container == "" {
		c.Container = "ycsb"
	}
	if c.Workload == "" {
		c.Workload = "A"
	}
	c.Workload = strings.ToUpper(c.Workload)
	if c.Records == 0 {
		c.Records = 10_000
	}
	if c.ItemSize == 0 {
		c.ItemSize = 1024
	}
	if c.PartitionSize == 0 {
		c.PartitionSize = 100
	}
	if c.MaxScanLength == 0 {
		c.MaxScanLength = 100
	}
	if c.Concurrency == 0 {
		c.Concurrency = 64
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	if c.clock == nil {
		c.clock = realClock{}
	}
}

func (c *Config) validate() (Workload, []byte, error) {
	w, ok := Workloads[c.Workload]
	if !ok {
		return w, nil, fmt.Errorf("workload %q: want A, B, C, D, E, F or W", c.Workload)
	}
	if c.Distribution != "" {
		switch c.Distribution {
		case DistZipfian, DistUniform, DistLatest:
			w.Distribution = c.Distribution
		default:
			return w, nil, fmt.Errorf("distribution %q: want zipfian, uniform or latest", c.Distribution)
		}
	}
	key, err := base64.StdEncoding.DecodeString(c.Key)
	if err != nil || len(key) == 0 {
		return w, nil, errors.New("key: not a base64 master key")
	}
	if c.Consistency != "" {
		l, err := session.ParseLevel(c.Consistency)
		if err != nil {
			return w, nil, fmt.Errorf("consistency %q: want Strong, BoundedStaleness, Session, ConsistentPrefix or Eventual", c.Consistency)
		}
		c.Consistency = l.String()
	}
	switch {
	case c.Records < 1:
		return w, nil, errors.New("records must be at least 1")
	case c.ItemSize < 128 || c.ItemSize > 2<<20:
		return w, nil, errors.New("item size must be between 128 bytes and 2 MB")
	case c.PartitionSize < 1:
		return w, nil, errors.New("partition size must be at least 1")
	case c.MaxScanLength < 1 || c.MaxScanLength > 1000:
		return w, nil, errors.New("max scan length must be between 1 and 1000")
	case c.Concurrency < 1:
		return w, nil, errors.New("concurrency must be at least 1")
	case c.Duration < 0 || c.Warmup < 0:
		return w, nil, errors.New("duration and warm-up must not be negative")
	case c.Duration == 0 && !c.Load:
		return w, nil, errors.New("duration must be positive (or load only, with duration 0)")
	case c.Duration > 0 && !(c.Rate > 0):
		return w, nil, errors.New("rate (offered operations per second) must be positive")
	case c.Timeout <= 0 || c.Timeout > time.Duration(histMax)*time.Microsecond:
		return w, nil, errors.New("timeout must be positive and at most 60s (the histograms' range)")
	}
	return w, key, nil
}
