package httpapi

import (
	"context"
	"encoding/json"

	"github.com/meridiandb/meridian/internal/patch"
	"github.com/meridiandb/meridian/internal/query"
)

// This file is the only place httpapi calls the query and patch packages.

// runQueryPage runs a Cosmos SQL query over in-memory resources (metadata
// queries: databases, containers, offers, conflicts) and returns one page.
func runQueryPage(ctx context.Context, text string, params []QueryParam, docs []json.RawMessage, maxItems int, continuation string) (query.Page, error) {
	q, err := query.Parse(text)
	if err != nil {
		return query.Page{}, err
	}
	src := make(query.SliceSource, len(docs))
	for i, d := range docs {
		src[i] = d
	}
	ps := make([]query.Param, len(params))
	for i, p := range params {
		ps[i] = query.Param{Name: p.Name, Value: p.Value}
	}
	return q.Execute(ctx, src, ps, query.Options{MaxItems: maxItems, Continuation: continuation})
}

// planJSON is the query plan the Node SDK asks for.
func planJSON(text string) ([]byte, error) {
	q, err := query.Parse(text)
	if err != nil {
		return nil, err
	}
	return q.PlanJSON()
}

// parsePatch parses a PATCH body: {"condition":...,"operations":[...]} (Go,
// Node) or a bare array of operations (Node).
func parsePatch(body []byte) (*patch.Spec, error) { return patch.Parse(body) }
