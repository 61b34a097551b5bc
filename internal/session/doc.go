// Package session holds Cosmos DB consistency levels and session tokens.
//
// Consistency levels (level.go) are parsed from x-ms-consistency-level and
// relaxed, never strengthened, against the account default.
//
// Session tokens (token.go) follow the vector grammar the service emits and
// the .NET, Java and Node.js SDKs parse:
//
//	header        := partitionToken ( "," partitionToken )*
//	partitionToken:= pkRangeId ":" token
//	token         := lsn                                        (legacy "simple" form)
//	               | version "#" globalLSN ( "#" regionId "=" localLSN )*
//
// Contract:
//
//   - ParseHeader never panics; malformed input gives a *resource.Error of
//     kind KindBadRequest (400) with a message fit for the client. Range ids
//     are opaque and kept even when unknown.
//   - Token.String and Format always write the vector form (a legacy token
//     "0:42" is written back as "0:-1#42"), regions sorted by id, and
//     ParseHeader of that output gives back an equal Token.
//   - Merge and Satisfies implement the SDKs' VectorSessionToken.Merge and
//     IsValid. On valid token histories (a version has one region set, and a
//     region that leaves the set never comes back), Merge is commutative,
//     associative and idempotent, Merge(a, b) satisfies a and b, and a replica
//     whose progress satisfies a token still does after it advances.
//   - The package has no state and no I/O.
package session
