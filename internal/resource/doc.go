// Package resource is Meridian's resource model: databases, containers,
// offers, their system properties (_rid, _self, _etag, _ts), naming rules,
// and the error kinds every layer uses to report a Cosmos-visible failure.
//
// It is a leaf package: pure data and validation, no I/O. The HTTP edge
// (internal/httpapi) holds the one table that maps an error Kind to an HTTP
// status, x-ms-substatus and Cosmos error body.
package resource
