package query

import (
	"math"
	"strings"
	"unicode"
	"unicode/utf8"
)

// builtin is a scalar system function: its arity bounds and implementation.
// Arguments are already evaluated; a wrong argument type yields undefined.
type builtin struct {
	min, max int
	fn       func(args []Value) Value
}

var builtins map[string]builtin

func init() {
	typeCheck := func(pred func(v Value) bool) builtin {
		return builtin{1, 1, func(a []Value) Value { return boolValue(pred(a[0])) }}
	}
	str1 := func(f func(s string) Value) builtin {
		return builtin{1, 1, func(a []Value) Value {
			if a[0].k != kString {
				return undefined
			}
			return f(a[0].str)
		}}
	}
	math1 := func(f func(x float64) float64) builtin {
		return builtin{1, 1, func(a []Value) Value {
			if a[0].k != kNumber {
				return undefined
			}
			return numValue(f(a[0].num))
		}}
	}
	// strPair handles (string, string [, bool ignoreCase]) predicates.
	strPair := func(f func(s, sub string) bool) builtin {
		return builtin{2, 3, func(a []Value) Value {
			if a[0].k != kString || a[1].k != kString {
				return undefined
			}
			s, sub := a[0].str, a[1].str
			if len(a) == 3 {
				if a[2].k != kBool {
					return undefined
				}
				if a[2].num != 0 {
					s, sub = strings.ToLower(s), strings.ToLower(sub)
				}
			}
			return boolValue(f(s, sub))
		}}
	}
	builtins = map[string]builtin{
		"IS_DEFINED":       typeCheck(func(v Value) bool { return v.k != kUndefined }),
		"IS_NULL":          typeCheck(func(v Value) bool { return v.k == kNull }),
		"IS_STRING":        typeCheck(func(v Value) bool { return v.k == kString }),
		"IS_NUMBER":        typeCheck(func(v Value) bool { return v.k == kNumber }),
		"IS_BOOL":          typeCheck(func(v Value) bool { return v.k == kBool }),
		"IS_ARRAY":         typeCheck(func(v Value) bool { return v.k == kArray }),
		"IS_OBJECT":        typeCheck(func(v Value) bool { return v.k == kObject }),
		"IS_PRIMITIVE":     typeCheck(func(v Value) bool { return v.k >= kNull && v.k <= kString }),
		"IS_FINITE_NUMBER": typeCheck(func(v Value) bool { return v.k == kNumber && !math.IsInf(v.num, 0) }),
		"IS_INTEGER": typeCheck(func(v Value) bool {
			return v.k == kNumber && v.num == math.Trunc(v.num) && math.Abs(v.num) < 1<<53
		}),
		"CONTAINS":     strPair(strings.Contains),
		"STARTSWITH":   strPair(strings.HasPrefix),
		"ENDSWITH":     strPair(strings.HasSuffix),
		"STRINGEQUALS": strPair(func(a, b string) bool { return a == b }),
		"LOWER":        str1(func(s string) Value { return strValue(strings.ToLower(s)) }),
		"UPPER":        str1(func(s string) Value { return strValue(strings.ToUpper(s)) }),
		"LENGTH":       str1(func(s string) Value { return numValue(float64(utf8.RuneCountInString(s))) }),
		"TRIM":         str1(func(s string) Value { return strValue(strings.TrimSpace(s)) }),
		"LTRIM":        str1(func(s string) Value { return strValue(strings.TrimLeftFunc(s, unicode.IsSpace)) }),
		"RTRIM":        str1(func(s string) Value { return strValue(strings.TrimRightFunc(s, unicode.IsSpace)) }),
		"REVERSE": str1(func(s string) Value {
			r := []rune(s)
			for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
				r[i], r[j] = r[j], r[i]
			}
			return strValue(string(r))
		}),
		"SUBSTRING": {3, 3, func(a []Value) Value {
			if a[0].k != kString || a[1].k != kNumber || a[2].k != kNumber {
				return undefined
			}
			r := []rune(a[0].str)
			start, n := clampInt(a[1].num, 0, len(r)), clampInt(a[2].num, 0, len(r))
			end := start + n
			if end > len(r) {
				end = len(r)
			}
			return strValue(string(r[start:end]))
		}},
		"LEFT": {2, 2, func(a []Value) Value {
			if a[0].k != kString || a[1].k != kNumber {
				return undefined
			}
			r := []rune(a[0].str)
			return strValue(string(r[:clampInt(a[1].num, 0, len(r))]))
		}},
		"RIGHT": {2, 2, func(a []Value) Value {
			if a[0].k != kString || a[1].k != kNumber {
				return undefined
			}
			r := []rune(a[0].str)
			return strValue(string(r[len(r)-clampInt(a[1].num, 0, len(r)):]))
		}},
		"CONCAT": {2, 64, func(a []Value) Value {
			var b strings.Builder
			for _, v := range a {
				if v.k != kString {
					return undefined
				}
				b.WriteString(v.str)
			}
			return strValue(b.String())
		}},
		"INDEX_OF": {2, 3, func(a []Value) Value {
			if a[0].k != kString || a[1].k != kString {
				return undefined
			}
			r := []rune(a[0].str)
			start := 0
			if len(a) == 3 {
				if a[2].k != kNumber {
					return undefined
				}
				start = clampInt(a[2].num, 0, len(r))
			}
			i := strings.Index(string(r[start:]), a[1].str)
			if i < 0 {
				return numValue(-1)
			}
			return numValue(float64(start + utf8.RuneCountInString(string(r[start:])[:i])))
		}},
		"REPLACE": {3, 3, func(a []Value) Value {
			if a[0].k != kString || a[1].k != kString || a[2].k != kString {
				return undefined
			}
			if a[1].str == "" {
				return a[0]
			}
			return strValue(strings.ReplaceAll(a[0].str, a[1].str, a[2].str))
		}},
		"REPLICATE": {2, 2, func(a []Value) Value {
			if a[0].k != kString || a[1].k != kNumber || a[1].num < 0 || float64(len(a[0].str))*a[1].num > 10000 {
				return undefined
			}
			return strValue(strings.Repeat(a[0].str, int(a[1].num)))
		}},
		"TOSTRING": {1, 1, func(a []Value) Value {
			switch a[0].k {
			case kUndefined:
				return undefined
			case kString:
				return a[0]
			}
			return strValue(string(appendJSON(nil, a[0])))
		}},
		"ABS":     math1(math.Abs),
		"CEILING": math1(math.Ceil),
		"FLOOR":   math1(math.Floor),
		"ROUND":   math1(math.Round),
		"TRUNC":   math1(math.Trunc),
		"SQRT":    math1(math.Sqrt),
		"EXP":     math1(math.Exp),
		"LOG10":   math1(math.Log10),
		"SIN":     math1(math.Sin),
		"COS":     math1(math.Cos),
		"TAN":     math1(math.Tan),
		"SQUARE":  math1(func(x float64) float64 { return x * x }),
		"SIGN": math1(func(x float64) float64 {
			switch {
			case x > 0:
				return 1
			case x < 0:
				return -1
			}
			return 0
		}),
		"LOG": {1, 2, func(a []Value) Value {
			if a[0].k != kNumber {
				return undefined
			}
			if len(a) == 2 {
				if a[1].k != kNumber {
					return undefined
				}
				return numValue(math.Log(a[0].num) / math.Log(a[1].num))
			}
			return numValue(math.Log(a[0].num))
		}},
		"POWER": {2, 2, func(a []Value) Value {
			if a[0].k != kNumber || a[1].k != kNumber {
				return undefined
			}
			return numValue(math.Pow(a[0].num, a[1].num))
		}},
		"PI": {0, 0, func([]Value) Value { return numValue(math.Pi) }},
		"ARRAY_CONTAINS": {2, 3, func(a []Value) Value {
			if a[0].k != kArray {
				return undefined
			}
			partial := false
			if len(a) == 3 {
				if a[2].k != kBool {
					return undefined
				}
				partial = a[2].num != 0
			}
			for _, el := range a[0].arr {
				if partial && a[1].k == kObject {
					if el.k == kObject && objectContains(el, a[1]) {
						return trueValue
					}
					continue
				}
				if deepEqual(el, a[1]) {
					return trueValue
				}
			}
			return falseVal
		}},
		"ARRAY_LENGTH": {1, 1, func(a []Value) Value {
			if a[0].k != kArray {
				return undefined
			}
			return numValue(float64(len(a[0].arr)))
		}},
		"ARRAY_SLICE": {2, 3, func(a []Value) Value {
			if a[0].k != kArray || a[1].k != kNumber {
				return undefined
			}
			n := len(a[0].arr)
			start := int(math.Max(math.Min(a[1].num, float64(n)), float64(-n)))
			if start < 0 {
				start += n
			}
			end := n
			if len(a) == 3 {
				if a[2].k != kNumber {
					return undefined
				}
				end = start + clampInt(a[2].num, 0, n)
				if end > n {
					end = n
				}
			}
			return Value{k: kArray, arr: a[0].arr[start:end:end]}
		}},
		"ARRAY_CONCAT": {2, 64, func(a []Value) Value {
			var out []Value
			for _, v := range a {
				if v.k != kArray {
					return undefined
				}
				out = append(out, v.arr...)
			}
			if out == nil {
				out = []Value{}
			}
			return Value{k: kArray, arr: out}
		}},
	}
}

// objectContains reports whether every property of want appears in have
// with an equal value (ARRAY_CONTAINS partial match, one level deep).
func objectContains(have, want Value) bool {
	for _, m := range want.obj {
		h := have.get(m.key)
		if h.k == kUndefined || !deepEqual(h, m.val) {
			return false
		}
	}
	return true
}

// clampInt truncates f to an int in [lo, hi].
func clampInt(f float64, lo, hi int) int {
	if math.IsNaN(f) || f < float64(lo) {
		return lo
	}
	if f > float64(hi) {
		return hi
	}
	return int(f)
}
