// Package pkey parses, encodes and hashes Cosmos DB partition key values.
//
// A Key is the value of a container's partition key: one component per path
// of the container's resource.PartitionKeyDefinition (one for Hash, up to
// three for MultiHash). Components are nil (JSON null), bool, float64, string
// or Undefined{} (the path is absent from the document; SDKs send {}).
//
// Contract:
//
//   - ParseHeader and FromDocument are the only ways a Key enters the system
//     from the outside. They never panic; malformed input gives a
//     *resource.Error of kind KindBadRequest (HTTP 400) with a message fit for
//     the client. Both normalise numbers to float64 (-0 becomes 0), and every
//     string they return is valid UTF-8.
//   - Key.JSON is the canonical header form (ASCII only, valid JSON), and for
//     every key Validate accepts, ParseHeader(k.JSON()) gives back a Key Equal
//     to k.
//   - Validate checks a key against a definition for point operations and
//     writes (exact component count); ValidatePrefix allows a MultiHash prefix
//     for queries. Both return 400s.
//   - Key.Equal compares values the way Cosmos DB does: 1 and 1.0 are equal,
//     "1" and 1 are not, null and Undefined are not.
//   - Key.Encode is a canonical, prefix-free, order-preserving byte encoding
//     for storage keys; Decode is its exact inverse and accepts only canonical
//     encodings, so Encode(Decode(b)) == b whenever Decode succeeds. Decode
//     failures are internal errors (500): they mean corrupt storage.
//   - EPK computes the effective partition key (hex) exactly as the Cosmos DB
//     service and SDKs do (hash V1, V2 and MultiHash), for routing to
//     partition key ranges and for x-ms-start-epk/x-ms-end-epk filtering.
//   - The package has no state and no I/O; everything is safe for concurrent
//     use.
package pkey
