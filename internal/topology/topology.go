package topology

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/meridiandb/meridian/internal/session"
)

// Region is one region of the account.
type Region struct {
	Name string `json:"name"`
	// ID is the region's number (1..255), unique in the account.
	ID uint32 `json:"id"`
	// Endpoint is the client (REST) address, host:port.
	Endpoint string `json:"endpoint"`
	// Peer is the inter-region (gRPC) address, host:port.
	Peer string `json:"peer"`
	// Priority orders failover: 0 is the write region's priority.
	Priority int `json:"priority"`
	// DataDir is the region's data directory (optional; flags may set it).
	DataDir string `json:"dataDir,omitempty"`
}

// Link is a simulated WAN link between two regions.
type Link struct {
	A      string   `json:"a"`
	B      string   `json:"b"`
	RTT    Duration `json:"rtt"`
	Jitter Duration `json:"jitter,omitempty"`
}

// Topology is the account layout.
type Topology struct {
	Account     string   `json:"account"`
	Regions     []Region `json:"regions"`
	WriteRegion string   `json:"writeRegion"`
	// Consistency is the default level name (Strong, BoundedStaleness,
	// Session, ConsistentPrefix, Eventual).
	Consistency        string `json:"consistency"`
	MaxStalenessPrefix int64  `json:"maxStalenessPrefix,omitempty"`
	MaxIntervalSeconds int64  `json:"maxIntervalInSeconds,omitempty"`
	Links              []Link `json:"links,omitempty"`
	// PeerSecret authenticates inter-region traffic. Default: derived from
	// the master key.
	PeerSecret string `json:"peerSecret,omitempty"`
	// Witness, in a two-region account, is a control-plane voter that
	// holds no data (`meridian witness`), so that a majority survives the
	// loss of either region.
	Witness *Witness `json:"witness,omitempty"`
	// MultiWrite makes every region a write region
	// (enableMultipleWriteLocations): each region accepts writes for every
	// partition, replication is all-to-all and conflicts are resolved by
	// each container's conflict resolution policy. Strong is refused.
	MultiWrite bool `json:"multiWrite,omitempty"`
}

// Witness is a data-less control-plane voter.
type Witness struct {
	Name string `json:"name"`
	// Peer is its gRPC address, host:port.
	Peer string `json:"peer"`
}

// Duration is a time.Duration that reads "60ms" or a number of milliseconds.
type Duration time.Duration

// UnmarshalJSON accepts "60ms" style strings or plain milliseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		*d = Duration(v)
		return nil
	}
	var ms float64
	if err := json.Unmarshal(b, &ms); err != nil {
		return fmt.Errorf("duration must be a string like \"60ms\" or milliseconds: %w", err)
	}
	*d = Duration(time.Duration(ms * float64(time.Millisecond)))
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// Load reads and validates a topology file.
func Load(path string) (*Topology, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("topology: %w", err)
	}
	var t Topology
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("topology %s: %w", path, err)
	}
	t.Defaults()
	if err := t.Validate(); err != nil {
		return nil, fmt.Errorf("topology %s: %w", path, err)
	}
	return &t, nil
}

// Defaults fills zero fields.
func (t *Topology) Defaults() {
	if t.Account == "" {
		t.Account = "meridian"
	}
	if t.Consistency == "" {
		t.Consistency = "Session"
	}
	if t.MaxStalenessPrefix == 0 {
		t.MaxStalenessPrefix = 100
	}
	if t.MaxIntervalSeconds == 0 {
		t.MaxIntervalSeconds = 5
	}
	for i := range t.Regions {
		if t.Regions[i].ID == 0 {
			t.Regions[i].ID = uint32(i + 1)
		}
	}
	if t.WriteRegion == "" && len(t.Regions) > 0 {
		t.WriteRegion = t.Regions[0].Name
	}
	// Failover priorities, when the file gives none: the write region
	// first (0), then the others in file order.
	set := false
	for _, r := range t.Regions {
		set = set || r.Priority != 0
	}
	if !set {
		next := 1
		for i := range t.Regions {
			if Canonical(t.Regions[i].Name) != Canonical(t.WriteRegion) {
				t.Regions[i].Priority = next
				next++
			}
		}
	}
}

// Validate reports the first problem, naming the field.
func (t *Topology) Validate() error {
	if len(t.Regions) == 0 {
		return errors.New("regions: at least one region is required")
	}
	names, ids := map[string]bool{}, map[uint32]bool{}
	for i, r := range t.Regions {
		switch {
		case r.Name == "":
			return fmt.Errorf("regions[%d].name is required", i)
		case names[Canonical(r.Name)]:
			return fmt.Errorf("regions[%d].name %q is used twice", i, r.Name)
		case r.ID == 0 || r.ID > 255:
			return fmt.Errorf("regions[%d].id must be in 1..255", i)
		case ids[r.ID]:
			return fmt.Errorf("regions[%d].id %d is used twice", i, r.ID)
		case r.Endpoint == "":
			return fmt.Errorf("regions[%d].endpoint is required", i)
		case len(t.Regions) > 1 && r.Peer == "":
			return fmt.Errorf("regions[%d].peer is required in a multi-region account", i)
		}
		names[Canonical(r.Name)], ids[r.ID] = true, true
	}
	if _, ok := t.Region(t.WriteRegion); !ok {
		return fmt.Errorf("writeRegion %q is not one of the regions", t.WriteRegion)
	}
	prios := map[int]string{}
	for _, r := range t.Regions {
		if other, ok := prios[r.Priority]; ok {
			return fmt.Errorf("regions: %q and %q have the same failover priority %d", other, r.Name, r.Priority)
		}
		prios[r.Priority] = r.Name
	}
	if w := t.Witness; w != nil {
		switch {
		case w.Name == "" || w.Peer == "":
			return errors.New("witness: name and peer are required")
		case names[Canonical(w.Name)]:
			return fmt.Errorf("witness: name %q is also a region's", w.Name)
		case len(t.Regions) < 2:
			return errors.New("witness: only a multi-region account has a control plane")
		}
	}
	lvl, err := session.ParseLevel(t.Consistency)
	if err != nil {
		return fmt.Errorf("consistency: %w", err)
	}
	if lvl == session.Strong && t.MultiWrite {
		return errors.New("consistency: Strong cannot be used with multiWrite (an account with multiple write regions offers BoundedStaleness at most)")
	}
	if lvl == session.BoundedStaleness && (t.MaxStalenessPrefix < 1 || t.MaxIntervalSeconds < 1) {
		return errors.New("maxStalenessPrefix and maxIntervalInSeconds must be positive for BoundedStaleness")
	}
	for i, l := range t.Links {
		if _, ok := t.Region(l.A); !ok {
			return fmt.Errorf("links[%d].a %q is not a region", i, l.A)
		}
		if _, ok := t.Region(l.B); !ok {
			return fmt.Errorf("links[%d].b %q is not a region", i, l.B)
		}
		if l.RTT < 0 || l.Jitter < 0 {
			return fmt.Errorf("links[%d]: rtt and jitter must not be negative", i)
		}
	}
	return nil
}

// Level is the parsed default consistency level.
func (t *Topology) Level() session.Level {
	l, _ := session.ParseLevel(t.Consistency)
	return l
}

// Canonical folds a region name the way the SDKs compare them: without
// whitespace, lower-cased ("West US" == "westus").
func Canonical(name string) string {
	return strings.ToLower(strings.Join(strings.Fields(name), ""))
}

// Region finds a region by name (compared canonically).
func (t *Topology) Region(name string) (Region, bool) {
	c := Canonical(name)
	for _, r := range t.Regions {
		if Canonical(r.Name) == c {
			return r, true
		}
	}
	return Region{}, false
}

// Others returns the regions other than name.
func (t *Topology) Others(name string) []Region {
	c := Canonical(name)
	var out []Region
	for _, r := range t.Regions {
		if Canonical(r.Name) != c {
			out = append(out, r)
		}
	}
	return out
}

// Dev returns the default `meridian dev` layout: West US (write region,
// client port base), East US (base+1), North Europe (base+2), with peer
// ports base+1000.., and realistic round trips.
func Dev(basePort int, host string) *Topology {
	t := &Topology{
		Account:     "meridian-dev",
		WriteRegion: "West US",
		Consistency: "Session",
		Links: []Link{
			{A: "West US", B: "East US", RTT: Duration(60 * time.Millisecond)},
			{A: "West US", B: "North Europe", RTT: Duration(140 * time.Millisecond)},
			{A: "East US", B: "North Europe", RTT: Duration(80 * time.Millisecond)},
		},
	}
	for i, name := range []string{"West US", "East US", "North Europe"} {
		t.Regions = append(t.Regions, Region{
			Name: name, ID: uint32(i + 1), Priority: i,
			Endpoint: fmt.Sprintf("%s:%d", host, basePort+i),
			Peer:     fmt.Sprintf("%s:%d", host, basePort+1000+i),
		})
	}
	t.Defaults()
	return t
}
