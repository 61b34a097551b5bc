package auth

// knownSig is HMAC-SHA256 (emulator key) of
// "get\ndbs\ndbs/db1\nthu, 26 nov 2026 13:08:15 gmt\n\n", computed with openssl.
const knownSig = "V4KS5pkzqKBAUdowY2CQrcR6Q1rXKPVvqPgPU8aorVw="
