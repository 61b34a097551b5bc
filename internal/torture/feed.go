package torture

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/meridiandb/meridian/internal/checker"
)

// feedConsumer is F18's change-feed consumer (checker.CheckChangeFeed): it
// polls the container's change feed in one region, resuming each poll from
// the previous answer's continuation, while the faults run, and drains it
// after quiescence.
type feedConsumer struct {
	c      *Cluster
	rec    *checker.Recorder
	hc     *http.Client
	region string
	etag   string // the continuation
}

// feedClient is the consumer's client id in the history.
const feedClient = 2000

// run polls every 100 ms until ctx ends.
func (f *feedConsumer) run(ctx context.Context) {
	for ctx.Err() == nil {
		f.poll(ctx)
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// drain polls until two answers in a row bring nothing new (bounded).
func (f *feedConsumer) drain(ctx context.Context, within time.Duration) {
	quiet := 0
	for deadline := time.Now().Add(within); quiet < 2 && time.Now().Before(deadline) && ctx.Err() == nil; {
		if n, ok := f.poll(ctx); ok && n == 0 {
			quiet++
		} else {
			quiet = 0
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// poll reads one page of changes after the continuation and records it.
// It returns how many items it got and whether it succeeded.
func (f *feedConsumer) poll(ctx context.Context) (int, bool) {
	op := checker.Op{Client: feedClient, Region: f.region, Kind: checker.ChangeFeed, Partition: partitionID, TokenIn: f.etag}
	p, err := f.rec.Begin(op)
	if err != nil {
		panic(err) // one poll at a time: a harness bug
	}
	h := map[string]string{"A-IM": "Incremental Feed", "x-ms-max-item-count": "100"}
	if f.etag != "" {
		h["If-None-Match"] = f.etag
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	r := dataDo(pctx, f.hc, f.c.Endpoint(f.region), http.MethodGet, "docs", collLink, "/"+collLink+"/docs", nil, h)
	cancel()
	n, ok := 0, false
	p.End(func(o *checker.Op) {
		o.ServedBy = r.Header.Get("x-meridian-region")
		o.Result = checker.Fail // a read changes nothing: a failed poll is simply not counted
		if r.Err != nil || (r.Status != http.StatusOK && r.Status != http.StatusNotModified) {
			o.Err = r.code()
			return
		}
		etag := r.Header.Get("etag")
		if r.Status == http.StatusOK {
			var page struct {
				Documents []struct {
					ID  string          `json:"id"`
					V   json.RawMessage `json:"v"`
					LSN int64           `json:"_lsn"`
				} `json:"Documents"`
			}
			if err := json.Unmarshal(r.Body, &page); err != nil {
				o.Err = "bad change-feed page: " + err.Error()
				return
			}
			for _, d := range page.Documents {
				v := string(d.V)
				if s, err := strconv.Unquote(v); err == nil {
					v = s
				}
				o.BatchKeys = append(o.BatchKeys, checker.KV{Key: d.ID, Value: v, LSN: d.LSN})
			}
		}
		if etag == "" {
			etag = f.etag
		}
		o.TokenOut, o.Result = etag, checker.OK
		f.etag, n, ok = etag, len(o.BatchKeys), true
	})
	return n, ok
}
