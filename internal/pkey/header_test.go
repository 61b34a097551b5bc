package pkey

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/meridiandb/meridian/internal/resource"
	"github.com/stretchr/testify/require"
)

func TestParseHeader(t *testing.T) {
	tests := []struct {
		in   string
		want Key
	}{
		{`["p1"]`, Key{"p1"}},
		{`[5]`, Key{5.0}},
		{`[5.0]`, Key{5.0}},
		{`[-0]`, Key{0.0}},
		{`[-1.5e3]`, Key{-1500.0}},
		{`[1E-2]`, Key{0.01}},
		{`[true]`, Key{true}},
		{`[false]`, Key{false}},
		{`[null]`, Key{nil}},
		{`[{}]`, Key{Undefined{}}},
		{`[ { } ]`, Key{Undefined{}}},
		{`["a","b"]`, Key{"a", "b"}},
		{` [ "a" , 2 , null ] `, Key{"a", 2.0, nil}},
		{`[]`, Key{}},
		{`[ ]`, Key{}},
		{`[""]`, Key{""}},
		{`["a\"b\\c\/d\n\t\r\b\f"]`, Key{"a\"b\\c/d\n\t\r\b\f"}},
		{`["\u00e9\u4e2d"]`, Key{"é中"}},
		{`["\ud83d\ude00"]`, Key{"😀"}},
		{`["\U0001f600"]`, Key{"😀"}},            // strconv.QuoteToASCII, not JSON
		{`["\x07\a\v\x1f"]`, Key{"\a\a\v\x1f"}}, // strconv.QuoteToASCII control characters
		{`["\ud83d"]`, Key{"\uFFFD"}},           // lone surrogate, as encoding/json
		{`["\ud83dx"]`, Key{"\uFFFDx"}},
		{`["\ude00\ud83d"]`, Key{"\uFFFD\uFFFD"}},
		{`["\ud83d\u0041"]`, Key{"\uFFFDA"}},
		{"[\"raw é\"]", Key{"raw é"}},
		{`["it's"]`, Key{"it's"}},
		{`["it\'s"]`, Key{"it's"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseHeader(tt.in)
			require.NoError(t, err)
			require.NotNil(t, got)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParseHeaderErrors(t *testing.T) {
	tests := []struct {
		in, msg string
	}{
		{``, "empty"},
		{`   `, "empty"},
		{`"p1"`, "must start with '['"},
		{`p1`, "must start with '['"},
		{`[`, "missing component"},
		{`["a"`, "missing closing"},
		{`["a",]`, "unexpected"},
		{`[,]`, "unexpected"},
		{`["a" "b"]`, "expected ',' or ']'"},
		{`["a"]x`, "unexpected text after"},
		{`["a"]]`, "unexpected text after"},
		{`[[1]]`, "cannot be an array"},
		{`[{"a":1}]`, "cannot be an object"},
		{`[{]`, "cannot be an object"},
		{`[tru]`, "unexpected"},
		{`[True]`, "unexpected"},
		{`[undefined]`, "unexpected"},
		{`[NaN]`, "unexpected"},
		{`[01]`, "expected ',' or ']'"},
		{`[1.]`, "digits expected after '.'"},
		{`[1e]`, "digits expected in the exponent"},
		{`[-]`, "invalid number"},
		{`[+1]`, "unexpected"},
		{`[1e400]`, "out of range"},
		{`["abc`, "unterminated string"},
		{`["abc\`, "unterminated string"},
		{`["\q"]`, "invalid escape"},
		{`["\u12"]`, "invalid \\u escape"},
		{`["\u12g4"]`, "invalid \\u escape"},
		{`["\U0011ffff"]`, "invalid \\U escape"},
		{`["\U0000d800"]`, "invalid \\U escape"},
		{`["\x80"]`, "not valid UTF-8"},
		{`["\xg0"]`, "invalid \\x escape"},
		{"[\"\xff\"]", "not valid UTF-8"},
		{"[" + strings.Repeat("1,", 64) + "1]", "too many components"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			k, err := ParseHeader(tt.in)
			require.Error(t, err)
			require.Nil(t, k)
			require.Equal(t, resource.KindBadRequest, resource.KindOf(err))
			require.Contains(t, err.Error(), tt.msg)
			require.Contains(t, err.Error(), HeaderName)
		})
	}
}

// sdkHeader builds the header the Go SDK (azcosmos v1.5.0) sends: json.Marshal
// for non-strings and strconv.QuoteToASCII for strings.
func sdkHeader(vals ...any) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		if s, ok := v.(string); ok {
			parts[i] = strconv.QuoteToASCII(s)
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		parts[i] = string(b)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func TestParseHeaderGoSDKStrings(t *testing.T) {
	for _, s := range []string{"", "p1", "é", "中文", "😀 and 𝄞", "tab\tnl\n", "\x00\x01\x7f", "quote\"back\\slash", "\u2028\u2029", "\uFFFD", "a'b"} {
		got, err := ParseHeader(sdkHeader(s, 1.5, true, nil))
		require.NoError(t, err, s)
		require.Equal(t, Key{s, 1.5, true, nil}, got, s)
	}
}

func TestJSON(t *testing.T) {
	tests := []struct {
		k    Key
		want string
	}{
		{nil, `[]`},
		{Key{}, `[]`},
		{Key{"p1"}, `["p1"]`},
		{Key{5.0}, `[5]`},
		{Key{5}, `[5]`},
		{Key{int64(-7)}, `[-7]`},
		{Key{json.Number("2.50")}, `[2.5]`},
		{Key{1.5}, `[1.5]`},
		{Key{1e21}, `[1e+21]`},
		{Key{1e-7}, `[1e-7]`},
		{Key{math.Copysign(0, -1)}, `[0]`},
		{Key{true}, `[true]`},
		{Key{false}, `[false]`},
		{Key{nil}, `[null]`},
		{Key{Undefined{}}, `[{}]`},
		{Key{&Undefined{}}, `[{}]`},
		{Key{"a", 2.0}, `["a",2]`},
		{Key{"é😀\"\\\n\x01\x7f"}, `["\u00e9\ud83d\ude00\"\\\n\u0001\u007f"]`},
		{Key{"\xff"}, `["\ufffd"]`},
		{Key{math.NaN()}, `[NaN]`},
		{Key{math.Inf(1), math.Inf(-1)}, `[Infinity,-Infinity]`},
		{Key{[]int{1}}, `[<unsupported []int>]`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			got := tt.k.JSON()
			require.Equal(t, tt.want, got)
			if !strings.Contains(tt.want, "NaN") && !strings.Contains(tt.want, "Infinity") && !strings.Contains(tt.want, "unsupported") {
				require.True(t, json.Valid([]byte(got)), got)
				back, err := ParseHeader(got)
				require.NoError(t, err)
				if tt.k != nil && !strings.Contains(tt.want, "ufffd") {
					require.True(t, back.Equal(tt.k), "%v vs %v", back, tt.k)
				}
			} else {
				_, err := ParseHeader(got)
				require.Error(t, err)
			}
		})
	}
}

func TestEqualAndMatches(t *testing.T) {
	tests := []struct {
		a, b         Key
		equal, match bool // match: a.Matches(b)
	}{
		{Key{"p1"}, Key{"p1"}, true, true},
		{Key{1.0}, Key{1}, true, true},
		{Key{1.0}, Key{"1"}, false, false},
		{Key{nil}, Key{Undefined{}}, false, false},
		{Key{nil}, Key{nil}, true, true},
		{Key{Undefined{}}, Key{Undefined{}}, true, true},
		{Key{true}, Key{1.0}, false, false},
		{Key{false}, Key{false}, true, true},
		{Key{0.0}, Key{math.Copysign(0, -1)}, true, true},
		{Key{math.NaN()}, Key{math.NaN()}, true, true},
		{Key{"a", "b"}, Key{"a"}, false, true},
		{Key{"a", "b"}, Key{"a", "b"}, true, true},
		{Key{"a", "b"}, Key{"a", "c"}, false, false},
		{Key{"a"}, Key{"a", "b"}, false, false},
		{Key{"a"}, Key{}, false, true},
		{nil, Key{}, true, true},
		{Key{[]int{1}}, Key{[]int{1}}, false, false},
	}
	for _, tt := range tests {
		require.Equal(t, tt.equal, tt.a.Equal(tt.b), "%v Equal %v", tt.a, tt.b)
		require.Equal(t, tt.equal, tt.b.Equal(tt.a), "%v Equal %v", tt.b, tt.a)
		require.Equal(t, tt.match, tt.a.Matches(tt.b), "%v Matches %v", tt.a, tt.b)
	}
}
