package torture

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/meridiandb/meridian/internal/auth"
)

// Raw signed REST requests (not the SDK: no retries, no region fallback,
// low CPU), as tests/geo/consistency_helpers_test.go sends them.

const (
	dbName   = "db"
	collName = "c"
	pkValue  = "p"
	collLink = "dbs/" + dbName + "/colls/" + collName
)

var masterKey = auth.MustDecodeKey(auth.EmulatorKey)

// resp is one answer, or the transport error.
type resp struct {
	Status    int
	Substatus string
	Header    http.Header
	Body      []byte
	Err       error
	// Sent is false when the request certainly never reached a server (the
	// dial was refused).
	Sent bool
}

func (r resp) String() string {
	if r.Err != nil {
		return r.Err.Error()
	}
	b := string(r.Body)
	if len(b) > 200 {
		b = b[:200] + "..."
	}
	return fmt.Sprintf("%d/%s %s", r.Status, r.Substatus, b)
}

// code is "status/substatus" or the error class.
func (r resp) code() string {
	if r.Err != nil {
		if !r.Sent {
			return "refused"
		}
		if errors.Is(r.Err, context.DeadlineExceeded) {
			return "timeout"
		}
		return "transport: " + r.Err.Error()
	}
	if r.Substatus != "" && r.Substatus != "0" {
		return fmt.Sprintf("%d/%s", r.Status, r.Substatus)
	}
	return fmt.Sprint(r.Status)
}

func send(ctx context.Context, hc *http.Client, req *http.Request) resp {
	res, err := hc.Do(req.WithContext(ctx))
	if err != nil {
		return resp{Err: err, Sent: !errors.Is(err, syscall.ECONNREFUSED)}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return resp{Err: err, Sent: true}
	}
	return resp{Status: res.StatusCode, Substatus: res.Header.Get("x-ms-substatus"), Header: res.Header, Body: b, Sent: true}
}

// dataDo sends a signed data-plane request.
func dataDo(ctx context.Context, hc *http.Client, endpoint, method, resType, resLink, path string, body []byte, hdr map[string]string) resp {
	var rd io.Reader = http.NoBody
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, strings.TrimSuffix(endpoint, "/")+path, rd)
	if err != nil {
		return resp{Err: err}
	}
	date := time.Now().UTC().Format(http.TimeFormat)
	req.Header.Set("x-ms-date", date)
	req.Header.Set("x-ms-version", "2020-11-05")
	req.Header.Set("Authorization", auth.Sign(masterKey, method, resType, resLink, date))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return send(ctx, hc, req)
}

// adminDo sends POST /_meridian/<what> signed with the master key.
func adminDo(ctx context.Context, hc *http.Client, endpoint, what string, body []byte) resp {
	var rd io.Reader = http.NoBody
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(http.MethodPost, strings.TrimSuffix(endpoint, "/")+"/_meridian/"+what, rd)
	if err != nil {
		return resp{Err: err}
	}
	date := time.Now().UTC().Format(http.TimeFormat)
	req.Header.Set("x-ms-date", date)
	req.Header.Set("x-ms-version", "2020-11-05")
	req.Header.Set("Authorization", auth.Sign(masterKey, http.MethodPost, "", "_meridian/"+what, date))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return send(ctx, hc, req)
}

func pkHeader() string { return `["` + pkValue + `"]` }

func upsertItem(ctx context.Context, hc *http.Client, endpoint, key, value, level, token string) resp {
	return writeItem(ctx, hc, endpoint, collName, itemUpsert, key, value, level, token)
}

func readItem(ctx context.Context, hc *http.Client, endpoint, key, level, token string) resp {
	return readItemIn(ctx, hc, endpoint, collName, key, level, token)
}

// itemOp is a point write's REST operation.
type itemOp int

const (
	itemUpsert  itemOp = iota // POST .../docs, x-ms-documentdb-is-upsert
	itemCreate                // POST .../docs
	itemReplace               // PUT .../docs/{id}
	itemDelete                // DELETE .../docs/{id}
)

func itemHeaders(level, token string) map[string]string {
	h := map[string]string{"x-ms-documentdb-partitionkey": pkHeader()}
	if level != "" {
		h["x-ms-consistency-level"] = level
	}
	if token != "" {
		h["x-ms-session-token"] = token
	}
	return h
}

// writeItem writes {"id": key, "pk": "p", "v": value} (or deletes key) in
// container coll of database db.
func writeItem(ctx context.Context, hc *http.Client, endpoint, coll string, op itemOp, key, value, level, token string) resp {
	link := "dbs/" + dbName + "/colls/" + coll
	doc, _ := json.Marshal(map[string]string{"id": key, "pk": pkValue, "v": value})
	h := itemHeaders(level, token)
	switch op {
	case itemReplace:
		return dataDo(ctx, hc, endpoint, http.MethodPut, "docs", link+"/docs/"+key, "/"+link+"/docs/"+url.PathEscape(key), doc, h)
	case itemDelete:
		return dataDo(ctx, hc, endpoint, http.MethodDelete, "docs", link+"/docs/"+key, "/"+link+"/docs/"+url.PathEscape(key), nil, h)
	case itemUpsert:
		h["x-ms-documentdb-is-upsert"] = "true"
	}
	return dataDo(ctx, hc, endpoint, http.MethodPost, "docs", link, "/"+link+"/docs", doc, h)
}

func readItemIn(ctx context.Context, hc *http.Client, endpoint, coll, key, level, token string) resp {
	link := "dbs/" + dbName + "/colls/" + coll
	return dataDo(ctx, hc, endpoint, http.MethodGet, "docs", link+"/docs/"+key, "/"+link+"/docs/"+url.PathEscape(key), nil, itemHeaders(level, token))
}

// setupContainer creates the database and the container (/pk) through the
// write region and waits until every region has it.
func setupContainer(ctx context.Context, hc *http.Client, c *Cluster) error {
	w := c.Endpoint(c.WriteRegion())
	r := dataDo(ctx, hc, w, http.MethodPost, "dbs", "", "/dbs", []byte(`{"id":"`+dbName+`"}`), nil)
	if r.Err != nil || (r.Status != 201 && r.Status != 409) {
		return fmt.Errorf("create database: %s", r)
	}
	body := `{"id":"` + collName + `","partitionKey":{"paths":["/pk"],"kind":"Hash"}}`
	r = dataDo(ctx, hc, w, http.MethodPost, "colls", "dbs/"+dbName, "/dbs/"+dbName+"/colls", []byte(body), nil)
	if r.Err != nil || (r.Status != 201 && r.Status != 409) {
		return fmt.Errorf("create container: %s", r)
	}
	for _, region := range c.Regions() {
		deadline := time.Now().Add(30 * time.Second)
		for {
			r = dataDo(ctx, hc, c.Endpoint(region), http.MethodGet, "colls", collLink, "/"+collLink, nil, nil)
			if r.Err == nil && r.Status == 200 {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("the container never appeared in %s: %s", region, r)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

// dumpRegion returns every item of the container in region (a query at
// Eventual, all pages).
func dumpRegion(ctx context.Context, hc *http.Client, endpoint string) ([]json.RawMessage, error) {
	return dumpContainer(ctx, hc, endpoint, collName)
}

// dumpContainer returns every item of container coll in region (a query
// at Eventual, all pages).
func dumpContainer(ctx context.Context, hc *http.Client, endpoint, coll string) ([]json.RawMessage, error) {
	collLink := "dbs/" + dbName + "/colls/" + coll
	body, _ := json.Marshal(map[string]any{"query": "SELECT * FROM c", "parameters": []any{}})
	var docs []json.RawMessage
	cont := ""
	for range 10000 {
		h := map[string]string{
			"x-ms-documentdb-isquery":                    "true",
			"Content-Type":                               "application/query+json",
			"x-ms-documentdb-query-enablecrosspartition": "true",
			"x-ms-max-item-count":                        "1000",
			"x-ms-consistency-level":                     "Eventual",
		}
		if cont != "" {
			h["x-ms-continuation"] = cont
		}
		r := dataDo(ctx, hc, endpoint, http.MethodPost, "docs", collLink, "/"+collLink+"/docs", body, h)
		if r.Err != nil || r.Status != 200 {
			return nil, fmt.Errorf("query: %s", r)
		}
		var page struct {
			Documents []json.RawMessage `json:"Documents"`
		}
		if err := json.Unmarshal(r.Body, &page); err != nil {
			return nil, fmt.Errorf("query page: %w", err)
		}
		docs = append(docs, page.Documents...)
		if cont = r.Header.Get("x-ms-continuation"); cont == "" {
			return docs, nil
		}
	}
	return nil, errors.New("query: too many pages")
}
