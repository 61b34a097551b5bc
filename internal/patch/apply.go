package patch

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/meridiandb/meridian/internal/query"
	"github.com/meridiandb/meridian/internal/resource"
)

// Apply checks the condition (if any) against doc, then applies the
// operations in order and returns the new JSON. doc is the stored document
// (system properties included; they are left as they are). doc is not
// modified.
func (s *Spec) Apply(doc []byte) ([]byte, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	if s.Condition != "" {
		cond, err := query.ParseCondition(s.Condition)
		if err != nil {
			return nil, err
		}
		ok, err := cond.Match(doc)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, resource.Errorf(resource.KindPreconditionFailed, "Operation cannot be performed because one of the specified precondition is not met.")
		}
	}
	out := bytes.TrimSpace(doc)
	if len(out) == 0 || out[0] != '{' {
		return nil, resource.BadRequestf("The document to patch is not a JSON object.")
	}
	for i, op := range s.Operations {
		next, err := applyOp(out, op)
		if err != nil {
			return nil, resource.BadRequestf("Patch operation %d (%s '%s') failed: %s", i, strings.ToLower(op.Op), op.Path, err.Msg)
		}
		out = next
	}
	if &out[0] == &doc[0] {
		out = append([]byte(nil), out...)
	}
	return out, nil
}

func applyOp(doc []byte, op Operation) ([]byte, *resource.Error) {
	path, perr := parsePath(op.Path)
	if perr != nil {
		return nil, perr
	}
	value := op.Value
	if len(value) == 0 {
		// The Go SDK omits a nil value (omitempty): it means null.
		value = json.RawMessage("null")
	}
	parent, last := path[:len(path)-1], path[len(path)-1]
	switch strings.ToLower(op.Op) {
	case "add":
		return modify(doc, parent, func(c *container) *resource.Error {
			return add(c, last, value)
		})
	case "set":
		return modify(doc, parent, func(c *container) *resource.Error {
			if !c.array {
				c.setMember(last, value)
				return nil
			}
			i, ok := arrayIndex(last)
			switch {
			case ok && i < len(c.vals):
				c.vals[i] = value
			case last == "-" || (ok && i == len(c.vals)):
				c.vals = append(c.vals, value)
			default:
				return resource.BadRequestf("the array index is out of range")
			}
			return nil
		})
	case "replace":
		return modify(doc, parent, func(c *container) *resource.Error {
			i, ok := c.find(last)
			if !ok {
				return resource.BadRequestf("the path does not exist")
			}
			c.vals[i] = value
			return nil
		})
	case "remove":
		return modify(doc, parent, func(c *container) *resource.Error {
			i, ok := c.find(last)
			if !ok {
				return resource.BadRequestf("the path does not exist")
			}
			c.delete(i)
			return nil
		})
	case "incr":
		return modify(doc, parent, func(c *container) *resource.Error {
			i, ok := c.find(last)
			if !ok {
				if c.array {
					return resource.BadRequestf("the array index is out of range")
				}
				c.setMember(last, value)
				return nil
			}
			sum, err := increment(c.vals[i], value)
			if err != nil {
				return err
			}
			c.vals[i] = sum
			return nil
		})
	case "move":
		from, ferr := parsePath(op.From)
		if ferr != nil {
			return nil, ferr
		}
		var moved json.RawMessage
		doc2, err := modify(doc, from[:len(from)-1], func(c *container) *resource.Error {
			i, ok := c.find(from[len(from)-1])
			if !ok {
				return resource.BadRequestf("the 'from' path does not exist")
			}
			moved = c.vals[i]
			c.delete(i)
			return nil
		})
		if err != nil {
			return nil, err
		}
		return modify(doc2, parent, func(c *container) *resource.Error {
			return add(c, last, moved)
		})
	}
	return nil, resource.BadRequestf("unknown operation type '%s'", op.Op)
}

// add sets an object member or inserts into an array ("-" appends).
func add(c *container, last string, value json.RawMessage) *resource.Error {
	if !c.array {
		c.setMember(last, value)
		return nil
	}
	if last == "-" {
		c.vals = append(c.vals, value)
		return nil
	}
	i, ok := arrayIndex(last)
	if !ok || i > len(c.vals) {
		return resource.BadRequestf("the array index is out of range")
	}
	c.insert(i, value)
	return nil
}

// modify decodes the containers along path, calls fn on the last one and
// re-encodes the path back up. Every container on the path must exist.
func modify(raw []byte, path []string, fn func(c *container) *resource.Error) ([]byte, *resource.Error) {
	c, err := decodeContainer(raw)
	if err != nil {
		return nil, resource.BadRequestf("the path does not exist (it goes through a value that is not an object or array)")
	}
	if len(path) == 0 {
		if err := fn(c); err != nil {
			return nil, err
		}
		return c.encode(), nil
	}
	i, ok := c.find(path[0])
	if !ok {
		return nil, resource.BadRequestf("the path does not exist")
	}
	child, rerr := modify(c.vals[i], path[1:], fn)
	if rerr != nil {
		return nil, rerr
	}
	c.vals[i] = child
	return c.encode(), nil
}

// number is a parsed JSON number: an exact integer when possible.
type number struct {
	isInt bool
	i     int64
	f     float64
}

func parseNumber(raw json.RawMessage) (number, bool) {
	s := strings.TrimSpace(string(raw))
	if s == "" || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')) {
		return number{}, false
	}
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return number{isInt: true, i: i, f: float64(i)}, true
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return number{}, false
	}
	return number{f: f}, true
}

// increment adds two JSON numbers: integer arithmetic when both are
// integers and the sum does not overflow, float64 otherwise.
func increment(cur, by json.RawMessage) (json.RawMessage, *resource.Error) {
	a, ok := parseNumber(cur)
	if !ok {
		return nil, resource.BadRequestf("the target is not a number")
	}
	b, ok := parseNumber(by)
	if !ok {
		return nil, resource.BadRequestf("the increment is not a number")
	}
	if a.isInt && b.isInt {
		s := a.i + b.i
		if (s > a.i) == (b.i > 0) || b.i == 0 {
			return json.RawMessage(strconv.FormatInt(s, 10)), nil
		}
	}
	f := a.f + b.f
	if math.IsInf(f, 0) {
		return nil, resource.BadRequestf("the result is out of range")
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e21 {
		return json.RawMessage(strconv.FormatFloat(f, 'f', -1, 64)), nil
	}
	return json.RawMessage(strconv.FormatFloat(f, 'g', -1, 64)), nil
}
