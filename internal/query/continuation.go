package query

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/meridiandb/meridian/internal/resource"
)

// continuation is the decoded state of a continuation. Streaming queries resume
// after a document key (After), possibly skipping rows already returned
// from the next document (Partial, Skip); other queries resume at a
// position (Pos) in the fully evaluated result.
type continuation struct {
	Mode    string `json:"m"`           // "s" streaming, "p" positional
	After   []byte `json:"a,omitempty"` // last fully consumed document key
	Partial []byte `json:"r,omitempty"` // key of a partly returned document
	Skip    int    `json:"k,omitempty"` // rows of Partial already returned
	Emitted int    `json:"n,omitempty"` // rows returned so far (for TOP)
	Pos     int    `json:"p,omitempty"` // positional: results already returned
}

// The wire form is base64url(json) + "." + base64url(sha256(text, json)[:12]).
// The checksum binds the token to the query text and detects tampering; it
// is not a secret MAC (a token only ever encodes a resume position, so a
// forged one can do no more than restart the scan elsewhere).
func encodeToken(text string, t continuation) string {
	payload, _ := json.Marshal(t)
	return base64.RawURLEncoding.EncodeToString(payload) + "." + tokenSum(text, payload)
}

func tokenSum(text string, payload []byte) string {
	h := sha256.New()
	h.Write([]byte("meridian-query-v1\x00"))
	h.Write([]byte(text))
	h.Write([]byte{0})
	h.Write(payload)
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:12])
}

func decodeToken(text, s string) (continuation, error) {
	var t continuation
	bad := resource.BadRequestf("Invalid continuation token.")
	if len(s) > 8192 {
		return t, bad
	}
	body, sum, ok := strings.Cut(s, ".")
	if !ok {
		return t, bad
	}
	payload, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil || tokenSum(text, payload) != sum {
		return t, bad
	}
	if err := json.Unmarshal(payload, &t); err != nil {
		return t, bad
	}
	if (t.Mode != "s" && t.Mode != "p") || t.Skip < 0 || t.Emitted < 0 || t.Pos < 0 {
		return t, bad
	}
	return t, nil
}
