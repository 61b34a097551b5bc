package pkey

import (
	"math"
	"strings"
	"unicode/utf8"

	"github.com/meridiandb/meridian/internal/resource"
)

// MaxValueBytes is the largest total size, in UTF-8 bytes of its strings, of a
// partition key value (Cosmos DB's limit is 2 KB).
const MaxValueBytes = 2048

// Validate checks k against def for a point operation, a write or a batch:
// exactly one component per path, each null, boolean, finite number, string
// (valid UTF-8) or undefined, strings totalling at most MaxValueBytes. def is
// normalised first (see resource.PartitionKeyDefinition.Normalize). Errors
// are 400.
func (k Key) Validate(def resource.PartitionKeyDefinition) error {
	def, err := normalized(def)
	if err != nil {
		return err
	}
	if len(k) != len(def.Paths) {
		return resource.BadRequestf("The partition key %s has %d component(s), but the container is partitioned by %s and needs exactly %d.", k.JSON(), len(k), strings.Join(def.Paths, ", "), len(def.Paths))
	}
	return k.validateComponents()
}

// ValidatePrefix is Validate for queries and other reads that accept a
// MultiHash prefix: 1 to len(def.Paths) components for MultiHash (use
// Matches to filter), exactly 1 for Hash.
func (k Key) ValidatePrefix(def resource.PartitionKeyDefinition) error {
	def, err := normalized(def)
	if err != nil {
		return err
	}
	if def.Kind != "MultiHash" || len(k) == 0 || len(k) > len(def.Paths) {
		if def.Kind == "MultiHash" {
			return resource.BadRequestf("The partition key %s has %d component(s), but the container is partitioned by %s and needs 1 to %d.", k.JSON(), len(k), strings.Join(def.Paths, ", "), len(def.Paths))
		}
		return k.Validate(def)
	}
	return k.validateComponents()
}

// validateComponents checks the types and sizes of k's components.
func (k Key) validateComponents() error {
	size := 0
	for i, v := range k {
		c, ok := component(v)
		if !ok {
			return resource.BadRequestf("Partition key component %d has unsupported type %T: use a string, number, boolean, null or undefined.", i, v)
		}
		switch x := c.(type) {
		case float64:
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return resource.BadRequestf("Partition key component %d is %s: numbers must be finite.", i, formatNumber(x))
			}
		case string:
			if !utf8.ValidString(x) {
				return resource.BadRequestf("Partition key component %d is not valid UTF-8.", i)
			}
			size += len(x)
		}
	}
	if size > MaxValueBytes {
		return resource.BadRequestf("The partition key value is too large: %d bytes of strings, the limit is %d.", size, MaxValueBytes)
	}
	return nil
}

// normalized returns a normalised copy of def and checks it.
func normalized(def resource.PartitionKeyDefinition) (resource.PartitionKeyDefinition, error) {
	def.Normalize()
	if err := def.Validate(); err != nil {
		return def, err
	}
	return def, nil
}
