package query

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/meridiandb/meridian/internal/resource"
)

// FuzzQuery parses arbitrary query text and runs what parses over the test
// documents: nothing may panic, every error must be a *resource.Error and
// every result must be valid JSON.
func FuzzQuery(f *testing.F) {
	for _, s := range []string{
		"SELECT * FROM c WHERE c.id = '1'",
		"SELECT c.name AS n, COUNT(1) FROM c GROUP BY c.name",
		"SELECT DISTINCT VALUE c.city FROM c ORDER BY c.city DESC OFFSET 1 LIMIT 1",
		"SELECT VALUE {\"a\": c.addr.zip ?? 1, \"b\": [c.tags[0], -c.age]} FROM c JOIN t IN c.tags WHERE t LIKE '%a_'",
		"SELECT TOP @n * FROM root r WHERE r.age BETWEEN 1 AND @n",
		"SELECT VALUE ARRAY_SLICE(k, -1) FROM k IN c.kids WHERE NOT IS_DEFINED(k.x) AND CONTAINS(k.name, 'x', true)",
	} {
		f.Add(s)
	}
	docs := source(testDocs)
	params := []Param{{Name: "@n", Value: json.RawMessage(`2`)}}
	f.Fuzz(func(t *testing.T, text string) {
		q, err := Parse(text)
		if err != nil {
			checkErr(t, err)
			return
		}
		if _, err := q.PlanJSON(); err != nil {
			t.Fatal(err)
		}
		opts := Options{MaxItems: 2}
		for i := 0; i < 10; i++ {
			page, err := q.Execute(context.Background(), docs, params, opts)
			if err != nil {
				checkErr(t, err)
				return
			}
			for _, d := range page.Docs {
				if !json.Valid(d) {
					t.Fatalf("invalid JSON result %q for %q", d, text)
				}
			}
			if page.Continuation == "" {
				return
			}
			opts.Continuation = page.Continuation
		}
	})
}

func checkErr(t *testing.T, err error) {
	t.Helper()
	var re *resource.Error
	if !errors.As(err, &re) || re.Kind != resource.KindBadRequest {
		t.Fatalf("error is not a BadRequest *resource.Error: %T %v", err, err)
	}
}

// FuzzJSON checks the document decoder against encoding/json: the same
// inputs are accepted, and what is decoded re-encodes to valid JSON.
func FuzzJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5e3,-0],"b":{"c":null,"d":true}}`, `"\ud83d\ude00\n"`, `[]`, `{"a":1}x`, `[1,]`} {
		f.Add([]byte(s))
	}
	fields := map[string]bool{"a": true}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := parseJSON(data)
		valid := json.Valid(data)
		if errors.Is(err, errJSONDepth) {
			return
		}
		if (err == nil) != valid {
			t.Fatalf("parseJSON err=%v, json.Valid=%v for %q", err, valid, data)
		}
		if err == nil {
			if out := appendJSON(nil, v); !json.Valid(out) {
				t.Fatalf("re-encoded %q is not valid JSON", out)
			}
		}
		// Skipped members are checked less strictly (control characters
		// in strings), so the partial decoder accepts a superset.
		if _, ferr := parseJSONFields(data, fields); err == nil && ferr != nil {
			t.Fatalf("partial decode err=%v for valid %q", ferr, data)
		}
	})
}
