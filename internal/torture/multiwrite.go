package torture

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/meridiandb/meridian/internal/checker"
	"github.com/meridiandb/meridian/internal/session"
)

// Multi-region-write scenarios (Scenario.MultiWrite; testing.md §3.2 F9,
// F11, F12; consistency-semantics.md §4). The account is created with
// multiWrite, so that every region accepts writes, and with two
// containers: "lww" (LastWriterWins on /_ts) and "cus" (Custom, no stored
// procedure: losers go to the conflicts feed). Each client is pinned to a
// home region and sends its writes there, its reads there too and, now and
// then, to another region with its token (custom synchronization). Item
// ids are history keys; the part before the first "-" names the container:
//
//   - <c>-h<n>: hot keys, upserted by every client from every region (the
//     conflicts);
//   - <c>-p<client>-<n>: private keys, written (upserted) by one client
//     only (read-your-writes, monotonic reads and writes, durability);
//   - <c>-d<n>: keys created once by the setup, before the faults, and
//     afterwards only replaced or deleted (C20: deletes stay deleted);
//   - <c>-final-<region>: the final write through each region.
//
// Values are unique (client:seq), so a read, a dumped item or a conflict
// record names one write.

// mwContainer is one container of a multi-write account.
type mwContainer struct {
	name   string
	policy string // conflictResolutionPolicy
	custom bool
}

var mwContainers = []mwContainer{
	{name: "lww", policy: `{"mode":"LastWriterWins","conflictResolutionPath":"/_ts"}`},
	{name: "cus", policy: `{"mode":"Custom"}`, custom: true},
}

const (
	// mwSetupClient creates the delete keys before the run.
	mwSetupClient = 999
	// mwHotKeys, mwPrivateKeys and mwDeleteKeys are the keys per container
	// (private: per client).
	mwHotKeys     = 3
	mwPrivateKeys = 2
	mwDeleteKeys  = 12
)

// mwContainerOf is the container of a history key.
func mwContainerOf(key string) string {
	c, _, _ := strings.Cut(key, "-")
	return c
}

// mwIsDeleteKey reports whether key is a delete key (<c>-d<n>).
func mwIsDeleteKey(key string) bool {
	_, rest, _ := strings.Cut(key, "-")
	return len(rest) > 1 && rest[0] == 'd' && rest[1] >= '0' && rest[1] <= '9'
}

// mergeVector merges session tokens of a multi-write account (vector form)
// as an SDK's session container does (session.Merge).
func mergeVector(a, b string) string {
	ta, erra := session.ParseHeader(a)
	tb, errb := session.ParseHeader(b)
	switch {
	case a == "" || erra != nil:
		if errb == nil {
			return b
		}
		return a
	case b == "" || errb != nil:
		return a
	}
	x, okA := ta[partitionID]
	y, okB := tb[partitionID]
	if !okA || !okB {
		if okB {
			return b
		}
		return a
	}
	m, err := session.Merge(x, y)
	if err != nil {
		return b
	}
	return session.Format(partitionID, m)
}

// mergeToken merges a token of container coll into the client's (a client
// keeps one session token per container, as the SDKs' session container
// does: tokens of different containers name different partitions).
func (cl *client) mergeToken(coll, token string) {
	if cl.tokens == nil {
		cl.tokens = map[string]string{}
	}
	cl.tokens[coll] = mergeVector(cl.tokens[coll], token)
}

// setupMultiWrite creates the database, one container per policy, waits
// until every region has them, then creates the delete keys (recorded as
// writes of mwSetupClient) and waits until every region has them too.
func setupMultiWrite(ctx context.Context, hc *http.Client, c *Cluster, w *mwWorkload) error {
	ep := c.Endpoint(c.Regions()[0])
	r := dataDo(ctx, hc, ep, http.MethodPost, "dbs", "", "/dbs", []byte(`{"id":"`+dbName+`"}`), nil)
	if r.Err != nil || (r.Status != 201 && r.Status != 409) {
		return fmt.Errorf("create database: %s", r)
	}
	for _, co := range mwContainers {
		body := `{"id":"` + co.name + `","partitionKey":{"paths":["/pk"],"kind":"Hash"},"conflictResolutionPolicy":` + co.policy + `}`
		r = dataDo(ctx, hc, ep, http.MethodPost, "colls", "dbs/"+dbName, "/dbs/"+dbName+"/colls", []byte(body), nil)
		if r.Err != nil || (r.Status != 201 && r.Status != 409) {
			return fmt.Errorf("create container %s: %s", co.name, r)
		}
	}
	waitAll := func(what string, ok func(region string) resp) error {
		for _, region := range c.Regions() {
			deadline := time.Now().Add(30 * time.Second)
			for {
				r := ok(region)
				if r.Err == nil && r.Status == 200 {
					break
				}
				if time.Now().After(deadline) || ctx.Err() != nil {
					return fmt.Errorf("%s never appeared in %s: %s", what, region, r)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		return nil
	}
	for _, co := range mwContainers {
		link := "dbs/" + dbName + "/colls/" + co.name
		if err := waitAll("container "+co.name, func(region string) resp {
			return dataDo(ctx, hc, c.Endpoint(region), http.MethodGet, "colls", link, "/"+link, nil, nil)
		}); err != nil {
			return err
		}
	}
	setup := &client{id: mwSetupClient, home: c.Regions()[0]}
	for _, co := range mwContainers {
		for n := range mwDeleteKeys {
			key := fmt.Sprintf("%s-d%d", co.name, n)
			if op := w.write(setup, setup.home, itemCreate, key); op.Result != checker.OK {
				return fmt.Errorf("create %s: %s %s", key, op.Result, op.Err)
			}
			if err := waitAll(key, func(region string) resp {
				return readItemIn(ctx, hc, c.Endpoint(region), co.name, key, "Eventual", "")
			}); err != nil {
				return err
			}
		}
	}
	return nil
}

// mwWorkload runs K logical clients on a multi-write account, each pinned
// to a home region, one op at a time, every op carrying the client's
// merged vector token: writes (upserts of hot and private keys, replaces
// and deletes of delete keys) go to the home region; reads go to the home
// region or, with probability remoteP, to another one.
type mwWorkload struct {
	c       *Cluster
	rec     *checker.Recorder
	hc      *http.Client
	clients int
	rate    float64
	writeP  float64
	remoteP float64
	timeout time.Duration
	seed    uint64
	// sendLevel: see workload.sendLevel (negative control only).
	sendLevel string
}

func (w *mwWorkload) run(ctx context.Context) {
	var wg sync.WaitGroup
	regions := w.c.Regions()
	interval := time.Duration(float64(w.clients) / w.rate * float64(time.Second))
	for i := range w.clients {
		cl := &client{id: i + 1, home: regions[i%len(regions)], rng: rand.New(rand.NewPCG(w.seed, uint64(i+1)))}
		wg.Go(func() {
			next := time.Now().Add(time.Duration(cl.rng.Int64N(int64(interval) + 1)))
			for {
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Until(next)):
				}
				next = next.Add(interval)
				if now := time.Now(); next.Before(now) {
					next = now
				}
				w.step(cl)
			}
		})
	}
	wg.Wait()
}

// step runs one op of cl: a seeded choice of container, key class and
// kind.
func (w *mwWorkload) step(cl *client) {
	co := mwContainers[cl.rng.IntN(len(mwContainers))].name
	x := cl.rng.Float64()
	var key string
	switch {
	case x < 0.45:
		key = fmt.Sprintf("%s-h%d", co, cl.rng.IntN(mwHotKeys))
	case x < 0.8:
		key = fmt.Sprintf("%s-p%d-%d", co, cl.id, cl.rng.IntN(mwPrivateKeys))
	default:
		key = fmt.Sprintf("%s-d%d", co, cl.rng.IntN(mwDeleteKeys))
	}
	if cl.rng.Float64() < w.writeP {
		op := itemUpsert
		if mwIsDeleteKey(key) {
			op = itemReplace
			if cl.rng.Float64() < 0.15 {
				op = itemDelete
			}
		}
		w.write(cl, cl.home, op, key)
		return
	}
	region := cl.home
	if cl.rng.Float64() < w.remoteP {
		others := slices.DeleteFunc(slices.Clone(w.c.Regions()), func(r string) bool { return r == cl.home })
		region = others[cl.rng.IntN(len(others))]
	}
	w.read(cl, region, key)
}

// write runs op on key through region with cl's token and records it.
// ok: 200/201/204. fail (certainly not applied): a refused dial, 400, 403,
// 404 (not found for a replace or delete, or 404/1002: the region could
// not catch up with the token before the write ran), 409, 412, 429.
// unknown otherwise.
func (w *mwWorkload) write(cl *client, region string, op itemOp, key string) checker.Op {
	coll := mwContainerOf(key)
	o := checker.Op{Client: cl.id, Region: region, Level: "Session", Kind: checker.Write, Partition: partitionID,
		Key: key, TokenIn: cl.tokens[coll]}
	if op == itemDelete {
		o.Kind = checker.Delete
	} else {
		cl.seq++
		o.Value = fmt.Sprintf("%d:%d", cl.id, cl.seq)
	}
	p, err := w.rec.Begin(o)
	if err != nil {
		panic(err) // one op at a time per client: a harness bug
	}
	ctx, cancel := context.WithTimeout(context.Background(), w.timeout)
	r := writeItem(ctx, w.hc, w.c.Endpoint(region), coll, op, key, o.Value, "", o.TokenIn)
	cancel()
	var out checker.Op
	p.End(func(o *checker.Op) {
		fillCommon(o, r)
		switch {
		case r.Err != nil && !r.Sent:
			o.Result = checker.Fail
		case r.Err != nil:
			o.Result = checker.Unknown
		case r.Status == 200 || r.Status == 201 || r.Status == 204:
			o.Result = checker.OK
		case r.Status == 400 || r.Status == 403 || r.Status == 404 || r.Status == 409 || r.Status == 412 || r.Status == 429:
			o.Result = checker.Fail
		default:
			o.Result = checker.Unknown
		}
		out = *o
	})
	if out.Result == checker.OK {
		cl.mergeToken(coll, out.TokenOut)
	}
	return out
}

// read reads key in region with cl's token at Session. ok: 200 (the
// value) or a plain 404 (not found); anything else is a failed read.
func (w *mwWorkload) read(cl *client, region, key string) {
	coll := mwContainerOf(key)
	o := checker.Op{Client: cl.id, Region: region, Level: "Session", Kind: checker.Read, Partition: partitionID,
		Key: key, TokenIn: cl.tokens[coll]}
	p, err := w.rec.Begin(o)
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), w.timeout)
	level, token := "Session", o.TokenIn
	if w.sendLevel != "" {
		level, token = w.sendLevel, ""
	}
	r := readItemIn(ctx, w.hc, w.c.Endpoint(region), coll, key, level, token)
	cancel()
	var out checker.Op
	p.End(func(o *checker.Op) {
		fillCommon(o, r)
		o.Result = checker.Fail
		switch {
		case r.Err != nil:
		case r.Status == 200:
			var d struct {
				V string `json:"v"`
			}
			if err := json.Unmarshal(r.Body, &d); err != nil {
				o.Err = "bad body: " + err.Error()
				return
			}
			o.Result, o.Value = checker.OK, d.V
		case r.Status == 404 && (r.Substatus == "" || r.Substatus == "0"):
			o.Result, o.Err = checker.OK, ""
		}
		out = *o
	})
	if out.Result == checker.OK {
		cl.mergeToken(coll, out.TokenOut)
	}
}

// mwFinal is the final state of a multi-write account: every region's
// items (all containers; keys are unique) and conflicts feeds.
type mwFinal struct {
	dumps map[string]checker.State
	feeds map[string]map[string][]checker.ConflictRecord
}

// conflictsFeed reads container coll's conflicts feed in a region (every
// page).
func conflictsFeed(ctx context.Context, hc *http.Client, endpoint, coll string) ([]checker.ConflictRecord, error) {
	link := "dbs/" + dbName + "/colls/" + coll
	var out []checker.ConflictRecord
	cont := ""
	for range 10000 {
		h := map[string]string{"x-ms-max-item-count": "1000"}
		if cont != "" {
			h["x-ms-continuation"] = cont
		}
		r := dataDo(ctx, hc, endpoint, http.MethodGet, "conflicts", link, "/"+link+"/conflicts", nil, h)
		if r.Err != nil || r.Status != 200 {
			return nil, fmt.Errorf("conflicts feed: %s", r)
		}
		recs, err := checker.ParseConflictRecords(r.Body)
		if err != nil {
			return nil, fmt.Errorf("conflicts feed: %w", err)
		}
		out = append(out, recs...)
		if cont = r.Header.Get("x-ms-continuation"); cont == "" {
			return out, nil
		}
	}
	return nil, errors.New("conflicts feed: too many pages")
}

// snapshotMW reads every region's items and feeds.
func snapshotMW(ctx context.Context, hc *http.Client, cl *Cluster) (mwFinal, error) {
	f := mwFinal{dumps: map[string]checker.State{}, feeds: map[string]map[string][]checker.ConflictRecord{}}
	for _, r := range cl.Regions() {
		st := checker.State{}
		f.feeds[r] = map[string][]checker.ConflictRecord{}
		for _, co := range mwContainers {
			items, err := dumpContainer(ctx, hc, cl.Endpoint(r), co.name)
			if err != nil {
				return f, fmt.Errorf("dump of %s/%s: %w", r, co.name, err)
			}
			s, err := checker.StateFromItems(items, checker.ItemFields{})
			if err != nil {
				return f, fmt.Errorf("dump of %s/%s: %w", r, co.name, err)
			}
			for k, v := range s {
				st[k] = v
			}
			recs, err := conflictsFeed(ctx, hc, cl.Endpoint(r), co.name)
			if err != nil {
				return f, fmt.Errorf("%s/%s: %w", r, co.name, err)
			}
			f.feeds[r][co.name] = recs
		}
		f.dumps[r] = st
	}
	return f, nil
}

// same reports whether every region holds the same items (canonical JSON)
// and the same feeds.
func (f mwFinal) same() bool {
	var ref string
	for i, r := range slices.Sorted(maps.Keys(f.dumps)) {
		var b strings.Builder
		for _, k := range slices.Sorted(maps.Keys(f.dumps[r])) {
			fmt.Fprintf(&b, "%s=%s\n", k, canonical(f.dumps[r][k].Raw))
		}
		for _, co := range mwContainers {
			recs := slices.Clone(f.feeds[r][co.name])
			slices.SortFunc(recs, func(a, b checker.ConflictRecord) int { return strings.Compare(a.ID, b.ID) })
			for _, rec := range recs {
				fmt.Fprintf(&b, "conflict %s %s\n", co.name, canonical(rec.Raw))
			}
		}
		if i == 0 {
			ref = b.String()
		} else if b.String() != ref {
			return false
		}
	}
	return true
}

// canonical re-encodes JSON with sorted object keys (the raw bytes if it
// is not JSON).
func canonical(raw []byte) string {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return string(raw)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return string(raw)
	}
	return string(b)
}

// quiesceMW polls every region until all serve the same items and feeds,
// or within passes; it returns the last snapshot.
func quiesceMW(ctx context.Context, hc *http.Client, cl *Cluster, within time.Duration) (mwFinal, error) {
	deadline := time.Now().Add(within)
	for {
		f, err := snapshotMW(ctx, hc, cl)
		if err == nil && f.same() {
			return f, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return f, err // the checkers report a difference
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// lwwConflictCounts sums each region's meridian_conflicts_total{fed="false"}
// (LastWriterWins losers, only counted) from GET /metrics.
func lwwConflictCounts(ctx context.Context, hc *http.Client, cl *Cluster) string {
	var parts []string
	for _, r := range cl.Regions() {
		res := dataDo(ctx, hc, cl.Endpoint(r), http.MethodGet, "", "", "/metrics", nil, nil)
		if res.Err != nil || res.Status != 200 {
			parts = append(parts, r+"=?")
			continue
		}
		var n float64
		for _, line := range strings.Split(string(res.Body), "\n") {
			if !strings.HasPrefix(line, "meridian_conflicts_total{") || !strings.Contains(line, `fed="false"`) {
				continue
			}
			if i := strings.LastIndexByte(line, ' '); i > 0 {
				v, _ := strconv.ParseFloat(strings.TrimSpace(line[i+1:]), 64)
				n += v
			}
		}
		parts = append(parts, fmt.Sprintf("%s=%.0f", r, n))
	}
	return strings.Join(parts, " ")
}

// checkMultiWrite runs the multi-write checkers: phantom reads, causal
// session guarantees, no acknowledged write lost, deletes stay deleted,
// conflict accounting, and convergence of items (byte for byte).
func checkMultiWrite(h checker.History, cl *Cluster, f mwFinal) []checker.Report {
	custom := map[string]bool{}
	for _, co := range mwContainers {
		if co.custom {
			custom[co.name] = true
		}
	}
	out := []checker.Report{
		checker.CheckPrefix(h, checker.PrefixOptions{}),
		checker.CheckCausalSession(h, checker.CausalOptions{Scope: mwContainerOf}),
	}
	if len(f.dumps) != len(cl.Regions()) || len(f.feeds) != len(cl.Regions()) {
		return append(out, checker.Report{Checker: "convergence", OK: false,
			Violations: []checker.Violation{{Kind: "H", Explain: fmt.Sprintf("only %d of %d regions dumped", len(f.dumps), len(cl.Regions()))}}})
	}
	return append(out,
		checker.CheckMultiWriteDurability(h, checker.MWDurabilityOptions{Dumps: f.dumps, DeleteKeys: mwIsDeleteKey, Scope: mwContainerOf}),
		checker.CheckDeletes(h, checker.DeletesOptions{Dumps: f.dumps, DeleteKeys: mwIsDeleteKey}),
		checker.CheckConflicts(h, checker.ConflictsOptions{Feeds: f.feeds, Dumps: f.dumps, ContainerOf: mwContainerOf, Custom: custom}),
		checker.CheckConvergence(h, checker.ConvergenceOptions{Dumps: f.dumps}),
	)
}

// Nemeses of the multi-write scenarios.

// partitionAll cuts every pair of regions for 2-4 s, then heals (F12).
func partitionAll(ctx context.Context, n *Nemesis) error {
	rs := n.C.Regions()
	end := n.Fault("partition "+strings.Join(rs, " | "), func() error {
		var errs []error
		for i, a := range rs {
			for _, b := range rs[i+1:] {
				errs = append(errs, n.C.Partition(ctx, a, b))
			}
		}
		return errors.Join(errs...)
	})
	err := n.Sleep(ctx, n.Between(2*time.Second, 4*time.Second))
	n.note(n.C.Heal(context.Background()))
	end()
	return err
}

// killOneMW isolates a seeded region for 1-2 s, so that its clients'
// writes stay there, kills it (kill -9) while the others keep writing,
// heals the others, and restarts it on its data 1-3 s later: its writes
// that had not left it must come back and be reconciled (F9).
func killOneMW(ctx context.Context, n *Nemesis) error {
	rs := n.C.Regions()
	v := rs[n.rng.IntN(len(rs))]
	end := n.Fault("partition "+v+" | others", func() error {
		var errs []error
		for _, r := range rs {
			if r != v {
				errs = append(errs, n.C.Partition(ctx, v, r))
			}
		}
		return errors.Join(errs...)
	})
	err := n.Sleep(ctx, n.Between(time.Second, 2*time.Second))
	endKill := n.Fault("kill -9 "+v, func() error { return n.C.Kill(v) })
	n.note(n.C.Heal(context.Background()))
	end()
	if err == nil {
		err = n.Sleep(ctx, n.Between(time.Second, 3*time.Second))
	}
	n.note(n.C.Restart(context.Background(), v))
	endKill()
	return err
}

// isolateFastClock partitions the region whose clock is furthest ahead
// from every other for 3-5 s (F11m: its writes carry the largest
// timestamps; writes made after reading them elsewhere must still win).
func isolateFastClock(ctx context.Context, n *Nemesis) error {
	rs := n.C.Regions()
	fast := rs[0]
	for _, r := range rs {
		if n.C.opts.ClockOffsets[r] > n.C.opts.ClockOffsets[fast] {
			fast = r
		}
	}
	end := n.Fault(fmt.Sprintf("partition %s (clock %s) | others", fast, n.C.opts.ClockOffsets[fast]), func() error {
		var errs []error
		for _, r := range rs {
			if r != fast {
				errs = append(errs, n.C.Partition(ctx, fast, r))
			}
		}
		return errors.Join(errs...)
	})
	err := n.Sleep(ctx, n.Between(3*time.Second, 5*time.Second))
	n.note(n.C.Heal(context.Background()))
	end()
	return err
}
