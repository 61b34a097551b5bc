package query

// children returns the direct sub-expressions of x.
func children(x expr) []expr {
	switch x := x.(type) {
	case *propExpr:
		return []expr{x.x}
	case *indexExpr:
		return []expr{x.x, x.idx}
	case *unaryExpr:
		return []expr{x.x}
	case *andExpr:
		return x.xs
	case *orExpr:
		return x.xs
	case *binaryExpr:
		return []expr{x.l, x.r}
	case *inExpr:
		return append([]expr{x.x}, x.list...)
	case *betweenExpr:
		return []expr{x.x, x.lo, x.hi}
	case *likeExpr:
		if x.esc != nil {
			return []expr{x.x, x.pat, x.esc}
		}
		return []expr{x.x, x.pat}
	case *ternaryExpr:
		return []expr{x.c, x.a, x.b}
	case *coalesceExpr:
		return []expr{x.l, x.r}
	case *arrayExpr:
		return x.elems
	case *objectExpr:
		return x.vals
	case *callExpr:
		return x.args
	case *aggExpr:
		return []expr{x.arg}
	}
	return nil
}

// topLevelFields computes which top-level properties of a document the
// query reads, so documents can be decoded partially. It returns nil when
// the whole document is needed.
func (q *Query) topLevelFields() map[string]bool {
	fields := map[string]bool{}
	all := false
	var visit func(x expr)
	visit = func(x expr) {
		if x == nil || all {
			return
		}
		switch n := x.(type) {
		case *varExpr:
			if n.slot == 0 {
				all = true
			}
			return
		case *propExpr:
			if v, ok := n.x.(*varExpr); ok && v.slot == 0 {
				fields[n.name] = true
				return
			}
		case *indexExpr:
			if v, ok := n.x.(*varExpr); ok && v.slot == 0 {
				if l, ok := n.idx.(*litExpr); ok && l.v.k == kString {
					fields[l.v.str] = true
					return
				}
			}
		}
		for _, c := range children(x) {
			visit(c)
		}
	}
	if q.from.path != nil {
		// Everything else refers to the value at the path, not the document.
		visit(q.from.path)
	} else {
		if q.star && !q.plainStar() {
			return nil
		}
		visit(q.value)
		for _, it := range q.items {
			visit(it.x)
		}
		visit(q.where)
		for _, j := range q.joins {
			visit(j.x)
		}
		for _, g := range q.groupBy {
			visit(g)
		}
		for _, o := range q.orderBy {
			visit(o.x)
		}
	}
	if all {
		return nil
	}
	return fields
}

// maxTreeDepth bounds the height of an expression tree (operator chains
// such as a+b+c+... grow it without nesting), so evaluation recursion is
// bounded too.
const maxTreeDepth = 2 * maxDepth

// tooDeep reports whether x is taller than maxTreeDepth - d. Its own
// recursion stops at the limit.
func tooDeep(x expr, d int) bool {
	if x == nil {
		return false
	}
	if d > maxTreeDepth {
		return true
	}
	for _, c := range children(x) {
		if tooDeep(c, d+1) {
			return true
		}
	}
	return false
}

// exprs returns every top-level expression of the query.
func (q *Query) exprs() []expr {
	xs := []expr{q.value, q.where, q.top, q.offset, q.limit, q.from.path}
	for _, it := range q.items {
		xs = append(xs, it.x)
	}
	for _, j := range q.joins {
		xs = append(xs, j.x)
	}
	xs = append(xs, q.groupBy...)
	for _, o := range q.orderBy {
		xs = append(xs, o.x)
	}
	return xs
}
