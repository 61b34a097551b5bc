package conflict

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/meridiandb/meridian/internal/resource"
)

// Mode is a conflict resolution mode.
type Mode uint8

const (
	// LastWriterWins keeps the version with the highest value at the policy
	// path (default /_ts); losers are counted, never fed.
	LastWriterWins Mode = iota
	// Custom (without a stored procedure) keeps one version and sends every
	// losing version to the conflicts feed.
	Custom
)

// String returns the mode as spelled in the policy JSON.
func (m Mode) String() string {
	if m == Custom {
		return "Custom"
	}
	return "LastWriterWins"
}

// TSPath is the default last-writer-wins path: the server timestamp.
const TSPath = "/_ts"

// Policy is a container's conflict resolution policy. The zero value is
// Cosmos DB's default: LastWriterWins on /_ts.
type Policy struct {
	mode Mode
	path string   // LastWriterWins: the path as given ("" means /_ts); Custom: ""
	segs []string // the path's property names; nil for /_ts
}

// DefaultPolicy returns LastWriterWins on /_ts.
func DefaultPolicy() Policy { return Policy{} }

// CustomPolicy returns the Custom mode without a stored procedure: every
// conflict's loser goes to the conflicts feed.
func CustomPolicy() Policy { return Policy{mode: Custom} }

// LastWriterWinsPolicy returns LastWriterWins on path ("" for /_ts), or a
// 400 if the path is invalid.
func LastWriterWinsPolicy(path string) (Policy, error) {
	if path == "" || path == TSPath {
		return Policy{}, nil
	}
	segs, err := parsePath(path)
	if err != nil {
		return Policy{}, err
	}
	if len(segs) == 1 && segs[0] == "_ts" {
		return Policy{path: path}, nil
	}
	return Policy{path: path, segs: segs}, nil
}

// Mode returns the policy's mode.
func (p Policy) Mode() Mode { return p.mode }

// Path returns the last-writer-wins path ("/_ts" by default), or "" in
// Custom mode.
func (p Policy) Path() string {
	if p.mode == Custom {
		return ""
	}
	if p.path == "" {
		return TSPath
	}
	return p.path
}

// byTS reports whether versions are ordered by their timestamp: LWW on
// /_ts, and Custom mode (which keeps what LWW on /_ts would keep).
func (p Policy) byTS() bool { return p.segs == nil }

// Equal reports whether p and o are the same policy.
func (p Policy) Equal(o Policy) bool { return p.mode == o.mode && p.Path() == o.Path() }

// MarshalJSON renders the policy in the shape Cosmos DB returns:
// {"mode":...,"conflictResolutionPath":...,"conflictResolutionProcedure":""}.
func (p Policy) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Mode      string `json:"mode"`
		Path      string `json:"conflictResolutionPath"`
		Procedure string `json:"conflictResolutionProcedure"`
	}{p.mode.String(), p.Path(), ""})
}

// ParsePolicy parses a container's conflictResolutionPolicy JSON. Empty
// input or null is the default policy. Field names match case-insensitively
// (as in the catalog), unknown fields are ignored, and every refusal is a
// 400 (resource.KindBadRequest):
//
//   - mode: "LastWriterWins" (the default when absent or "") or "Custom",
//     case-insensitive;
//   - LastWriterWins: conflictResolutionPath defaults to /_ts; otherwise it
//     must be a rooted path of property names ("/priority", "/a/b",
//     `/"a b"/c`) with no empty segment and no wildcard ('*', '?', "[]");
//     conflictResolutionProcedure must be empty;
//   - Custom: conflictResolutionProcedure must be empty — stored procedures
//     are not supported, so a Custom policy names none and every conflict
//     goes to the conflicts feed; conflictResolutionPath must be empty.
func ParsePolicy(b []byte) (Policy, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return Policy{}, nil
	}
	if b[0] != '{' || !json.Valid(b) {
		return Policy{}, badPolicy("it must be a JSON object")
	}
	var raw struct {
		Mode      json.RawMessage `json:"mode"`
		Path      json.RawMessage `json:"conflictResolutionPath"`
		Procedure json.RawMessage `json:"conflictResolutionProcedure"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return Policy{}, badPolicy("it must be a JSON object")
	}
	mode, err := stringField("mode", raw.Mode)
	if err != nil {
		return Policy{}, err
	}
	path, err := stringField("conflictResolutionPath", raw.Path)
	if err != nil {
		return Policy{}, err
	}
	proc, err := stringField("conflictResolutionProcedure", raw.Procedure)
	if err != nil {
		return Policy{}, err
	}
	switch {
	case mode == "" || strings.EqualFold(mode, "LastWriterWins"):
		if proc != "" {
			return Policy{}, badPolicy("conflictResolutionProcedure " + quote(proc) + " applies only to mode Custom, and stored procedures are not supported")
		}
		return LastWriterWinsPolicy(path)
	case strings.EqualFold(mode, "Custom"):
		if proc != "" {
			return Policy{}, badPolicy("conflictResolutionProcedure " + quote(proc) + ": stored procedures are not supported; use mode Custom without a procedure (every conflict goes to the conflicts feed) or LastWriterWins")
		}
		if path != "" {
			return Policy{}, badPolicy("conflictResolutionPath " + quote(path) + " applies only to mode LastWriterWins")
		}
		return CustomPolicy(), nil
	default:
		return Policy{}, badPolicy("mode " + quote(mode) + " is not supported; use LastWriterWins or Custom")
	}
}

func stringField(name string, raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", badPolicy(name + " must be a string")
	}
	return s, nil
}

func badPolicy(why string) error {
	return resource.BadRequestf("The conflictResolutionPolicy is invalid: %s.", why)
}

func quote(s string) string {
	if len(s) > 128 {
		s = s[:128] + "..."
	}
	return strconv.Quote(s)
}

// parsePath splits a conflictResolutionPath into property names. A segment
// is either bare (no '/', '"') or a JSON string literal, which may hold any
// character ("/\"a/b\"/c" names the property "c" of the property "a/b").
func parsePath(path string) ([]string, error) {
	bad := func(why string) error {
		return badPolicy("conflictResolutionPath " + quote(path) + " " + why)
	}
	if !strings.HasPrefix(path, "/") {
		return nil, bad("must start with '/'")
	}
	if strings.ContainsAny(path, "*?") {
		return nil, bad("must not contain wildcards ('*' or '?')")
	}
	var segs []string
	i := 1
	for {
		if i >= len(path) {
			return nil, bad("must name a property after every '/'")
		}
		var seg string
		if path[i] == '"' {
			j := i + 1
			for j < len(path) && path[j] != '"' {
				if path[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(path) {
				return nil, bad("has an unterminated quoted segment")
			}
			if err := json.Unmarshal([]byte(path[i:j+1]), &seg); err != nil {
				return nil, bad("has an invalid quoted segment")
			}
			i = j + 1
		} else {
			j := strings.IndexByte(path[i:], '/')
			if j < 0 {
				j = len(path) - i
			}
			seg = path[i : i+j]
			if strings.ContainsRune(seg, '"') {
				return nil, bad("has a '\"' inside a segment (quote the whole segment)")
			}
			i += j
		}
		if seg == "" {
			return nil, bad("has an empty segment")
		}
		if seg == "[]" {
			return nil, bad("must not contain wildcards ('[]')")
		}
		segs = append(segs, seg)
		if i == len(path) {
			return segs, nil
		}
		if path[i] != '/' {
			return nil, bad("must separate segments with '/'")
		}
		i++
	}
}
