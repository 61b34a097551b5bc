package pkey

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	"github.com/meridiandb/meridian/internal/resource"
)

// Tags of the storage encoding, in Cosmos DB's cross-type sort order
// (undefined < null < false < true < numbers < strings).
const (
	tagEnd       = 0x00 // end of the key
	tagUndefined = 0x01
	tagNull      = 0x02
	tagFalse     = 0x03
	tagTrue      = 0x04
	tagNumber    = 0x05 // 8 bytes, order-preserving transform of the IEEE bits
	tagString    = 0x06 // bytes with 0x00 escaped as 0x00 0xFF, then 0x00 0x01
	tagInvalid   = 0x07 // an unsupported Go type; Decode rejects it
)

// Encode returns a canonical, prefix-free byte encoding of k for use inside
// storage keys:
//
//   - equal keys (in the sense of Equal) encode equally, different keys
//     differently;
//   - no encoding is a prefix of another key's encoding (each key ends with
//     0x00, which never starts a component);
//   - bytes.Compare on encodings orders keys component by component:
//     undefined < null < false < true < numbers (numerically) < strings
//     (bytewise), and a key before any longer key it is a prefix of.
//
// A nil Key encodes like an empty one. Components of an unsupported Go type
// get a marker that Decode rejects; Validate keys that come from elsewhere
// than ParseHeader and FromDocument.
func (k Key) Encode() []byte {
	return append(k.AppendPrefix(make([]byte, 0, k.encodedSizeHint()+1)), tagEnd)
}

// AppendPrefix appends the encoding of k's components to dst without the
// end-of-key byte. The result is a prefix of the Encode output of every key
// that k Matches as a prefix, so it serves for range scans of a MultiHash
// prefix query.
func (k Key) AppendPrefix(dst []byte) []byte {
	for _, v := range k {
		dst = appendComponent(dst, v)
	}
	return dst
}

func (k Key) encodedSizeHint() int {
	n := 0
	for _, v := range k {
		if s, ok := v.(string); ok {
			n += len(s) + 3
		} else {
			n += 9
		}
	}
	return n
}

func appendComponent(dst []byte, v any) []byte {
	c, ok := component(v)
	if !ok {
		dst = append(dst, tagInvalid)
		return appendEscaped(dst, fmt.Sprintf("%T", v))
	}
	switch x := c.(type) {
	case Undefined:
		return append(dst, tagUndefined)
	case nil:
		return append(dst, tagNull)
	case bool:
		if x {
			return append(dst, tagTrue)
		}
		return append(dst, tagFalse)
	case float64:
		return binary.BigEndian.AppendUint64(append(dst, tagNumber), encodeFloat(x))
	case string:
		return appendEscaped(append(dst, tagString), x)
	}
	panic("unreachable")
}

func appendEscaped(dst []byte, s string) []byte {
	for {
		i := strings.IndexByte(s, 0)
		if i < 0 {
			break
		}
		dst = append(dst, s[:i]...)
		dst = append(dst, 0x00, 0xFF)
		s = s[i+1:]
	}
	dst = append(dst, s...)
	return append(dst, 0x00, 0x01)
}

// encodeFloat maps a float64 to a uint64 whose unsigned order is the numeric
// order. f must be normalised (normFloat).
func encodeFloat(f float64) uint64 {
	bits := math.Float64bits(f)
	if bits&(1<<63) != 0 {
		return ^bits
	}
	return bits | 1<<63
}

func decodeFloat(u uint64) float64 {
	if u&(1<<63) != 0 {
		return math.Float64frombits(u &^ (1 << 63))
	}
	return math.Float64frombits(^u)
}

// Decode is the inverse of Encode. It accepts only canonical encodings of
// supported components (so Encode(Decode(b)) equals b) and returns an
// internal error (500) otherwise: encodings come from storage, so a failure
// means corruption. The result is non-nil.
func Decode(b []byte) (Key, error) {
	k, rest, err := Split(b)
	if err == nil && len(rest) != 0 {
		return nil, decodeErr(b, "trailing bytes after end of key")
	}
	return k, err
}

// Split decodes the encoded key at the start of b (as Decode) and returns
// the bytes after it: an item's storage key is its encoded partition key
// followed by its id.
func Split(b []byte) (Key, []byte, error) {
	k := Key{}
	for i := 0; ; {
		if i >= len(b) {
			return nil, nil, decodeErr(b, "missing end-of-key byte")
		}
		tag := b[i]
		i++
		switch tag {
		case tagEnd:
			return k, b[i:], nil
		case tagUndefined:
			k = append(k, Undefined{})
		case tagNull:
			k = append(k, nil)
		case tagFalse:
			k = append(k, false)
		case tagTrue:
			k = append(k, true)
		case tagNumber:
			if len(b)-i < 8 {
				return nil, nil, decodeErr(b, "truncated number")
			}
			u := binary.BigEndian.Uint64(b[i:])
			i += 8
			f := decodeFloat(u)
			if encodeFloat(normFloat(f)) != u {
				return nil, nil, decodeErr(b, "non-canonical number")
			}
			k = append(k, f)
		case tagString:
			s, n, ok := unescape(b[i:])
			if !ok {
				return nil, nil, decodeErr(b, "malformed string")
			}
			i += n
			k = append(k, s)
		default:
			return nil, nil, decodeErr(b, fmt.Sprintf("unknown component tag 0x%02x", tag))
		}
	}
}

// unescape decodes an escaped string and returns it with the number of bytes
// consumed, terminator included.
func unescape(b []byte) (string, int, bool) {
	var sb strings.Builder
	for i := 0; i < len(b); i++ {
		if b[i] != 0x00 {
			sb.WriteByte(b[i])
			continue
		}
		if i+1 >= len(b) {
			return "", 0, false
		}
		switch b[i+1] {
		case 0x01:
			return sb.String(), i + 2, true
		case 0xFF:
			sb.WriteByte(0x00)
			i++
		default:
			return "", 0, false
		}
	}
	return "", 0, false
}

func decodeErr(b []byte, why string) error {
	if len(b) > 64 {
		return resource.Errorf(resource.KindInternal, "corrupt partition key encoding %x...: %s", b[:64], why)
	}
	return resource.Errorf(resource.KindInternal, "corrupt partition key encoding %x: %s", b, why)
}
