package pkey

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/meridiandb/meridian/internal/resource"
)

// HeaderName is the request header that carries a partition key.
const HeaderName = "x-ms-documentdb-partitionkey"

// ParseHeader parses x-ms-documentdb-partitionkey: a JSON array of
// components, e.g. ["p1"], [5], [true], [null], ["a","b"], [{}] (undefined).
//
// It is lenient where SDKs are not JSON-conformant: the Go SDK quotes strings
// with strconv.QuoteToASCII, so strings may contain \UXXXXXXXX, \xHH (below
// 0x80), \a, \v and \' escapes, which are decoded. Lone UTF-16 surrogates in
// \u escapes become U+FFFD, as in encoding/json. Strings must be valid UTF-8.
//
// "[]" returns an empty non-nil Key. Numbers become float64 (-0 becomes 0).
// Any other input, including nested arrays, non-empty objects and trailing
// text, gives a 400 *resource.Error. Component counts and types against a
// container's definition are checked by Validate, not here.
func ParseHeader(h string) (Key, error) {
	p := headerParser{s: h}
	k, err := p.parse()
	if err != nil {
		return nil, resource.BadRequestf("Invalid value for header %s: %s. Expected a JSON array such as [\"value\"], [5], [true], [null] or [{}].", HeaderName, err.msg)
	}
	return k, nil
}

// maxHeaderComponents bounds the work done on hostile input. Cosmos DB keys
// have at most 3 components; the exact check is Validate's.
const maxHeaderComponents = 64

type parseError struct{ msg string }

type headerParser struct {
	s   string
	pos int
}

func (p *headerParser) errf(format string, args ...any) *parseError {
	return &parseError{msg: fmt.Sprintf(format, args...)}
}

func (p *headerParser) skipSpace() {
	for p.pos < len(p.s) {
		switch p.s[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *headerParser) parse() (Key, *parseError) {
	p.skipSpace()
	if p.pos >= len(p.s) {
		return nil, p.errf("the value is empty")
	}
	if p.s[p.pos] != '[' {
		return nil, p.errf("it must start with '[' (got %q)", p.rest())
	}
	p.pos++
	k := Key{}
	p.skipSpace()
	if p.pos < len(p.s) && p.s[p.pos] == ']' {
		p.pos++
		return k, p.end()
	}
	for {
		if len(k) >= maxHeaderComponents {
			return nil, p.errf("too many components (at most %d)", maxHeaderComponents)
		}
		p.skipSpace()
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		k = append(k, v)
		p.skipSpace()
		if p.pos >= len(p.s) {
			return nil, p.errf("missing closing ']'")
		}
		switch p.s[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			return k, p.end()
		default:
			return nil, p.errf("expected ',' or ']' at offset %d (got %q)", p.pos, p.rest())
		}
	}
}

func (p *headerParser) end() *parseError {
	p.skipSpace()
	if p.pos != len(p.s) {
		return p.errf("unexpected text after ']' at offset %d (%q)", p.pos, p.rest())
	}
	return nil
}

// rest returns a short excerpt of the unparsed input for error messages.
func (p *headerParser) rest() string {
	r := p.s[p.pos:]
	if len(r) > 16 {
		r = r[:16] + "..."
	}
	return r
}

func (p *headerParser) value() (any, *parseError) {
	if p.pos >= len(p.s) {
		return nil, p.errf("missing component after '[' or ','")
	}
	c := p.s[p.pos]
	switch {
	case c == '"':
		return p.str()
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == '{':
		p.pos++
		p.skipSpace()
		if p.pos < len(p.s) && p.s[p.pos] == '}' {
			p.pos++
			return Undefined{}, nil
		}
		return nil, p.errf("an object component must be {} (undefined); a partition key value cannot be an object")
	case c == '[':
		return nil, p.errf("a partition key value cannot be an array")
	case strings.HasPrefix(p.s[p.pos:], "true"):
		p.pos += 4
		return true, nil
	case strings.HasPrefix(p.s[p.pos:], "false"):
		p.pos += 5
		return false, nil
	case strings.HasPrefix(p.s[p.pos:], "null"):
		p.pos += 4
		return nil, nil
	}
	return nil, p.errf("unexpected %q at offset %d: a component must be a string, number, true, false, null or {}", p.rest(), p.pos)
}

// number scans a JSON number.
func (p *headerParser) number() (any, *parseError) {
	start := p.pos
	s := p.s
	i := p.pos
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case digits() == 0:
		return nil, p.errf("invalid number at offset %d", start)
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return nil, p.errf("invalid number at offset %d: digits expected after '.'", start)
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return nil, p.errf("invalid number at offset %d: digits expected in the exponent", start)
		}
	}
	p.pos = i
	f, err := strconv.ParseFloat(s[start:i], 64)
	if err != nil {
		return nil, p.errf("number %s is out of range", s[start:i])
	}
	return normFloat(f), nil
}

// str scans a string literal starting at the opening quote.
func (p *headerParser) str() (any, *parseError) {
	start := p.pos
	p.pos++
	var b strings.Builder
	for {
		// Copy a run of plain bytes.
		i := p.pos
		for i < len(p.s) && p.s[i] != '"' && p.s[i] != '\\' {
			i++
		}
		b.WriteString(p.s[p.pos:i])
		p.pos = i
		if p.pos >= len(p.s) {
			return nil, p.errf("unterminated string starting at offset %d", start)
		}
		if p.s[p.pos] == '"' {
			p.pos++
			out := b.String()
			if !utf8.ValidString(out) {
				return nil, p.errf("the string starting at offset %d is not valid UTF-8", start)
			}
			return out, nil
		}
		// Backslash escape.
		if p.pos+1 >= len(p.s) {
			return nil, p.errf("unterminated string starting at offset %d", start)
		}
		esc := p.s[p.pos+1]
		p.pos += 2
		switch esc {
		case '"', '\\', '/', '\'':
			b.WriteByte(esc)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'a':
			b.WriteByte('\a')
		case 'v':
			b.WriteByte('\v')
		case 'x':
			v, ok := p.hex(2)
			if !ok {
				return nil, p.errf("invalid \\x escape at offset %d", p.pos-2)
			}
			if v >= utf8.RuneSelf {
				return nil, p.errf("escape \\x%02x at offset %d is not valid UTF-8", v, p.pos-4)
			}
			b.WriteByte(byte(v))
		case 'U':
			v, ok := p.hex(8)
			if !ok || !utf8.ValidRune(rune(v)) {
				return nil, p.errf("invalid \\U escape at offset %d", p.pos-2)
			}
			b.WriteRune(rune(v))
		case 'u':
			v, ok := p.hex(4)
			if !ok {
				return nil, p.errf("invalid \\u escape at offset %d", p.pos-2)
			}
			r := rune(v)
			if utf16.IsSurrogate(r) {
				// A high surrogate followed by \u low surrogate is one rune.
				if r < 0xDC00 && strings.HasPrefix(p.s[p.pos:], `\u`) {
					save := p.pos
					p.pos += 2
					if v2, ok := p.hex(4); ok {
						if dec := utf16.DecodeRune(r, rune(v2)); dec != utf8.RuneError {
							b.WriteRune(dec)
							continue
						}
					}
					p.pos = save
				}
				r = utf8.RuneError
			}
			b.WriteRune(r)
		default:
			return nil, p.errf("invalid escape \\%c at offset %d", esc, p.pos-2)
		}
	}
}

// hex reads n hex digits.
func (p *headerParser) hex(n int) (uint32, bool) {
	if p.pos+n > len(p.s) {
		return 0, false
	}
	var v uint32
	for _, c := range []byte(p.s[p.pos : p.pos+n]) {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		v = v<<4 | uint32(d)
	}
	p.pos += n
	return v, true
}
