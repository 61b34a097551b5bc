package query

import (
	"math"
)

// env is the evaluation context of one row.
type env struct {
	vars   []Value // bound aliases, by slot
	params []Value // query parameters, by slot
	aggs   []Value // finished aggregates, by slot (projection of a group)
}

// expr is a compiled scalar expression.
type expr interface {
	eval(e *env) Value
}

type litExpr struct{ v Value }

func (x *litExpr) eval(*env) Value { return x.v }

type varExpr struct {
	name string
	slot int
}

func (x *varExpr) eval(e *env) Value {
	if x.slot < len(e.vars) {
		return e.vars[x.slot]
	}
	return undefined
}

type paramExpr struct {
	name string
	slot int
}

func (x *paramExpr) eval(e *env) Value {
	if x.slot < len(e.params) {
		return e.params[x.slot]
	}
	return undefined
}

type propExpr struct {
	x    expr
	name string
}

func (x *propExpr) eval(e *env) Value { return x.x.eval(e).get(x.name) }

type indexExpr struct {
	x, idx expr
}

func (x *indexExpr) eval(e *env) Value {
	v := x.x.eval(e)
	i := x.idx.eval(e)
	switch i.k {
	case kString:
		return v.get(i.str)
	case kNumber:
		return v.index(i.num)
	}
	return undefined
}

type unaryExpr struct {
	op string
	x  expr
}

func (x *unaryExpr) eval(e *env) Value {
	v := x.x.eval(e)
	switch x.op {
	case "NOT":
		if v.k != kBool {
			return undefined
		}
		return boolValue(v.num == 0)
	case "-":
		if v.k == kNumber {
			return numValue(-v.num)
		}
	case "+":
		if v.k == kNumber {
			return v
		}
	case "~":
		if v.k == kNumber {
			return numValue(float64(^toInt64(v.num)))
		}
	}
	return undefined
}

// andExpr is an n-ary AND (chains are flattened so that long generated
// filters do not build deep trees). Kleene logic: false wins, then
// undefined.
type andExpr struct{ xs []expr }

func (x *andExpr) eval(e *env) Value {
	all := true
	for _, sub := range x.xs {
		v := sub.eval(e)
		if v.k == kBool && v.num == 0 {
			return falseVal
		}
		if !v.isTrue() {
			all = false
		}
	}
	if all {
		return trueValue
	}
	return undefined
}

// orExpr is an n-ary OR: true wins, then undefined.
type orExpr struct{ xs []expr }

func (x *orExpr) eval(e *env) Value {
	allBool := true
	for _, sub := range x.xs {
		v := sub.eval(e)
		if v.isTrue() {
			return trueValue
		}
		if v.k != kBool {
			allBool = false
		}
	}
	if allBool {
		return falseVal
	}
	return undefined
}

type binaryExpr struct {
	op   string
	l, r expr
}

func (x *binaryExpr) eval(e *env) Value {
	l := x.l.eval(e)
	r := x.r.eval(e)
	return applyBinary(x.op, l, r)
}

func applyBinary(op string, l, r Value) Value {
	switch op {
	case "=":
		return equal(l, r)
	case "!=", "<>":
		v := equal(l, r)
		if v.k == kBool {
			return boolValue(v.num == 0)
		}
		return v
	case "<", "<=", ">", ">=":
		c, ok := compareScalars(l, r)
		if !ok {
			return undefined
		}
		switch op {
		case "<":
			return boolValue(c < 0)
		case "<=":
			return boolValue(c <= 0)
		case ">":
			return boolValue(c > 0)
		}
		return boolValue(c >= 0)
	case "||":
		if l.k == kString && r.k == kString {
			return strValue(l.str + r.str)
		}
		return undefined
	}
	if l.k != kNumber || r.k != kNumber {
		return undefined
	}
	a, b := l.num, r.num
	switch op {
	case "+":
		return numValue(a + b)
	case "-":
		return numValue(a - b)
	case "*":
		return numValue(a * b)
	case "/":
		return numValue(a / b)
	case "%":
		return numValue(math.Mod(a, b))
	case "&":
		return numValue(float64(toInt64(a) & toInt64(b)))
	case "|":
		return numValue(float64(toInt64(a) | toInt64(b)))
	case "^":
		return numValue(float64(toInt64(a) ^ toInt64(b)))
	case "<<":
		return numValue(float64(int32(toInt64(a)) << (uint64(toInt64(b)) & 31)))
	case ">>":
		return numValue(float64(int32(toInt64(a)) >> (uint64(toInt64(b)) & 31)))
	case ">>>":
		return numValue(float64(uint32(toInt64(a)) >> (uint64(toInt64(b)) & 31)))
	}
	return undefined
}

func toInt64(f float64) int64 {
	if math.IsNaN(f) || f > math.MaxInt64 || f < math.MinInt64 {
		return 0
	}
	return int64(f)
}

type inExpr struct {
	x    expr
	list []expr
	not  bool
}

func (x *inExpr) eval(e *env) Value {
	v := x.x.eval(e)
	if v.k == kUndefined {
		return undefined
	}
	found := false
	for _, item := range x.list {
		if deepEqual(v, item.eval(e)) {
			found = true
			break
		}
	}
	return boolValue(found != x.not)
}

type betweenExpr struct {
	x, lo, hi expr
	not       bool
}

func (x *betweenExpr) eval(e *env) Value {
	v := x.x.eval(e)
	c1, ok1 := compareScalars(v, x.lo.eval(e))
	c2, ok2 := compareScalars(v, x.hi.eval(e))
	if !ok1 || !ok2 {
		return undefined
	}
	return boolValue((c1 >= 0 && c2 <= 0) != x.not)
}

type likeExpr struct {
	x, pat, esc expr // esc may be nil
	not         bool
}

func (x *likeExpr) eval(e *env) Value {
	v := x.x.eval(e)
	p := x.pat.eval(e)
	if v.k != kString || p.k != kString {
		return undefined
	}
	esc := rune(-1)
	if x.esc != nil {
		ev := x.esc.eval(e)
		if ev.k != kString || len([]rune(ev.str)) != 1 {
			return undefined
		}
		esc = []rune(ev.str)[0]
	}
	return boolValue(likeMatch([]rune(v.str), []rune(p.str), esc) != x.not)
}

// likeMatch matches s against a LIKE pattern: % any run, _ one character,
// [abc] [a-z] [^a] character sets, esc escaping the next character. It runs
// in O(len(s)*len(p)) time.
func likeMatch(s, p []rune, esc rune) bool {
	// Compile the pattern into items.
	type item struct {
		any   bool // %
		one   bool // _
		lit   rune
		set   []rune // pairs lo,hi
		neg   bool
		isSet bool
	}
	var items []item
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == esc && i+1 < len(p):
			i++
			items = append(items, item{lit: p[i]})
		case c == '%':
			if len(items) == 0 || !items[len(items)-1].any {
				items = append(items, item{any: true})
			}
		case c == '_':
			items = append(items, item{one: true})
		case c == '[':
			j := i + 1
			it := item{isSet: true}
			if j < len(p) && p[j] == '^' {
				it.neg = true
				j++
			}
			start := j
			for j < len(p) && (p[j] != ']' || j == start) {
				if j+2 < len(p) && p[j+1] == '-' && p[j+2] != ']' {
					it.set = append(it.set, p[j], p[j+2])
					j += 3
					continue
				}
				it.set = append(it.set, p[j], p[j])
				j++
			}
			if j >= len(p) {
				items = append(items, item{lit: '['})
				continue
			}
			items = append(items, it)
			i = j
		default:
			items = append(items, item{lit: c})
		}
	}
	matchOne := func(it item, r rune) bool {
		switch {
		case it.one:
			return true
		case it.isSet:
			in := false
			for k := 0; k+1 < len(it.set); k += 2 {
				if r >= it.set[k] && r <= it.set[k+1] {
					in = true
					break
				}
			}
			return in != it.neg
		}
		return it.lit == r
	}
	// Dynamic programming over pattern positions.
	cur := make([]bool, len(items)+1)
	next := make([]bool, len(items)+1)
	cur[0] = true
	for j := 0; j < len(items) && items[j].any; j++ {
		cur[j+1] = true
	}
	for _, r := range s {
		for j := range next {
			next[j] = false
		}
		for j, it := range items {
			if !cur[j] {
				continue
			}
			if it.any {
				next[j] = true
			} else if matchOne(it, r) {
				next[j+1] = true
			}
		}
		for j := 0; j < len(items); j++ {
			if next[j] && items[j].any {
				next[j+1] = true
			}
		}
		cur, next = next, cur
	}
	return cur[len(items)]
}

type ternaryExpr struct{ c, a, b expr }

func (x *ternaryExpr) eval(e *env) Value {
	if x.c.eval(e).isTrue() {
		return x.a.eval(e)
	}
	return x.b.eval(e)
}

type coalesceExpr struct{ l, r expr }

func (x *coalesceExpr) eval(e *env) Value {
	if v := x.l.eval(e); v.k != kUndefined {
		return v
	}
	return x.r.eval(e)
}

type arrayExpr struct{ elems []expr }

func (x *arrayExpr) eval(e *env) Value {
	arr := make([]Value, 0, len(x.elems))
	for _, el := range x.elems {
		// Undefined elements are dropped, as Cosmos does.
		if v := el.eval(e); v.k != kUndefined {
			arr = append(arr, v)
		}
	}
	return Value{k: kArray, arr: arr}
}

type objectExpr struct {
	keys []string
	vals []expr
}

func (x *objectExpr) eval(e *env) Value {
	ms := make([]member, 0, len(x.keys))
	for i, k := range x.keys {
		if v := x.vals[i].eval(e); v.k != kUndefined {
			ms = append(ms, member{key: k, val: v})
		}
	}
	return Value{k: kObject, obj: ms}
}

type callExpr struct {
	name string
	fn   func(args []Value) Value
	args []expr
}

func (x *callExpr) eval(e *env) Value {
	var buf [4]Value
	args := buf[:0]
	for _, a := range x.args {
		args = append(args, a.eval(e))
	}
	return x.fn(args)
}

// aggExpr is an aggregate call; during projection of a group it reads the
// finished value computed by the group's accumulator.
type aggExpr struct {
	fn   string // COUNT, SUM, MIN, MAX, AVG
	arg  expr
	slot int
}

func (x *aggExpr) eval(e *env) Value {
	if x.slot < len(e.aggs) {
		return e.aggs[x.slot]
	}
	return undefined
}

// propertyName returns the implicit output name of a projected expression,
// or "" when Cosmos would generate "$n".
func propertyName(x expr) string {
	switch x := x.(type) {
	case *propExpr:
		return x.name
	case *varExpr:
		return x.name
	case *indexExpr:
		if l, ok := x.idx.(*litExpr); ok && l.v.k == kString {
			return l.v.str
		}
	}
	return ""
}
