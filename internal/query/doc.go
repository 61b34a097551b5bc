// Package query implements the Cosmos DB NoSQL query language (the SELECT
// dialect) over JSON documents: a lexer and parser producing a Query, an
// evaluator with Cosmos semantics (undefined versus null, type-strict
// comparisons, type-ordered sorting), paging with validated continuation
// tokens, the query plan the Node.js SDK asks for, and the filter conditions
// used by PATCH.
//
// The package is pure: it does no I/O. Documents come from a Source, which
// yields them in ascending key order; SliceSource is an in-memory Source for
// tests and small callers.
//
// Every error returned to a caller is a *resource.Error of kind BadRequest
// (syntax and semantic errors, unknown parameters, bad continuation tokens),
// except errors from the Source and context cancellation, which are passed
// through unchanged.
package query
