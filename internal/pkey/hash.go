package pkey

import (
	"encoding/binary"
	"encoding/hex"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/spaolacci/murmur3"

	"github.com/meridiandb/meridian/internal/resource"
)

// Type markers of the Cosmos DB partition key hashing and binary encodings
// (PartitionKeyComponentType in the SDKs).
const (
	hashUndefined = 0x00
	hashNull      = 0x01
	hashFalse     = 0x02
	hashTrue      = 0x03
	hashNumber    = 0x05
	hashString    = 0x08
	hashInfinity  = 0xFF // terminates strings in V2 hashing
)

// v1MaxStringChars is how many UTF-16 code units of a string V1 hashes, and
// v1MaxStringBytes how many UTF-8 bytes its binary encoding keeps.
const (
	v1MaxStringChars = 100
	v1MaxStringBytes = 100
)

// EPK returns the effective partition key of k, the upper-case hex string
// Cosmos DB routes on and compares with partition key range bounds:
//
//   - Hash, version 2: MurmurHash3 x64 128 (seed 0) of the type-prefixed
//     components (strings: 0x08, UTF-8, 0xFF; numbers: 0x05, float64 little
//     endian; true 0x03, false 0x02, null 0x01, undefined 0x00), the 16 bytes
//     reversed, byte 0 masked with 0x3F; 32 hex digits.
//   - Hash, version 1: the binary encoding of the MurmurHash3 x86 32 (seed 0)
//     of the first component (strings truncated to 100 UTF-16 code units),
//     followed by the binary encoding of that component.
//   - MultiHash: the V2 hash of each component, concatenated (32 hex digits
//     per component). A prefix key gives the EPK of the prefix; the range of
//     keys under it is [EPK, EPK+"FF").
//
// An empty key gives "" (the minimum EPK). def is normalised first. Errors
// (400) come from an invalid definition or components Validate rejects; the
// component count is not checked here.
func EPK(k Key, def resource.PartitionKeyDefinition) (string, error) {
	def, err := normalized(def)
	if err != nil {
		return "", err
	}
	if err := k.validateComponents(); err != nil {
		return "", err
	}
	if len(k) == 0 {
		return "", nil
	}
	switch {
	case def.Kind == "MultiHash":
		var b strings.Builder
		for _, v := range k {
			b.WriteString(hashV2([]any{v}))
		}
		return b.String(), nil
	case def.Version == 1:
		return hashV1(k[0]), nil
	default:
		return hashV2(k), nil
	}
}

// hashV2 returns the V2 hash of the concatenated components.
func hashV2(comps []any) string {
	var buf []byte
	for _, v := range comps {
		c, _ := component(v)
		switch x := c.(type) {
		case Undefined:
			buf = append(buf, hashUndefined)
		case nil:
			buf = append(buf, hashNull)
		case bool:
			if x {
				buf = append(buf, hashTrue)
			} else {
				buf = append(buf, hashFalse)
			}
		case float64:
			buf = binary.LittleEndian.AppendUint64(append(buf, hashNumber), math.Float64bits(x))
		case string:
			buf = append(append(append(buf, hashString), x...), hashInfinity)
		}
	}
	h1, h2 := murmur3.Sum128(buf)
	// The 128-bit hash as 16 little-endian bytes (h1 then h2), reversed:
	// h2 big-endian then h1 big-endian.
	var out [16]byte
	binary.BigEndian.PutUint64(out[:8], h2)
	binary.BigEndian.PutUint64(out[8:], h1)
	out[0] &= 0x3F
	return strings.ToUpper(hex.EncodeToString(out[:]))
}

// hashV1 returns the V1 effective partition key of one component.
func hashV1(v any) string {
	c, _ := component(v)
	var buf []byte
	switch x := c.(type) {
	case Undefined:
		buf = []byte{hashUndefined}
	case nil:
		buf = []byte{hashNull}
	case bool:
		if x {
			buf = []byte{hashTrue}
		} else {
			buf = []byte{hashFalse}
		}
	case float64:
		buf = binary.LittleEndian.AppendUint64([]byte{hashNumber}, math.Float64bits(x))
	case string:
		c = truncateUTF16(x, v1MaxStringChars)
		buf = append(append([]byte{hashString}, c.(string)...), 0x00)
	}
	// Not murmur3.Sum32WithSeed: its uintptr arithmetic fails checkptr
	// (go test -race). The streaming digest computes the same hash safely.
	d := murmur3.New32WithSeed(0)
	_, _ = d.Write(buf)
	out := appendBinaryNumber(nil, float64(d.Sum32()))
	out = appendBinaryComponent(out, c)
	return strings.ToUpper(hex.EncodeToString(out))
}

// truncateUTF16 keeps the first n UTF-16 code units of s, as .NET's and
// JavaScript's Substring(0, n) do. A surrogate pair cut in half leaves a lone
// high surrogate, which UTF-8 encoding turns into U+FFFD.
func truncateUTF16(s string, n int) string {
	units := 0
	for i, r := range s {
		w := 1
		if r > 0xFFFF {
			w = 2
		}
		if units+w > n {
			if units < n { // half of a surrogate pair fits
				return s[:i] + string(utf8.RuneError)
			}
			return s[:i]
		}
		units += w
	}
	return s
}

// appendBinaryComponent appends the Cosmos DB binary encoding of a component.
func appendBinaryComponent(dst []byte, c any) []byte {
	switch x := c.(type) {
	case Undefined:
		return append(dst, hashUndefined)
	case nil:
		return append(dst, hashNull)
	case bool:
		if x {
			return append(dst, hashTrue)
		}
		return append(dst, hashFalse)
	case float64:
		return appendBinaryNumber(dst, x)
	case string:
		dst = append(dst, hashString)
		short := len(x) <= v1MaxStringBytes
		n := len(x)
		if !short {
			n = v1MaxStringBytes + 1
		}
		for i := 0; i < n; i++ {
			b := x[i]
			if b < 0xFF {
				b++
			}
			dst = append(dst, b)
		}
		if short {
			dst = append(dst, 0x00)
		}
		return dst
	}
	return dst
}

// appendBinaryNumber appends the Cosmos DB binary encoding of a number: the
// type marker, the top byte of the order-preserving 64-bit form, then 7 bits
// per byte with the low bit set as a continuation flag, cleared on the last.
func appendBinaryNumber(dst []byte, f float64) []byte {
	bits := math.Float64bits(f)
	var payload uint64
	if bits < 1<<63 {
		payload = bits ^ 1<<63
	} else {
		payload = ^bits + 1
	}
	dst = append(dst, hashNumber, byte(payload>>56))
	payload <<= 8
	var last byte
	first := true
	for {
		if !first {
			dst = append(dst, last)
		}
		first = false
		last = byte(payload>>56) | 0x01
		payload <<= 7
		if payload == 0 {
			break
		}
	}
	return append(dst, last&0xFE)
}
