package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

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
	master   *keyedMAC
	readOnly *keyedMAC // nil: no read-only key
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
	v := &Verifier{master: newKeyedMAC(m), now: time.Now, maxSkew: DefaultMaxSkew}
	if readOnlyKey != "" {
		ro, err := decodeKey(readOnlyKey)
		if err != nil {
			return nil, fmt.Errorf("auth: read-only key: %w", err)
		}
		if hmac.Equal(ro, m) {
			return nil, errors.New("auth: the read-only key must differ from the master key")
		}
		v.readOnly = newKeyedMAC(ro)
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
	if v.master.equal(got, method, resourceType, resourceLink, xmsDate) {
		return Write, nil
	}
	if v.readOnly != nil && v.readOnly.equal(got, method, resourceType, resourceLink, xmsDate) {
		return Read, nil
	}
	msg := stringToSign(method, resourceType, resourceLink, xmsDate)
	return None, unauthorized("The input authorization token can't serve the request. The wrong key is being used or the expected payload is not built as per the protocol. Server used the following payload to sign: '%s'.",
		strings.ReplaceAll(msg, "\n", `\n`))
}

// Sign returns the URL-encoded Authorization header value for a request,
// signed with the raw (base64-decoded) key. A caller that signs many
// requests with one key should use a Signer.
func Sign(key []byte, verb, resType, resLink, date string) string {
	s := macState{h: hmac.New(sha256.New, key)}
	return s.sign(verb, resType, resLink, date)
}

// Signer signs requests with one key, reusing its HMAC state: cheaper than
// Sign per request. It is safe for concurrent use.
type Signer struct{ k *keyedMAC }

// NewSigner returns a Signer for the raw (base64-decoded) key.
func NewSigner(key []byte) *Signer { return &Signer{newKeyedMAC(key)} }

// Sign is Sign with the Signer's key.
func (s *Signer) Sign(verb, resType, resLink, date string) string {
	return s.k.sign(verb, resType, resLink, date)
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
	return string(appendStringToSign(nil, verb, resType, resLink, date))
}

// appendStringToSign appends the payload a master-key signature covers:
// the verb, resource type and date lower-cased, the resource link as is,
// each followed by a newline, and an empty last line.
func appendStringToSign(b []byte, verb, resType, resLink, date string) []byte {
	b = appendLower(b, verb)
	b = append(b, '\n')
	b = appendLower(b, resType)
	b = append(b, '\n')
	b = append(b, resLink...)
	b = append(b, '\n')
	b = appendLower(b, date)
	return append(b, '\n', '\n')
}

// appendLower appends s lower-cased as strings.ToLower would.
func appendLower(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return append(b, strings.ToLower(s)...)
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

// keyedMAC computes HMAC-SHA256 with one key from a pool of HMAC states. A
// reset HMAC restores its keyed state instead of hashing the key's pads
// again, which with the pool's reuse of buffers cuts the cost of a
// signature to a third (each request is signed by a client and verified
// here; BenchmarkSign against BenchmarkSigner).
type keyedMAC struct {
	pool sync.Pool // of *macState
}

type macState struct {
	h   hash.Hash
	buf []byte
	sum [sha256.Size]byte
}

func newKeyedMAC(key []byte) *keyedMAC {
	k := &keyedMAC{}
	k.pool.New = func() any { return &macState{h: hmac.New(sha256.New, key)} }
	return k
}

// equal reports whether sig is the MAC of the payload of a request.
func (k *keyedMAC) equal(sig []byte, verb, resType, resLink, date string) bool {
	s := k.pool.Get().(*macState)
	defer k.pool.Put(s)
	return hmac.Equal(sig, s.mac(verb, resType, resLink, date))
}

func (k *keyedMAC) sign(verb, resType, resLink, date string) string {
	s := k.pool.Get().(*macState)
	defer k.pool.Put(s)
	return s.sign(verb, resType, resLink, date)
}

// sign returns the URL-encoded Authorization header value for a request.
func (s *macState) sign(verb, resType, resLink, date string) string {
	sum := s.mac(verb, resType, resLink, date)
	var b [len(signPrefix) + 3*base64Len]byte
	out := append(b[:0], signPrefix...)
	var enc [base64Len]byte
	base64.StdEncoding.Encode(enc[:], sum)
	for _, c := range enc {
		switch c { // what url.QueryEscape changes in standard base64
		case '+':
			out = append(out, "%2B"...)
		case '/':
			out = append(out, "%2F"...)
		case '=':
			out = append(out, "%3D"...)
		default:
			out = append(out, c)
		}
	}
	return string(out)
}

// signPrefix is url.QueryEscape("type=master&ver=1.0&sig=").
const signPrefix = "type%3Dmaster%26ver%3D1.0%26sig%3D"

// base64Len is the length of a SHA-256 MAC in standard base64.
const base64Len = (sha256.Size + 2) / 3 * 4

// mac returns the MAC of a request's payload, valid until the next use of s.
func (s *macState) mac(verb, resType, resLink, date string) []byte {
	s.buf = appendStringToSign(s.buf[:0], verb, resType, resLink, date)
	s.h.Reset()
	s.h.Write(s.buf)
	return s.h.Sum(s.sum[:0])
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
