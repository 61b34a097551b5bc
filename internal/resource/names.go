package resource

import (
	"strings"
	"unicode/utf8"
)

// MaxIDLength is the longest id Cosmos DB accepts for any resource.
const MaxIDLength = 255

// MaxItemSize is the largest item body accepted (2 MB, as in Cosmos DB).
const MaxItemSize = 2 * 1024 * 1024

// ValidateID checks a resource id: 1..255 characters, valid UTF-8, none of
// '/', '\\', '?', '#', and not ending with a space.
func ValidateID(id string) error {
	switch {
	case id == "":
		return BadRequestf("The input name is invalid: id must be a non-empty string.")
	case utf8.RuneCountInString(id) > MaxIDLength:
		return BadRequestf("The input name is invalid: id exceeds %d characters.", MaxIDLength)
	case !utf8.ValidString(id):
		return BadRequestf("The input name is invalid: id is not valid UTF-8.")
	case strings.ContainsAny(id, `/\?#`):
		return BadRequestf("The input name '%s' is invalid. Ensure to not use the characters '/', '\\', '?', '#'.", id)
	case strings.HasSuffix(id, " "):
		return BadRequestf("The input name '%s' is invalid: it ends with a space.", id)
	}
	return nil
}
