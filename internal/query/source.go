package query

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"sort"
)

// Param is a named query parameter; Name includes the leading '@'.
type Param struct {
	Name  string
	Value json.RawMessage
}

// Options controls paging.
type Options struct {
	MaxItems     int // <= 0: 100
	Continuation string
}

// Page is one page of results.
type Page struct {
	Docs         []json.RawMessage
	Continuation string // "" on the last page
}

// Source yields documents in a deterministic order (by key). Scan calls fn
// for every document whose key is strictly greater than after (all
// documents if after == nil) in ascending key order until fn returns false.
// key and doc may be reused after fn returns.
type Source interface {
	Scan(ctx context.Context, after []byte, fn func(key, doc []byte) bool) error
}

// SliceSource is a Source over in-memory documents; keys are the 8-byte
// big-endian index.
type SliceSource [][]byte

// Scan implements Source.
func (s SliceSource) Scan(ctx context.Context, after []byte, fn func(key, doc []byte) bool) error {
	start := 0
	if after != nil {
		// First index whose key is > after.
		start = sort.Search(len(s), func(i int) bool {
			var k [8]byte
			binary.BigEndian.PutUint64(k[:], uint64(i))
			return string(k[:]) > string(after)
		})
	}
	var key [8]byte
	for i := start; i < len(s); i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		binary.BigEndian.PutUint64(key[:], uint64(i))
		if !fn(key[:], s[i]) {
			return nil
		}
	}
	return nil
}
