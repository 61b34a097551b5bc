package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// target is a region the generator sends requests to.
type target struct {
	name, base string
}

// plan is one operation, decided by the dispatcher goroutine.
type plan struct {
	op      string
	key     int64
	scanLen int
	read    int // index into runner.reads
}

// runner executes operations against the account.
type runner struct {
	cfg      Config
	c        *restClient
	rec      *Recorder
	write    target
	reads    []target
	syncs    []target
	collLink string
	collPath string // escaped
	docsPath string // escaped
	payload  []byte
	syncHdr  string
	acks     *ackCounter
	version  atomic.Int64
}

// keyID and keyPK name record k: ids sort like the key numbers, and
// PartitionSize consecutive keys share a partition key.
func keyID(k int64) string { return fmt.Sprintf("user%012d", k) }

func (r *runner) keyPK(k int64) string { return fmt.Sprintf("p%07d", k/r.cfg.PartitionSize) }

func pkHeader(pk string) string { return `["` + pk + `"]` }

// doc is record k's JSON, exactly ItemSize bytes (unless the header alone
// is longer).
func (r *runner) doc(k int64) []byte {
	v := r.version.Add(1)
	b := make([]byte, 0, r.cfg.ItemSize)
	b = append(b, `{"id":"`...)
	b = append(b, keyID(k)...)
	b = append(b, `","pk":"`...)
	b = append(b, r.keyPK(k)...)
	b = append(b, `","v":`...)
	b = strconv.AppendInt(b, v, 10)
	b = append(b, `,"payload":"`...)
	pad := r.cfg.ItemSize - len(b) - 2
	if pad > 0 {
		b = append(b, r.payload[:pad]...)
	}
	return append(b, `"}`...)
}

func newPayload(n int, rng *rand.Rand) []byte {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = letters[rng.IntN(len(letters))]
	}
	return b
}

func (r *runner) itemReq(method string, k int64) request {
	id := keyID(k)
	link := r.collLink + "/docs/" + id
	return request{method: method, path: r.docsPath + "/" + id, resType: "docs", resLink: link,
		pk: pkHeader(r.keyPK(k)), consistency: r.cfg.Consistency}
}

func (r *runner) readItem(ctx context.Context, t target, k int64, token string) reply {
	req := r.itemReq(http.MethodGet, k)
	// The custom-sync reads keep the run's consistency header: asking for
	// Session on a weaker account would be refused (400), and on a
	// Session account the token alone makes the read wait.
	req.sessionToken = token
	return r.c.do(ctx, t.base, req, false)
}

func (r *runner) replaceItem(ctx context.Context, k int64) reply {
	req := r.itemReq(http.MethodPut, k)
	req.contentType, req.minimal, req.body, req.syncRegions = "application/json", true, r.doc(k), r.syncHdr
	return r.c.do(ctx, r.write.base, req, false)
}

// upsertItem writes record k (inserts, and the load phase: idempotent, so
// a run can be repeated on the same container).
func (r *runner) upsertItem(ctx context.Context, k int64, syncRegions string) reply {
	return r.c.do(ctx, r.write.base, request{method: http.MethodPost, path: r.docsPath,
		resType: "docs", resLink: r.collLink, pk: pkHeader(r.keyPK(k)),
		contentType: "application/json", upsert: true, minimal: true, consistency: r.cfg.Consistency,
		syncRegions: syncRegions, body: r.doc(k)}, false)
}

// scan reads up to n records from key k on, within k's partition key,
// following continuations.
func (r *runner) scan(ctx context.Context, t target, k int64, n int) reply {
	q, _ := json.Marshal(map[string]any{
		"query":      "SELECT TOP " + strconv.Itoa(n) + " * FROM c WHERE c.id >= @k ORDER BY c.id",
		"parameters": []map[string]any{{"name": "@k", "value": keyID(k)}},
	})
	var rep reply
	cont := ""
	for page := 0; page < 100; page++ {
		rep = r.c.do(ctx, t.base, request{method: http.MethodPost, path: r.docsPath,
			resType: "docs", resLink: r.collLink, pk: pkHeader(r.keyPK(k)),
			contentType: "application/query+json", query: true, consistency: r.cfg.Consistency,
			continuation: cont, body: q}, false)
		if rep.class() != "" || rep.continuation == "" {
			return rep
		}
		cont = rep.continuation
	}
	return rep
}

// exec runs one planned operation due at due and records it.
func (r *runner) exec(ctx context.Context, p plan, due time.Time, measured bool) {
	ctx = withDeadline(ctx, time.Now().Add(r.cfg.Timeout))
	record := func(op, region string, rep reply, class string, end time.Time) {
		if class == "canceled" {
			return // the run was interrupted: not an outcome
		}
		r.rec.RecordServer(op, region, end.Sub(due), rep.server, class, measured)
	}
	switch p.op {
	case OpRead:
		t := r.reads[p.read]
		rep := r.readItem(ctx, t, p.key, "")
		record(OpRead, t.name, rep, rep.class(), time.Now())
	case OpScan:
		t := r.reads[p.read]
		rep := r.scan(ctx, t, p.key, p.scanLen)
		rep.server = -1 // possibly several pages
		record(OpScan, t.name, rep, rep.class(), time.Now())
	case OpUpdate:
		rep := r.replaceItem(ctx, p.key)
		record(OpUpdate, r.write.name, rep, rep.class(), time.Now())
		r.customSync(ctx, p.key, rep, record)
	case OpInsert:
		rep := r.upsertItem(ctx, p.key, r.syncHdr)
		r.acks.Acknowledge(p.key)
		record(OpInsert, r.write.name, rep, rep.class(), time.Now())
		r.customSync(ctx, p.key, rep, record)
	case OpRMW:
		// Read and write both in the write region: a read-modify-write
		// reads what it is about to overwrite.
		rep := r.readItem(ctx, r.write, p.key, "")
		if rep.class() == "" {
			rep = r.replaceItem(ctx, p.key)
		}
		rep.server = -1 // two requests
		record(OpRMW, r.write.name, rep, rep.class(), time.Now())
		r.customSync(ctx, p.key, rep, record)
	}
}

// customSync, when --custom-sync names regions, follows the write w of key
// k with a session read carrying w's token in each of them, in parallel: a
// read that returns only once that region holds the write. Each region's
// leg is recorded as "customsync" in that region (time from the due time
// to that read's answer); the whole sequence as "customsync" in "*" (to
// the last answer; an error if the write or any read failed).
func (r *runner) customSync(ctx context.Context, k int64, w reply, record func(op, region string, rep reply, class string, end time.Time)) {
	if len(r.syncs) == 0 {
		return
	}
	whole := reply{server: -1} // the sequence is several requests
	if c := w.class(); c != "" {
		record(OpCustomSync, AllRegions, whole, c, time.Now())
		return
	}
	if w.sessionToken == "" {
		record(OpCustomSync, AllRegions, whole, ErrBadBody, time.Now())
		return
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first string
		last  time.Time
	)
	for _, t := range r.syncs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rep := r.readItem(ctx, t, k, w.sessionToken)
			end := time.Now()
			c := rep.class()
			record(OpCustomSync, t.name, rep, c, end)
			mu.Lock()
			if c != "" && first == "" {
				first = c
			}
			if end.After(last) {
				last = end
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	record(OpCustomSync, AllRegions, whole, first, last)
}

// planner draws the operations of a workload. It runs on the dispatcher's
// goroutine only.
type planner struct {
	w       Workload
	rng     *rand.Rand
	keys    func() int64
	acks    *ackCounter
	nReads  int
	maxScan int
}

func newPlanner(w Workload, rng *rand.Rand, acks *ackCounter, records, expectedInserts int64, nReads, maxScan int) *planner {
	p := &planner{w: w, rng: rng, acks: acks, nReads: nReads, maxScan: maxScan}
	switch w.Distribution {
	case DistLatest:
		g := NewSkewedLatest(acks)
		p.keys = func() int64 { return g.Next(rng) }
	case DistUniform:
		p.keys = func() int64 { return rng.Int64N(acks.Last() + 1) }
	default:
		// As YCSB: a scrambled zipfian over the records plus twice the
		// expected inserts, redrawn while it names a key not yet
		// acknowledged.
		g := NewScrambledZipfian(0, records+expectedInserts-1)
		p.keys = func() int64 {
			last := acks.Last()
			for range 1000 {
				if k := g.Next(rng); k <= last {
					return k
				}
			}
			return rng.Int64N(last + 1)
		}
	}
	return p
}

func (p *planner) next() plan {
	u := p.rng.Float64()
	w := p.w
	var op string
	switch {
	case u < w.Read:
		op = OpRead
	case u < w.Read+w.Update:
		op = OpUpdate
	case u < w.Read+w.Update+w.Insert:
		op = OpInsert
	case u < w.Read+w.Update+w.Insert+w.Scan:
		op = OpScan
	default:
		op = OpRMW
		if w.RMW == 0 { // rounding
			op = OpRead
		}
	}
	pl := plan{op: op}
	if op == OpInsert {
		pl.key = p.acks.Next()
	} else {
		pl.key = p.keys()
	}
	if op == OpRead || op == OpScan {
		pl.read = p.rng.IntN(p.nReads)
	}
	if op == OpScan {
		pl.scanLen = 1 + p.rng.IntN(p.maxScan)
	}
	return pl
}

// deadlineCtx is ctx with a deadline for the requests made under it, for
// the one consumer that honours it: restClient.do checks Err before each
// request and hands Deadline to fasthttp. Unlike context.WithTimeout it
// arms no timer and registers nothing with its parent, whose cancelCtx
// every operation of a run shares (its lock and the timers were 4 % of the
// generator's CPU at 10,000 reads/s). Done is the parent's: it does not
// close at the deadline.
type deadlineCtx struct {
	context.Context
	deadline time.Time
}

func withDeadline(ctx context.Context, d time.Time) context.Context {
	if pd, ok := ctx.Deadline(); ok && pd.Before(d) {
		return ctx
	}
	return deadlineCtx{ctx, d}
}

func (c deadlineCtx) Deadline() (time.Time, bool) { return c.deadline, true }

func (c deadlineCtx) Err() error {
	if err := c.Context.Err(); err != nil {
		return err
	}
	if !time.Now().Before(c.deadline) {
		return context.DeadlineExceeded
	}
	return nil
}
