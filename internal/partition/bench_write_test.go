package partition

import (
	"context"
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// BenchmarkWrite measures one synced upsert at a time through the writer
// goroutine (in-memory FS, so the commit path itself dominates, not the
// fsync): the cost of the failpoint hooks on the path shows here first.
func BenchmarkWrite(b *testing.B) {
	db := openDB(b, vfs.NewMem())
	defer db.Close()
	p := openPart(b, db, nil)
	defer p.Close()
	ctx := context.Background()
	docs := make([]Op, 1024)
	for i := range docs {
		docs[i] = Op{Kind: Upsert, PK: pk("p"), Doc: doc(b, fmt.Sprintf(`{"id":"%d","pk":"p","v":"0123456789abcdef"}`, i))}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := p.Write(ctx, docs[i%len(docs)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteParallel is BenchmarkWrite from GOMAXPROCS×4 goroutines, so
// groups of several requests share a commit.
func BenchmarkWriteParallel(b *testing.B) {
	db := openDB(b, vfs.NewMem())
	defer db.Close()
	p := openPart(b, db, nil)
	defer p.Close()
	ctx := context.Background()
	docs := make([]Op, 1024)
	for i := range docs {
		docs[i] = Op{Kind: Upsert, PK: pk("p"), Doc: doc(b, fmt.Sprintf(`{"id":"%d","pk":"p","v":"0123456789abcdef"}`, i))}
	}
	b.ReportAllocs()
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := p.Write(ctx, docs[i%len(docs)]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}
