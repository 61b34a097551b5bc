package patch

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/meridiandb/meridian/internal/query"
	"github.com/meridiandb/meridian/internal/resource"
)

// MaxOperations is the most operations one patch request may carry.
const MaxOperations = 10

// Parse accepts {"condition": "...", "operations": [...]} (Go SDK) or a
// bare JSON array of operations (Node SDK), and validates it.
func Parse(body []byte) (*Spec, error) {
	body = bytes.TrimSpace(body)
	var s Spec
	switch {
	case len(body) > 0 && body[0] == '[':
		if err := json.Unmarshal(body, &s.Operations); err != nil {
			return nil, resource.BadRequestf("The patch request body is not a valid JSON array of operations: %v", err)
		}
	case len(body) > 0 && body[0] == '{':
		if err := json.Unmarshal(body, &s); err != nil {
			return nil, resource.BadRequestf("The patch request body is not valid: %v", err)
		}
	default:
		return nil, resource.BadRequestf("The patch request body must be a JSON object or array.")
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	if s.Condition != "" {
		if _, err := query.ParseCondition(s.Condition); err != nil {
			return nil, err
		}
	}
	return &s, nil
}

// validate checks the operation list: count, op names, paths, values.
func (s *Spec) validate() error {
	if len(s.Operations) == 0 {
		return resource.BadRequestf("The patch request must contain at least one operation.")
	}
	if len(s.Operations) > MaxOperations {
		return resource.BadRequestf("The number of patch operations (%d) exceeds the limit of %d.", len(s.Operations), MaxOperations)
	}
	for i := range s.Operations {
		op := &s.Operations[i]
		switch strings.ToLower(op.Op) {
		case "add", "set", "replace", "incr":
			if len(op.Value) > 0 && !json.Valid(op.Value) {
				return resource.BadRequestf("Patch operation %d: the value is not valid JSON.", i)
			}
			if strings.EqualFold(op.Op, "incr") {
				if len(op.Value) == 0 {
					return resource.BadRequestf("Patch operation %d: incr requires a numeric value.", i)
				}
				if _, ok := parseNumber(op.Value); !ok {
					return resource.BadRequestf("Patch operation %d: incr requires a numeric value.", i)
				}
			}
		case "remove":
		case "move":
			if op.From == "" {
				return resource.BadRequestf("Patch operation %d: move requires 'from'.", i)
			}
			from, err := parsePath(op.From)
			if err != nil {
				return resource.BadRequestf("Patch operation %d: invalid from path '%s': %s", i, op.From, err.Msg)
			}
			to, _ := parsePath(op.Path)
			if isPrefix(from, to) {
				return resource.BadRequestf("Patch operation %d: cannot move '%s' into itself ('%s').", i, op.From, op.Path)
			}
		default:
			return resource.BadRequestf("Patch operation %d: unknown operation type '%s'.", i, op.Op)
		}
		if _, err := parsePath(op.Path); err != nil {
			return resource.BadRequestf("Patch operation %d: invalid path '%s': %s", i, op.Path, err.Msg)
		}
	}
	return nil
}

func isPrefix(prefix, path []string) bool {
	if len(prefix) > len(path) {
		return false
	}
	for i := range prefix {
		if prefix[i] != path[i] {
			return false
		}
	}
	return true
}

// systemProperties cannot be patched.
var systemProperties = map[string]bool{
	"id": true, "_rid": true, "_self": true, "_etag": true, "_ts": true, "_attachments": true,
}

// parsePath splits a JSON-pointer style path ("/a/b/0", ~0 and ~1
// escapes) into unescaped segments.
func parsePath(p string) ([]string, *resource.Error) {
	if p == "" || p[0] != '/' {
		return nil, resource.BadRequestf("the path must start with '/'")
	}
	if p == "/" {
		return nil, resource.BadRequestf("the path cannot target the document root")
	}
	segs := strings.Split(p[1:], "/")
	for i, s := range segs {
		if strings.Contains(s, "~") {
			var b strings.Builder
			for j := 0; j < len(s); j++ {
				if s[j] != '~' {
					b.WriteByte(s[j])
					continue
				}
				if j+1 >= len(s) || (s[j+1] != '0' && s[j+1] != '1') {
					return nil, resource.BadRequestf("invalid escape '~' in the path")
				}
				if s[j+1] == '0' {
					b.WriteByte('~')
				} else {
					b.WriteByte('/')
				}
				j++
			}
			segs[i] = b.String()
		}
	}
	if systemProperties[segs[0]] {
		return nil, resource.BadRequestf("the path targets the system property '%s', which cannot be patched", segs[0])
	}
	return segs, nil
}
