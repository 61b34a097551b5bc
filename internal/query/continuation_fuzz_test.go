package query

import (
	"context"
	"encoding/base64"
	"fmt"
	"testing"
)

// FuzzContinuation drives Execute with arbitrary continuation tokens: raw
// strings (which must be refused with a 400 unless valid) and well-signed
// tokens with arbitrary payloads (which must never panic or loop, whatever
// position they claim).
func FuzzContinuation(f *testing.F) {
	docs := SliceSource{}
	for i := 0; i < 20; i++ {
		docs = append(docs, []byte(fmt.Sprintf(`{"id":"%d","n":%d,"g":"%c"}`, i, i%7, 'a'+rune(i%3))))
	}
	queries := []string{
		"SELECT * FROM c",
		"SELECT TOP 5 c.id FROM c WHERE c.n > 1",
		"SELECT * FROM c ORDER BY c.n DESC",
		"SELECT VALUE COUNT(1) FROM c",
		"SELECT DISTINCT c.g FROM c",
		"SELECT * FROM c OFFSET 3 LIMIT 4",
	}
	f.Add(uint8(0), "", []byte(`{"m":"s","a":"AAAAAAAAAAU="}`))
	f.Add(uint8(2), "garbage.token", []byte(`{"m":"p","p":7}`))
	f.Add(uint8(1), "", []byte(`{"m":"s","r":"AAAAAAAAAAM=","k":99,"n":3}`))
	f.Add(uint8(5), "", []byte(`{"m":"p","p":-1}`))
	f.Fuzz(func(t *testing.T, qi uint8, raw string, payload []byte) {
		text := queries[int(qi)%len(queries)]
		q, err := Parse(text)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		// A raw token: accepted only if it happens to be valid.
		_, _ = q.Execute(ctx, docs, nil, Options{MaxItems: 3, Continuation: raw})
		// A signed token with an arbitrary payload.
		tok := base64.RawURLEncoding.EncodeToString(payload) + "." + tokenSum(text, payload)
		for i := 0; i < 50 && tok != ""; i++ {
			page, err := q.Execute(ctx, docs, nil, Options{MaxItems: 3, Continuation: tok})
			if err != nil {
				return
			}
			tok = page.Continuation
		}
		if tok != "" {
			t.Fatalf("paging from a forged token did not end after 50 pages (%q)", payload)
		}
	})
}
