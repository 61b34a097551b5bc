package patch

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
)

// container is one decoded JSON object or array whose member values are
// kept as raw text.
type container struct {
	array bool
	keys  []string // objects only
	vals  []json.RawMessage
}

var errNotContainer = errors.New("not an object or array")

// decodeContainer decodes the top level of an object or array.
func decodeContainer(raw []byte) (*container, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || (raw[0] != '{' && raw[0] != '[') {
		return nil, errNotContainer
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	c := &container{array: raw[0] == '['}
	for dec.More() {
		if !c.array {
			t, err := dec.Token()
			if err != nil {
				return nil, err
			}
			k, ok := t.(string)
			if !ok {
				return nil, errNotContainer
			}
			c.keys = append(c.keys, k)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		c.vals = append(c.vals, v)
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	return c, nil
}

// encode writes the container back; member values are copied verbatim.
func (c *container) encode() []byte {
	var b bytes.Buffer
	if c.array {
		b.WriteByte('[')
	} else {
		b.WriteByte('{')
	}
	for i, v := range c.vals {
		if i > 0 {
			b.WriteByte(',')
		}
		if !c.array {
			b.Write(quote(c.keys[i]))
			b.WriteByte(':')
		}
		b.Write(v)
	}
	if c.array {
		b.WriteByte(']')
	} else {
		b.WriteByte('}')
	}
	return b.Bytes()
}

func quote(s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return bytes.TrimRight(b.Bytes(), "\n")
}

// find returns the position of seg: for objects the index of the member
// (the last one if the key repeats), for arrays the parsed index. ok is
// false when the member does not exist or, for arrays, seg is not an index
// below the length.
func (c *container) find(seg string) (int, bool) {
	if c.array {
		i, ok := arrayIndex(seg)
		return i, ok && i < len(c.vals)
	}
	for i := len(c.keys) - 1; i >= 0; i-- {
		if c.keys[i] == seg {
			return i, true
		}
	}
	return -1, false
}

// arrayIndex parses a decimal array index without sign or leading zeros.
func arrayIndex(seg string) (int, bool) {
	if seg == "" || len(seg) > 9 || (len(seg) > 1 && seg[0] == '0') {
		return 0, false
	}
	n, err := strconv.Atoi(seg)
	if err != nil || n < 0 {
		return 0, false
	}
	for _, r := range seg {
		if r < '0' || r > '9' {
			return 0, false
		}
	}
	return n, true
}

func (c *container) insert(i int, v json.RawMessage) {
	c.vals = append(c.vals, nil)
	copy(c.vals[i+1:], c.vals[i:])
	c.vals[i] = v
}

func (c *container) delete(i int) {
	c.vals = append(c.vals[:i], c.vals[i+1:]...)
	if !c.array {
		c.keys = append(c.keys[:i], c.keys[i+1:]...)
	}
}

// setMember replaces member key (its last occurrence) or appends it.
func (c *container) setMember(key string, v json.RawMessage) {
	if i, ok := c.find(key); ok {
		c.vals[i] = v
		return
	}
	c.keys = append(c.keys, key)
	c.vals = append(c.vals, v)
}
