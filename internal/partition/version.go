package partition

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/meridiandb/meridian/internal/conflict"
)

// Version is a stored item version: its JSON (with system properties) and
// the metadata the server needs without parsing the JSON.
type Version struct {
	LSN     int64  // LSN of the entry that wrote this version
	TS      int64  // _ts, Unix seconds
	ItemTTL int64  // the item's own ttl: 0 unset, -1 never, else seconds
	ETag    string // quoted etag, as in _etag
	JSON    []byte
	// MW is the multi-region-write resolver metadata of the version (nil
	// in single-write accounts); its Doc is nil (JSON holds the document).
	MW *conflict.Version
}

const (
	versionFormat   = 1
	versionFormatMW = 2 // versionFormat's fields, then the MW metadata
)

var errCorruptVersion = errors.New("partition: corrupt item version")

func (v *Version) encode() []byte {
	b := make([]byte, 0, 32+len(v.ETag)+len(v.JSON))
	if v.MW != nil {
		b = append(b, versionFormatMW)
	} else {
		b = append(b, versionFormat)
	}
	b = binary.AppendUvarint(b, uint64(v.LSN))
	b = binary.AppendVarint(b, v.TS)
	b = binary.AppendVarint(b, v.ItemTTL)
	b = binary.AppendUvarint(b, uint64(len(v.ETag)))
	b = append(b, v.ETag...)
	if v.MW != nil {
		m := encodeMeta(nil, v.MW)
		b = binary.AppendUvarint(b, uint64(len(m)))
		b = append(b, m...)
	}
	return append(b, v.JSON...)
}

func decodeVersion(b []byte) (*Version, error) {
	if len(b) == 0 || (b[0] != versionFormat && b[0] != versionFormatMW) {
		return nil, errCorruptVersion
	}
	mw := b[0] == versionFormatMW
	b = b[1:]
	v := &Version{}
	lsn, n := binary.Uvarint(b)
	if n <= 0 {
		return nil, errCorruptVersion
	}
	b = b[n:]
	v.LSN = int64(lsn)
	if v.TS, n = binary.Varint(b); n <= 0 {
		return nil, errCorruptVersion
	}
	b = b[n:]
	if v.ItemTTL, n = binary.Varint(b); n <= 0 {
		return nil, errCorruptVersion
	}
	b = b[n:]
	el, n := binary.Uvarint(b)
	if n <= 0 || el > uint64(len(b)-n) {
		return nil, errCorruptVersion
	}
	b = b[n:]
	v.ETag = string(b[:el])
	b = b[el:]
	if mw {
		ml, n := binary.Uvarint(b)
		if n <= 0 || ml > uint64(len(b)-n) {
			return nil, errCorruptVersion
		}
		m, err := decodeMeta(b[n : n+int(ml)])
		if err != nil || m.Deleted {
			return nil, errCorruptVersion
		}
		v.MW = m
		b = b[n+int(ml):]
	}
	v.JSON = b
	return v, nil
}

// expired reports whether v has outlived its time to live at now, given
// the container's default ttl (nil: TTL off; -1: on, items never expire by
// default). As in Cosmos DB an item ttl applies only when the container has
// TTL enabled.
func (v *Version) expired(defaultTTL *int32, now time.Time) bool {
	if defaultTTL == nil {
		return false
	}
	ttl := int64(*defaultTTL)
	if v.ItemTTL != 0 {
		ttl = v.ItemTTL
	}
	if ttl <= 0 {
		return false
	}
	return now.Unix() >= v.TS+ttl
}
