package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/meridiandb/meridian/internal/resource"
)

// EmulatorKey is the well-known master key of the Azure Cosmos DB emulator.
// Meridian's dev mode uses it so the SDKs' emulator samples work unchanged.
const EmulatorKey = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="

// DefaultMaxSkew is how far x-ms-date may be from the server clock, as in
// Cosmos DB. SDKs reuse one date for all retries of an operation, so this
// must stay generous.
const DefaultMaxSkew = 15 * time.Minute

// Perm is the permission a verified signature grants.
type Perm int

// Permissions. The zero value grants nothing.
const (
	None  Perm = iota
	Read       // signed with the read-only key
	Write      // signed with the master key: read and write
)

func (p Perm) String() string {
	switch p {
	case Read:
		return "Read"
	case Write:
		return "Write"
	}
	return "None"
}

// Option configures a Verifier.
type Option func(*Verifier)

// WithClock sets the clock used to check x-ms-date (tests).
func WithClock(now func() time.Time) Option { return func(v *Verifier) { v.now = now } }

// WithMaxSkew sets how far x-ms-date may be from now; DefaultMaxSkew if
// d <= 0.
func WithMaxSkew(d time.Duration) Option { return func(v *Verifier) { v.maxSkew = d } }

// Verifier checks master-key signatures. It is safe for concurrent use.
type Verifier struct {
	master   []byte
	readOnly []byte // nil: no read-only key
	now      func() time.Time
	maxSkew  time.Duration
}

// NewVerifier returns a Verifier for a base64 master key and an optional
// base64 read-only key ("" for none).
func NewVerifier(masterKey, readOnlyKey string, opts ...Option) (*Verifier, error) {
	m, err := decodeKey(masterKey)
	if err != nil {
		return nil, fmt.Errorf("auth: master key: %w", err)
	}
	v := &Verifier{master: m, now: time.Now, maxSkew: DefaultMaxSkew}
	if readOnlyKey != "" {
		ro, err := decodeKey(readOnlyKey)
		if err != nil {
			return nil, fmt.Errorf("auth: read-only key: %w", err)
		}
		if hmac.Equal(ro, m) {
			return nil, errors.New("auth: the read-only key must differ from the master key")
		}
		v.readOnly = ro
	}
	for _, o := range opts {
		o(v)
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.maxSkew <= 0 {
		v.maxSkew = DefaultMaxSkew
	}
	return v, nil
}

func decodeKey(k string) ([]byte, error) {
	if k == "" {
		return nil, errors.New("empty key")
	}
	b, err := base64.StdEncoding.DecodeString(k)
	if err != nil {
		// Never echo the key: say only that it is not base64.
		return nil, errors.New("not valid standard base64")
	}
	if len(b) == 0 {
		return nil, errors.New("empty key")
	}
	return b, nil
}

// Header is a parsed Authorization header.
type Header struct {
	Type      string // "master"
	Version   string // "1.0"
	Signature string // standard base64, as sent
}

// ParseAuthHeader percent-decodes an Authorization header value once and
// splits it into its type, ver and sig fields. It does not form-decode: a
// '+' in the signature stays '+'. The fields may come in any order; each
// must appear exactly once.
func ParseAuthHeader(h string) (Header, error) {
	if strings.TrimSpace(h) == "" {
		return Header{}, unauthorized("The authorization header is missing: sign the request with the account key (type=master&ver=1.0&sig=...).")
	}
	dec, err := url.PathUnescape(h)
	if err != nil {
		return Header{}, unauthorized("The authorization header is not validly percent-encoded.")
	}
	var out Header
	var seen [3]bool
	for part := range strings.SplitSeq(dec, "&") {
		k, val, ok := strings.Cut(part, "=")
		if !ok {
			return Header{}, unauthorized("The authorization header is malformed: expected type=master&ver=1.0&sig=<signature>.")
		}
		var i int
		var dst *string
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "type":
			i, dst = 0, &out.Type
		case "ver":
			i, dst = 1, &out.Version
		case "sig":
			i, dst = 2, &out.Signature
		default:
			return Header{}, unauthorized("The authorization header is malformed: unknown field %q.", truncate(k, 32))
		}
		if seen[i] {
			return Header{}, unauthorized("The authorization header is malformed: field %q appears twice.", strings.ToLower(strings.TrimSpace(k)))
		}
		seen[i] = true
		*dst = strings.TrimSpace(val)
	}
	switch {
	case !seen[0] || out.Type == "":
		return Header{}, unauthorized("The authorization header has no type: expected type=master.")
	case !strings.EqualFold(out.Type, "master"):
		return Header{}, unauthorized("The authorization type %q is not supported: Meridian accepts only master-key signatures (type=master).", truncate(out.Type, 32))
	case !seen[1] || out.Version != "1.0":
		return Header{}, unauthorized("The authorization header must have ver=1.0.")
	case !seen[2] || out.Signature == "":
		return Header{}, unauthorized("The authorization header has no signature (sig=...).")
	}
	return out, nil
}

// Verify checks the Authorization header of a request. resourceType and
// resourceLink are what the client signed (see the package doc); xmsDate is
// the raw x-ms-date header (or Date when x-ms-date is absent). It returns
// Write for the master key and Read for the read-only key, or a
// *resource.Error of KindUnauthorized.
func (v *Verifier) Verify(method, resourceType, resourceLink, authorizationHeader, xmsDate string) (Perm, error) {
	h, err := ParseAuthHeader(authorizationHeader)
	if err != nil {
		return None, err
	}
	if strings.TrimSpace(xmsDate) == "" {
		return None, unauthorized("The x-ms-date header is missing: it is required and is part of the signature.")
	}
	t, err := http.ParseTime(xmsDate)
	if err != nil {
		return None, unauthorized("The x-ms-date header %q is not a valid HTTP date (RFC 1123, e.g. %q).", truncate(xmsDate, 64), "Thu, 26 Nov 2026 13:08:15 GMT")
	}
	now := v.now()
	if d := now.Sub(t); d > v.maxSkew || d < -v.maxSkew {
		return None, unauthorized("The x-ms-date header %q is out of range: it must be within %s of the server time (%s). Check the client clock.",
			xmsDate, v.maxSkew, now.UTC().Format(http.TimeFormat))
	}
	got, err := base64.StdEncoding.DecodeString(h.Signature)
	if err != nil {
		return None, unauthorized("The signature in the authorization header is not valid base64 (was the header percent-decoded twice, turning '+' into ' '?).")
	}
	msg := stringToSign(method, resourceType, resourceLink, xmsDate)
	if hmac.Equal(got, mac(v.master, msg)) {
		return Write, nil
	}
	if v.readOnly != nil && hmac.Equal(got, mac(v.readOnly, msg)) {
		return Read, nil
	}
	return None, unauthorized("The input authorization token can't serve the request. The wrong key is being used or the expected payload is not built as per the protocol. Server used the following payload to sign: '%s'.",
		strings.ReplaceAll(msg, "\n", `\n`))
}

// Sign returns the URL-encoded Authorization header value for a request,
// signed with the raw (base64-decoded) key.
func Sign(key []byte, verb, resType, resLink, date string) string {
	sig := base64.StdEncoding.EncodeToString(mac(key, stringToSign(verb, resType, resLink, date)))
	return url.QueryEscape("type=master&ver=1.0&sig=" + sig)
}

// MustDecodeKey decodes a base64 key for Sign; it panics on a malformed key
// and is meant for tests and tools with a known-good key.
func MustDecodeKey(k string) []byte {
	b, err := decodeKey(k)
	if err != nil {
		panic("auth: " + err.Error())
	}
	return b
}

func stringToSign(verb, resType, resLink, date string) string {
	return strings.ToLower(verb) + "\n" + strings.ToLower(resType) + "\n" + resLink + "\n" + strings.ToLower(date) + "\n" + "\n"
}

func mac(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

func unauthorized(format string, args ...any) *resource.Error {
	return &resource.Error{Kind: resource.KindUnauthorized, Msg: fmt.Sprintf(format, args...)}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
