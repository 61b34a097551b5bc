package replog

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// OpKind is the kind of one document change inside an entry.
type OpKind uint8

// Document change kinds.
const (
	OpPut    OpKind = 1 // create or replace the item at Key with Value
	OpDelete OpKind = 2 // delete the item at Key
	// OpConflictPut records a conflict (Key is its id, Value its JSON) in
	// the container's conflicts feed; a second put of the same id is a
	// no-op, so publishing a conflict is idempotent.
	OpConflictPut OpKind = 3
	// OpConflictDelete removes a conflict from the feed.
	OpConflictDelete OpKind = 4
)

// Op is one document change. Key is the item's key inside its partition
// (encoded partition key followed by the id); Value is the stored item
// (see internal/partition's version encoding) for OpPut.
type Op struct {
	Kind  OpKind
	Key   []byte
	Value []byte
}

// Entry is one log record.
type Entry struct {
	LSN    int64  // position in the partition log, starting at 1
	Epoch  int64  // write epoch (bumped by every failover)
	Origin uint32 // id of the region that accepted the write
	// OriginLSN is the write's number in its origin region's own sequence
	// (multi-region writes; 0 in single-write accounts, where LSN is it).
	OriginLSN int64
	TS        int64 // writer's wall clock, Unix nanoseconds
	Ops       []Op
}

const (
	entryFormat   = 1
	entryFormatMW = 2 // entryFormat's fields and OriginLSN
)

// ErrCorrupt is returned when an encoded entry cannot be decoded.
var ErrCorrupt = errors.New("replog: corrupt entry")

// MaxOps bounds the number of operations in one entry (a batch holds at
// most 100; bulk requests are split per operation).
const MaxOps = 1000

// Encode appends the binary form of e to dst.
func (e *Entry) Encode(dst []byte) []byte {
	if e.OriginLSN != 0 {
		dst = append(dst, entryFormatMW)
	} else {
		dst = append(dst, entryFormat)
	}
	dst = binary.AppendUvarint(dst, uint64(e.LSN))
	if e.OriginLSN != 0 {
		dst = binary.AppendUvarint(dst, uint64(e.OriginLSN))
	}
	dst = binary.AppendVarint(dst, e.Epoch)
	dst = binary.AppendUvarint(dst, uint64(e.Origin))
	dst = binary.AppendVarint(dst, e.TS)
	dst = binary.AppendUvarint(dst, uint64(len(e.Ops)))
	for _, op := range e.Ops {
		dst = append(dst, byte(op.Kind))
		dst = binary.AppendUvarint(dst, uint64(len(op.Key)))
		dst = append(dst, op.Key...)
		dst = binary.AppendUvarint(dst, uint64(len(op.Value)))
		dst = append(dst, op.Value...)
	}
	return dst
}

// Decode parses an encoded entry. The returned entry aliases b.
func Decode(b []byte) (*Entry, error) {
	r := reader{b: b}
	f := r.byte()
	if f != entryFormat && f != entryFormatMW {
		return nil, fmt.Errorf("%w: unknown format %d", ErrCorrupt, f)
	}
	e := &Entry{}
	e.LSN = int64(r.uvarint())
	if f == entryFormatMW {
		if e.OriginLSN = int64(r.uvarint()); e.OriginLSN <= 0 {
			return nil, fmt.Errorf("%w: bad origin LSN", ErrCorrupt)
		}
	}
	e.Epoch = r.varint()
	origin := r.uvarint()
	e.TS = r.varint()
	n := r.uvarint()
	if r.err != nil || n > MaxOps || origin > 1<<32-1 || e.LSN <= 0 {
		return nil, fmt.Errorf("%w: bad header", ErrCorrupt)
	}
	e.Origin = uint32(origin)
	e.Ops = make([]Op, 0, n)
	for i := uint64(0); i < n; i++ {
		k := OpKind(r.byte())
		key := r.bytes()
		val := r.bytes()
		if r.err != nil || k < OpPut || k > OpConflictDelete || len(key) == 0 {
			return nil, fmt.Errorf("%w: bad op %d", ErrCorrupt, i)
		}
		e.Ops = append(e.Ops, Op{Kind: k, Key: key, Value: val})
	}
	if r.err != nil || len(r.b) != 0 {
		return nil, fmt.Errorf("%w: trailing bytes", ErrCorrupt)
	}
	return e, nil
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.err = ErrCorrupt
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = ErrCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = ErrCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.err = ErrCorrupt
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// Decoder reads the encodings of log entries — bytes, varints and
// length-prefixed byte strings — for the records that travel inside
// entries (internal/partition's versions and multi-write metadata). The
// first error sticks: check Err once at the end.
type Decoder struct{ r reader }

// NewDecoder returns a Decoder over b.
func NewDecoder(b []byte) *Decoder { return &Decoder{r: reader{b: b}} }

// Byte reads one byte.
func (d *Decoder) Byte() byte { return d.r.byte() }

// Uvarint reads an unsigned varint.
func (d *Decoder) Uvarint() uint64 { return d.r.uvarint() }

// Varint reads a signed varint.
func (d *Decoder) Varint() int64 { return d.r.varint() }

// Rest returns the bytes not read yet.
func (d *Decoder) Rest() []byte { return d.r.b }

// Skip drops n bytes (an error if fewer remain).
func (d *Decoder) Skip(n int) {
	if d.r.err == nil && n > len(d.r.b) {
		d.r.err = ErrCorrupt
		return
	}
	if d.r.err == nil {
		d.r.b = d.r.b[n:]
	}
}

// Fail records err (if none is recorded yet).
func (d *Decoder) Fail() {
	if d.r.err == nil {
		d.r.err = ErrCorrupt
	}
}

// Err is the first error met, nil if none.
func (d *Decoder) Err() error { return d.r.err }
