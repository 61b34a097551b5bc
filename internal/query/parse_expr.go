package query

import (
	"strings"

	"github.com/meridiandb/meridian/internal/resource"
)

var aggregateNames = map[string]bool{"COUNT": true, "SUM": true, "MIN": true, "MAX": true, "AVG": true}

// expr parses a full scalar expression (ternary level).
func (p *parser) expr() (expr, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxExprDepth {
		t := p.peek()
		return nil, resource.BadRequestf("The query expression is nested too deeply at line %d, column %d.", t.line, t.col)
	}
	c, err := p.coalesce()
	if err != nil {
		return nil, err
	}
	if !p.accept("?") {
		return c, nil
	}
	a, err := p.expr()
	if err != nil {
		return nil, err
	}
	if err := p.expect(":"); err != nil {
		return nil, err
	}
	b, err := p.expr()
	if err != nil {
		return nil, err
	}
	return &ternaryExpr{c: c, a: a, b: b}, nil
}

func (p *parser) coalesce() (expr, error) {
	l, err := p.or()
	if err != nil {
		return nil, err
	}
	for p.accept("??") {
		r, err := p.or()
		if err != nil {
			return nil, err
		}
		l = &coalesceExpr{l: l, r: r}
	}
	return l, nil
}

func (p *parser) or() (expr, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	if !p.peek().is("OR") {
		return l, nil
	}
	or := &orExpr{xs: []expr{l}}
	for p.accept("OR") {
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		or.xs = append(or.xs, r)
	}
	return or, nil
}

func (p *parser) and() (expr, error) {
	l, err := p.not()
	if err != nil {
		return nil, err
	}
	if !p.peek().is("AND") {
		return l, nil
	}
	and := &andExpr{xs: []expr{l}}
	for p.accept("AND") {
		r, err := p.not()
		if err != nil {
			return nil, err
		}
		and.xs = append(and.xs, r)
	}
	return and, nil
}

func (p *parser) not() (expr, error) {
	if p.accept("NOT") {
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > maxExprDepth {
			t := p.peek()
			return nil, resource.BadRequestf("The query expression is nested too deeply at line %d, column %d.", t.line, t.col)
		}
		x, err := p.not()
		if err != nil {
			return nil, err
		}
		return &unaryExpr{op: "NOT", x: x}, nil
	}
	return p.predicate()
}

var comparisonOps = map[string]bool{"=": true, "!=": true, "<>": true, "<": true, "<=": true, ">": true, ">=": true}

func (p *parser) predicate() (expr, error) {
	l, err := p.binaryLevel(0)
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind == tPunct && comparisonOps[t.text] {
			p.next()
			r, err := p.binaryLevel(0)
			if err != nil {
				return nil, err
			}
			l = &binaryExpr{op: t.text, l: l, r: r}
			continue
		}
		not := false
		if t.is("NOT") {
			n := p.toks[p.pos+1]
			if !n.is("IN") && !n.is("BETWEEN") && !n.is("LIKE") {
				return l, nil
			}
			p.next()
			not = true
			t = p.peek()
		}
		switch {
		case t.is("IN"):
			p.next()
			if err := p.expect("("); err != nil {
				return nil, err
			}
			var list []expr
			for {
				x, err := p.expr()
				if err != nil {
					return nil, err
				}
				list = append(list, x)
				if !p.accept(",") {
					break
				}
			}
			if err := p.expect(")"); err != nil {
				return nil, err
			}
			l = &inExpr{x: l, list: list, not: not}
		case t.is("BETWEEN"):
			p.next()
			lo, err := p.binaryLevel(0)
			if err != nil {
				return nil, err
			}
			if err := p.expect("AND"); err != nil {
				return nil, err
			}
			hi, err := p.binaryLevel(0)
			if err != nil {
				return nil, err
			}
			l = &betweenExpr{x: l, lo: lo, hi: hi, not: not}
		case t.is("LIKE"):
			p.next()
			pat, err := p.binaryLevel(0)
			if err != nil {
				return nil, err
			}
			var esc expr
			if p.accept("ESCAPE") {
				if esc, err = p.binaryLevel(0); err != nil {
					return nil, err
				}
			}
			l = &likeExpr{x: l, pat: pat, esc: esc, not: not}
		default:
			return l, nil
		}
	}
}

// binaryLevels lists the left-associative binary operators from the
// loosest to the tightest binding.
var binaryLevels = [][]string{
	{"||"},
	{"|"},
	{"^"},
	{"&"},
	{"<<", ">>", ">>>"},
	{"+", "-"},
	{"*", "/", "%"},
}

func (p *parser) binaryLevel(level int) (expr, error) {
	if level == len(binaryLevels) {
		return p.unary()
	}
	l, err := p.binaryLevel(level + 1)
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		matched := false
		if t.kind == tPunct {
			for _, op := range binaryLevels[level] {
				if t.text == op {
					matched = true
				}
			}
		}
		if !matched {
			return l, nil
		}
		p.next()
		r, err := p.binaryLevel(level + 1)
		if err != nil {
			return nil, err
		}
		l = &binaryExpr{op: t.text, l: l, r: r}
	}
}

func (p *parser) unary() (expr, error) {
	t := p.peek()
	if t.kind == tPunct && (t.text == "-" || t.text == "+" || t.text == "~") || t.is("NOT") {
		p.next()
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > maxExprDepth {
			return nil, resource.BadRequestf("The query expression is nested too deeply at line %d, column %d.", t.line, t.col)
		}
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		op := t.text
		if t.kind == tIdent {
			op = "NOT"
		}
		// Fold negative literals so -1 keeps being a literal.
		if l, ok := x.(*litExpr); ok && op == "-" && l.v.k == kNumber {
			return &litExpr{v: numValue(-l.v.num)}, nil
		}
		return &unaryExpr{op: op, x: x}, nil
	}
	return p.postfix()
}

func (p *parser) postfix() (expr, error) {
	x, err := p.primary()
	if err != nil {
		return nil, err
	}
	for {
		switch {
		case p.accept("."):
			t := p.next()
			if t.kind != tIdent {
				return nil, p.errAt(t)
			}
			x = &propExpr{x: x, name: t.text}
		case p.accept("["):
			idx, err := p.expr()
			if err != nil {
				return nil, err
			}
			if err := p.expect("]"); err != nil {
				return nil, err
			}
			if l, ok := idx.(*litExpr); ok && l.v.k == kString {
				x = &propExpr{x: x, name: l.v.str}
				continue
			}
			x = &indexExpr{x: x, idx: idx}
		default:
			return x, nil
		}
	}
}

func (p *parser) primary() (expr, error) {
	t := p.next()
	switch t.kind {
	case tNumber:
		return &litExpr{v: numValue(t.num)}, nil
	case tString:
		return &litExpr{v: strValue(t.text)}, nil
	case tParam:
		return p.param(t.text), nil
	case tIdent:
		switch strings.ToUpper(t.text) {
		case "TRUE":
			return &litExpr{v: trueValue}, nil
		case "FALSE":
			return &litExpr{v: falseVal}, nil
		case "NULL":
			return &litExpr{v: nullValue}, nil
		case "UNDEFINED":
			return &litExpr{v: undefined}, nil
		}
		if p.peek().is("(") {
			return p.call(t)
		}
		if strings.EqualFold(t.text, "udf") && p.peek().is(".") {
			return nil, resource.BadRequestf("User-defined functions are not supported (line %d, column %d).", t.line, t.col)
		}
		if isKeyword(t.text) {
			return nil, p.errAt(t)
		}
		v := &varExpr{name: t.text}
		p.vars = append(p.vars, v)
		if p.aggOK && !p.inAgg {
			p.bareRefs++
		}
		return v, nil
	case tPunct:
		switch t.text {
		case "(":
			if p.peek().is("SELECT") {
				s := p.peek()
				return nil, resource.BadRequestf("Subqueries are not supported (line %d, column %d).", s.line, s.col)
			}
			x, err := p.expr()
			if err != nil {
				return nil, err
			}
			if err := p.expect(")"); err != nil {
				return nil, err
			}
			return x, nil
		case "[":
			a := &arrayExpr{}
			if p.accept("]") {
				return a, nil
			}
			for {
				x, err := p.expr()
				if err != nil {
					return nil, err
				}
				a.elems = append(a.elems, x)
				if !p.accept(",") {
					break
				}
			}
			if err := p.expect("]"); err != nil {
				return nil, err
			}
			return a, nil
		case "{":
			o := &objectExpr{}
			if p.accept("}") {
				return o, nil
			}
			for {
				k := p.next()
				if k.kind != tString && k.kind != tIdent {
					return nil, p.errAt(k)
				}
				for _, prev := range o.keys {
					if prev == k.text {
						return nil, resource.BadRequestf("The object property name '%s' is specified more than once.", k.text)
					}
				}
				if err := p.expect(":"); err != nil {
					return nil, err
				}
				x, err := p.expr()
				if err != nil {
					return nil, err
				}
				o.keys = append(o.keys, k.text)
				o.vals = append(o.vals, x)
				if !p.accept(",") {
					break
				}
			}
			if err := p.expect("}"); err != nil {
				return nil, err
			}
			return o, nil
		}
	}
	return nil, p.errAt(t)
}

// call parses a function call; the name token has been consumed.
func (p *parser) call(name token) (expr, error) {
	upperName := strings.ToUpper(name.text)
	p.next() // "("
	if upperName == "EXISTS" || upperName == "ARRAY" {
		return nil, resource.BadRequestf("Subqueries are not supported (line %d, column %d).", name.line, name.col)
	}
	isAgg := aggregateNames[upperName]
	if isAgg {
		if !p.aggOK || p.inAgg {
			return nil, resource.BadRequestf("Aggregate function '%s' is not allowed here (line %d, column %d).", upperName, name.line, name.col)
		}
		p.inAgg = true
		defer func() { p.inAgg = false }()
	}
	var args []expr
	if !p.accept(")") {
		for {
			x, err := p.expr()
			if err != nil {
				return nil, err
			}
			args = append(args, x)
			if !p.accept(",") {
				break
			}
		}
		if err := p.expect(")"); err != nil {
			return nil, err
		}
	}
	if isAgg {
		if len(args) != 1 {
			return nil, resource.BadRequestf("The %s function requires 1 argument(s).", upperName)
		}
		a := &aggExpr{fn: upperName, arg: args[0], slot: len(p.aggs)}
		p.aggs = append(p.aggs, a)
		return a, nil
	}
	b, ok := builtins[upperName]
	if !ok {
		return nil, resource.BadRequestf("'%s' is not a recognized built-in function name.", name.text)
	}
	if len(args) < b.min || len(args) > b.max {
		return nil, resource.BadRequestf("The %s function requires %d to %d argument(s), got %d.", upperName, b.min, b.max, len(args))
	}
	return &callExpr{name: upperName, fn: b.fn, args: args}, nil
}
