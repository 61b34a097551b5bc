package pkey

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Undefined marks a partition key component whose path is absent from the
// document (Cosmos DB's "undefined", sent by SDKs as {}).
type Undefined struct{}

// Key is a partition key value: one component per path of the container's
// definition. Components are nil (JSON null), bool, float64, string or
// Undefined{}. A nil Key means "no partition key given" (cross-partition).
type Key []any

// component normalises one component: every Go numeric type and json.Number
// become float64 (-0 becomes 0); *Undefined becomes Undefined{}. ok is false
// for a type that cannot be a partition key component.
func component(v any) (c any, ok bool) {
	switch x := v.(type) {
	case nil, bool, string, Undefined:
		return v, true
	case *Undefined:
		return Undefined{}, true
	case float64:
		return normFloat(x), true
	case float32:
		return normFloat(float64(x)), true
	case int:
		return float64(x), true
	case int8:
		return float64(x), true
	case int16:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint8:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return nil, false
		}
		return normFloat(f), true
	}
	return nil, false
}

// normFloat maps -0 to 0 and every NaN to one NaN, so that equal numbers have
// one representation.
func normFloat(f float64) float64 {
	if f == 0 {
		return 0
	}
	if math.IsNaN(f) {
		return math.NaN()
	}
	return f
}

// typeName names a component's type for error messages.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case float64:
		return "number"
	case Undefined:
		return "undefined"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	if _, ok := component(v); ok {
		return "number"
	}
	return "unsupported type"
}

// JSON returns the canonical header form of k, as sent in
// x-ms-documentdb-partitionkey: a JSON array such as ["p1"], [5], [true],
// [null], [{}] or ["a",2]. The result is ASCII-only valid JSON (non-ASCII
// characters are \u escaped), so it is safe in an HTTP header, and
// ParseHeader(k.JSON()) is Equal to k. A nil or empty Key gives "[]".
// Components that Validate rejects are written in a form ParseHeader rejects
// too (NaN, Infinity, -Infinity, or <unsupported T> for a Go type T).
func (k Key) JSON() string {
	var b strings.Builder
	b.WriteByte('[')
	for i, v := range k {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSONComponent(&b, v)
	}
	b.WriteByte(']')
	return b.String()
}

func writeJSONComponent(b *strings.Builder, v any) {
	c, ok := component(v)
	if !ok {
		fmt.Fprintf(b, "<unsupported %T>", v)
		return
	}
	switch x := c.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case Undefined:
		b.WriteString("{}")
	case string:
		writeJSONString(b, x)
	case float64:
		b.WriteString(formatNumber(x))
	}
}

// formatNumber formats a float64 as JSON does (encoding/json's float format),
// with NaN and the infinities spelled as in JavaScript.
func formatNumber(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	bs, err := json.Marshal(f)
	if err != nil { // unreachable for finite values
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return string(bs)
}

const hexDigits = "0123456789abcdef"

// writeJSONString writes s as an ASCII-only JSON string. Invalid UTF-8 bytes
// are written as U+FFFD, as encoding/json does.
func writeJSONString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			writeU(b, r)
		case r < utf8.RuneSelf:
			b.WriteByte(byte(r))
		case r > 0xFFFF:
			r1, r2 := utf16.EncodeRune(r)
			writeU(b, r1)
			writeU(b, r2)
		default:
			writeU(b, r)
		}
	}
	b.WriteByte('"')
}

func writeU(b *strings.Builder, r rune) {
	b.WriteString(`\u`)
	b.WriteByte(hexDigits[r>>12&0xF])
	b.WriteByte(hexDigits[r>>8&0xF])
	b.WriteByte(hexDigits[r>>4&0xF])
	b.WriteByte(hexDigits[r&0xF])
}

// Equal reports whether k and o have the same components with the same
// types: 1 and 1.0 are equal, "1" and 1 are not, null and Undefined are not.
// A nil Key equals an empty one. Unsupported component types are never equal.
func (k Key) Equal(o Key) bool {
	if len(k) != len(o) {
		return false
	}
	return k.Matches(o)
}

// Matches reports whether document key k matches header key prefix: prefix
// has at most len(k) components and each is equal to k's component at the
// same position. With len(prefix) == len(k) this is Equal; a shorter prefix is
// a MultiHash prefix query. An empty prefix matches every key.
func (k Key) Matches(prefix Key) bool {
	if len(prefix) > len(k) {
		return false
	}
	for i, p := range prefix {
		if !componentEqual(k[i], p) {
			return false
		}
	}
	return true
}

func componentEqual(a, b any) bool {
	ca, ok := component(a)
	if !ok {
		return false
	}
	cb, ok := component(b)
	if !ok {
		return false
	}
	switch x := ca.(type) {
	case nil:
		return cb == nil
	case Undefined:
		_, ok := cb.(Undefined)
		return ok
	case bool:
		y, ok := cb.(bool)
		return ok && x == y
	case string:
		y, ok := cb.(string)
		return ok && x == y
	case float64:
		y, ok := cb.(float64)
		return ok && (x == y || (math.IsNaN(x) && math.IsNaN(y)))
	}
	return false
}
