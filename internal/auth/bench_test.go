package auth

import (
	"net/http"
	"testing"
	"time"
)

func BenchmarkSign(b *testing.B) {
	key := MustDecodeKey(EmulatorKey)
	date := time.Now().UTC().Format(http.TimeFormat)
	b.ReportAllocs()
	for b.Loop() {
		Sign(key, "GET", "docs", "dbs/bench/colls/ycsb/docs/user000000001234", date)
	}
}

func BenchmarkSigner(b *testing.B) {
	s := NewSigner(MustDecodeKey(EmulatorKey))
	date := time.Now().UTC().Format(http.TimeFormat)
	b.ReportAllocs()
	for b.Loop() {
		s.Sign("GET", "docs", "dbs/bench/colls/ycsb/docs/user000000001234", date)
	}
}

func BenchmarkVerify(b *testing.B) {
	v, err := NewVerifier(EmulatorKey, "")
	if err != nil {
		b.Fatal(err)
	}
	date := time.Now().UTC().Format(http.TimeFormat)
	link := "dbs/bench/colls/ycsb/docs/user000000001234"
	h := Sign(MustDecodeKey(EmulatorKey), "GET", "docs", link, date)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify("GET", "docs", link, h, date); err != nil {
			b.Fatal(err)
		}
	}
}
