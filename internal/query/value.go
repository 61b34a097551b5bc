package query

import (
	"math"
	"sort"
	"strings"
)

// kind is the JSON type of a Value. The order of the constants is the Cosmos
// type order used by ORDER BY, MIN and MAX.
type kind uint8

const (
	kUndefined kind = iota
	kNull
	kBool
	kNumber
	kString
	kArray
	kObject
)

// member is one property of an object, in document order.
type member struct {
	key string
	val Value
}

// Value is a JSON value or undefined (the zero Value). Numbers keep their
// source text when they come from a document or literal, so projections
// reproduce them exactly.
type Value struct {
	k   kind
	num float64  // kNumber; kBool: 1 for true
	str string   // kString: the string; kNumber: source text ("" if computed)
	arr []Value  // kArray
	obj []member // kObject
}

var (
	undefined = Value{}
	nullValue = Value{k: kNull}
	trueValue = Value{k: kBool, num: 1}
	falseVal  = Value{k: kBool}
)

func boolValue(b bool) Value {
	if b {
		return trueValue
	}
	return falseVal
}

// numValue returns a computed number, or undefined if it is not finite
// (JSON cannot carry NaN or infinities).
func numValue(f float64) Value {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return undefined
	}
	return Value{k: kNumber, num: f}
}

func strValue(s string) Value { return Value{k: kString, str: s} }

func (v Value) isTrue() bool { return v.k == kBool && v.num != 0 }

// get returns the property name of an object, or undefined.
func (v Value) get(name string) Value {
	if v.k != kObject {
		return undefined
	}
	// Last duplicate wins, as in most JSON readers.
	for i := len(v.obj) - 1; i >= 0; i-- {
		if v.obj[i].key == name {
			return v.obj[i].val
		}
	}
	return undefined
}

// index returns element i of an array, or undefined.
func (v Value) index(i float64) Value {
	if v.k != kArray || i < 0 || i != math.Trunc(i) || i >= float64(len(v.arr)) {
		return undefined
	}
	return v.arr[int(i)]
}

// equal reports Cosmos equality: the result is undefined when either side
// is undefined or the types differ.
func equal(a, b Value) Value {
	if a.k == kUndefined || b.k == kUndefined || a.k != b.k {
		return undefined
	}
	return boolValue(deepEqual(a, b))
}

// deepEqual compares two values of any kinds structurally. Objects compare
// as sets of properties (order does not matter).
func deepEqual(a, b Value) bool {
	if a.k != b.k {
		return false
	}
	switch a.k {
	case kUndefined, kNull:
		return true
	case kBool, kNumber:
		return a.num == b.num
	case kString:
		return a.str == b.str
	case kArray:
		if len(a.arr) != len(b.arr) {
			return false
		}
		for i := range a.arr {
			if !deepEqual(a.arr[i], b.arr[i]) {
				return false
			}
		}
		return true
	case kObject:
		if len(a.obj) != len(b.obj) {
			return false
		}
		for _, m := range a.obj {
			o := b.get(m.key)
			if o.k == kUndefined || !deepEqual(m.val, o) {
				return false
			}
		}
		return true
	}
	return false
}

// compareScalars orders two values of the same primitive kind. ok is false
// when the comparison is undefined (different kinds, arrays, objects).
func compareScalars(a, b Value) (c int, ok bool) {
	if a.k != b.k {
		return 0, false
	}
	switch a.k {
	case kNull:
		return 0, true
	case kBool, kNumber:
		return cmpFloat(a.num, b.num), true
	case kString:
		return strings.Compare(a.str, b.str), true
	}
	return 0, false
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// typeOrder compares any two values by the Cosmos type order (undefined <
// null < false < true < numbers < strings < arrays < objects), then by
// value. Arrays and objects compare by their canonical text so the order is
// total and deterministic.
func typeOrder(a, b Value) int {
	if a.k != b.k {
		return cmpFloat(float64(a.k), float64(b.k))
	}
	if c, ok := compareScalars(a, b); ok {
		return c
	}
	if a.k == kArray || a.k == kObject {
		return strings.Compare(canonical(a), canonical(b))
	}
	return 0
}

// canonical returns a text form of v in which equal values (deepEqual) have
// equal text: object keys sorted, numbers formatted from their float value.
func canonical(v Value) string {
	var b []byte
	b = appendCanonical(b, v)
	return string(b)
}

func appendCanonical(b []byte, v Value) []byte {
	switch v.k {
	case kUndefined:
		return append(b, '~')
	case kNumber:
		return appendNumber(b, v.num)
	case kArray:
		b = append(b, '[')
		for i, e := range v.arr {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendCanonical(b, e)
		}
		return append(b, ']')
	case kObject:
		ms := make([]member, 0, len(v.obj))
		seen := make(map[string]bool, len(v.obj))
		for i := len(v.obj) - 1; i >= 0; i-- {
			if !seen[v.obj[i].key] {
				seen[v.obj[i].key] = true
				ms = append(ms, v.obj[i])
			}
		}
		sort.Slice(ms, func(i, j int) bool { return ms[i].key < ms[j].key })
		b = append(b, '{')
		for i, m := range ms {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, m.key)
			b = append(b, ':')
			b = appendCanonical(b, m.val)
		}
		return append(b, '}')
	}
	return appendJSON(b, v)
}
