package document

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/meridiandb/meridian/internal/resource"
)

// systemProps are set by the server; values sent by clients are dropped.
var systemProps = map[string]bool{"_rid": true, "_self": true, "_etag": true, "_ts": true, "_attachments": true, "_lsn": true}

// MaxDepth bounds nesting in item bodies.
const MaxDepth = 128

// Member is one top-level property with its compact raw JSON value.
type Member struct {
	Key string
	Raw json.RawMessage
}

// Doc is a parsed item body.
type Doc struct {
	ID      string
	Members []Member // user properties in order, without system properties
}

// Parse validates an item body: a JSON object with a valid string "id",
// no duplicate top-level properties, nesting at most MaxDepth.
func Parse(body []byte) (*Doc, error) {
	if len(body) > resource.MaxItemSize {
		return nil, resource.ErrTooLarge
	}
	var compact bytes.Buffer
	compact.Grow(len(body))
	if err := json.Compact(&compact, body); err != nil {
		return nil, resource.BadRequestf("The request body is not valid JSON: %v", err)
	}
	b := compact.Bytes()
	if len(b) == 0 || b[0] != '{' {
		return nil, resource.BadRequestf("The request body must be a JSON object.")
	}
	if depth(b) > MaxDepth {
		return nil, resource.BadRequestf("The document is nested more than %d levels deep.", MaxDepth)
	}
	// b is valid, compact JSON (json.Compact checked it): split the
	// top-level members with a byte scan instead of a token decoder.
	d := &Doc{Members: make([]Member, 0, 16)}
	seen := make(map[string]bool, 16)
	i := 1 // after '{'
	for i < len(b) && b[i] != '}' {
		if b[i] == ',' {
			i++
		}
		kEnd := stringEnd(b, i)
		rawKey := b[i:kEnd]
		key, err := unquote(rawKey)
		if err != nil {
			return nil, resource.BadRequestf("The request body is not valid JSON: %v", err)
		}
		vStart := kEnd + 1 // skip ':'
		vEnd := valueEnd(b, vStart)
		raw := json.RawMessage(b[vStart:vEnd:vEnd])
		i = vEnd
		if seen[key] {
			return nil, resource.BadRequestf("The document has the property %q more than once.", key)
		}
		seen[key] = true
		if systemProps[key] {
			continue
		}
		if key == "id" {
			var id string
			if err := json.Unmarshal(raw, &id); err != nil {
				return nil, resource.BadRequestf("The property 'id' must be a string.")
			}
			if err := resource.ValidateID(id); err != nil {
				return nil, err
			}
			d.ID = id
		}
		d.Members = append(d.Members, Member{Key: key, Raw: raw})
	}
	if d.ID == "" {
		return nil, resource.BadRequestf("The input content is invalid because the required properties - 'id; ' - are missing.")
	}
	return d, nil
}

// depth returns the maximum nesting of objects and arrays in compact JSON.
func depth(b []byte) int {
	max, cur := 0, 0
	inStr, esc := false, false
	for _, c := range b {
		switch {
		case esc:
			esc = false
		case inStr:
			if c == '\\' {
				esc = true
			} else if c == '"' {
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == '{' || c == '[':
			cur++
			if cur > max {
				max = cur
			}
		case c == '}' || c == ']':
			cur--
		}
	}
	return max
}

// Get returns the raw value of a top-level property.
func (d *Doc) Get(key string) (json.RawMessage, bool) {
	for _, m := range d.Members {
		if m.Key == key {
			return m.Raw, true
		}
	}
	return nil, false
}

// Tree decodes the top-level properties named in keys (nil: all) into a map
// with json.Number numbers, for partition-key extraction and filters.
func (d *Doc) Tree(keys ...string) (map[string]any, error) {
	out := make(map[string]any, len(keys))
	for _, m := range d.Members {
		if keys != nil && !contains(keys, m.Key) {
			continue
		}
		v, err := DecodeValue(m.Raw)
		if err != nil {
			return nil, err
		}
		out[m.Key] = v
	}
	return out, nil
}

// DecodeValue decodes raw JSON keeping numbers as json.Number.
func DecodeValue(raw []byte) (any, error) {
	if v, ok := decodeScalar(raw); ok {
		return v, nil
	}
	return decodeValueSlow(raw)
}

// decodeScalar decodes the values a partition key usually is, a string
// without escapes, a number, a boolean or null, without a json.Decoder
// (whose buffers were 2.6 KB of garbage per write). ok is false for
// anything else, which DecodeValue leaves to the decoder.
func decodeScalar(raw []byte) (v any, ok bool) {
	switch string(raw) {
	case "true":
		return true, true
	case "false":
		return false, true
	case "null":
		return nil, true
	}
	if len(raw) == 0 {
		return nil, false
	}
	switch c := raw[0]; {
	case c == '"':
		if len(raw) < 2 || raw[len(raw)-1] != '"' || !utf8.Valid(raw) {
			return nil, false
		}
		for _, b := range raw[1 : len(raw)-1] {
			if b == '\\' || b == '"' || b < 0x20 {
				return nil, false
			}
		}
		return string(raw[1 : len(raw)-1]), true
	case c == '-' || ('0' <= c && c <= '9'):
		if last := raw[len(raw)-1]; last < '0' || last > '9' || !json.Valid(raw) { // a digit last: no trailing space
			return nil, false
		}
		return json.Number(raw), true
	}
	return nil, false
}

func decodeValueSlow(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, resource.BadRequestf("invalid JSON value: %v", err)
	}
	return v, nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// TopLevelOf returns the first segment of a partition-key path ("/a/b" -> "a").
func TopLevelOf(path string) string {
	p := strings.TrimPrefix(path, "/")
	if i := strings.IndexByte(p, '/'); i >= 0 {
		p = p[:i]
	}
	return unescapePathSegment(p)
}

func unescapePathSegment(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		if u, err := strconv.Unquote(s); err == nil {
			return u
		}
	}
	return s
}

// TTL returns the item's own "ttl" in seconds: set is false when the
// property is absent; -1 means never expire. A non-integer ttl is a 400.
func (d *Doc) TTL() (ttl int64, set bool, err error) {
	raw, ok := d.Get("ttl")
	if !ok || string(raw) == "null" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(string(raw), 10, 32)
	if err != nil || n == 0 || n < -1 {
		return 0, false, resource.BadRequestf("The property 'ttl' must be a positive integer number of seconds or -1.")
	}
	return n, true, nil
}

// System holds the system properties of a stored item.
type System struct {
	RID  string
	Self string
	ETag string // quoted, e.g. "\"0000...\""
	TS   int64
}

// Render returns the stored JSON: user properties in order, then _rid,
// _self, _etag, _attachments and _ts.
func (d *Doc) Render(s System) []byte {
	n := 96 + len(s.RID) + len(s.Self) + len(s.ETag)
	for _, m := range d.Members {
		n += len(m.Key) + len(m.Raw) + 4
	}
	out := make([]byte, 0, n)
	out = append(out, '{')
	for i, m := range d.Members {
		if i > 0 {
			out = append(out, ',')
		}
		out = AppendString(out, m.Key)
		out = append(out, ':')
		out = append(out, m.Raw...)
	}
	if len(d.Members) > 0 {
		out = append(out, ',')
	}
	out = append(out, `"_rid":`...)
	out = AppendString(out, s.RID)
	out = append(out, `,"_self":`...)
	out = AppendString(out, s.Self)
	out = append(out, `,"_etag":`...)
	out = AppendString(out, s.ETag)
	out = append(out, `,"_attachments":"attachments/","_ts":`...)
	out = strconv.AppendInt(out, s.TS, 10)
	return append(out, '}')
}

// AppendString appends s as a JSON string literal.
func AppendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

// stringEnd returns the index just past the JSON string starting at b[i]
// (a '"'). b is valid JSON.
func stringEnd(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(b)
}

// valueEnd returns the index just past the compact JSON value at b[i].
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return len(b)
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = stringEnd(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	default: // number, true, false, null: up to the next delimiter
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' {
			j++
		}
		return j
	}
}

// unquote decodes a JSON string literal, fast when it has no escapes.
func unquote(raw []byte) (string, error) {
	if len(raw) < 2 {
		return "", errors.New("bad string")
	}
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner), nil
	}
	// Escapes, or invalid UTF-8 (replaced by U+FFFD, as encoding/json does).
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}
