// Package httpapi is Meridian's REST edge: it speaks the Azure Cosmos DB
// gateway REST API well enough for the unmodified Go (azcosmos) and Node.js
// (@azure/cosmos) SDKs, and turns each request into one call on a Backend.
//
// The Handler does, in order, for every request:
//
//  1. route: split r.URL.EscapedPath() on '/', percent-decode each segment
//     once (ids may contain %2F, '+', ':', '@', spaces, non-ASCII), and pick
//     the endpoint from the segments, the method and, for POST .../docs, the
//     headers (query plan, batch, query, upsert, create in that order);
//  2. authenticate: verify the master-key signature over the resource type
//     and the unescaped resource link (auth.Verifier); a read-only key gets
//     403 on write endpoints;
//  3. parse and validate headers and body (400 naming the bad header, 413
//     over Config.MaxBodyBytes);
//  4. call the Backend and render its result with the Cosmos headers
//     (x-ms-activity-id, x-ms-request-charge, x-ms-session-token, etag,
//     x-ms-content-path, x-ms-continuation, x-meridian-region, ...).
//
// Every failure goes through one table (errors.go) that maps a
// resource.Kind and substatus to the HTTP status, x-ms-substatus and the
// Cosmos error body {"code":"NotFound","message":"..."}. Errors that are not
// *resource.Error become a 500 with a generic message; the detail is logged.
// Panics are recovered into a 500 JSON body. Responses are never
// compressed, and error bodies are always JSON (the Node SDK cannot read
// anything else).
//
// Meridian does not support stored procedures, triggers, UDFs, users,
// permissions or attachments: those paths answer 400 with a message saying
// so, never a silent success.
package httpapi
