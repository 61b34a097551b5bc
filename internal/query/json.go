package query

import (
	"bytes"
	"errors"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds the nesting of documents, parameter values and query
// expressions, so no input can exhaust the stack.
const maxDepth = 256

var (
	errJSONSyntax = errors.New("invalid JSON")
	errJSONDepth  = errors.New("JSON nesting too deep")
)

// parseJSON decodes one JSON value. Strings are copied, so the result does
// not alias data.
func parseJSON(data []byte) (Value, error) {
	return parseJSONFields(data, nil)
}

// parseJSONFields is parseJSON, except that when fields is non-nil and the
// value is an object, only its members named in fields are decoded; the
// others are checked for syntax and skipped.
func parseJSONFields(data []byte, fields map[string]bool) (Value, error) {
	p := jsonParser{data: data, fields: fields}
	v, err := p.value(0)
	if err != nil {
		return undefined, err
	}
	p.space()
	if p.pos != len(p.data) {
		return undefined, errJSONSyntax
	}
	return v, nil
}

type jsonParser struct {
	data   []byte
	pos    int
	fields map[string]bool // top-level members to decode; nil: all
}

func (p *jsonParser) space() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *jsonParser) value(depth int) (Value, error) {
	if depth > maxDepth {
		return undefined, errJSONDepth
	}
	p.space()
	if p.pos >= len(p.data) {
		return undefined, errJSONSyntax
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		s, err := p.string()
		return strValue(s), err
	case c == 't':
		return trueValue, p.literal("true")
	case c == 'f':
		return falseVal, p.literal("false")
	case c == 'n':
		return nullValue, p.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	}
	return undefined, errJSONSyntax
}

func (p *jsonParser) literal(word string) error {
	if len(p.data)-p.pos < len(word) || string(p.data[p.pos:p.pos+len(word)]) != word {
		return errJSONSyntax
	}
	p.pos += len(word)
	return nil
}

func (p *jsonParser) object(depth int) (Value, error) {
	p.pos++ // '{'
	var ms []member
	p.space()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return Value{k: kObject, obj: []member{}}, nil
	}
	for {
		p.space()
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return undefined, errJSONSyntax
		}
		if depth == 0 && p.fields != nil {
			keep, err := p.wanted()
			if err != nil {
				return undefined, err
			}
			if !keep {
				if err := p.skipValue(); err != nil {
					return undefined, err
				}
				goto next
			}
		}
		{
			key, err := p.string()
			if err != nil {
				return undefined, err
			}
			p.space()
			if p.pos >= len(p.data) || p.data[p.pos] != ':' {
				return undefined, errJSONSyntax
			}
			p.pos++
			v, err := p.value(depth + 1)
			if err != nil {
				return undefined, err
			}
			ms = append(ms, member{key: key, val: v})
		}
	next:
		p.space()
		if p.pos >= len(p.data) {
			return undefined, errJSONSyntax
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			return Value{k: kObject, obj: ms}, nil
		default:
			return undefined, errJSONSyntax
		}
	}
}

func (p *jsonParser) array(depth int) (Value, error) {
	p.pos++ // '['
	arr := []Value{}
	p.space()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		return Value{k: kArray, arr: arr}, nil
	}
	for {
		v, err := p.value(depth + 1)
		if err != nil {
			return undefined, err
		}
		arr = append(arr, v)
		p.space()
		if p.pos >= len(p.data) {
			return undefined, errJSONSyntax
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			return Value{k: kArray, arr: arr}, nil
		default:
			return undefined, errJSONSyntax
		}
	}
}

func (p *jsonParser) number() (Value, error) {
	start := p.pos
	if _, err := p.numberSpan(); err != nil {
		return undefined, err
	}
	text := string(p.data[start:p.pos])
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		// Out of range: keep the text, clamp the value.
		if f > 0 {
			f = math.MaxFloat64
		} else if f < 0 {
			f = -math.MaxFloat64
		}
	}
	return Value{k: kNumber, num: f, str: text}, nil
}

// numberSpan consumes a JSON number and returns its length.
func (p *jsonParser) numberSpan() (int, error) {
	start := p.pos
	d := p.data
	if p.pos < len(d) && d[p.pos] == '-' {
		p.pos++
	}
	if p.pos >= len(d) {
		return 0, errJSONSyntax
	}
	if d[p.pos] == '0' {
		p.pos++
	} else if d[p.pos] >= '1' && d[p.pos] <= '9' {
		for p.pos < len(d) && d[p.pos] >= '0' && d[p.pos] <= '9' {
			p.pos++
		}
	} else {
		return 0, errJSONSyntax
	}
	if p.pos < len(d) && d[p.pos] == '.' {
		p.pos++
		n := p.pos
		for p.pos < len(d) && d[p.pos] >= '0' && d[p.pos] <= '9' {
			p.pos++
		}
		if p.pos == n {
			return 0, errJSONSyntax
		}
	}
	if p.pos < len(d) && (d[p.pos] == 'e' || d[p.pos] == 'E') {
		p.pos++
		if p.pos < len(d) && (d[p.pos] == '+' || d[p.pos] == '-') {
			p.pos++
		}
		n := p.pos
		for p.pos < len(d) && d[p.pos] >= '0' && d[p.pos] <= '9' {
			p.pos++
		}
		if p.pos == n {
			return 0, errJSONSyntax
		}
	}
	return p.pos - start, nil
}

// wanted reports whether the member key at p.pos is in p.fields. On false
// it consumes the key and the colon; on true it consumes nothing.
func (p *jsonParser) wanted() (bool, error) {
	start := p.pos
	end := start + 1
	for end < len(p.data) && p.data[end] != '"' && p.data[end] != '\\' {
		end++
	}
	if end < len(p.data) && p.data[end] == '"' && p.fields[string(p.data[start+1:end])] {
		return true, nil
	}
	if end >= len(p.data) || p.data[end] == '\\' {
		// Escaped key: decode it to compare.
		key, err := p.string()
		if err != nil {
			return false, err
		}
		if p.fields[key] {
			p.pos = start
			return true, nil
		}
	} else {
		p.pos = end + 1
	}
	p.space()
	if p.pos >= len(p.data) || p.data[p.pos] != ':' {
		return false, errJSONSyntax
	}
	p.pos++
	return false, nil
}

// skipValue consumes one JSON value without building it, checking its
// syntax.
func (p *jsonParser) skipValue() error { return p.skip(1) }

func (p *jsonParser) skip(depth int) error {
	if depth > maxDepth {
		return errJSONDepth
	}
	p.space()
	if p.pos >= len(p.data) {
		return errJSONSyntax
	}
	switch c := p.data[p.pos]; {
	case c == '{' || c == '[':
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		p.pos++
		p.space()
		if p.pos < len(p.data) && p.data[p.pos] == closer {
			p.pos++
			return nil
		}
		for {
			p.space()
			if c == '{' {
				if err := p.skipKey(); err != nil {
					return err
				}
			}
			if err := p.skip(depth + 1); err != nil {
				return err
			}
			p.space()
			if p.pos >= len(p.data) {
				return errJSONSyntax
			}
			switch p.data[p.pos] {
			case ',':
				p.pos++
			case closer:
				p.pos++
				return nil
			default:
				return errJSONSyntax
			}
		}
	case c == '"':
		return p.skipString()
	case c == 't':
		return p.literal("true")
	case c == 'f':
		return p.literal("false")
	case c == 'n':
		return p.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		_, err := p.numberSpan()
		return err
	}
	return errJSONSyntax
}

func (p *jsonParser) skipKey() error {
	if p.pos >= len(p.data) || p.data[p.pos] != '"' {
		return errJSONSyntax
	}
	if err := p.skipString(); err != nil {
		return err
	}
	p.space()
	if p.pos >= len(p.data) || p.data[p.pos] != ':' {
		return errJSONSyntax
	}
	p.pos++
	return nil
}

func (p *jsonParser) skipString() error {
	p.pos++ // '"'
	for {
		i := bytes.IndexByte(p.data[p.pos:], '"')
		if i < 0 {
			return errJSONSyntax
		}
		end := p.pos + i
		backslashes := 0
		for k := end - 1; k >= p.pos && p.data[k] == '\\'; k-- {
			backslashes++
		}
		p.pos = end + 1
		if backslashes%2 == 0 {
			return nil
		}
	}
}

// string decodes a JSON string starting at the opening quote.
func (p *jsonParser) string() (string, error) {
	p.pos++ // '"'
	d := p.data
	start := p.pos
	// Fast path: no escapes.
	for p.pos < len(d) {
		c := d[p.pos]
		if c == '"' {
			s := string(d[start:p.pos])
			p.pos++
			return s, nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", errJSONSyntax
		}
		p.pos++
	}
	buf := append([]byte(nil), d[start:p.pos]...)
	for p.pos < len(d) {
		c := d[p.pos]
		switch {
		case c == '"':
			p.pos++
			return string(buf), nil
		case c < 0x20:
			return "", errJSONSyntax
		case c != '\\':
			buf = append(buf, c)
			p.pos++
			continue
		}
		p.pos++
		if p.pos >= len(d) {
			return "", errJSONSyntax
		}
		e := d[p.pos]
		p.pos++
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", errJSONSyntax
			}
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if p.pos+1 < len(d) && d[p.pos] == '\\' && d[p.pos+1] == 'u' {
					save := p.pos
					p.pos += 2
					var ok2 bool
					r2, ok2 = p.hex4()
					if !ok2 {
						return "", errJSONSyntax
					}
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						r = dec
					} else {
						p.pos = save
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return "", errJSONSyntax
		}
	}
	return "", errJSONSyntax
}

func (p *jsonParser) hex4() (rune, bool) {
	if p.pos+4 > len(p.data) {
		return 0, false
	}
	var r rune
	for _, c := range p.data[p.pos : p.pos+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	p.pos += 4
	return r, true
}

// appendJSON appends the JSON text of v. Undefined members of objects are
// skipped; undefined array elements and an undefined v itself become null
// (callers skip undefined rows before).
func appendJSON(b []byte, v Value) []byte {
	switch v.k {
	case kUndefined, kNull:
		return append(b, "null"...)
	case kBool:
		if v.num != 0 {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case kNumber:
		if v.str != "" {
			return append(b, v.str...)
		}
		return appendNumber(b, v.num)
	case kString:
		return appendString(b, v.str)
	case kArray:
		b = append(b, '[')
		for i, e := range v.arr {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, e)
		}
		return append(b, ']')
	case kObject:
		b = append(b, '{')
		first := true
		for _, m := range v.obj {
			if m.val.k == kUndefined {
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = appendString(b, m.key)
			b = append(b, ':')
			b = appendJSON(b, m.val)
		}
		return append(b, '}')
	}
	return b
}

// appendNumber formats f the way JavaScript does: integers without a
// fraction or exponent up to 1e21, shortest round-trip form otherwise.
func appendNumber(b []byte, f float64) []byte {
	if f == 0 {
		return append(b, '0') // also -0
	}
	abs := math.Abs(f)
	if abs < 1e21 && abs >= 1e-6 {
		return strconv.AppendFloat(b, f, 'f', -1, 64)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}

const hexDigits = "0123456789abcdef"

func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, s[start:i]...)
				b = append(b, `\ufffd`...)
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
