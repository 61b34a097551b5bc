// Package region serves one region of an account: it owns the region's
// catalog replica and its partitions, and enforces, at the data-plane edge,
// the rules that depend on the region's role: where writes are accepted,
// which consistency level a request runs at, and when a read that carries a
// session token may be served.
//
// Region implements httpapi.Backend; the HTTP layer never sees storage.
package region
