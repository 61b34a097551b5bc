package query

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/meridiandb/meridian/internal/resource"
)

type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tNumber
	tString
	tParam
	tPunct
)

// token is one lexical unit. For identifiers text is the name as written;
// for strings it is the decoded value; for punctuation the operator.
type token struct {
	kind tokKind
	text string
	num  float64
	line int
	col  int
	raw  string // source text, for error messages
}

// is reports whether t is the keyword kw (case-insensitive) or the
// punctuation kw.
func (t token) is(kw string) bool {
	switch t.kind {
	case tIdent:
		return strings.EqualFold(t.text, kw)
	case tPunct:
		return t.text == kw
	}
	return false
}

// keywords cannot be used as bare identifiers (aliases); they remain valid
// after a dot (c.value) and as quoted property names.
var keywords = map[string]bool{
	"SELECT": true, "FROM": true, "WHERE": true, "AND": true, "OR": true, "NOT": true,
	"IN": true, "BETWEEN": true, "LIKE": true, "ESCAPE": true, "AS": true, "VALUE": true,
	"TOP": true, "DISTINCT": true, "ORDER": true, "BY": true, "ASC": true, "DESC": true,
	"GROUP": true, "OFFSET": true, "LIMIT": true, "JOIN": true, "TRUE": true, "FALSE": true,
	"NULL": true, "UNDEFINED": true, "EXISTS": true, "ARRAY": true, "IS": true,
}

func isKeyword(s string) bool { return keywords[strings.ToUpper(s)] }

// lex splits text into tokens, ending with tEOF.
func lex(text string) ([]token, error) {
	var toks []token
	line, col := 1, 1
	i := 0
	advance := func(n int) {
		for k := 0; k < n; k++ {
			if text[i] == '\n' {
				line++
				col = 1
			} else if text[i]&0xC0 != 0x80 {
				col++
			}
			i++
		}
	}
	for {
		// Skip white space and comments.
		for i < len(text) {
			c := text[i]
			if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' {
				advance(1)
				continue
			}
			if c == '-' && i+1 < len(text) && text[i+1] == '-' {
				for i < len(text) && text[i] != '\n' {
					advance(1)
				}
				continue
			}
			break
		}
		if i >= len(text) {
			toks = append(toks, token{kind: tEOF, line: line, col: col})
			return toks, nil
		}
		start, sl, sc := i, line, col
		c := text[i]
		r, _ := utf8.DecodeRuneInString(text[i:])
		switch {
		case c == '_' || c == '$' || unicode.IsLetter(r):
			for i < len(text) {
				r, size := utf8.DecodeRuneInString(text[i:])
				if r == '_' || r == '$' || unicode.IsLetter(r) || unicode.IsDigit(r) {
					advance(size)
					continue
				}
				break
			}
			toks = append(toks, token{kind: tIdent, text: text[start:i], line: sl, col: sc, raw: text[start:i]})
		case c == '@':
			advance(1)
			for i < len(text) {
				r, size := utf8.DecodeRuneInString(text[i:])
				if r == '_' || r == '$' || unicode.IsLetter(r) || unicode.IsDigit(r) {
					advance(size)
					continue
				}
				break
			}
			if i == start+1 {
				return nil, syntaxError(text[start:i], sl, sc)
			}
			toks = append(toks, token{kind: tParam, text: text[start:i], line: sl, col: sc, raw: text[start:i]})
		case c >= '0' && c <= '9' || (c == '.' && i+1 < len(text) && text[i+1] >= '0' && text[i+1] <= '9'):
			if c == '0' && i+1 < len(text) && (text[i+1] == 'x' || text[i+1] == 'X') {
				advance(2)
				for i < len(text) && strings.IndexByte("0123456789abcdefABCDEF", text[i]) >= 0 {
					advance(1)
				}
				n, err := strconv.ParseUint(text[start+2:i], 16, 64)
				if err != nil {
					return nil, syntaxError(text[start:i], sl, sc)
				}
				toks = append(toks, token{kind: tNumber, num: float64(n), line: sl, col: sc, raw: text[start:i]})
				continue
			}
			for i < len(text) && text[i] >= '0' && text[i] <= '9' {
				advance(1)
			}
			if i < len(text) && text[i] == '.' {
				advance(1)
				for i < len(text) && text[i] >= '0' && text[i] <= '9' {
					advance(1)
				}
			}
			if i < len(text) && (text[i] == 'e' || text[i] == 'E') {
				j := i + 1
				if j < len(text) && (text[j] == '+' || text[j] == '-') {
					j++
				}
				if j < len(text) && text[j] >= '0' && text[j] <= '9' {
					advance(j - i)
					for i < len(text) && text[i] >= '0' && text[i] <= '9' {
						advance(1)
					}
				}
			}
			f, err := strconv.ParseFloat(text[start:i], 64)
			if err != nil {
				return nil, syntaxError(text[start:i], sl, sc)
			}
			toks = append(toks, token{kind: tNumber, num: f, line: sl, col: sc, raw: text[start:i]})
		case c == '"' || c == '\'':
			s, n, ok := lexString(text[i:])
			if !ok {
				return nil, resource.BadRequestf("Syntax error, unclosed quote or invalid escape in string literal at line %d, column %d.", sl, sc)
			}
			advance(n)
			toks = append(toks, token{kind: tString, text: s, line: sl, col: sc, raw: text[start:i]})
		default:
			op := ""
			for _, p := range []string{"!=", "<>", "<=", ">=", "||", "??", ">>>", "<<", ">>"} {
				if strings.HasPrefix(text[i:], p) {
					op = p
					break
				}
			}
			if op == "" && strings.IndexByte("=<>+-*/%.,()[]{}:?&|^~", c) >= 0 {
				op = text[i : i+1]
			}
			if op == "" {
				_, size := utf8.DecodeRuneInString(text[i:])
				return nil, syntaxError(text[i:i+size], sl, sc)
			}
			advance(len(op))
			toks = append(toks, token{kind: tPunct, text: op, line: sl, col: sc, raw: op})
		}
	}
}

// lexString decodes a quoted literal at the start of s. It returns the value
// and the number of bytes consumed.
func lexString(s string) (string, int, bool) {
	q := s[0]
	var b strings.Builder
	i := 1
	for i < len(s) {
		c := s[i]
		if c == q {
			return b.String(), i + 1, true
		}
		if c != '\\' {
			b.WriteByte(c)
			i++
			continue
		}
		i++
		if i >= len(s) {
			return "", 0, false
		}
		e := s[i]
		i++
		switch e {
		case '"', '\'', '\\', '/':
			b.WriteByte(e)
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
		case 'u':
			if i+4 > len(s) {
				return "", 0, false
			}
			n, err := strconv.ParseUint(s[i:i+4], 16, 32)
			if err != nil {
				return "", 0, false
			}
			i += 4
			r := rune(n)
			if r >= 0xD800 && r < 0xDC00 && i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
				if n2, err := strconv.ParseUint(s[i+2:i+6], 16, 32); err == nil && n2 >= 0xDC00 && n2 < 0xE000 {
					r = (r-0xD800)<<10 + (rune(n2) - 0xDC00) + 0x10000
					i += 6
				}
			}
			b.WriteRune(r)
		default:
			return "", 0, false
		}
	}
	return "", 0, false
}

func syntaxError(near string, line, col int) *resource.Error {
	return resource.BadRequestf("Syntax error, incorrect syntax near '%s' at line %d, column %d.", near, line, col)
}
