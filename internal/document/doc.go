// Package document handles item bodies on the write path: it validates the
// JSON, extracts the id, the partition-key values and the ttl, and renders
// the stored form with Cosmos DB's system properties (_rid, _self, _etag,
// _attachments, _ts). User properties keep their order and their exact
// number text; incoming system properties are replaced.
package document
