package torture

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/meridiandb/meridian/internal/checker"
)

// F19, the retry storm (checker.CheckRetries): beside the normal clients,
// retry clients send non-idempotent requests to the write region with a
// timeout of a tenth of the round trip and retry each until it is answered
// — increments of a private counter (PATCH incr, If-Match the etag read
// before) and creates of unique ids — in a container of their own
// ("retry"), so the histories of the other checkers are untouched.

const retryColl = "retry"

type retryWorkload struct {
	c       *Cluster
	hc      *http.Client
	clients int
	short   time.Duration // the storm's timeout

	mu       sync.Mutex
	outcomes map[string]*checker.RetryOutcome
	attempts int
}

func (rw *retryWorkload) outcome(key string) *checker.RetryOutcome {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	o := rw.outcomes[key]
	if o == nil {
		o = &checker.RetryOutcome{Key: key}
		rw.outcomes[key] = o
	}
	return o
}

// setup creates the container and each client's counter.
func (rw *retryWorkload) setup(ctx context.Context) error {
	w := rw.c.Endpoint(rw.c.WriteRegion())
	body := `{"id":"` + retryColl + `","partitionKey":{"paths":["/pk"],"kind":"Hash"}}`
	r := dataDo(ctx, rw.hc, w, http.MethodPost, "colls", "dbs/"+dbName, "/dbs/"+dbName+"/colls", []byte(body), nil)
	if r.Err != nil || (r.Status != 201 && r.Status != 409) {
		return fmt.Errorf("create the retry container: %s", r)
	}
	rw.outcomes = map[string]*checker.RetryOutcome{}
	for i := range rw.clients {
		doc := fmt.Sprintf(`{"id":"ctr-%d","pk":%q,"n":0}`, i, pkValue)
		link := "dbs/" + dbName + "/colls/" + retryColl
		r := dataDo(ctx, rw.hc, w, http.MethodPost, "docs", link, "/"+link+"/docs", []byte(doc), itemHeaders("", ""))
		if r.Err != nil || r.Status != 201 {
			return fmt.Errorf("create counter %d: %s", i, r)
		}
		rw.outcome(fmt.Sprintf("ctr-%d", i))
	}
	return nil
}

// run runs the retry clients until ctx ends.
func (rw *retryWorkload) run(ctx context.Context) {
	var wg sync.WaitGroup
	for i := range rw.clients {
		wg.Go(func() {
			for seq := 0; ctx.Err() == nil; seq++ {
				if seq%2 == 0 {
					rw.increment(ctx, i)
				} else {
					rw.create(ctx, fmt.Sprintf("once-%d-%d", i, seq))
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
	wg.Wait()
}

// try sends one attempt: short timeouts first, then patient ones, so that
// most operations are retried at least once and all end up answered.
func (rw *retryWorkload) try(n int, do func(ctx context.Context) resp) resp {
	d := rw.short
	if n >= 3 {
		d = 3 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	rw.mu.Lock()
	rw.attempts++
	rw.mu.Unlock()
	return do(ctx)
}

// doubtful reports whether an answer leaves the attempt's effect unknown.
func doubtful(r resp) bool {
	return (r.Err != nil && r.Sent) || r.Status == http.StatusRequestTimeout || r.Status >= 500 ||
		(r.Err != nil && errors.Is(r.Err, context.DeadlineExceeded))
}

func (rw *retryWorkload) increment(ctx context.Context, client int) {
	key := fmt.Sprintf("ctr-%d", client)
	out := rw.outcome(key)
	link := "dbs/" + dbName + "/colls/" + retryColl + "/docs/" + key
	path := "/dbs/" + dbName + "/colls/" + retryColl + "/docs/" + url.PathEscape(key)
	rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	r := dataDo(rctx, rw.hc, rw.c.Endpoint(rw.c.WriteRegion()), http.MethodGet, "docs", link, path, nil, itemHeaders("", ""))
	cancel()
	etag := r.Header.Get("etag")
	if r.Err != nil || r.Status != 200 || etag == "" {
		return // nothing sent that could change it
	}
	body := []byte(`{"operations":[{"op":"incr","path":"/n","value":1}]}`)
	h := itemHeaders("", "")
	h["If-Match"] = etag
	h["Content-Type"] = "application/json-patch+json"
	rw.untilAnswered(ctx, out, http.StatusOK, http.StatusPreconditionFailed, func(c context.Context) resp {
		return dataDo(c, rw.hc, rw.c.Endpoint(rw.c.WriteRegion()), http.MethodPatch, "docs", link, path, body, h)
	})
}

func (rw *retryWorkload) create(ctx context.Context, id string) {
	out := rw.outcome(id)
	link := "dbs/" + dbName + "/colls/" + retryColl
	doc := fmt.Sprintf(`{"id":%q,"pk":%q}`, id, pkValue)
	rw.untilAnswered(ctx, out, http.StatusCreated, http.StatusConflict, func(c context.Context) resp {
		return dataDo(c, rw.hc, rw.c.Endpoint(rw.c.WriteRegion()), http.MethodPost, "docs", link, "/"+link+"/docs", []byte(doc), itemHeaders("", ""))
	})
}

// untilAnswered sends a non-idempotent request (try's timeouts) until it is
// answered and records the outcome: applied on success; on precond (the
// retry of an applied request fails its precondition: 412, 409) applied if
// an earlier attempt was in doubt, else a spurious failure; in doubt if the
// run ended first or a definitive refusal followed an attempt in doubt.
func (rw *retryWorkload) untilAnswered(ctx context.Context, out *checker.RetryOutcome, ok, precond int, do func(context.Context) resp) {
	inDoubt := false
	for n := 0; n < 12; n++ {
		if ctx.Err() != nil && n >= 3 {
			break
		}
		a := rw.try(n, do)
		switch {
		case a.Err == nil && a.Status == ok:
			rw.mu.Lock()
			out.Applied++
			rw.mu.Unlock()
			return
		case a.Err == nil && a.Status == precond:
			rw.mu.Lock()
			if inDoubt {
				out.Applied++ // nobody else writes the item: our attempt did
			} else {
				out.Spurious++
			}
			rw.mu.Unlock()
			return
		case doubtful(a):
			inDoubt = true
		case a.Err != nil: // never sent
		default:
			// Another definitive refusal (403 during a fault, 429, ...).
			if inDoubt {
				rw.mu.Lock()
				out.InDoubt++
				rw.mu.Unlock()
			}
			return
		}
	}
	if inDoubt {
		rw.mu.Lock()
		out.InDoubt++
		rw.mu.Unlock()
	}
}

// check reads the retry container in the write region and judges it.
func (rw *retryWorkload) check(ctx context.Context) (checker.Report, error) {
	items, err := dumpContainer(ctx, rw.hc, rw.c.Endpoint(rw.c.WriteRegion()), retryColl)
	if err != nil {
		return checker.Report{}, err
	}
	final := map[string]int64{}
	for _, raw := range items {
		var d struct {
			ID string `json:"id"`
			N  int64  `json:"n"`
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			return checker.Report{}, err
		}
		if strings.HasPrefix(d.ID, "ctr-") {
			final[d.ID] = d.N
		} else {
			final[d.ID] = 1
		}
	}
	rw.mu.Lock()
	var outs []checker.RetryOutcome
	for _, o := range rw.outcomes {
		outs = append(outs, *o)
	}
	for id := range final {
		if _, ok := rw.outcomes[id]; !ok {
			outs = append(outs, checker.RetryOutcome{Key: id}) // an item nobody asked for
		}
	}
	attempts := rw.attempts
	rw.mu.Unlock()
	rep := checker.CheckRetries(outs, final)
	rep.Stats["attempts"] = int64(attempts)
	return rep, nil
}
