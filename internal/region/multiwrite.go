package region

import (
	"context"
	"time"

	"github.com/meridiandb/meridian/internal/conflict"
	"github.com/meridiandb/meridian/internal/partition"
	"github.com/meridiandb/meridian/internal/resource"
	"github.com/meridiandb/meridian/internal/session"
)

// Multi-region writes (topology.MultiWrite, issue 7). Every region is a
// write region: it accepts writes for every partition, numbers them in its
// own origin sequence and follows every other region's log
// (partition/multiwrite.go resolves and relays). There is no write region
// to fail over: losing a region loses only the writes no other region
// received, and those it relayed keep spreading. The control plane's Raft
// log still carries the catalog (any region may propose a change).
//
// Session tokens are vectors: "0:{epoch}#{sum}#{regionId}={originLSN}#…"
// with every region of the account. GlobalLSN is the sum of the components,
// so a replica whose vector covers a token also has a GlobalLSN at least
// the token's (the SDKs' IsValid rule holds). A read waits until the
// region's durable vector covers the token; a write carrying a token waits
// the same way before it runs (writes-follow-reads, monotonic writes), so
// the write's seen vector covers what the session observed.

// followPeers subscribes partition p to every other region's log.
func (r *Region) followPeers(p *partition.Partition) {
	if r.recv == nil {
		return
	}
	for _, reg := range r.topo.Regions {
		if reg.ID == r.self.ID {
			continue
		}
		r.recv.FollowFrom(p.ID(), reg.Name, reg.Peer, p.From(reg.ID))
	}
}

// vectorToken is the session token of vector v.
func (r *Region) vectorToken(v conflict.Vector) session.Token {
	t := session.Token{Version: r.view.Load().epoch, Regions: make(map[uint32]int64, len(r.topo.Regions))}
	for _, reg := range r.topo.Regions {
		t.Regions[reg.ID] = v[reg.ID]
		t.GlobalLSN += v[reg.ID]
	}
	return t
}

// tokenVector is what a token requires of a multi-write partition. A token
// without regions (single-write form) requires nothing it can name: it is
// judged by its GlobalLSN against the sum of the region's vector.
func tokenVector(t session.Token) conflict.Vector {
	v := make(conflict.Vector, len(t.Regions))
	for id, l := range t.Regions {
		v[id] = l
	}
	return v
}

func sumVector(v conflict.Vector) int64 {
	var s int64
	for _, l := range v {
		s += l
	}
	return s
}

// awaitVector holds a request until p's durable vector covers token t, up
// to SessionWait; then 404/1002.
func (r *Region) awaitVector(ctx context.Context, p *partition.Partition, t session.Token) error {
	want := tokenVector(t)
	ok := func() bool { return p.Covers(want) && sumVector(p.Vector()) >= t.GlobalLSN }
	if ok() {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, r.cfg.SessionWait)
	defer cancel()
	for !ok() {
		sctx, scancel := context.WithTimeout(wctx, 50*time.Millisecond)
		err := p.WaitVector(sctx, want)
		scancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if wctx.Err() != nil || (err != nil && sctx.Err() == nil) {
			if ok() {
				return nil
			}
			return resource.Errorf(resource.KindReadSessionNotAvailable,
				"The session is not available for the input session token: region %q has applied %s, the token requires %s.",
				r.self.Name, r.vectorToken(p.Vector()), t)
		}
	}
	return nil
}

// countConflict reports a conflict a partition resolved here to the
// metrics hook (LastWriterWins losers are only counted; Custom ones are
// also fed).
func (r *Region) countConflict(d conflict.Decision) {
	if r.cfg.OnConflict != nil {
		r.cfg.OnConflict(d.Type.String(), d.Feed)
	}
}
