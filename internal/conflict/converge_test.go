package conflict

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// The convergence property: regions that write concurrently and apply each
// other's versions in any order all end with the same version, the maximum
// of Resolve's order over every version written; the conflicts feed gets
// every loser that nothing overwrote, never the winner, once per id.

// simRegion is one region of the simulation, holding one item.
type simRegion struct {
	id      uint32
	state   *Version
	applied Vector // per origin, the highest LSN applied (logs apply in order)
	hlc     HLC
	skew    int64          // its physical clock's offset
	fed     map[string]int // conflict ids this region published, and how often
	counted int            // LWW conflict losers counted
}

type sim struct {
	t        testing.TB
	p        Policy
	rng      *rand.Rand
	regions  []*simRegion
	logs     map[uint32][]Version // each origin's writes of the item, in LSN order
	clock    int64
	recreate bool // may a region create the item again on top of a tombstone?
	deletes  bool // may regions delete?
}

func newSim(t testing.TB, p Policy, rng *rand.Rand, n int) *sim {
	s := &sim{t: t, p: p, rng: rng, logs: map[uint32][]Version{}, clock: 1000 * sec, recreate: true, deletes: true}
	ids := rng.Perm(9)
	for i := range n {
		s.regions = append(s.regions, &simRegion{
			id:      uint32(ids[i] + 1),
			applied: Vector{},
			skew:    rng.Int64N(10*sec) - 5*sec, // ±5 s (F11)
			fed:     map[string]int{},
		})
	}
	return s
}

func (s *sim) body(origin uint32, lsn int64) string {
	w := strconv.FormatUint(uint64(origin), 10) + "-" + strconv.FormatInt(lsn, 10)
	switch x := s.rng.IntN(20); {
	case x == 0:
		return `{"id":"k","w":"` + w + `"}` // D-8: missing
	case x == 1:
		return `{"id":"k","w":"` + w + `","prio":"9"}` // D-8: not a number
	default: // small range: many ties, and values that go down as well as up
		return `{"id":"k","w":"` + w + `","prio":` + strconv.Itoa(s.rng.IntN(7)-3) + `}`
	}
}

// write makes region r write the item on top of what it holds.
func (s *sim) write(r *simRegion) {
	live := r.state != nil && !r.state.Deleted
	if !live && !s.recreate && r.state != nil {
		return // the item was deleted and nobody creates it again
	}
	lsn := int64(len(s.logs[r.id])) + 1
	w := Version{Origin: r.id, LSN: lsn, Seen: r.applied.Clone()}
	r.hlc = r.hlc.Next(s.clock + r.skew)
	w.TS = r.hlc
	if live && s.deletes && s.rng.IntN(4) == 0 {
		w.Deleted = true
	} else {
		w.Doc = []byte(s.body(r.id, lsn))
	}
	v, err := Successor(s.p, r.state, w)
	require.NoError(s.t, err)
	r.state = &v
	r.applied[r.id] = lsn
	s.logs[r.id] = append(s.logs[r.id], v)
}

// pending lists the (region, origin) pairs with a version to deliver.
func (s *sim) pending() [][2]int {
	var out [][2]int
	for i, r := range s.regions {
		for j, o := range s.regions {
			if i != j && r.applied[o.id] < int64(len(s.logs[o.id])) {
				out = append(out, [2]int{i, j})
			}
		}
	}
	return out
}

// deliver applies origin o's next version in region r.
func (s *sim) deliver(r, o *simRegion) {
	v := s.logs[o.id][r.applied[o.id]]
	r.applied[o.id]++
	r.hlc = r.hlc.Max(v.TS)
	if r.state == nil {
		r.state = &v
		return
	}
	d := Resolve(s.p, *r.state, v)
	require.False(s.t, d.Inverted, "Successor-built versions are never inverted")
	if d.Outcome == Conflicted {
		r.counted++
	}
	if d.Feed {
		rec, err := NewConflictRecord("coll", "k", d.Loser)
		require.NoError(s.t, err)
		r.fed[rec.ID]++
	}
	if d.Take {
		r.state = &v
	}
}

// run plays events random writes and deliveries, then delivers everything.
func (s *sim) run(events int) {
	for range events {
		s.clock += s.rng.Int64N(300e6) // up to 300 ms
		p := s.pending()
		if len(p) == 0 || s.rng.IntN(5) < 2 {
			s.write(s.regions[s.rng.IntN(len(s.regions))])
			continue
		}
		e := p[s.rng.IntN(len(p))]
		s.deliver(s.regions[e[0]], s.regions[e[1]])
	}
	for p := s.pending(); len(p) > 0; p = s.pending() {
		e := p[s.rng.IntN(len(p))]
		s.deliver(s.regions[e[0]], s.regions[e[1]])
	}
}

func (s *sim) all() []Version {
	var out []Version
	for _, r := range s.regions {
		out = append(out, s.logs[r.id]...)
	}
	return out
}

// check verifies convergence and the feed accounting.
func (s *sim) check(name string) Version {
	t := s.t
	all := s.all()
	if len(all) == 0 {
		return Version{}
	}
	w, _ := Winner(s.p, all...)
	for _, r := range s.regions {
		require.NotNil(t, r.state, name)
		require.True(t, sameWrite(w, *r.state), "%s: region %d holds %v, the winner is %v", name, r.id, r.state, w)
		require.Equal(t, w, *r.state, name)
	}
	// No deleted item comes back: a live winner belongs to a later life than
	// every tombstone.
	if !w.Deleted {
		for _, v := range all {
			if v.Deleted {
				require.Greater(t, w.Incarnation, v.Incarnation, "%s: %v resurrected past %v", name, w, v)
			}
		}
	}
	fed := map[string]bool{}
	for _, r := range s.regions {
		for id, n := range r.fed {
			require.Equal(t, 1, n, "%s: region %d fed %s %d times", name, r.id, id, n)
			fed[id] = true
		}
	}
	if s.p.Mode() == LastWriterWins {
		require.Empty(t, fed, name)
		return w
	}
	require.False(t, fed[ConflictID(w)], "%s: the winner %v is in the feed", name, w)
	for _, v := range all {
		if sameWrite(v, w) || v.Deleted {
			continue
		}
		overwritten := false
		for _, u := range all {
			if !sameWrite(u, v) && u.Saw(v) {
				overwritten = true
				break
			}
		}
		if !overwritten {
			require.True(t, fed[ConflictID(v)], "%s: the loser %v is not in the feed", name, v)
		}
	}
	return w
}

func policies(t testing.TB) map[string]Policy {
	return map[string]Policy{
		"lww-ts":   DefaultPolicy(),
		"lww-prio": mustPolicy(t, `{"mode":"LastWriterWins","conflictResolutionPath":"/prio"}`),
		"custom":   CustomPolicy(),
	}
}

func histories(t *testing.T) int {
	if testing.Short() {
		return 200
	}
	return 2000
}

func TestConvergence(t *testing.T) {
	for name, p := range policies(t) {
		t.Run(name, func(t *testing.T) {
			conflicts := 0
			for seed := range uint64(histories(t)) {
				rng := rand.New(rand.NewPCG(seed, 7))
				s := newSim(t, p, rng, 2+rng.IntN(4))
				s.run(10 + rng.IntN(70))
				hname := fmt.Sprintf("%s seed %d", name, seed)
				w := s.check(hname)
				for _, r := range s.regions {
					conflicts += r.counted
				}

				// Any order, any grouping: folding Resolve over the versions
				// in a random order, or folding the winners of two halves,
				// gives the same version.
				all := s.all()
				for range 3 {
					rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
					cur := all[0]
					for _, v := range all[1:] {
						if Resolve(p, cur, v).Take {
							cur = v
						}
					}
					require.Equal(t, w, cur, hname)
					k := rng.IntN(len(all) + 1)
					l, okl := Winner(p, all[:k]...)
					r, okr := Winner(p, all[k:]...)
					switch {
					case okl && okr:
						m, _ := Winner(p, r, l)
						require.Equal(t, w, m, hname)
					case okl:
						require.Equal(t, w, l, hname)
					default:
						require.Equal(t, w, r, hname)
					}
				}
			}
			require.Greater(t, conflicts, histories(t), "the histories should be conflict-heavy")
			t.Logf("%d histories, %d conflict losers resolved", histories(t), conflicts)
		})
	}
}

// TestConvergenceMatchesMaxTSRegion checks the LWW /_ts winner against the
// test plan's independent oracle (testing.md: "max (hlc_ts, region_id)")
// on histories without deletes.
func TestConvergenceMatchesMaxTSRegion(t *testing.T) {
	for seed := range uint64(histories(t)) {
		rng := rand.New(rand.NewPCG(seed, 11))
		s := newSim(t, DefaultPolicy(), rng, 2+rng.IntN(4))
		s.deletes = false
		s.run(10 + rng.IntN(50))
		w := s.check(fmt.Sprintf("seed %d", seed))
		var best *Version
		for _, v := range s.all() {
			if best == nil || v.TS.Compare(best.TS) > 0 || (v.TS == best.TS && v.Origin > best.Origin) {
				best = &v
			}
		}
		require.True(t, sameWrite(w, *best), "seed %d: %v, oracle %v", seed, w, best)
	}
}

// TestDeletedNeverResurrects: once a region deletes the item and nobody
// creates it again, every region ends with a tombstone, whatever the
// interleaving of writes and deliveries.
func TestDeletedNeverResurrects(t *testing.T) {
	for name, p := range policies(t) {
		t.Run(name, func(t *testing.T) {
			deleted := 0
			for seed := range uint64(histories(t)) {
				rng := rand.New(rand.NewPCG(seed, 13))
				s := newSim(t, p, rng, 2+rng.IntN(4))
				s.recreate = false
				s.run(10 + rng.IntN(70))
				w := s.check(fmt.Sprintf("%s seed %d", name, seed))
				anyDelete := false
				for _, v := range s.all() {
					anyDelete = anyDelete || v.Deleted
				}
				require.Equal(t, anyDelete, w.Deleted, "seed %d", seed)
				if anyDelete {
					deleted++
				}
			}
			require.Greater(t, deleted, histories(t)/2)
		})
	}
}

// TestTombstoneEveryDeliveryOrder: a fixed history with a delete and
// updates before, concurrent with and behind it, applied in all 720 orders
// of its six versions: the item is deleted at the end of every one.
func TestTombstoneEveryDeliveryOrder(t *testing.T) {
	for name, p := range policies(t) {
		base := write(t, p, nil, rA, 1, 10*sec, nil, `{"id":"k","prio":1}`)
		u1 := write(t, p, &base, rB, 1, 11*sec, Vector{rA: 1}, `{"id":"k","prio":50}`)      // seen by the delete
		del := write(t, p, &u1, rA, 2, 12*sec, Vector{rA: 1, rB: 1}, "")                    // the delete
		u2 := write(t, p, &u1, rC, 1, 30*sec, Vector{rA: 1, rB: 1}, `{"id":"k","prio":99}`) // concurrent, later, higher
		u3 := write(t, p, &u2, rC, 2, 31*sec, Vector{rA: 1, rB: 1, rC: 1}, `{"id":"k","prio":100}`)
		u4 := write(t, p, &base, rB, 2, 40*sec, Vector{rA: 1, rB: 1}, `{"id":"k","prio":7}`) // concurrent
		vs := []Version{base, u1, del, u2, u3, u4}
		n := 0
		permute(vs, 0, func(order []Version) {
			n++
			cur := order[0]
			for _, v := range order[1:] {
				d := Resolve(p, cur, v)
				if cur.Deleted && !v.Deleted {
					require.False(t, d.Take, "%s: %v beat the tombstone", name, v)
					require.Equal(t, sameWrite(v, base) || sameWrite(v, u1), d.Outcome == Stale,
						"%s: what the delete had seen is stale, the rest conflicts", name)
				}
				if d.Take {
					cur = v
				}
			}
			require.True(t, sameWrite(cur, del), "%s: order %v ends with %v", name, order, cur)
		})
		require.Equal(t, 720, n)
	}
}

func permute(vs []Version, k int, f func([]Version)) {
	if k == len(vs) {
		f(append([]Version(nil), vs...))
		return
	}
	for i := k; i < len(vs); i++ {
		vs[k], vs[i] = vs[i], vs[k]
		permute(vs, k+1, f)
		vs[k], vs[i] = vs[i], vs[k]
	}
}
