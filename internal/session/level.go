package session

import (
	"strings"

	"github.com/meridiandb/meridian/internal/resource"
)

// Level is a consistency level. Larger values are weaker; 0 means "not set"
// (use the account default).
type Level int

// Consistency levels from strongest to weakest.
const (
	LevelUnset Level = iota
	Strong
	BoundedStaleness
	Session
	ConsistentPrefix
	Eventual
)

var levelNames = [...]string{"", "Strong", "BoundedStaleness", "Session", "ConsistentPrefix", "Eventual"}

func (l Level) String() string {
	if l < 0 || int(l) >= len(levelNames) {
		return "Unknown"
	}
	return levelNames[l]
}

// ParseLevel parses a consistency level name as the SDKs send it
// (case-insensitive). The empty string gives LevelUnset.
func ParseLevel(s string) (Level, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return LevelUnset, nil
	}
	for i, n := range levelNames[1:] {
		if strings.EqualFold(s, n) {
			return Level(i + 1), nil
		}
	}
	return LevelUnset, resource.BadRequestf("Invalid value %q for header x-ms-consistency-level: use Strong, BoundedStaleness, Session, ConsistentPrefix or Eventual.", s)
}

// Effective returns the level a request runs at: the requested level if set
// and not stronger than the account default, otherwise an error (400), as
// Cosmos DB answers a request for a stronger level than the account's.
func Effective(account, requested Level) (Level, error) {
	if requested == LevelUnset {
		return account, nil
	}
	if requested < account {
		return LevelUnset, resource.BadRequestf("Invalid value %q for header x-ms-consistency-level: it is stronger than the account's default consistency level %q.", requested, account)
	}
	return requested, nil
}
