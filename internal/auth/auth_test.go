package auth

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/meridiandb/meridian/internal/resource"
)

var (
	testNow  = time.Date(2026, 11, 26, 13, 8, 15, 0, time.UTC)
	testDate = testNow.Format(http.TimeFormat)
	roKey    = base64.StdEncoding.EncodeToString([]byte("read-only-key-for-tests-0123456789"))
)

func newTestVerifier(t *testing.T) *Verifier {
	t.Helper()
	v, err := NewVerifier(EmulatorKey, roKey, WithClock(func() time.Time { return testNow }))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func wantUnauthorized(t *testing.T, err error, substr string) {
	t.Helper()
	var re *resource.Error
	if !errors.As(err, &re) || re.Kind != resource.KindUnauthorized {
		t.Fatalf("got %v, want a KindUnauthorized *resource.Error", err)
	}
	if !strings.Contains(re.Msg, substr) {
		t.Fatalf("message %q does not contain %q", re.Msg, substr)
	}
}

// TestSignKnownVector pins the string-to-sign: the signature below was
// computed independently (openssl) for the emulator key.
func TestSignKnownVector(t *testing.T) {
	key := MustDecodeKey(EmulatorKey)
	got := Sign(key, "GET", "dbs", "dbs/db1", "Thu, 26 Nov 2026 13:08:15 GMT")
	dec, err := url.QueryUnescape(got)
	if err != nil {
		t.Fatal(err)
	}
	// printf 'get\ndbs\ndbs/db1\nthu, 26 nov 2026 13:08:15 gmt\n\n' | openssl dgst -sha256 -hmac <key> -binary | base64
	const want = "type=master&ver=1.0&sig=" + knownSig
	if dec != want {
		t.Fatalf("Sign = %q, want %q", dec, want)
	}
	if strings.ContainsAny(got, "&=+/") {
		t.Fatalf("Sign did not URL-encode the header: %q", got)
	}
}

func TestVerifyMasterAndReadOnly(t *testing.T) {
	v := newTestVerifier(t)
	master := MustDecodeKey(EmulatorKey)
	ro := MustDecodeKey(roKey)
	link := "dbs/db 1/colls/c+1/docs/a b+é:@"
	p, err := v.Verify("PUT", "docs", link, Sign(master, "PUT", "docs", link, testDate), testDate)
	if err != nil || p != Write {
		t.Fatalf("master: perm %v err %v", p, err)
	}
	p, err = v.Verify("GET", "docs", link, Sign(ro, "GET", "docs", link, testDate), testDate)
	if err != nil || p != Read {
		t.Fatalf("read-only: perm %v err %v", p, err)
	}
	// Case-insensitive verb, type and date (lower-cased before signing).
	p, err = v.Verify("get", "DOCS", link, Sign(master, "GET", "docs", link, strings.ToLower(testDate)), testDate)
	if err != nil || p != Write {
		t.Fatalf("case: perm %v err %v", p, err)
	}
}

func TestVerifyPlusInSignatureSurvives(t *testing.T) {
	v := newTestVerifier(t)
	master := MustDecodeKey(EmulatorKey)
	// Find a link whose signature contains '+', then send it the way Node's
	// encodeURIComponent and Go's QueryEscape do, and also with only '&'
	// and '=' encoded (the '+' literal): both must verify.
	for i := range 1000 {
		link := "dbs/db" + strings.Repeat("x", i)
		h := Sign(master, "GET", "dbs", link, testDate)
		raw, _ := url.QueryUnescape(h)
		sig := strings.TrimPrefix(raw, "type=master&ver=1.0&sig=")
		if !strings.Contains(sig, "+") {
			continue
		}
		if _, err := v.Verify("GET", "dbs", link, h, testDate); err != nil {
			t.Fatalf("encoded: %v", err)
		}
		literal := "type%3Dmaster%26ver%3D1.0%26sig%3D" + sig
		if _, err := v.Verify("GET", "dbs", link, literal, testDate); err != nil {
			t.Fatalf("literal '+': %v", err)
		}
		return
	}
	t.Fatal("no signature with '+' found")
}

func TestVerifyFailures(t *testing.T) {
	v := newTestVerifier(t)
	master := MustDecodeKey(EmulatorKey)
	good := Sign(master, "GET", "dbs", "dbs/db1", testDate)
	other := Sign([]byte("some other key"), "GET", "dbs", "dbs/db1", testDate)
	tests := []struct {
		name, header, date, link, want string
	}{
		{"missing header", "", testDate, "dbs/db1", "missing"},
		{"bad percent", "type%3Dmaster%ZZ", testDate, "dbs/db1", "percent-encoded"},
		{"no fields", "garbage", testDate, "dbs/db1", "malformed"},
		{"aad", url.QueryEscape("type=aad&ver=1.0&sig=eyJ0"), testDate, "dbs/db1", "not supported"},
		{"resource token", "type=resource&ver=1.0&sig=abc", testDate, "dbs/db1", "not supported"},
		{"bad version", url.QueryEscape("type=master&ver=2.0&sig=abc"), testDate, "dbs/db1", "ver=1.0"},
		{"no sig", url.QueryEscape("type=master&ver=1.0"), testDate, "dbs/db1", "no signature"},
		{"dup field", url.QueryEscape("type=master&type=master&ver=1.0&sig=a"), testDate, "dbs/db1", "twice"},
		{"sig not base64", url.QueryEscape("type=master&ver=1.0&sig=a b"), testDate, "dbs/db1", "base64"},
		{"wrong key", other, testDate, "dbs/db1", "can't serve the request"},
		{"wrong link", good, testDate, "dbs/db2", "dbs/db2"},
		{"missing date", good, "", "dbs/db1", "x-ms-date header is missing"},
		{"garbled date", good, "yesterday", "dbs/db1", "not a valid HTTP date"},
		{"date too old", Sign(master, "GET", "dbs", "dbs/db1", testNow.Add(-16*time.Minute).Format(http.TimeFormat)),
			testNow.Add(-16 * time.Minute).Format(http.TimeFormat), "dbs/db1", "out of range"},
		{"date in future", Sign(master, "GET", "dbs", "dbs/db1", testNow.Add(16*time.Minute).Format(http.TimeFormat)),
			testNow.Add(16 * time.Minute).Format(http.TimeFormat), "dbs/db1", "out of range"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := v.Verify("GET", "dbs", tc.link, tc.header, tc.date)
			if p != None {
				t.Fatalf("perm %v on failure", p)
			}
			wantUnauthorized(t, err, tc.want)
			if sig := strings.TrimPrefix(mustUnescape(good), "type=master&ver=1.0&sig="); strings.Contains(err.Error(), sig) {
				t.Fatalf("error leaks the expected signature: %v", err)
			}
		})
	}
}

func TestVerifyWithinSkew(t *testing.T) {
	v := newTestVerifier(t)
	master := MustDecodeKey(EmulatorKey)
	for _, d := range []time.Duration{-14 * time.Minute, 14 * time.Minute} {
		date := testNow.Add(d).Format(http.TimeFormat)
		if _, err := v.Verify("GET", "", "", Sign(master, "GET", "", "", date), date); err != nil {
			t.Fatalf("skew %v: %v", d, err)
		}
	}
}

func TestNewVerifierErrors(t *testing.T) {
	for _, tc := range []struct{ m, ro string }{{"", ""}, {"not base64!", ""}, {EmulatorKey, "###"}, {EmulatorKey, EmulatorKey}} {
		if _, err := NewVerifier(tc.m, tc.ro); err == nil {
			t.Errorf("NewVerifier(%q, %q): no error", tc.m, tc.ro)
		} else if strings.Contains(err.Error(), EmulatorKey) {
			t.Errorf("error leaks the key: %v", err)
		}
	}
}

func mustUnescape(s string) string {
	u, err := url.QueryUnescape(s)
	if err != nil {
		panic(err)
	}
	return u
}
