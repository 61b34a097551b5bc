// Package auth verifies Cosmos DB master-key authorization headers.
//
// A request is signed with HMAC-SHA256 over the string
//
//	lower(verb) "\n" lower(resourceType) "\n" resourceLink "\n" lower(x-ms-date) "\n" "\n"
//
// keyed by the base64-decoded account key, and sent as the URL-encoded
// header value "type=master&ver=1.0&sig=<base64 signature>" (see
// cosmos-wire-protocol.md §3). The resource link is the name-based link with
// each segment percent-decoded, without leading or trailing '/', except for
// offers, which are signed with their lower-cased RID.
//
// A Verifier holds the master key and an optional read-only key. Verify
// reports which permission the signature grants: Write for the master key,
// Read for the read-only key. The caller (internal/httpapi) refuses writes
// made with Read (403). Every failure is a *resource.Error of
// KindUnauthorized (401) whose message says what is wrong; it never contains
// the expected signature or a key.
//
// Sign builds a header value; tests and the bench client use it.
package auth
