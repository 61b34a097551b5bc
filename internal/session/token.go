package session

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/meridiandb/meridian/internal/resource"
)

// HeaderName is the request and response header that carries session tokens.
const HeaderName = "x-ms-session-token"

// Token is one partition key range's session token:
// version#globalLSN(#regionId=localLSN)*.
type Token struct {
	// Version is the partition's configuration number, bumped on every
	// failover or topology change; -1 for single-region partitions and legacy
	// tokens.
	Version int64
	// GlobalLSN is the partition's global log sequence number.
	GlobalLSN int64
	// Regions holds the local LSN of each write region in multi-write
	// accounts; nil or empty for single-write.
	Regions map[uint32]int64
}

// Equal reports whether t and o are the same token (nil and empty Regions are
// equal).
func (t Token) Equal(o Token) bool {
	return t.Version == o.Version && t.GlobalLSN == o.GlobalLSN && maps.Equal(t.Regions, o.Regions)
}

// String returns the token in vector form: "1#42" or "1#100#1=20#2=30"
// (regions sorted by id).
func (t Token) String() string {
	var b strings.Builder
	b.WriteString(strconv.FormatInt(t.Version, 10))
	b.WriteByte('#')
	b.WriteString(strconv.FormatInt(t.GlobalLSN, 10))
	for _, id := range slices.Sorted(maps.Keys(t.Regions)) {
		b.WriteByte('#')
		b.WriteString(strconv.FormatUint(uint64(id), 10))
		b.WriteByte('=')
		b.WriteString(strconv.FormatInt(t.Regions[id], 10))
	}
	return b.String()
}

// Format returns one partition token as sent in x-ms-session-token:
// Format("0", t) is "0:1#42".
func Format(rangeID string, t Token) string {
	return rangeID + ":" + t.String()
}

// FormatHeader joins the tokens of several ranges, sorted by range id, into
// one x-ms-session-token value; an empty map gives "".
func FormatHeader(tokens map[string]Token) string {
	parts := make([]string, 0, len(tokens))
	for _, id := range slices.Sorted(maps.Keys(tokens)) {
		parts = append(parts, Format(id, tokens[id]))
	}
	return strings.Join(parts, ",")
}

// ParseHeader parses an x-ms-session-token request header: "rangeId:token"
// parts joined by ','. It accepts the vector form and the legacy simple form
// "0:42" (GlobalLSN 42, Version -1). Unknown range ids are kept; a range that
// appears twice gets the Merge of its tokens. Spaces around parts and empty
// parts are ignored, so "" gives an empty map. Anything else is a 400.
func ParseHeader(h string) (map[string]Token, error) {
	out := map[string]Token{}
	for part := range strings.SplitSeq(h, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, tok, ok := strings.Cut(part, ":")
		if !ok || id == "" || strings.ContainsAny(id, " \t") {
			return nil, badToken(part, "each part must be <partition key range id>:<token>")
		}
		t, err := parseToken(tok)
		if err != nil {
			return nil, badToken(part, err.Error())
		}
		if prev, dup := out[id]; dup {
			m, err := Merge(prev, t)
			if err != nil {
				return nil, badToken(part, "it conflicts with another token for range "+id)
			}
			t = m
		}
		out[id] = t
	}
	return out, nil
}

func badToken(part, why string) error {
	if len(part) > 128 {
		part = part[:128] + "..."
	}
	return resource.BadRequestf("The session token provided %q in header %s is invalid: %s.", part, HeaderName, why)
}

type tokenError string

func (e tokenError) Error() string { return string(e) }

// parseToken parses the part after "rangeId:".
func parseToken(s string) (Token, error) {
	if !strings.Contains(s, "#") {
		lsn, ok := parseInt(s)
		if !ok {
			return Token{}, tokenError("expected <version>#<globalLSN>[#<regionId>=<localLSN>...] or a legacy <lsn>")
		}
		return Token{Version: -1, GlobalLSN: lsn}, nil
	}
	fields := strings.Split(s, "#")
	version, ok := parseInt(fields[0])
	if !ok {
		return Token{}, tokenError("the version " + strconv.Quote(fields[0]) + " is not an integer")
	}
	global, ok := parseInt(fields[1])
	if !ok {
		return Token{}, tokenError("the global LSN " + strconv.Quote(fields[1]) + " is not an integer")
	}
	t := Token{Version: version, GlobalLSN: global}
	if len(fields) > 2 {
		t.Regions = make(map[uint32]int64, len(fields)-2)
	}
	for _, f := range fields[2:] {
		rs, ls, ok := strings.Cut(f, "=")
		if !ok {
			return Token{}, tokenError("the region entry " + strconv.Quote(f) + " must be <regionId>=<localLSN>")
		}
		if !isDigits(rs) {
			return Token{}, tokenError("the region id " + strconv.Quote(rs) + " is not an unsigned integer")
		}
		id, err := strconv.ParseUint(rs, 10, 32)
		if err != nil {
			return Token{}, tokenError("the region id " + strconv.Quote(rs) + " is out of range")
		}
		lsn, ok := parseInt(ls)
		if !ok {
			return Token{}, tokenError("the local LSN " + strconv.Quote(ls) + " is not an integer")
		}
		if _, dup := t.Regions[uint32(id)]; dup {
			return Token{}, tokenError("region " + rs + " appears twice")
		}
		t.Regions[uint32(id)] = lsn
	}
	return t, nil
}

// parseInt parses -?[0-9]+ as an int64 (no '+', no spaces).
func parseInt(s string) (int64, bool) {
	if !isDigits(strings.TrimPrefix(s, "-")) {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Merge combines two tokens of the same range as the .NET and Node.js SDKs
// do: the higher version and the higher global LSN; the regions of the
// higher-version token, each with the max local LSN of the two tokens
// (regions only in the lower-version token are dropped: the topology
// changed). Equal versions with different region sets are an error (400,
// since the tokens come from a client). The result shares no map with a or b,
// and its Regions is nil when empty.
func Merge(a, b Token) (Token, error) {
	hi, lo := a, b
	if b.Version > a.Version {
		hi, lo = b, a
	}
	same := a.Version == b.Version
	if same && len(a.Regions) != len(b.Regions) {
		return Token{}, regionMismatch(a, b)
	}
	out := Token{Version: hi.Version, GlobalLSN: max(a.GlobalLSN, b.GlobalLSN)}
	if len(hi.Regions) > 0 {
		out.Regions = make(map[uint32]int64, len(hi.Regions))
	}
	for id, l := range hi.Regions {
		if l2, ok := lo.Regions[id]; ok {
			l = max(l, l2)
		} else if same {
			return Token{}, regionMismatch(a, b)
		}
		out.Regions[id] = l
	}
	return out, nil
}

func regionMismatch(a, b Token) error {
	return resource.BadRequestf("The session tokens %q and %q have the same version but different regions.", a.String(), b.String())
}

// Satisfies reports whether a replica whose progress is p can serve a read
// that requires r (VectorSessionToken.IsValid in the .NET SDK):
// p.Version >= r.Version, p.GlobalLSN >= r.GlobalLSN, and p's local LSN is at
// least r's for every region present in both. Regions present in only one of
// them are ignored.
func (p Token) Satisfies(r Token) bool {
	if p.Version < r.Version || p.GlobalLSN < r.GlobalLSN {
		return false
	}
	for id, l := range r.Regions {
		if pl, ok := p.Regions[id]; ok && pl < l {
			return false
		}
	}
	return true
}
