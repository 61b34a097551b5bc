package torture

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/meridiandb/meridian/internal/checker"
)

// partitionID is the range id of the single-range container's tokens.
const partitionID = "0"

// workload runs K logical clients, each pinned to a home region, one op
// at a time: writes go to the write region, reads to the home region at
// the scenario's level. Values are unique (client:seq); Session tokens are
// carried and merged per client.
type workload struct {
	c       *Cluster
	rec     *checker.Recorder
	hc      *http.Client
	level   string
	keys    []string
	clients int
	rate    float64 // ops/s, all clients together
	writeP  float64
	timeout time.Duration
	seed    uint64
	session bool
	// sendLevel, if set, is the level reads are actually sent at, without
	// a token, while the history records level and the token: a broken
	// client for the harness's own negative control.
	sendLevel string
}

// client is one logical client's state.
type client struct {
	id    int
	home  string
	seq   int
	token string
	// tokens are a multi-write client's session tokens, per container.
	tokens map[string]string
	rng    *rand.Rand
}

func newHTTPClient(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: 0,
		IdleConnTimeout: 30 * time.Second}}
}

// run runs the clients until ctx ends, then returns once every client's
// op in flight has ended.
func (w *workload) run(ctx context.Context) {
	var wg sync.WaitGroup
	regions := w.c.Regions()
	interval := time.Duration(float64(w.clients) / w.rate * float64(time.Second))
	for i := range w.clients {
		cl := &client{id: i + 1, home: regions[i%len(regions)], rng: rand.New(rand.NewPCG(w.seed, uint64(i+1)))}
		wg.Go(func() {
			// Spread the clients' first ops over one interval.
			next := time.Now().Add(time.Duration(cl.rng.Int64N(int64(interval) + 1)))
			for {
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Until(next)):
				}
				next = next.Add(interval)
				if now := time.Now(); next.Before(now) {
					next = now // a slow op: no burst to catch up
				}
				key := w.keys[cl.rng.IntN(len(w.keys))]
				if cl.rng.Float64() < w.writeP {
					w.write(cl, w.c.WriteRegion(), key)
				} else {
					w.read(cl, key)
				}
			}
		})
	}
	wg.Wait()
}

// mergeToken merges single-range tokens "0:<epoch>#<lsn>" as a client's
// session container does: the higher epoch and the higher LSN.
func mergeToken(a, b string) string {
	ta, oka := checker.ParseToken(a, partitionID)
	tb, okb := checker.ParseToken(b, partitionID)
	switch {
	case !oka:
		if okb {
			return b
		}
		return a
	case !okb:
		return a
	}
	return fmt.Sprintf("%s:%d#%d", partitionID, max(ta.Epoch, tb.Epoch), max(ta.LSN, tb.LSN))
}

func (w *workload) tokenIn(cl *client) string {
	if w.session {
		return cl.token
	}
	return ""
}

// write upserts a new unique value of key through region and records it.
// Results: ok on 200/201; fail only when certainly not applied (a refused
// dial, 400, 403, 404, 409, 412, 429); unknown otherwise (timeouts, 408,
// 5xx, a dropped connection).
func (w *workload) write(cl *client, region, key string) checker.Op {
	cl.seq++
	op := checker.Op{Client: cl.id, Region: region, Level: w.level, Kind: checker.Write, Partition: partitionID,
		Key: key, Value: fmt.Sprintf("%d:%d", cl.id, cl.seq), TokenIn: w.tokenIn(cl)}
	p, err := w.rec.Begin(op)
	if err != nil {
		panic(err) // one op at a time per client: a harness bug
	}
	ctx, cancel := context.WithTimeout(context.Background(), w.timeout)
	r := upsertItem(ctx, w.hc, w.c.Endpoint(region), key, op.Value, w.level, op.TokenIn)
	cancel()
	var out checker.Op
	p.End(func(o *checker.Op) {
		fillCommon(o, r)
		switch {
		case r.Err != nil && !r.Sent:
			o.Result = checker.Fail
		case r.Err != nil:
			o.Result = checker.Unknown
		case r.Status == 200 || r.Status == 201:
			o.Result = checker.OK
			if t, ok := checker.ParseToken(o.TokenOut, partitionID); ok {
				o.LSN, o.Epoch = t.LSN, t.Epoch
			}
		case r.Status == 400 || r.Status == 403 || r.Status == 404 || r.Status == 409 || r.Status == 412 || r.Status == 429:
			o.Result = checker.Fail
		default:
			o.Result = checker.Unknown
		}
		out = *o
	})
	if out.Result == checker.OK {
		cl.token = mergeToken(cl.token, out.TokenOut)
	}
	return out
}

// read reads key in the client's home region at the scenario's level.
// ok: 200 (the value) or a plain 404 (not found); every other answer is a
// failed read.
func (w *workload) read(cl *client, key string) {
	op := checker.Op{Client: cl.id, Region: cl.home, Level: w.level, Kind: checker.Read, Partition: partitionID,
		Key: key, TokenIn: w.tokenIn(cl)}
	p, err := w.rec.Begin(op)
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), w.timeout)
	level, token := w.level, op.TokenIn
	if w.sendLevel != "" {
		level, token = w.sendLevel, ""
	}
	r := readItem(ctx, w.hc, w.c.Endpoint(cl.home), key, level, token)
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
			o.LSN, _ = strconv.ParseInt(r.Header.Get("x-meridian-item-lsn"), 10, 64)
		case r.Status == 404 && (r.Substatus == "" || r.Substatus == "0"):
			o.Result, o.Err = checker.OK, ""
		}
		out = *o
	})
	if out.Result == checker.OK {
		cl.token = mergeToken(cl.token, out.TokenOut)
	}
}

func fillCommon(o *checker.Op, r resp) {
	if r.Err == nil {
		o.TokenOut = r.Header.Get("x-ms-session-token")
		o.ServedBy = r.Header.Get("x-meridian-region")
		o.Applied, _ = strconv.ParseInt(r.Header.Get("x-meridian-lsn"), 10, 64)
		if r.Status/100 != 2 {
			o.Err = r.code()
		}
		return
	}
	o.Err = r.code()
}
