package query

import (
	"strings"

	"github.com/meridiandb/meridian/internal/resource"
)

// Query is a parsed SELECT statement. It is immutable after Parse and safe
// for concurrent use.
type Query struct {
	text string

	distinct    bool
	top         expr // nil: no TOP
	star        bool
	selectValue bool
	value       expr // SELECT VALUE expr
	items       []selectItem

	hasFrom bool
	from    fromClause
	joins   []joinClause
	where   expr

	groupBy []expr
	orderBy []orderItem
	offset  expr // nil: no OFFSET/LIMIT
	limit   expr

	aggs   []*aggExpr
	nvars  int
	fields map[string]bool // top-level document members the query reads; nil: all
	params []string        // parameter names by slot
}

type selectItem struct {
	name string
	x    expr
}

// fromClause describes the input set: each document, or the value at a
// path inside it, or (in) each element of the array at that path.
type fromClause struct {
	alias string
	path  expr // evaluated with vars[0] = the document; nil: the document
	in    bool
}

type joinClause struct {
	alias string
	x     expr
}

type orderItem struct {
	x    expr
	desc bool
}

type parser struct {
	toks []token
	pos  int
	text string

	depth    int
	vars     []*varExpr // references to resolve once FROM is known
	params   map[string]int
	paramLst []string
	aggs     []*aggExpr
	aggOK    bool // aggregates allowed here (SELECT list)
	inAgg    bool
	bareRefs int // variable references outside aggregates in the SELECT list
}

// maxExprDepth bounds expression nesting in query text.
const maxExprDepth = maxDepth

// Parse parses a Cosmos SQL SELECT query.
func Parse(text string) (*Query, error) {
	toks, err := lex(text)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, text: text, params: map[string]int{}}
	q, err := p.query()
	if err != nil {
		return nil, err
	}
	q.text = text
	return q, nil
}

func (p *parser) peek() token { return p.toks[p.pos] }

func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tEOF {
		p.pos++
	}
	return t
}

func (p *parser) accept(kw string) bool {
	if p.peek().is(kw) {
		p.pos++
		return true
	}
	return false
}

func (p *parser) expect(kw string) error {
	if !p.accept(kw) {
		return p.errAt(p.peek())
	}
	return nil
}

func (p *parser) errAt(t token) error {
	if t.kind == tEOF {
		return resource.BadRequestf("Syntax error, unexpected end of query at line %d, column %d.", t.line, t.col)
	}
	return syntaxError(t.raw, t.line, t.col)
}

func (p *parser) query() (*Query, error) {
	q := &Query{}
	if err := p.expect("SELECT"); err != nil {
		return nil, err
	}
	if p.accept("DISTINCT") {
		q.distinct = true
	}
	if p.accept("TOP") {
		x, err := p.countArg()
		if err != nil {
			return nil, err
		}
		q.top = x
	}
	p.aggOK = true
	switch {
	case p.accept("*"):
		q.star = true
	case p.accept("VALUE"):
		q.selectValue = true
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		q.value = x
	default:
		gen := 0
		seen := map[string]bool{}
		for {
			x, err := p.expr()
			if err != nil {
				return nil, err
			}
			name := ""
			if p.accept("AS") {
				t := p.next()
				if t.kind != tIdent {
					return nil, p.errAt(t)
				}
				name = t.text
			} else if t := p.peek(); t.kind == tIdent && !isKeyword(t.text) {
				p.next()
				name = t.text
			}
			if name == "" {
				name = propertyName(x)
			}
			if name == "" {
				gen++
				name = "$" + itoa(gen)
			}
			if seen[name] {
				return nil, resource.BadRequestf("The object property name '%s' is specified more than once.", name)
			}
			seen[name] = true
			q.items = append(q.items, selectItem{name: name, x: x})
			if !p.accept(",") {
				break
			}
		}
	}
	p.aggOK = false
	selectBareRefs := p.bareRefs

	hasFrom := false
	if p.accept("FROM") {
		hasFrom = true
		if err := p.fromClause(q); err != nil {
			return nil, err
		}
		for p.accept("JOIN") {
			t := p.next()
			if t.kind != tIdent || isKeyword(t.text) {
				return nil, p.errAt(t)
			}
			if err := p.expect("IN"); err != nil {
				return nil, err
			}
			for _, a := range q.aliasNames() {
				if a == t.text {
					return nil, resource.BadRequestf("Alias '%s' is already defined.", t.text)
				}
			}
			x, err := p.expr()
			if err != nil {
				return nil, err
			}
			q.joins = append(q.joins, joinClause{alias: t.text, x: x})
		}
	}
	if p.accept("WHERE") {
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		q.where = x
	}
	if p.accept("GROUP") {
		if err := p.expect("BY"); err != nil {
			return nil, err
		}
		for {
			x, err := p.expr()
			if err != nil {
				return nil, err
			}
			q.groupBy = append(q.groupBy, x)
			if !p.accept(",") {
				break
			}
		}
	}
	if p.accept("ORDER") {
		if err := p.expect("BY"); err != nil {
			return nil, err
		}
		for {
			x, err := p.expr()
			if err != nil {
				return nil, err
			}
			item := orderItem{x: x}
			if p.accept("DESC") {
				item.desc = true
			} else {
				p.accept("ASC")
			}
			q.orderBy = append(q.orderBy, item)
			if !p.accept(",") {
				break
			}
		}
	}
	if p.accept("OFFSET") {
		x, err := p.countArg()
		if err != nil {
			return nil, err
		}
		q.offset = x
		if err := p.expect("LIMIT"); err != nil {
			return nil, err
		}
		if q.limit, err = p.countArg(); err != nil {
			return nil, err
		}
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.errAt(t)
	}

	// Resolve identifiers now that every alias is known.
	names := q.aliasNames()
	for _, v := range p.vars {
		slot := -1
		for s, n := range names {
			if n == v.name {
				slot = s
			}
		}
		if slot < 0 {
			return nil, resource.BadRequestf("Identifier '%s' could not be resolved.", v.name)
		}
		v.slot = slot
	}
	q.nvars = len(names)
	q.aggs = p.aggs
	q.params = p.paramLst

	q.hasFrom = hasFrom
	for _, x := range q.exprs() {
		if tooDeep(x, 0) {
			return nil, resource.BadRequestf("The query expression is nested too deeply.")
		}
	}
	q.fields = q.topLevelFields()

	// Semantic checks.
	if !hasFrom && q.star {
		return nil, resource.BadRequestf("'SELECT *' is not valid if FROM clause is omitted.")
	}
	if q.star && len(q.joins) > 0 {
		return nil, resource.BadRequestf("'SELECT *' is only valid with a single input set.")
	}
	if q.star && len(q.groupBy) > 0 {
		return nil, resource.BadRequestf("'SELECT *' is not valid with GROUP BY.")
	}
	if len(q.aggs) > 0 || len(q.groupBy) > 0 {
		if len(q.orderBy) > 0 {
			return nil, resource.BadRequestf("ORDER BY is not supported with aggregates or GROUP BY.")
		}
		if len(q.groupBy) == 0 && selectBareRefs > 0 {
			return nil, resource.BadRequestf("Property reference outside an aggregate in a query with aggregates requires GROUP BY.")
		}
	}
	return q, nil
}

// aliasNames returns the bound aliases by slot.
func (q *Query) aliasNames() []string {
	names := []string{q.from.alias}
	for _, j := range q.joins {
		names = append(names, j.alias)
	}
	return names
}

// fromClause parses: ident [path] [[AS] alias] | alias IN ident [path].
func (p *parser) fromClause(q *Query) error {
	t := p.next()
	if t.kind != tIdent || (isKeyword(t.text) && !strings.EqualFold(t.text, "root")) {
		return p.errAt(t)
	}
	if p.accept("IN") {
		root := p.next()
		if root.kind != tIdent || isKeyword(root.text) {
			return p.errAt(root)
		}
		path, err := p.fromPath()
		if err != nil {
			return err
		}
		q.from = fromClause{alias: t.text, path: path, in: true}
		return nil
	}
	path, err := p.fromPath()
	if err != nil {
		return err
	}
	alias := t.text
	if path != nil {
		if n := propertyName(path); n != "" {
			alias = n
		}
	}
	if p.accept("AS") {
		a := p.next()
		if a.kind != tIdent || isKeyword(a.text) {
			return p.errAt(a)
		}
		alias = a.text
	} else if a := p.peek(); a.kind == tIdent && !isKeyword(a.text) {
		p.next()
		alias = a.text
	}
	q.from = fromClause{alias: alias, path: path}
	return nil
}

// fromPath parses a chain of .name and [literal] after the collection name.
// The result is evaluated with the document in slot 0; nil means no path.
func (p *parser) fromPath() (expr, error) {
	var x expr = &varExpr{slot: 0}
	has := false
	for {
		switch {
		case p.accept("."):
			t := p.next()
			if t.kind != tIdent {
				return nil, p.errAt(t)
			}
			x = &propExpr{x: x, name: t.text}
		case p.accept("["):
			t := p.next()
			if t.kind != tString && t.kind != tNumber {
				return nil, p.errAt(t)
			}
			var lit Value
			if t.kind == tString {
				lit = strValue(t.text)
			} else {
				lit = numValue(t.num)
			}
			x = &indexExpr{x: x, idx: &litExpr{v: lit}}
			if err := p.expect("]"); err != nil {
				return nil, err
			}
		default:
			if !has {
				return nil, nil
			}
			return x, nil
		}
		has = true
	}
}

// countArg parses the argument of TOP, OFFSET or LIMIT: a number or a
// parameter.
func (p *parser) countArg() (expr, error) {
	t := p.next()
	switch t.kind {
	case tNumber:
		return &litExpr{v: numValue(t.num)}, nil
	case tParam:
		return p.param(t.text), nil
	}
	return nil, p.errAt(t)
}

func (p *parser) param(name string) expr {
	slot, ok := p.params[name]
	if !ok {
		slot = len(p.paramLst)
		p.params[name] = slot
		p.paramLst = append(p.paramLst, name)
	}
	return &paramExpr{name: name, slot: slot}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
