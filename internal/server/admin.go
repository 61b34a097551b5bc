package server

import (
	"context"
	"errors"
	"time"

	"github.com/meridiandb/meridian/internal/admin"
	"github.com/meridiandb/meridian/internal/control"
	"github.com/meridiandb/meridian/internal/httpapi"
	"github.com/meridiandb/meridian/internal/resource"
	"github.com/meridiandb/meridian/internal/topology"
	"github.com/meridiandb/meridian/internal/wan"
)

// The management API (/_meridian/...) is served by the Server: it combines
// the region's replication state with the availability switch and the
// simulated WAN, which belong to the process, not to the region.

var _ httpapi.Admin = (*Server)(nil)

// Offline reports whether the region refuses data-plane requests (503).
func (s *Server) Offline() bool { return s.offline.Load() }

// Status reports the region's role and replication state, with
// reachability and links taken from the simulated WAN, if any.
func (s *Server) Status(context.Context) (admin.Status, error) {
	st := s.region.Status()
	st.Offline = s.Offline()
	if s.cfg.WAN == nil {
		return st, nil
	}
	st.WAN, st.Links = true, s.links()
	for i := range st.Partitions {
		p := &st.Partitions[i]
		for j := range p.Peers {
			p.Peers[j].Reachable = s.reachable(p.Peers[j].Region)
		}
		if p.Upstream != nil {
			p.Upstream.Reachable = s.reachable(p.Upstream.Region)
		}
	}
	return st, nil
}

// SetOffline takes this region offline or brings it back. While offline
// it answers 503 to every data-plane request but keeps replicating. Only
// the process serving a region can switch it: naming another region of
// the account is a 400 that says where to send the request.
func (s *Server) SetOffline(_ context.Context, name string, offline bool) (admin.RegionState, error) {
	r, err := s.regionNamed(name)
	if err != nil {
		return admin.RegionState{}, err
	}
	if topology.Canonical(r.Name) != topology.Canonical(s.cfg.Region) {
		return admin.RegionState{}, resource.BadRequestf(
			"Region %q is served at %s, not by this region (%q): send the request to that endpoint ('meridian region' does).",
			r.Name, r.Endpoint, s.cfg.Region)
	}
	if s.offline.Swap(offline) != offline {
		if offline {
			s.log.Info("region offline: refusing client requests, still replicating")
		} else {
			s.log.Info("region online")
		}
	}
	return admin.RegionState{Region: s.cfg.Region, Offline: offline}, nil
}

// ChangeLink changes the simulated WAN between two regions of the account:
// the round trip (split evenly between the directions), the jitter of both
// directions, and whether the pair is partitioned. In `meridian dev` every
// region shares one WAN; with `serve --topology` each process owns the WAN
// of the connections it dials, so a change must be sent to both regions of
// the pair.
func (s *Server) ChangeLink(_ context.Context, ch admin.LinkChange) (admin.Links, error) {
	n, err := s.wan()
	if err != nil {
		return admin.Links{}, err
	}
	a, err := s.regionNamed(ch.A)
	if err != nil {
		return admin.Links{}, err
	}
	b, err := s.regionNamed(ch.B)
	if err != nil {
		return admin.Links{}, err
	}
	if a.Name == b.Name {
		return admin.Links{}, resource.BadRequestf("A link joins two different regions; both are %q.", a.Name)
	}
	s.linkMu.Lock()
	defer s.linkMu.Unlock()
	if ch.Jitter != nil {
		links := n.Links()
		for _, key := range [][2]string{{a.Name, b.Name}, {b.Name, a.Name}} {
			c := links[key]
			c.Jitter = time.Duration(*ch.Jitter)
			n.SetLink(key[0], key[1], c)
		}
	}
	if ch.RTT != nil {
		n.SetRTT(a.Name, b.Name, time.Duration(*ch.RTT))
	}
	if ch.Partitioned != nil {
		switch {
		case *ch.Partitioned && ch.OneWay:
			n.PartitionOneWay(a.Name, b.Name)
		case *ch.Partitioned:
			n.Partition(a.Name, b.Name)
		case ch.OneWay:
			n.HealOneWay(a.Name, b.Name)
		default:
			n.Heal(a.Name, b.Name)
		}
	}
	s.log.Info("wan link changed through the management API", "a", a.Name, "b", b.Name)
	return admin.Links{Region: s.cfg.Region, WAN: true, Links: s.links()}, nil
}

// Heal ends every partition and isolation of the simulated WAN; delays
// stay. Without a simulated WAN there is nothing to heal.
func (s *Server) Heal(context.Context) (admin.Links, error) {
	if s.cfg.WAN == nil {
		return admin.Links{Region: s.cfg.Region}, nil
	}
	s.cfg.WAN.HealAll()
	s.log.Info("wan healed through the management API")
	return admin.Links{Region: s.cfg.Region, WAN: true, Links: s.links()}, nil
}

func (s *Server) wan() (*wan.Network, error) {
	if s.cfg.WAN == nil {
		return nil, resource.BadRequestf(
			"Region %q runs without a simulated WAN (meridian dev --rtt 0, or serve --wan=false): its links cannot be changed.", s.cfg.Region)
	}
	return s.cfg.WAN, nil
}

func (s *Server) regionNamed(name string) (topology.Region, error) {
	r, ok := s.topo.Region(name)
	if !ok {
		return topology.Region{}, resource.Errorf(resource.KindNotFound, "The account has no region %q.", name)
	}
	return r, nil
}

// reachable reports whether the WAN lets this region and peer talk.
func (s *Server) reachable(peer string) bool {
	n := s.cfg.WAN
	return !n.Link(s.cfg.Region, peer).Partitioned && !n.Link(peer, s.cfg.Region).Partitioned
}

// links describes the WAN between every pair of regions, in topology order.
func (s *Server) links() []admin.Link {
	n := s.cfg.WAN
	var out []admin.Link
	rs := s.topo.Regions
	for i := range rs {
		for j := i + 1; j < len(rs); j++ {
			a, b := rs[i].Name, rs[j].Name
			ab, ba := n.Link(a, b), n.Link(b, a)
			out = append(out, admin.Link{
				A: a, B: b,
				RTT:         topology.Duration(ab.Delay + ba.Delay),
				Jitter:      topology.Duration(max(ab.Jitter, ba.Jitter)),
				Partitioned: ab.Partitioned || ba.Partitioned,
			})
		}
	}
	return out
}

// Failover moves the write region to writeRegion through the control plane
// (a planned failover: the old write region drains, nothing is lost).
func (s *Server) Failover(ctx context.Context, writeRegion string) (admin.Status, error) {
	r, err := s.regionNamed(writeRegion)
	if err != nil {
		return admin.Status{}, err
	}
	if s.raft == nil {
		return admin.Status{}, resource.BadRequestf("A one-region account has no other region to fail over to.")
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if _, err := s.region.ManualFailover(ctx, r.Name); err != nil {
		switch {
		case errors.Is(err, control.ErrInvalid):
			return admin.Status{}, resource.BadRequestf("The failover was refused: %v.", err)
		case errors.Is(err, control.ErrUnsafe), errors.Is(err, control.ErrTransition), errors.Is(err, control.ErrStaleEpoch):
			return admin.Status{}, resource.Errorf(resource.KindConflict, "The failover cannot run now: %v.", err)
		}
		return admin.Status{}, resource.Errorf(resource.KindServiceUnavailable, "The failover did not complete: %v. Check GET /_meridian/status.", err)
	}
	return s.Status(ctx)
}

// Drill kills or restores a region through the process's drill hook
// (meridian dev runs every region and supervises them).
func (s *Server) Drill(ctx context.Context, name, action string) (admin.RegionState, error) {
	r, err := s.regionNamed(name)
	if err != nil {
		return admin.RegionState{}, err
	}
	if s.cfg.Drills == nil {
		return admin.RegionState{}, resource.BadRequestf(
			"Region drills (kill/restore) need a process that supervises the regions, such as 'meridian dev'. With 'meridian serve', crash the region's process (kill -9) and start it again.")
	}
	switch action {
	case "kill":
		err = s.cfg.Drills.Kill(ctx, r.Name)
	case "restore":
		err = s.cfg.Drills.Restore(ctx, r.Name)
	default:
		return admin.RegionState{}, resource.BadRequestf("Unknown drill %q: use kill or restore.", action)
	}
	if err != nil {
		return admin.RegionState{}, resource.BadRequestf("The %s drill of %q failed: %v.", action, r.Name, err)
	}
	return admin.RegionState{Region: r.Name, Down: action == "kill"}, nil
}
