package region

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/meridiandb/meridian/internal/catalog"
	"github.com/meridiandb/meridian/internal/resource"
)

// The catalog of a multi-region account (databases, containers, offers)
// lives in the control plane's Raft log: the write region proposes each
// change, and every region's state machine applies it to its own durable
// catalog (catalog.ApplyAt) in log order, opening and dropping partitions as
// it goes (Region.onCatalog). It survives a failover without divergence:
// the log is the majority's. A one-region account applies changes directly.

// catalogEnvelope is a catalog command in the Raft log.
type catalogEnvelope struct {
	Kind string          `json:"kind"` // "Catalog"
	Cmd  catalog.Command `json:"cmd"`
}

var catalogPrefix = []byte(`{"kind":"Catalog",`)

func isCatalogCmd(b []byte) bool { return bytes.HasPrefix(b, catalogPrefix) }

// catalogOutcome is the state machine's answer to a catalog command: its
// result, or the client error it deterministically failed with.
type catalogOutcome struct {
	Result *catalog.Result `json:"result,omitempty"`
	Err    *catalogErr     `json:"err,omitempty"`
}

type catalogErr struct {
	Kind      resource.Kind `json:"kind"`
	Msg       string        `json:"msg"`
	Substatus int           `json:"substatus,omitempty"`
}

// applyCatalog applies a catalog command at Raft index index.
func (f *controlFSM) applyCatalog(index uint64, b []byte) ([]byte, error) {
	var env catalogEnvelope
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, fmt.Errorf("catalog command: %w", err)
	}
	if f.cat == nil {
		return nil, errors.New("catalog command before the catalog is open")
	}
	res, err := f.cat.ApplyAt(int64(index), env.Cmd)
	var out catalogOutcome
	var re *resource.Error
	switch {
	case errors.Is(err, catalog.ErrApplied):
		return nil, nil // a replay after a restart: nobody waits for it
	case errors.As(err, &re):
		out.Err = &catalogErr{Kind: re.Kind, Msg: re.Msg, Substatus: re.Substatus}
	case err != nil:
		return nil, err
	default:
		out.Result = &res
	}
	return json.Marshal(out)
}

// applyCatalog runs a catalog change: through the control plane in a
// multi-region account (write region only, like any write), directly in a
// one-region account.
func (r *Region) applyCatalog(ctx context.Context, cmd catalog.Command) (catalog.Result, error) {
	if r.node == nil {
		return r.cat.Apply(cmd)
	}
	if !r.isWriter() {
		return catalog.Result{}, r.writeForbidden()
	}
	if err := r.cfg.DB.CheckSpace(); err != nil {
		return catalog.Result{}, &resource.Error{Kind: resource.KindInsufficientStorage, Err: err,
			Msg: "The region's data volume is nearly full; changes are refused until space is freed."}
	}
	b, err := json.Marshal(catalogEnvelope{Kind: "Catalog", Cmd: cmd})
	if err != nil {
		return catalog.Result{}, err
	}
	out, err := r.node.Propose(ctx, b)
	if err != nil {
		if ctx.Err() != nil {
			return catalog.Result{}, ctx.Err()
		}
		return catalog.Result{}, resource.Errorf(resource.KindServiceUnavailable,
			"The control plane did not confirm the change (%v); its outcome is unknown: read the resource to find out.", err)
	}
	var o catalogOutcome
	if err := json.Unmarshal(out, &o); err != nil {
		return catalog.Result{}, fmt.Errorf("catalog outcome: %w", err)
	}
	if o.Err != nil {
		return catalog.Result{}, &resource.Error{Kind: o.Err.Kind, Msg: o.Err.Msg, Substatus: o.Err.Substatus}
	}
	if o.Result == nil {
		return catalog.Result{}, errors.New("catalog outcome: empty")
	}
	return *o.Result, nil
}

// catalogSnapshot is the catalog's part of a Raft snapshot.
type catalogSnapshot struct {
	Applied int64       `json:"applied"`
	Epoch   int64       `json:"epoch"`
	Items   [][2][]byte `json:"items"`
}

func snapshotCatalog(c *catalog.Catalog) (*catalogSnapshot, error) {
	snap := &catalogSnapshot{}
	lsn, epoch, err := c.Snapshot(context.Background(), func(k, v []byte) error {
		snap.Items = append(snap.Items, [2][]byte{bytes.Clone(k), bytes.Clone(v)})
		return nil
	})
	snap.Applied, snap.Epoch = lsn, epoch
	return snap, err
}

func restoreCatalog(c *catalog.Catalog, snap *catalogSnapshot) error {
	i := 0
	return c.InstallSnapshot(context.Background(), snap.Applied, snap.Epoch, func() ([]byte, []byte, bool, error) {
		if i >= len(snap.Items) {
			return nil, nil, false, nil
		}
		kv := snap.Items[i]
		i++
		return kv[0], kv[1], true, nil
	})
}
