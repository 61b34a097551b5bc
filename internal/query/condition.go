package query

import (
	"github.com/meridiandb/meridian/internal/resource"
)

// Condition is a filter in the form used by patch conditions:
// "FROM c WHERE <expr>" (keywords case-insensitive, any alias).
type Condition struct {
	q *Query
}

// ParseCondition parses a patch condition. A condition without WHERE
// matches every document.
func ParseCondition(text string) (*Condition, error) {
	toks, err := lex(text)
	if err != nil {
		return nil, err
	}
	if !toks[0].is("FROM") {
		return nil, p0(toks[0])
	}
	// Parse as "SELECT * <text>" with the caller's token positions.
	toks = append([]token{{kind: tIdent, text: "SELECT", raw: "SELECT"}, {kind: tPunct, text: "*", raw: "*"}}, toks...)
	p := &parser{toks: toks, text: text, params: map[string]int{}}
	q, err := p.query()
	if err != nil {
		return nil, err
	}
	q.text = text
	if len(q.params) > 0 {
		return nil, resource.BadRequestf("Parameters are not allowed in a patch condition.")
	}
	if q.from.path != nil || len(q.joins) > 0 || len(q.orderBy) > 0 || q.offset != nil {
		return nil, resource.BadRequestf("A patch condition must have the form 'FROM <alias> WHERE <condition>'.")
	}
	return &Condition{q: q}, nil
}

func p0(t token) error {
	if t.kind == tEOF {
		return resource.BadRequestf("Syntax error, the condition is empty.")
	}
	return syntaxError(t.raw, t.line, t.col)
}

// Match reports whether doc satisfies the condition. A condition that
// evaluates to anything but true (false, undefined, a non-boolean) does not
// match.
func (c *Condition) Match(doc []byte) (bool, error) {
	v, err := parseJSONFields(doc, c.q.fields)
	if err != nil {
		return false, resource.BadRequestf("The document is not valid JSON.")
	}
	if c.q.where == nil {
		return true, nil
	}
	e := &env{vars: make([]Value, c.q.nvars)}
	e.vars[0] = v
	return c.q.where.eval(e).isTrue(), nil
}
