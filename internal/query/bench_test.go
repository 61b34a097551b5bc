package query

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// benchDocs returns n documents of about 1 KB each.
func benchDocs(n int) SliceSource {
	docs := make(SliceSource, n)
	pad := strings.Repeat("x", 600)
	for i := range docs {
		docs[i] = []byte(fmt.Sprintf(`{"id":"doc-%d","pk":"p%d","n":%d,"city":"%s","tags":["a","b","c"],"nested":{"a":%d,"b":"text %d"},"pad":"%s","_rid":"abc","_self":"dbs/x/colls/y/docs/%d","_etag":"\"0000\"","_ts":1700000000}`,
			i, i%10, i, []string{"Paris", "Berlin", "Rome"}[i%3], i%7, i, pad, i))
	}
	return docs
}

func benchQuery(b *testing.B, text string, maxItems int) {
	docs := benchDocs(10000)
	q, err := Parse(text)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		opts := Options{MaxItems: maxItems}
		for {
			page, err := q.Execute(context.Background(), docs, nil, opts)
			if err != nil {
				b.Fatal(err)
			}
			if page.Continuation == "" {
				break
			}
			opts.Continuation = page.Continuation
		}
	}
}

// Each benchmark scans 10k documents of ~1 KB.
func BenchmarkFilteredScan(b *testing.B) {
	benchQuery(b, "SELECT * FROM c WHERE c.nested.a = 3 AND c.city = 'Rome'", 1000)
}

func BenchmarkOrderBy(b *testing.B) {
	benchQuery(b, "SELECT c.id, c.n FROM c WHERE c.n % 2 = 0 ORDER BY c.city, c.n DESC", 1000)
}

func BenchmarkCount(b *testing.B) {
	benchQuery(b, "SELECT VALUE COUNT(1) FROM c WHERE STARTSWITH(c.city, 'R')", 1000)
}
