package document

import (
	"fmt"
	"strings"
	"testing"
)

func BenchmarkParse1KB(b *testing.B) {
	body := []byte(fmt.Sprintf(`{"id":"item-123","pk":"p7","n":42,"tags":["a","b"],"nested":{"x":1,"y":[1,2,3]},"data":%q}`, strings.Repeat("x", 900)))
	b.SetBytes(int64(len(body)))
	for i := 0; i < b.N; i++ {
		if _, err := Parse(body); err != nil {
			b.Fatal(err)
		}
	}
}
