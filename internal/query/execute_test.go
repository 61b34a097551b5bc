package query

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/meridiandb/meridian/internal/resource"
	"github.com/stretchr/testify/require"
)

var testDocs = []string{
	`{"id":"1","name":"Alice","age":30,"city":"Paris","tags":["a","b"],"addr":{"zip":"75001","n":1},"score":1.50,"kids":[{"name":"x","age":3},{"name":"y","age":5}],"_ts":1}`,
	`{"id":"2","name":"bob","age":25,"city":"Berlin","tags":["b"],"addr":{"zip":"10115","n":2},"score":2,"kids":[],"_ts":2}`,
	`{"id":"3","name":"Carol","age":35,"city":"Paris","tags":[],"nullable":null,"score":"high","_ts":3}`,
	`{"id":"4","name":"dave","age":"40","city":"Rome","tags":["a","c"],"addr":{"zip":"00100","n":4},"kids":[{"name":"z","age":1}],"_ts":4}`,
	`{"id":"5","name":"Eve","city":"Berlin","odd-name":true,"_ts":5}`,
}

func source(docs []string) SliceSource {
	s := make(SliceSource, len(docs))
	for i, d := range docs {
		s[i] = []byte(d)
	}
	return s
}

// runAll pages through a query and returns every document as a string.
func runAll(t testing.TB, text string, docs []string, params []Param, maxItems int) ([]string, error) {
	t.Helper()
	q, err := Parse(text)
	if err != nil {
		return nil, err
	}
	src := source(docs)
	var out []string
	opts := Options{MaxItems: maxItems}
	for i := 0; i < 1000; i++ {
		page, err := q.Execute(context.Background(), src, params, opts)
		if err != nil {
			return nil, err
		}
		if maxItems > 0 {
			require.LessOrEqual(t, len(page.Docs), maxItems)
		}
		for _, d := range page.Docs {
			require.True(t, json.Valid(d), "invalid JSON %s", d)
			out = append(out, string(d))
		}
		if page.Continuation == "" {
			return out, nil
		}
		opts.Continuation = page.Continuation
	}
	t.Fatalf("too many pages")
	return nil, nil
}

func joinJSON(docs []string) string { return "[" + strings.Join(docs, ",") + "]" }

func TestExecute(t *testing.T) {
	tests := []struct {
		name   string
		query  string
		params []Param
		want   string // JSON array; compared semantically
	}{
		{"star", "SELECT * FROM c WHERE c.id = '1'", nil, "[" + testDocs[0] + "]"},
		{"eq number", "SELECT VALUE c.id FROM c WHERE c.age = 30", nil, `["1"]`},
		{"string vs number is undefined", "SELECT VALUE c.id FROM c WHERE c.age > 26", nil, `["1","3"]`},
		{"not undefined stays excluded", "SELECT VALUE c.id FROM c WHERE NOT (c.age > 26)", nil, `["2"]`},
		{"ne across types excluded", "SELECT VALUE c.id FROM c WHERE c.age != 30", nil, `["2","3"]`},
		{"and or", "SELECT VALUE c.id FROM c WHERE c.city = 'Paris' AND c.age < 33 OR c.id = '5'", nil, `["1","5"]`},
		{"in", "SELECT VALUE c.id FROM c WHERE c.city IN ('Rome', 'Berlin')", nil, `["2","4","5"]`},
		{"not in", "SELECT VALUE c.id FROM c WHERE c.city NOT IN ('Rome', 'Berlin')", nil, `["1","3"]`},
		{"between", "SELECT VALUE c.id FROM c WHERE c.age BETWEEN 25 AND 30", nil, `["1","2"]`},
		{"like", "SELECT VALUE c.id FROM c WHERE c.name LIKE '%o%'", nil, `["2","3"]`},
		{"like underscore", "SELECT VALUE c.id FROM c WHERE c.name LIKE '_ve'", nil, `["5"]`},
		{"not like", "SELECT VALUE c.id FROM c WHERE c.name NOT LIKE 'A%'", nil, `["2","3","4","5"]`},
		{"param", "SELECT VALUE c.name FROM c WHERE c.id = @id", []Param{{Name: "@id", Value: json.RawMessage(`"2"`)}}, `["bob"]`},
		{"projection order and alias", "SELECT c.name AS n, c.id, c.addr.zip FROM c WHERE c.id = '1'", nil, `[{"n":"Alice","id":"1","zip":"75001"}]`},
		{"alias without AS", "SELECT c.name n FROM c WHERE c.id = '2'", nil, `[{"n":"bob"}]`},
		{"undefined omitted", "SELECT c.id, c.addr FROM c WHERE c.id = '5'", nil, `[{"id":"5"}]`},
		{"generated names", "SELECT c.age + 1, c.id, UPPER(c.name) FROM c WHERE c.id = '1'", nil, `[{"$1":31,"id":"1","$2":"ALICE"}]`},
		{"bracket path", `SELECT VALUE c["odd-name"] FROM c`, nil, `[true]`},
		{"array index", "SELECT VALUE c.tags[0] FROM c", nil, `["a","b","a"]`},
		{"object literal", `SELECT VALUE {"n": c.name, "z": c.addr.zip} FROM c WHERE c.id IN ('1','5')`, nil, `[{"n":"Alice","z":"75001"},{"n":"Eve"}]`},
		{"array literal", "SELECT VALUE [c.id, 1] FROM c WHERE c.id = '1'", nil, `[["1",1]]`},
		{"top", "SELECT TOP 2 VALUE c.id FROM c", nil, `["1","2"]`},
		{"top param", "SELECT TOP @n VALUE c.id FROM c", []Param{{Name: "@n", Value: json.RawMessage(`3`)}}, `["1","2","3"]`},
		{"order by asc", "SELECT VALUE c.id FROM c ORDER BY c.name", nil, `["1","3","5","2","4"]`},
		{"order by desc", "SELECT VALUE c.id FROM c ORDER BY c.id DESC", nil, `["5","4","3","2","1"]`},
		{"order by mixed types", "SELECT VALUE c.id FROM c ORDER BY c.age", nil, `["5","2","1","3","4"]`},
		{"order by multiple", "SELECT VALUE c.id FROM c ORDER BY c.city ASC, c.id DESC", nil, `["5","2","3","1","4"]`},
		{"offset limit", "SELECT VALUE c.id FROM c ORDER BY c.id OFFSET 1 LIMIT 2", nil, `["2","3"]`},
		{"offset limit no order", "SELECT VALUE c.id FROM c OFFSET 3 LIMIT 10", nil, `["4","5"]`},
		{"distinct value", "SELECT DISTINCT VALUE c.city FROM c", nil, `["Paris","Berlin","Rome"]`},
		{"distinct object", "SELECT DISTINCT c.city FROM c", nil, `[{"city":"Paris"},{"city":"Berlin"},{"city":"Rome"}]`},
		{"count", "SELECT COUNT(1) FROM c", nil, `[{"$1":5}]`},
		{"count value", "SELECT VALUE COUNT(1) FROM c", nil, `[5]`},
		{"count empty", "SELECT VALUE COUNT(1) FROM c WHERE c.id = 'none'", nil, `[0]`},
		{"count defined", "SELECT VALUE COUNT(c.addr) FROM c", nil, `[3]`},
		{"aggregates aliased", "SELECT COUNT(1) AS n, SUM(c.addr.n) AS s, MIN(c.name) AS mn, MAX(c.id) AS mx, AVG(c.addr.n) AS a FROM c", nil, `[{"n":5,"s":7,"mn":"Alice","mx":"5","a":2.3333333333333335}]`},
		{"sum non-number undefined", "SELECT VALUE SUM(c.age) FROM c", nil, `[]`},
		{"avg empty", "SELECT AVG(c.nope) AS a FROM c", nil, `[{}]`},
		{"group by", "SELECT c.city, COUNT(1) AS n FROM c GROUP BY c.city", nil, `[{"city":"Paris","n":2},{"city":"Berlin","n":2},{"city":"Rome","n":1}]`},
		{"group by value", "SELECT VALUE COUNT(1) FROM c GROUP BY c.city", nil, `[2,2,1]`},
		{"join", "SELECT c.id, t AS tag FROM c JOIN t IN c.tags", nil, `[{"id":"1","tag":"a"},{"id":"1","tag":"b"},{"id":"2","tag":"b"},{"id":"4","tag":"a"},{"id":"4","tag":"c"}]`},
		{"join filter", "SELECT VALUE k.name FROM c JOIN k IN c.kids WHERE k.age > 2", nil, `["x","y"]`},
		{"from in", "SELECT VALUE k.name FROM k IN c.kids", nil, `["x","y","z"]`},
		{"from in star", "SELECT * FROM c IN c.kids WHERE c.age = 1", nil, `[{"name":"z","age":1}]`},
		{"from root alias", "SELECT VALUE r.id FROM root r WHERE r.id = '3'", nil, `["3"]`},
		{"from path", "SELECT VALUE a.zip FROM c.addr a", nil, `["75001","10115","00100"]`},
		{"arithmetic", "SELECT VALUE (c.age * 2 - 10) / 5 % 7 FROM c WHERE c.id = '1'", nil, `[3]`},
		{"arithmetic on string undefined", "SELECT VALUE c.age + 1 FROM c WHERE c.id = '4'", nil, `[]`},
		{"concat", "SELECT VALUE c.name || '-' || c.city FROM c WHERE c.id = '2'", nil, `["bob-Berlin"]`},
		{"ternary", "SELECT VALUE c.age > 28 ? 'old' : 'young' FROM c WHERE c.id IN ('1','2')", nil, `["old","young"]`},
		{"coalesce", "SELECT VALUE c.addr.zip ?? 'none' FROM c WHERE c.id IN ('1','5')", nil, `["75001","none"]`},
		{"unary minus", "SELECT VALUE -c.age FROM c WHERE c.id = '1'", nil, `[-30]`},
		{"null vs undefined", "SELECT VALUE c.id FROM c WHERE IS_NULL(c.nullable)", nil, `["3"]`},
		{"is_defined", "SELECT VALUE c.id FROM c WHERE NOT IS_DEFINED(c.addr)", nil, `["3","5"]`},
		{"null equals null", "SELECT VALUE c.id FROM c WHERE c.nullable = null", nil, `["3"]`},
		{"literals", "SELECT VALUE [true, false, null, 'it\\'s'] FROM c WHERE c.id = '1'", nil, `[[true,false,null,"it's"]]`},
		{"number text preserved", "SELECT VALUE c.score FROM c WHERE c.id = '1'", nil, `[1.50]`},
		{"functions", `SELECT VALUE [LOWER(c.name), LENGTH(c.name), SUBSTRING(c.name, 1, 2), INDEX_OF(c.name, "li"), REPLACE(c.name, "A", "a"), LEFT(c.name, 2), RIGHT(c.name, 2), REVERSE(c.name), CONCAT(c.name, "!", c.city), TOSTRING(c.age), TRIM("  x "), LTRIM(" x"), RTRIM("x ")] FROM c WHERE c.id = '1'`, nil, `[["alice",5,"li",1,"alice","Al","ce","ecilA","Alice!Paris","30","x","x","x"]]`},
		{"string predicates", `SELECT VALUE c.id FROM c WHERE CONTAINS(c.name, "AL", true) OR STARTSWITH(c.name, "bo") OR ENDSWITH(c.name, "ve")`, nil, `["1","2","4","5"]`},
		{"math", `SELECT VALUE [ABS(-2), CEILING(1.2), FLOOR(1.8), ROUND(2.5), ROUND(-2.5)] FROM c WHERE c.id = '1'`, nil, `[[2,2,1,3,-3]]`},
		{"array functions", `SELECT VALUE [ARRAY_CONTAINS(c.tags, "a"), ARRAY_LENGTH(c.tags), ARRAY_SLICE(c.tags, 1), ARRAY_SLICE(c.tags, -1, 1), ARRAY_CONCAT(c.tags, ["z"])] FROM c WHERE c.id = '1'`, nil, `[[true,2,["b"],["b"],["a","b","z"]]]`},
		{"array contains partial", `SELECT VALUE c.id FROM c WHERE ARRAY_CONTAINS(c.kids, {"name": "y"}, true)`, nil, `["1"]`},
		{"array contains no partial", `SELECT VALUE c.id FROM c WHERE ARRAY_CONTAINS(c.kids, {"name": "y"})`, nil, `[]`},
		{"type checks", `SELECT VALUE [IS_STRING(c.name), IS_NUMBER(c.age), IS_BOOL(c["odd-name"]), IS_ARRAY(c.tags), IS_OBJECT(c.addr), IS_PRIMITIVE(c.addr)] FROM c WHERE c.id = '1'`, nil, `[[true,true,false,true,true,false]]`},
		{"keywords case-insensitive", "select value C.id from C where C.id = '1' order by C.id", nil, `["1"]`},
		{"keyword property", "SELECT VALUE c.value FROM c", nil, `[]`},
		{"select alias object", "SELECT c FROM c WHERE c.id = '5'", nil, "[{\"c\":" + testDocs[4] + "}]"},
		{"no from", "SELECT VALUE 1 + 2", nil, `[3]`},
		{"comment", "SELECT VALUE c.id -- trailing\nFROM c WHERE c.id = '1'", nil, `["1"]`},
		{"string escapes", `SELECT VALUE "a\"b\u0041\n" FROM c WHERE c.id = '1'`, nil, `["a\"bA\n"]`},
		{"division by zero undefined", "SELECT VALUE 1/0 FROM c WHERE c.id = '1'", nil, `[]`},
		{"not bool", "SELECT VALUE c.id FROM c WHERE NOT c.nullable", nil, `[]`},
		{"long OR chain", "SELECT VALUE c.id FROM c WHERE c.id = 'x'" + strings.Repeat(" OR c.id = 'x'", 3000) + " OR c.id = '2'", nil, `["2"]`},
		{"undefined AND false", "SELECT VALUE c.id FROM c WHERE NOT (c.missing = 1 AND false)", nil, `["1","2","3","4","5"]`},
		{"undefined OR true", "SELECT VALUE c.id FROM c WHERE c.missing = 1 OR c.id = '1'", nil, `["1"]`},
		{"equality of arrays", "SELECT VALUE c.id FROM c WHERE c.tags = ['a','b']", nil, `["1"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, maxItems := range []int{0, 1, 2} {
				got, err := runAll(t, tt.query, testDocs, tt.params, maxItems)
				require.NoError(t, err)
				if tt.want == "" {
					continue
				}
				require.JSONEq(t, tt.want, joinJSON(got), "maxItems %d", maxItems)
			}
		})
	}
}

func TestExecuteExactBytes(t *testing.T) {
	docs := []string{`{"b":1.0,"a":"x",  "c":[1e2]}`, `{"z":0.10}`}
	got, err := runAll(t, "SELECT * FROM c", docs, nil, 0)
	require.NoError(t, err)
	require.Equal(t, docs, got)
	got, err = runAll(t, "SELECT * FROM c WHERE c.b = 1", docs, nil, 0)
	require.NoError(t, err)
	require.Equal(t, docs[:1], got)
	got, err = runAll(t, "SELECT c.c, c.b, c.a FROM c WHERE c.b = 1", docs, nil, 0)
	require.NoError(t, err)
	require.Equal(t, []string{`{"c":[1e2],"b":1.0,"a":"x"}`}, got)
	got, err = runAll(t, "SELECT * FROM c ORDER BY c.b DESC", docs, nil, 1)
	require.NoError(t, err)
	require.Equal(t, []string{docs[0], docs[1]}, got)
}

func TestExecuteErrors(t *testing.T) {
	tests := []struct {
		name, query string
		params      []Param
		msg         string
	}{
		{"syntax", "SELECT * FORM c", nil, "Syntax error, incorrect syntax near 'FORM' at line 1, column 10."},
		{"syntax line", "SELECT *\nFROM c\nWHERE c.a = = 1", nil, "line 3, column 13"},
		{"eof", "SELECT * FROM c WHERE", nil, "unexpected end"},
		{"unknown param", "SELECT * FROM c WHERE c.id = @x", nil, "@x"},
		{"bad param json", "SELECT * FROM c WHERE c.id = @x", []Param{{Name: "@x", Value: json.RawMessage(`{`)}}, "@x"},
		{"unknown function", "SELECT VALUE FOO(c.x) FROM c", nil, "FOO"},
		{"arity", "SELECT VALUE LOWER(c.x, 1) FROM c", nil, "LOWER"},
		{"unresolved identifier", "SELECT VALUE x.a FROM c", nil, "Identifier 'x'"},
		{"aggregate in where", "SELECT * FROM c WHERE COUNT(1) > 1", nil, "COUNT"},
		{"nested aggregate", "SELECT VALUE COUNT(SUM(c.x)) FROM c", nil, "SUM"},
		{"aggregate with bare ref", "SELECT c.id, COUNT(1) FROM c", nil, "GROUP BY"},
		{"star without from", "SELECT *", nil, "FROM"},
		{"star with join", "SELECT * FROM c JOIN t IN c.tags", nil, "single input set"},
		{"duplicate names", "SELECT c.a, c.b.a FROM c", nil, "more than once"},
		{"bad top", "SELECT TOP @n * FROM c", []Param{{Name: "@n", Value: json.RawMessage(`-1`)}}, "TOP"},
		{"subquery", "SELECT VALUE (SELECT 1) FROM c", nil, "Subqueries"},
		{"unclosed string", "SELECT * FROM c WHERE c.a = 'x", nil, "line 1, column 29"},
		{"bad char", "SELECT * FROM c WHERE c.a # 1", nil, "'#'"},
		{"trailing", "SELECT * FROM c c2 c3", nil, "'c3'"},
		{"deep nesting", "SELECT VALUE " + strings.Repeat("(", 1000) + "1" + strings.Repeat(")", 1000) + " FROM c", nil, "nested too deeply"},
		{"deep not", "SELECT * FROM c WHERE " + strings.Repeat("NOT ", 1000) + "true", nil, "nested too deeply"},
		{"deep unary", "SELECT VALUE " + strings.Repeat("~", 1000) + "1 FROM c", nil, "nested too deeply"},
		{"long chain", "SELECT VALUE 1" + strings.Repeat(" + 1", 5000) + " FROM c", nil, "nested too deeply"},
		{"order by with aggregate", "SELECT VALUE COUNT(1) FROM c ORDER BY c.id", nil, "ORDER BY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runAll(t, tt.query, testDocs, tt.params, 0)
			require.Error(t, err)
			var re *resource.Error
			require.True(t, errors.As(err, &re), "%T %v", err, err)
			require.Equal(t, resource.KindBadRequest, re.Kind)
			require.Contains(t, err.Error(), tt.msg)
		})
	}
}

func TestContinuation(t *testing.T) {
	ctx := context.Background()
	q, err := Parse("SELECT VALUE c.id FROM c")
	require.NoError(t, err)
	src := source(testDocs)
	page, err := q.Execute(ctx, src, nil, Options{MaxItems: 2})
	require.NoError(t, err)
	require.Len(t, page.Docs, 2)
	require.NotEmpty(t, page.Continuation)

	t.Run("tampered", func(t *testing.T) {
		b := []byte(page.Continuation)
		b[3] ^= 1
		_, err := q.Execute(ctx, src, nil, Options{Continuation: string(b)})
		require.Equal(t, resource.KindBadRequest, resource.KindOf(err))
	})
	t.Run("garbage", func(t *testing.T) {
		for _, c := range []string{"x", "!!!.!!!", "e30.AAAA", "{}"} {
			_, err := q.Execute(ctx, src, nil, Options{Continuation: c})
			require.Equal(t, resource.KindBadRequest, resource.KindOf(err), c)
		}
	})
	t.Run("other query", func(t *testing.T) {
		q2, err := Parse("SELECT VALUE c.name FROM c")
		require.NoError(t, err)
		_, err = q2.Execute(ctx, src, nil, Options{Continuation: page.Continuation})
		require.Equal(t, resource.KindBadRequest, resource.KindOf(err))
	})
	t.Run("stable when data is inserted before", func(t *testing.T) {
		// The token resumes by key: documents added after the last
		// returned key are seen, earlier ones are not repeated.
		grown := append(source(testDocs), []byte(`{"id":"6"}`))
		p2, err := q.Execute(ctx, grown, nil, Options{MaxItems: 10, Continuation: page.Continuation})
		require.NoError(t, err)
		var ids []string
		for _, d := range p2.Docs {
			ids = append(ids, string(d))
		}
		require.Equal(t, []string{`"3"`, `"4"`, `"5"`, `"6"`}, ids)
		require.Empty(t, p2.Continuation)
	})
	t.Run("join rows split across pages", func(t *testing.T) {
		got, err := runAll(t, "SELECT VALUE t FROM c JOIN t IN c.tags", testDocs, nil, 1)
		require.NoError(t, err)
		require.Equal(t, []string{`"a"`, `"b"`, `"b"`, `"a"`, `"c"`}, got)
	})
	t.Run("top across pages", func(t *testing.T) {
		got, err := runAll(t, "SELECT TOP 3 VALUE c.id FROM c", testDocs, nil, 2)
		require.NoError(t, err)
		require.Equal(t, []string{`"1"`, `"2"`, `"3"`}, got)
	})
}

func TestStreamingStopsEarly(t *testing.T) {
	q, err := Parse("SELECT * FROM c WHERE c.x > 0")
	require.NoError(t, err)
	docs := make(SliceSource, 1000)
	for i := range docs {
		docs[i] = []byte(`{"x":1}`)
	}
	counter := &countingSource{src: docs}
	page, err := q.Execute(context.Background(), counter, nil, Options{MaxItems: 10})
	require.NoError(t, err)
	require.Len(t, page.Docs, 10)
	require.NotEmpty(t, page.Continuation)
	require.Equal(t, 11, counter.n) // 10 rows plus one peek
}

type countingSource struct {
	src Source
	n   int
}

func (c *countingSource) Scan(ctx context.Context, after []byte, fn func(key, doc []byte) bool) error {
	return c.src.Scan(ctx, after, func(k, d []byte) bool {
		c.n++
		return fn(k, d)
	})
}

func TestCondition(t *testing.T) {
	doc := []byte(testDocs[0])
	tests := []struct {
		cond string
		want bool
	}{
		{"FROM c WHERE c.age = 30", true},
		{"from x where x.age > 40", false},
		{"from c where c.missing = 1", false},
		{"from c", true},
		{"  FROM c WHERE ARRAY_CONTAINS(c.tags, 'a') AND c.addr.zip = '75001'", true},
	}
	for _, tt := range tests {
		t.Run(tt.cond, func(t *testing.T) {
			c, err := ParseCondition(tt.cond)
			require.NoError(t, err)
			got, err := c.Match(doc)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
	for _, bad := range []string{"", "c.age = 1", "FROM c WHERE", "SELECT * FROM c", "FROM c WHERE c.a = @p", "FROM c WHRE c.a = 1"} {
		_, err := ParseCondition(bad)
		require.Equal(t, resource.KindBadRequest, resource.KindOf(err), bad)
	}
	_, err := ParseCondition("FROM c WHRE c.a = 1")
	require.Contains(t, err.Error(), "line 1, column 13")
}

func TestPlanJSON(t *testing.T) {
	q, err := Parse("SELECT VALUE COUNT(1) FROM c")
	require.NoError(t, err)
	b, err := q.PlanJSON()
	require.NoError(t, err)
	var plan map[string]any
	require.NoError(t, json.Unmarshal(b, &plan))
	qi := plan["queryInfo"].(map[string]any)
	require.Equal(t, true, qi["hasSelectValue"])
	require.Equal(t, []any{}, qi["aggregates"])
	require.Equal(t, []any{map[string]any{"min": "", "max": "FF", "isMinInclusive": true, "isMaxInclusive": false}}, plan["queryRanges"])
}

func TestConcurrentExecute(t *testing.T) {
	// A parsed Query is shared by concurrent requests.
	q, err := Parse("SELECT c.city, COUNT(1) AS n FROM c WHERE c.id != @x GROUP BY c.city")
	require.NoError(t, err)
	src := source(testDocs)
	done := make(chan []json.RawMessage, 8)
	for i := 0; i < 8; i++ {
		go func() {
			page, err := q.Execute(context.Background(), src, []Param{{Name: "@x", Value: json.RawMessage(`"3"`)}}, Options{})
			if err != nil {
				done <- nil
				return
			}
			done <- page.Docs
		}()
	}
	for i := 0; i < 8; i++ {
		docs := <-done
		require.Len(t, docs, 3)
		require.JSONEq(t, `{"city":"Paris","n":1}`, string(docs[0]))
	}
}
