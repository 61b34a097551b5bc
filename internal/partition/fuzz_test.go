package partition

import (
	"bytes"
	"testing"

	"github.com/meridiandb/meridian/internal/conflict"
)

// FuzzDecodeVersion feeds arbitrary bytes to the decoders of what arrives
// from other regions inside log entries (stored item versions, with or
// without multi-write metadata, and tombstone metadata) and of the
// multi-write state: they must return an error, never panic, and what they
// accept must re-encode to an equivalent value.
func FuzzDecodeVersion(f *testing.F) {
	v := &Version{LSN: 7, TS: 1700000000, ETag: `"e"`, JSON: []byte(`{"id":"a"}`)}
	f.Add(v.encode())
	v.MW = &conflict.Version{Origin: 2, LSN: 3, Index: 1, TS: conflict.HLC{Wall: 5, Logical: 1}, Seen: conflict.Vector{1: 4, 2: 2}, Incarnation: 1, Depth: 2, Floor: 3.5}
	f.Add(v.encode())
	tomb := *v.MW
	tomb.Deleted = true
	f.Add(encodeMeta(nil, &tomb))
	f.Add(encodeMWState(&mwState{vec: conflict.Vector{1: 9}, hlc: conflict.HLC{Wall: 11}, cursors: map[uint32]int64{3: 4}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if v, err := decodeVersion(bytes.Clone(b)); err == nil {
			w, err := decodeVersion(v.encode())
			if err != nil || w.LSN != v.LSN || w.ETag != v.ETag || !bytes.Equal(w.JSON, v.JSON) || (w.MW == nil) != (v.MW == nil) {
				t.Fatalf("version does not round-trip: %+v vs %+v (%v)", v, w, err)
			}
		}
		if m, err := decodeMeta(b); err == nil {
			if _, err := decodeMeta(encodeMeta(nil, m)); err != nil {
				t.Fatalf("metadata does not round-trip: %+v: %v", m, err)
			}
		}
		if s, err := decodeMWState(b); err == nil {
			if _, err := decodeMWState(encodeMWState(s)); err != nil {
				t.Fatalf("state does not round-trip: %+v: %v", s, err)
			}
		}
	})
}
