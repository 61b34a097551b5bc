package control

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meridiandb/meridian/internal/session"
	"github.com/stretchr/testify/require"
)

// The simulation drives State with the protocol a driver would run, over
// real per-region logs (the epoch of each entry, LSN = index + 1), and
// checks the state and the planning functions against ground truth:
//
//   - epochs strictly increase, one per fence; at most one write region
//     per epoch, never changed once set (FO-F3 / C26);
//   - commit points never decrease (unforced), and the commit point of an
//     epoch never rises once known;
//   - no write any consulted survivor held is ever lost: the promoted log
//     extends every survivor's log (FO-A1, C24);
//   - TokenVerdict says Lost exactly for tokens whose write was truncated,
//     and once Lost a token never becomes valid again (C13);
//   - a region never serves a token its log does not contain (D-5, D-6);
//   - Divergence removes exactly the entries the surviving log lacks, and
//     afterwards the region's log is a prefix of the write region's (FO-F2);
//   - manual failovers lose nothing (FO-A3);
//   - refused commands leave the state unchanged; the encoded command log
//     replayed on a fresh state gives the same snapshot; Snapshot/Restore
//     round-trips.

type simRegion struct {
	name      string
	log       map[uint64][]int64
	alive     bool // process running (a zombie deposed region is alive)
	reachable bool // the control plane and the other regions reach it
	epoch     int64
	rollback  bool // may hold entries a failover truncated
}

type simToken struct {
	p          uint64
	tok        session.Token
	entryEpoch int64 // epoch of the entry at tok.GlobalLSN
	truncated  bool  // ground truth
	lost       bool  // TokenVerdict said Lost once
}

type sim struct {
	t        *testing.T
	rng      *rand.Rand
	cfg      Config
	s        *State
	log      [][]byte
	regions  []*simRegion
	tokens   []*simToken
	now      time.Time
	forced   bool // a forced plan in the current step
	anyForce bool
	cp       map[[2]int64]int64 // (partition, epoch) -> known commit point
	terms    []Term
	parts    []uint64
}

func newSim(t *testing.T, seed uint64) *sim {
	rng := rand.New(rand.NewPCG(seed, seed*7+1))
	n := 2 + rng.IntN(4)
	cfg := Config{Consistency: ConsistencyPolicy{Level: "Session"}, Lease: lease, At: t0}
	x := &sim{t: t, rng: rng, now: t0, cp: map[[2]int64]int64{}, parts: []uint64{0, 1, 2}}
	for i := range n {
		name := fmt.Sprintf("R%d", i)
		cfg.Regions = append(cfg.Regions, RegionSpec{Name: name, ID: uint32(i + 1), Priority: (n - i) * 10}) // reversed: R(n-1) writes
		x.regions = append(x.regions, &simRegion{name: name, log: map[uint64][]int64{}, alive: true, reachable: true, epoch: 1})
	}
	s, err := New(cfg)
	require.NoError(t, err)
	x.cfg, x.s = cfg, s
	x.terms = slices.Clone(s.Terms)
	return x
}

func (x *sim) reg(name string) *simRegion {
	for _, r := range x.regions {
		if r.name == name {
			return r
		}
	}
	x.t.Fatalf("no region %q", name)
	return nil
}

func (x *sim) status(name string) RegionStatus {
	r, _ := x.s.Region(name)
	return r.Status
}

func (x *sim) tick() time.Time {
	x.now = x.now.Add(time.Duration(1+x.rng.IntN(3000)) * time.Millisecond)
	return x.now
}

// apply sends cmd through Encode/Decode (the Raft log) and applies it.
func (x *sim) apply(cmd Command) (Result, error) {
	b, err := Encode(cmd)
	require.NoError(x.t, err)
	dec, err := Decode(b)
	require.NoError(x.t, err)
	b2, err := Encode(dec)
	require.NoError(x.t, err)
	require.Equal(x.t, string(b), string(b2))
	before := x.s.Clone()
	res, err := x.s.Apply(dec)
	if err != nil {
		x.ok(reflect.DeepEqual(before, x.s), "refused %s changed the state", cmd.Kind())
		return res, err
	}
	x.log = append(x.log, b)
	return res, nil
}

func (x *sim) must(cmd Command) Result {
	res, err := x.apply(cmd)
	require.NoError(x.t, err, "%s %+v", cmd.Kind(), cmd)
	return res
}

func (x *sim) writer() *simRegion {
	if x.s.WriteRegion == "" {
		return nil
	}
	return x.reg(x.s.WriteRegion)
}

func lastEpoch(l []int64) int64 {
	if len(l) == 0 {
		return 0
	}
	return l[len(l)-1]
}

func isPrefix(a, b []int64) bool { return len(a) <= len(b) && slices.Equal(a, b[:len(a)]) }

// write: the write region (or a zombie deposed one) appends an entry.
func (x *sim) write() {
	var w *simRegion
	if x.s.Failover != nil && x.s.Failover.Phase != PhaseRequested {
		if d := x.reg(x.s.Failover.Deposed); d.alive && !d.reachable {
			w = d // zombie: has not heard of the fence, lease not yet expired
		}
	} else if cw := x.writer(); cw != nil && cw.alive {
		w = cw
	}
	if w == nil {
		return
	}
	p := x.parts[x.rng.IntN(len(x.parts))]
	w.log[p] = append(w.log[p], w.epoch)
	l := int64(len(w.log[p]))
	x.tokens = append(x.tokens, &simToken{p: p, tok: session.Token{Version: w.epoch, GlobalLSN: l}, entryEpoch: w.epoch})
}

func (x *sim) replicate() {
	w := x.writer()
	if w == nil || !w.alive || !w.reachable {
		return
	}
	for _, f := range x.regions {
		if f == w || !f.alive || !f.reachable || f.rollback || f.epoch != x.s.Epoch || x.rng.IntN(2) == 0 {
			continue
		}
		for _, p := range x.parts {
			require.True(x.t, isPrefix(f.log[p], w.log[p]), "follower %s is not a prefix of writer %s", f.name, w.name)
			n := len(f.log[p]) + x.rng.IntN(len(w.log[p])-len(f.log[p])+1)
			f.log[p] = slices.Clone(w.log[p][:n])
		}
	}
}

// read: a random region serves a random token, and maybe issues a new
// one from a token-less read.
func (x *sim) read() {
	r := x.regions[x.rng.IntN(len(x.regions))]
	if !r.alive {
		return
	}
	p := x.parts[x.rng.IntN(len(x.parts))]
	applied := int64(len(r.log[p]))
	if len(x.tokens) > 0 {
		tk := x.tokens[x.rng.IntN(len(x.tokens))]
		if tk.p == p {
			v := TokenVerdict(x.s.History, p, tk.tok, applied, r.epoch)
			if v == Serve {
				require.GreaterOrEqual(x.t, applied, tk.tok.GlobalLSN)
				require.Equal(x.t, tk.entryEpoch, r.log[p][tk.tok.GlobalLSN-1], "%s served %v without its write", r.name, tk.tok)
			}
			require.Equal(x.t, tk.truncated, v == Lost || (tk.truncated && v == Diverged), "token %v truncated=%v verdict %v at %s", tk.tok, tk.truncated, v, r.name)
		}
	}
	if TokenVerdict(x.s.History, p, session.Token{}, applied, r.epoch) == Serve && applied > 0 {
		x.tokens = append(x.tokens, &simToken{p: p, tok: session.Token{Version: r.epoch, GlobalLSN: applied}, entryEpoch: r.log[p][applied-1]})
	}
}

func (x *sim) report(r *simRegion) RegionProgress {
	rp := RegionProgress{Epoch: r.epoch, Partitions: map[uint64]PartProgress{}}
	for _, p := range x.parts {
		rp.Partitions[p] = PartProgress{Durable: int64(len(r.log[p])), LastEpoch: lastEpoch(r.log[p])}
	}
	return rp
}

// revive brings a region back; one that may hold truncated entries rolls
// back (Divergence) and, if fenced out, rejoins.
func (x *sim) revive(r *simRegion) {
	require.Nil(x.t, x.s.Failover)
	w := x.writer()
	r.alive, r.reachable = true, true
	if r.rollback {
		trunc := map[uint64]LSNRange{}
		for _, p := range x.parts {
			l := r.log[p]
			from, to, ok := Divergence(x.s.History, p, lastEpoch(l), int64(len(l)))
			keep := int64(len(l))
			if ok {
				require.Equal(x.t, int64(len(l)), to)
				keep = from - 1
				for lsn := from; lsn <= to; lsn++ {
					require.False(x.t, int64(len(w.log[p])) >= lsn && w.log[p][lsn-1] == l[lsn-1], "%s: Divergence removes LSN %d which survived", r.name, lsn)
				}
				trunc[p] = LSNRange{from, to}
			}
			require.True(x.t, isPrefix(l[:keep], w.log[p]), "%s: after rollback its log must be a prefix of the writer's", r.name)
			r.log[p] = slices.Clone(l[:keep])
		}
		if x.status(r.name) == StatusFencedOut {
			if len(trunc) == 0 {
				trunc = nil
			}
			x.must(Rejoin{Region: r.name, Epoch: x.s.Epoch, Truncated: trunc, At: x.tick()})
		}
		r.rollback = false
	}
	r.epoch = x.s.Epoch
}

func (x *sim) crashReadRegion() {
	if x.s.Failover != nil {
		return
	}
	r := x.regions[x.rng.IntN(len(x.regions))]
	if r.name != x.s.WriteRegion {
		r.alive, r.reachable = false, false
	}
}

func (x *sim) reviveSome() {
	if x.s.Failover != nil || x.writer() == nil || !x.writer().alive {
		return
	}
	for _, r := range x.regions {
		if !r.alive && x.rng.IntN(2) == 0 {
			x.revive(r)
		}
	}
}

func (x *sim) flipStatus() {
	r := x.regions[x.rng.IntN(len(x.regions))]
	st := []RegionStatus{StatusHealthy, StatusSuspected, StatusOfflineDrill}[x.rng.IntN(3)]
	_, err := x.apply(SetRegionStatus{Region: r.name, Status: st, At: x.tick()})
	if err != nil {
		require.True(x.t, errors.Is(err, ErrTransition), "%v", err)
	}
}

// garbage: commands that must be refused in any state.
func (x *sim) garbage() {
	s := x.s
	var fencedOut, healthy string
	for _, r := range s.Regions {
		if r.Status == StatusFencedOut {
			fencedOut = r.Name
		} else {
			healthy = r.Name
		}
	}
	cmds := []Command{
		Fence{Epoch: s.Epoch, Deposed: s.WriteRegion},
		Fence{Epoch: s.Epoch + 2, Deposed: s.WriteRegion},
		Plan{Epoch: s.Epoch + 1, Target: healthy, Partitions: map[uint64]PartPlan{0: {1, healthy}}},
		Promote{Epoch: s.Epoch + 1, Target: healthy, StartLSN: map[uint64]int64{0: 1}, At: x.now.Add(time.Hour)},
		Rejoin{Region: healthy, Epoch: s.Epoch},
		SetRegionStatus{Region: healthy, Status: StatusFencedOut},
		AddRegion{Region: RegionSpec{Name: s.Regions[0].Name, ID: 200, Priority: 999}},
	}
	if fencedOut != "" {
		cmds = append(cmds,
			Promote{Epoch: s.Epoch, Target: fencedOut, StartLSN: map[uint64]int64{0: 1}, At: x.now.Add(time.Hour)},
			SetRegionStatus{Region: fencedOut, Status: StatusHealthy})
	}
	_, err := x.apply(cmds[x.rng.IntN(len(cmds))])
	require.Error(x.t, err)
}

// adopt: every live, reachable, rolled-back region adopts the new epoch.
func (x *sim) adopt() {
	for _, r := range x.regions {
		if r.alive && r.reachable && !r.rollback && x.status(r.name) != StatusFencedOut {
			r.epoch = x.s.Epoch
		}
	}
}

// failover: the write region becomes unreachable (maybe a zombie that
// keeps writing until its lease runs out), then Fence, collect, choose,
// plan, catch up, promote.
func (x *sim) failover() {
	w := x.writer()
	if x.s.Failover != nil || w == nil || !w.alive {
		return
	}
	// Someone must be able to take over: a region that is not fenced out.
	candidates := 0
	for _, r := range x.regions {
		if r != w && x.status(r.name) != StatusFencedOut {
			candidates++
		}
	}
	if candidates == 0 {
		return
	}
	w.reachable = false
	w.alive = x.rng.IntN(2) == 0 // zombie?
	w.rollback = true
	res := x.must(Fence{Epoch: x.s.Epoch + 1, Deposed: w.name, Reason: "lost", At: x.tick()})
	x.adopt()
	for range x.rng.IntN(3) {
		x.write() // zombie writes, if any
		x.read()
	}
	// Regions that must report but are down: revive them, or force.
	force := false
	for _, r := range x.regions {
		if r == w || r.alive || x.status(r.name) == StatusFencedOut {
			continue
		}
		if x.rng.IntN(3) == 0 {
			force = true
			r.rollback = true // its log is not consulted: it may hold truncated entries
		} else {
			x.bringBack(r)
		}
	}
	surv := map[string]RegionProgress{}
	for _, r := range x.regions {
		if r != w && r.alive && r.reachable && r.epoch == x.s.Epoch {
			surv[r.name] = x.report(r)
		}
	}
	if len(surv) == 0 {
		// Every other region is down and forced out of the count: bring
		// one back (it rolls back and follows the fence).
		for _, r := range x.regions {
			if r != w && x.status(r.name) != StatusFencedOut {
				x.bringBack(r)
				surv[r.name] = x.report(r)
				break
			}
		}
	}
	target, plan, err := ChooseTarget(x.s, surv, force)
	for err != nil && errors.Is(err, ErrUnsafe) {
		if !force && strings.Contains(err.Error(), "an earlier failover committed") {
			// The only holders of a committed LSN are gone (e.g. the
			// writer it was synced to, and the origin before it): a
			// double loss, beyond the guarantee. The operator forces.
			force = true
			target, plan, err = ChooseTarget(x.s, surv, force)
			continue
		}
		// No healthy survivor: heal one.
		require.Contains(x.t, err.Error(), "no healthy region", "%v", err)
		for _, name := range sortedKeys(surv) {
			if x.status(name) != StatusHealthy && x.status(name) != StatusFencedOut {
				x.must(SetRegionStatus{Region: name, Status: StatusHealthy, At: x.tick()})
				break
			}
		}
		target, plan, err = ChooseTarget(x.s, surv, force)
	}
	require.NoError(x.t, err)
	unrep := Unreported(x.s, surv)
	forcedPlan := force && len(unrep) > 0
	below := false
	for p, pp := range plan {
		if pp.TargetLSN < x.s.History.Committed(p) {
			below = true
		}
	}
	forcedPlan = forcedPlan || below
	x.forced, x.anyForce = forcedPlan, x.anyForce || forcedPlan
	x.must(Plan{Epoch: x.s.Epoch, Target: target, Partitions: plan, Forced: forcedPlan, Unreported: unrep, At: x.tick()})
	if x.rng.IntN(4) == 0 {
		// The target turns suspect while catching up: re-plan.
		x.must(SetRegionStatus{Region: target, Status: StatusSuspected, At: x.tick()})
		t2, p2, err := ChooseTarget(x.s, surv, force)
		if err == nil {
			require.NotEqual(x.t, target, t2)
			for p := range plan {
				require.Equal(x.t, plan[p].TargetLSN, p2[p].TargetLSN, "the commit point does not depend on the target")
			}
			x.must(Plan{Epoch: x.s.Epoch, Target: t2, Partitions: p2, Forced: forcedPlan, Unreported: unrep, At: x.tick()})
			target, plan = t2, p2
		} else {
			x.must(SetRegionStatus{Region: target, Status: StatusHealthy, At: x.tick()})
		}
	}
	// Catch up.
	tr := x.reg(target)
	start := map[uint64]int64{}
	for p, pp := range plan {
		src := x.reg(pp.Source)
		require.NotEqual(x.t, w.name, src.name)
		require.GreaterOrEqual(x.t, int64(len(src.log[p])), pp.TargetLSN)
		require.LessOrEqual(x.t, int64(len(tr.log[p])), pp.TargetLSN, "a healthy target never holds more than the commit point")
		require.True(x.t, isPrefix(tr.log[p], src.log[p][:pp.TargetLSN]))
		tr.log[p] = slices.Clone(src.log[p][:pp.TargetLSN])
		start[p] = pp.TargetLSN + 1
	}
	// The lease: a promote before SafeAt is refused.
	_, err = x.apply(Promote{Epoch: x.s.Epoch, Target: target, StartLSN: start, At: res.SafeAt.Add(-time.Millisecond)})
	require.ErrorIs(x.t, err, ErrUnsafe)
	x.now = maxTime(x.now, res.SafeAt)
	x.must(Promote{Epoch: x.s.Epoch, Target: target, StartLSN: start, At: x.now})
	w.alive = false // its lease ran out: the zombie stops
	// Ground truth.
	for _, r := range x.regions {
		if rp, ok := surv[r.name]; ok {
			for p, pp := range rp.Partitions {
				eff := pp.Durable
				if cp, ok := x.s.History.CommitPoint(p, pp.LastEpoch); ok && cp < eff && x.s.History.Committed(p) != cp {
					eff = cp
				}
				if !forcedPlan {
					require.True(x.t, isPrefix(r.log[p][:min(eff, int64(len(tr.log[p])))], tr.log[p]), "synced writes of %s lost", r.name)
					require.GreaterOrEqual(x.t, int64(len(tr.log[p])), eff, "%s held more than the commit point", r.name)
				}
			}
		}
	}
	for _, tk := range x.tokens {
		if tk.truncated {
			continue
		}
		st := start[tk.p]
		if tk.entryEpoch < x.s.Epoch && tk.tok.GlobalLSN >= st {
			tk.truncated = true
		} else {
			require.Equal(x.t, tk.entryEpoch, tr.log[tk.p][tk.tok.GlobalLSN-1], "token %v's write is not where it should be", tk.tok)
		}
	}
}

// bringBack revives a region during a failover. If it missed an earlier
// failover it removes the truncated suffix before it adopts the fence
// (precondition of TokenVerdict and ChooseTarget).
func (x *sim) bringBack(r *simRegion) {
	r.alive, r.reachable = true, true
	if r.rollback {
		for _, p := range x.parts {
			if from, _, ok := Divergence(x.s.History, p, lastEpoch(r.log[p]), int64(len(r.log[p]))); ok {
				r.log[p] = r.log[p][:from-1]
			}
		}
		r.rollback = false
	}
	r.epoch = x.s.Epoch
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// manual: a planned failover with every region up and healthy.
func (x *sim) manual() {
	if x.s.Failover != nil || len(x.regions) < 2 {
		return
	}
	for _, r := range x.regions {
		if !r.alive || !r.reachable || r.rollback || x.status(r.name) != StatusHealthy {
			return
		}
	}
	w := x.writer()
	var others []string
	for _, r := range x.regions {
		if r != w {
			others = append(others, r.name)
		}
	}
	target := others[x.rng.IntN(len(others))]
	x.must(ManualFailover{Target: target, At: x.tick()})
	res := x.must(Fence{Epoch: x.s.Epoch + 1, Deposed: w.name, Planned: true, At: x.tick()})
	x.adopt()
	t2, plan, err := DrainPlan(x.s, x.report(w))
	require.NoError(x.t, err)
	require.Equal(x.t, target, t2)
	x.must(Plan{Epoch: x.s.Epoch, Target: target, Partitions: plan, Drained: true, At: x.tick()})
	tr := x.reg(target)
	start := map[uint64]int64{}
	for p, pp := range plan {
		require.Equal(x.t, int64(len(w.log[p])), pp.TargetLSN)
		require.True(x.t, isPrefix(tr.log[p], w.log[p]))
		tr.log[p] = slices.Clone(w.log[p])
		start[p] = pp.TargetLSN + 1
	}
	x.must(Promote{Epoch: x.s.Epoch, Target: target, StartLSN: start, At: res.SafeAt.Add(-time.Second)})
	for _, tk := range x.tokens {
		if !tk.truncated {
			require.NotEqual(x.t, Lost, TokenVerdict(x.s.History, tk.p, tk.tok, 0, x.s.Epoch), "manual failover lost %v", tk.tok)
		}
	}
}

// ok fails the test unless cond (cheaper than require in hot loops).
func (x *sim) ok(cond bool, format string, args ...any) {
	if !cond {
		x.t.Fatalf(format, args...)
	}
}

// check verifies the state-level invariants after every step.
func (x *sim) check() {
	s := x.s
	if err := s.CheckInvariants(); err != nil {
		x.t.Fatal(err)
	}
	x.ok(s.Epoch >= x.terms[len(x.terms)-1].Epoch, "epoch went back")
	x.ok(len(s.Terms) >= len(x.terms) && slices.Equal(x.terms, s.Terms[:len(x.terms)]), "a term changed: %v -> %v", x.terms, s.Terms)
	if len(s.Terms) != len(x.terms) {
		x.terms = slices.Clone(s.Terms)
	}
	for _, p := range x.parts {
		for e := int64(1); e <= s.Epoch; e++ {
			cp, ok := s.History.CommitPoint(p, e)
			k := [2]int64{int64(p), e}
			if old, had := x.cp[k]; had {
				x.ok(ok, "commit point of p%d e%d vanished", p, e)
				x.ok(cp <= old, "commit point of p%d e%d rose", p, e)
				x.ok(x.forced || old == cp, "an unforced failover changed the commit point of p%d e%d", p, e)
			}
			if ok {
				x.cp[k] = cp
			}
		}
		if es := s.History[p]; len(es) >= 2 && !x.anyForce {
			x.ok(es[len(es)-1].Start >= es[len(es)-2].Start, "commit points never decrease")
		}
	}
	for _, tk := range x.tokens {
		lost := TokenVerdict(s.History, tk.p, tk.tok, 0, s.Epoch) == Lost
		x.ok(!tk.lost || lost, "token %v was Lost and became valid again", tk.tok)
		tk.lost = lost
		x.ok(tk.truncated == lost, "token %v: truncated=%v but Lost=%v (history %v)", tk.tok, tk.truncated, lost, s.History)
	}
	if w := x.writer(); w != nil && w.alive {
		for _, r := range x.regions {
			if r.alive && !r.rollback && r.epoch == s.Epoch {
				for _, p := range x.parts {
					x.ok(isPrefix(r.log[p], w.log[p]), "%s is not a prefix of the write region %s", r.name, w.name)
				}
			}
		}
	}
	x.forced = false
}

func (x *sim) run(steps int) {
	for range steps {
		switch k := x.rng.IntN(100); {
		case k < 30:
			x.write()
		case k < 50:
			x.replicate()
		case k < 70:
			x.read()
		case k < 76:
			x.failover()
		case k < 80:
			x.manual()
		case k < 85:
			x.crashReadRegion()
		case k < 92:
			x.reviveSome()
		case k < 96:
			x.flipStatus()
		default:
			x.garbage()
		}
		x.check()
	}
	// Replay the command log on a fresh state: same state (determinism).
	fresh, err := New(x.cfg)
	require.NoError(x.t, err)
	for _, b := range x.log {
		cmd, err := Decode(b)
		require.NoError(x.t, err)
		_, err = fresh.Apply(cmd)
		require.NoError(x.t, err)
	}
	require.Equal(x.t, snap(x.t, x.s), snap(x.t, fresh))
	// Snapshot / Restore.
	b, err := x.s.Snapshot()
	require.NoError(x.t, err)
	r, err := Restore(b)
	require.NoError(x.t, err)
	require.Equal(x.t, x.s, r)
	require.Equal(x.t, x.s, x.s.Clone())
}

func TestProtocolSimulation(t *testing.T) {
	seeds := 300
	if testing.Short() || raceEnabled {
		seeds = 40
	}
	failovers := 0
	for seed := range uint64(seeds) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			x := newSim(t, seed)
			x.run(400)
			failovers += len(x.s.Past)
		})
		if t.Failed() {
			break
		}
	}
	require.Greater(t, failovers, seeds, "the simulation must exercise failovers")
}
