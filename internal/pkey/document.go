package pkey

import (
	"encoding/json"
	"strings"

	"github.com/meridiandb/meridian/internal/resource"
)

// FromDocument extracts the partition key of a document decoded by
// encoding/json with UseNumber (map[string]any, []any, json.Number, string,
// bool, nil; float64 is accepted too) by following each path of def.
//
// A path that is missing, or that crosses a non-object value, gives
// Undefined{} for its component. An object or array at the end of a path is a
// 400, and so is any component Validate would reject (non-finite or
// out-of-range number, strings over MaxValueBytes). Path segments may be
// double-quoted (/"a/b"/c) to contain '/'. The result has len(def.Paths)
// components.
func FromDocument(doc map[string]any, def resource.PartitionKeyDefinition) (Key, error) {
	def, err := normalized(def)
	if err != nil {
		return nil, err
	}
	k := make(Key, 0, len(def.Paths))
	for _, path := range def.Paths {
		segs, err := splitPath(path)
		if err != nil {
			return nil, err
		}
		v, err := lookup(doc, segs, path)
		if err != nil {
			return nil, err
		}
		k = append(k, v)
	}
	if err := k.validateComponents(); err != nil {
		return nil, err
	}
	return k, nil
}

func lookup(doc map[string]any, segs []string, path string) (any, error) {
	var cur any = doc
	for _, s := range segs {
		m, ok := cur.(map[string]any)
		if !ok {
			return Undefined{}, nil
		}
		cur, ok = m[s]
		if !ok {
			return Undefined{}, nil
		}
	}
	switch x := cur.(type) {
	case map[string]any, []any:
		return nil, resource.BadRequestf("The value at partition key path %s is an %s: a partition key value must be a string, number, boolean or null.", path, typeName(x))
	case json.Number:
		c, ok := component(x)
		if !ok {
			return nil, resource.BadRequestf("The number %s at partition key path %s is out of range.", string(x), path)
		}
		return c, nil
	}
	c, ok := component(cur)
	if !ok {
		return nil, resource.BadRequestf("The value at partition key path %s has unsupported type %T.", path, cur)
	}
	return c, nil
}

// splitPath splits "/a/b" into its segments. A segment may be a JSON string
// literal ("/\"a/b\"/c"), whose content may contain '/'.
func splitPath(path string) ([]string, error) {
	bad := func() error {
		return resource.BadRequestf("The partition key path %q is invalid: it must look like /field or /a/b.", path)
	}
	if len(path) < 2 || path[0] != '/' {
		return nil, bad()
	}
	var segs []string
	rest := path[1:]
	for {
		var seg string
		if strings.HasPrefix(rest, `"`) {
			end := 1
			for end < len(rest) && rest[end] != '"' {
				if rest[end] == '\\' {
					end++
				}
				end++
			}
			if end >= len(rest) {
				return nil, bad()
			}
			if err := json.Unmarshal([]byte(rest[:end+1]), &seg); err != nil {
				return nil, bad()
			}
			rest = rest[end+1:]
			if rest != "" && rest[0] != '/' {
				return nil, bad()
			}
		} else {
			i := strings.IndexByte(rest, '/')
			if i < 0 {
				i = len(rest)
			}
			seg, rest = rest[:i], rest[i:]
			if seg == "" {
				return nil, bad()
			}
		}
		segs = append(segs, seg)
		if rest == "" {
			return segs, nil
		}
		rest = rest[1:] // the '/'
		if rest == "" {
			return nil, bad()
		}
	}
}
