// Package patch implements Cosmos DB partial document update (PATCH):
// parsing the request body and applying its operations to a document.
//
// Operations work on the document's JSON text: only the containers along an
// operation's path are decoded and re-encoded, so untouched members keep
// their order and their exact bytes (number text included). System
// properties (_rid, _self, _etag, _ts, _attachments) and id cannot be
// targeted. Errors are *resource.Error: BadRequest for malformed requests
// and operations that cannot apply, PreconditionFailed when the condition
// does not match.
package patch
