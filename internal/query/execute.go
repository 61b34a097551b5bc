package query

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"sort"

	"github.com/meridiandb/meridian/internal/resource"
)

const defaultMaxItems = 100

// ctxCheckEvery is how many documents are scanned between context checks.
const ctxCheckEvery = 256

// Execute runs the query over src and returns one page of results.
// Plain streaming queries (no ORDER BY, aggregate, DISTINCT, GROUP BY or
// OFFSET) scan from the continuation's key and stop once the page is full;
// the others are evaluated fully on every call and paged by position.
func (q *Query) Execute(ctx context.Context, src Source, params []Param, opts Options) (Page, error) {
	pv, err := q.bindParams(params)
	if err != nil {
		return Page{}, err
	}
	maxItems := opts.MaxItems
	if maxItems <= 0 {
		maxItems = defaultMaxItems
	}
	var tok continuation
	if opts.Continuation != "" {
		if tok, err = decodeToken(q.text, opts.Continuation); err != nil {
			return Page{}, err
		}
	}
	if !q.hasFrom {
		// SELECT without FROM evaluates once, over no document.
		src = SliceSource{[]byte("{}")}
	}
	e := &env{vars: make([]Value, q.nvars), params: pv}
	top, err := q.count(q.top, e, "TOP")
	if err != nil {
		return Page{}, err
	}
	if q.streaming() {
		if opts.Continuation != "" && tok.Mode != "s" {
			return Page{}, resource.BadRequestf("Invalid continuation token.")
		}
		return q.stream(ctx, src, e, tok, top, maxItems)
	}
	if opts.Continuation != "" && tok.Mode != "p" {
		return Page{}, resource.BadRequestf("Invalid continuation token.")
	}
	return q.full(ctx, src, e, tok, top, maxItems)
}

func (q *Query) streaming() bool {
	return len(q.orderBy) == 0 && len(q.aggs) == 0 && len(q.groupBy) == 0 && !q.distinct && q.offset == nil
}

// bindParams resolves the parameters the query uses, by slot.
func (q *Query) bindParams(params []Param) ([]Value, error) {
	out := make([]Value, len(q.params))
	for slot, name := range q.params {
		found := false
		for _, p := range params {
			if p.Name != name {
				continue
			}
			v, err := parseJSON(p.Value)
			if err != nil {
				return nil, resource.BadRequestf("The value of parameter '%s' is not valid JSON.", name)
			}
			out[slot] = v
			found = true
		}
		if !found {
			return nil, resource.BadRequestf("Parameter '%s' is referenced in the query but not defined.", name)
		}
	}
	return out, nil
}

// count evaluates a TOP, OFFSET or LIMIT argument; -1 means absent.
func (q *Query) count(x expr, e *env, what string) (int, error) {
	if x == nil {
		return -1, nil
	}
	v := x.eval(e)
	if v.k != kNumber || v.num < 0 || v.num != math.Trunc(v.num) {
		return 0, resource.BadRequestf("The %s value must be a non-negative integer.", what)
	}
	if v.num > math.MaxInt32 {
		return math.MaxInt32, nil
	}
	return int(v.num), nil
}

// plainStar reports whether each row is the stored document itself, so its
// bytes can be returned unchanged.
func (q *Query) plainStar() bool {
	return q.star && q.from.path == nil && len(q.joins) == 0
}

// forEachRow binds the rows the FROM and JOIN clauses produce for doc,
// keeps those passing WHERE and calls fn for each with e.vars bound. It
// returns false if fn asked to stop.
func (q *Query) forEachRow(e *env, doc Value, fn func() bool) bool {
	if q.from.path == nil {
		e.vars[0] = doc
		return q.joinRows(e, 0, fn)
	}
	e.vars[0] = doc
	v := q.from.path.eval(e)
	if q.from.in {
		if v.k != kArray {
			return true
		}
		for _, el := range v.arr {
			e.vars[0] = el
			if !q.joinRows(e, 0, fn) {
				return false
			}
		}
		return true
	}
	if v.k == kUndefined {
		return true
	}
	e.vars[0] = v
	return q.joinRows(e, 0, fn)
}

func (q *Query) joinRows(e *env, i int, fn func() bool) bool {
	if i == len(q.joins) {
		if q.where != nil && !q.where.eval(e).isTrue() {
			return true
		}
		return fn()
	}
	v := q.joins[i].x.eval(e)
	if v.k != kArray {
		return true
	}
	for _, el := range v.arr {
		e.vars[1+i] = el
		if !q.joinRows(e, i+1, fn) {
			return false
		}
	}
	return true
}

// project computes the output of the current row; ok is false when the
// row produces nothing (SELECT VALUE of undefined).
func (q *Query) project(e *env) (Value, bool) {
	switch {
	case q.star:
		return e.vars[0], e.vars[0].k != kUndefined
	case q.selectValue:
		v := q.value.eval(e)
		return v, v.k != kUndefined
	}
	ms := make([]member, 0, len(q.items))
	for _, it := range q.items {
		if v := it.x.eval(e); v.k != kUndefined {
			ms = append(ms, member{key: it.name, val: v})
		}
	}
	return Value{k: kObject, obj: ms}, true
}

func (q *Query) parseDoc(doc []byte) (Value, error) {
	v, err := parseJSONFields(doc, q.fields)
	if err != nil {
		return undefined, resource.Errorf(resource.KindInternal, "query: stored document is not valid JSON: %w", err)
	}
	return v, nil
}

// stream runs a streaming query from tok, stopping once the page is full.
func (q *Query) stream(ctx context.Context, src Source, e *env, tok continuation, top, maxItems int) (Page, error) {
	var (
		out      []json.RawMessage
		emitted  = tok.Emitted
		after    = tok.After
		partial  []byte
		skipped  int
		more     bool
		full     bool
		scanErr  error
		scanned  int
		fast     = q.plainStar() && q.where == nil
		needRows = top < 0 || emitted < top
	)
	if !needRows {
		return Page{Docs: []json.RawMessage{}}, nil
	}
	err := src.Scan(ctx, after, func(key, doc []byte) bool {
		if full {
			more = true
			return false
		}
		scanned++
		if scanned%ctxCheckEvery == 0 {
			if scanErr = ctx.Err(); scanErr != nil {
				return false
			}
		}
		skip := 0
		if tok.Partial != nil && bytes.Equal(key, tok.Partial) {
			skip = tok.Skip
		}
		if fast {
			out = append(out, append(json.RawMessage(nil), doc...))
			emitted++
			after = append(after[:0:0], key...)
			full = len(out) >= maxItems || (top >= 0 && emitted >= top)
			return true
		}
		v, err := q.parseDoc(doc)
		if err != nil {
			scanErr = err
			return false
		}
		rowIdx := 0
		completed := q.forEachRow(e, v, func() bool {
			rowIdx++
			if rowIdx <= skip {
				return true
			}
			if full {
				// A further row exists in this document: stop inside it.
				more = true
				return false
			}
			row, ok := q.project(e)
			if !ok {
				return true
			}
			if q.plainStar() {
				out = append(out, append(json.RawMessage(nil), doc...))
			} else {
				out = append(out, appendJSON(nil, row))
			}
			emitted++
			full = len(out) >= maxItems || (top >= 0 && emitted >= top)
			return true
		})
		if completed {
			after = append(after[:0:0], key...)
			partial, skipped = nil, 0
			return true
		}
		partial = append([]byte(nil), key...)
		skipped = rowIdx - 1
		return false
	})
	if scanErr != nil {
		return Page{}, scanErr
	}
	if err != nil {
		return Page{}, err
	}
	if out == nil {
		out = []json.RawMessage{}
	}
	page := Page{Docs: out}
	if more && (top < 0 || emitted < top) {
		page.Continuation = encodeToken(q.text, continuation{
			Mode: "s", After: after, Partial: partial, Skip: skipped, Emitted: emitted,
		})
	}
	return page, nil
}

// result is one output row of a fully evaluated query.
type result struct {
	out  []byte
	val  Value   // projected value, kept for DISTINCT
	keys []Value // ORDER BY keys
}

type group struct {
	vars []Value
	accs []accumulator
}

// full evaluates the whole query and returns the page at tok.Pos.
func (q *Query) full(ctx context.Context, src Source, e *env, tok continuation, top, maxItems int) (Page, error) {
	offset, err := q.count(q.offset, e, "OFFSET")
	if err != nil {
		return Page{}, err
	}
	limit, err := q.count(q.limit, e, "LIMIT")
	if err != nil {
		return Page{}, err
	}
	grouped := len(q.aggs) > 0 || len(q.groupBy) > 0
	var (
		results []result
		groups  = map[string]*group{}
		order   []*group
		scanErr error
		scanned int
		keyBuf  []byte
	)
	if grouped && len(q.groupBy) == 0 {
		g := &group{vars: make([]Value, q.nvars), accs: make([]accumulator, len(q.aggs))}
		groups[""] = g
		order = append(order, g)
	}
	err = src.Scan(ctx, nil, func(key, doc []byte) bool {
		scanned++
		if scanned%ctxCheckEvery == 0 {
			if scanErr = ctx.Err(); scanErr != nil {
				return false
			}
		}
		v, err := q.parseDoc(doc)
		if err != nil {
			scanErr = err
			return false
		}
		q.forEachRow(e, v, func() bool {
			if grouped {
				var g *group
				if len(q.groupBy) == 0 {
					g = order[0]
				} else {
					keyBuf = keyBuf[:0]
					for _, gx := range q.groupBy {
						keyBuf = appendCanonical(keyBuf, gx.eval(e))
						keyBuf = append(keyBuf, 0)
					}
					g = groups[string(keyBuf)]
					if g == nil {
						g = &group{vars: append([]Value(nil), e.vars...), accs: make([]accumulator, len(q.aggs))}
						groups[string(keyBuf)] = g
						order = append(order, g)
					}
				}
				for i, a := range q.aggs {
					g.accs[i].add(a.fn, a.arg.eval(e))
				}
				return true
			}
			row, ok := q.project(e)
			if !ok {
				return true
			}
			r := result{}
			if q.plainStar() {
				r.out = append([]byte(nil), doc...)
			} else {
				r.out = appendJSON(nil, row)
			}
			if q.distinct {
				r.val = row
			}
			if len(q.orderBy) > 0 {
				r.keys = make([]Value, len(q.orderBy))
				for i, o := range q.orderBy {
					r.keys[i] = o.x.eval(e)
				}
			}
			results = append(results, r)
			return true
		})
		return true
	})
	if scanErr != nil {
		return Page{}, scanErr
	}
	if err != nil {
		return Page{}, err
	}

	if grouped {
		for _, g := range order {
			e.vars = g.vars
			e.aggs = make([]Value, len(q.aggs))
			for i, a := range q.aggs {
				e.aggs[i] = g.accs[i].result(a.fn)
			}
			row, ok := q.project(e)
			if !ok {
				continue
			}
			results = append(results, result{out: appendJSON(nil, row), val: row})
		}
	}
	if len(q.orderBy) > 0 {
		sort.SliceStable(results, func(i, j int) bool {
			for k, o := range q.orderBy {
				c := typeOrder(results[i].keys[k], results[j].keys[k])
				if o.desc {
					c = -c
				}
				if c != 0 {
					return c < 0
				}
			}
			return false
		})
	}
	if q.distinct {
		seen := make(map[string]bool, len(results))
		kept := results[:0]
		for _, r := range results {
			var c string
			if q.plainStar() {
				// The stored document: compare by content.
				v, _ := parseJSON(r.out)
				c = canonical(v)
			} else {
				c = canonical(r.val)
			}
			if !seen[c] {
				seen[c] = true
				kept = append(kept, r)
			}
		}
		results = kept
	}
	if offset >= 0 {
		results = results[min(offset, len(results)):]
		if limit >= 0 && limit < len(results) {
			results = results[:limit]
		}
	}
	if top >= 0 && top < len(results) {
		results = results[:top]
	}
	start := min(tok.Pos, len(results))
	end := min(start+maxItems, len(results))
	docs := make([]json.RawMessage, 0, end-start)
	for _, r := range results[start:end] {
		docs = append(docs, r.out)
	}
	page := Page{Docs: docs}
	if end < len(results) {
		page.Continuation = encodeToken(q.text, continuation{Mode: "p", Pos: end})
	}
	return page, nil
}

// Text returns the query text as parsed.
func (q *Query) Text() string { return q.text }
