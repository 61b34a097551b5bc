// Package catalog holds an account's metadata: databases, containers and
// their offers (provisioned throughput). Every change is validated, applied
// to the in-memory state and written to storage in one synced batch before
// it is acknowledged.
//
// Changes are expressed as Commands that carry everything they depend on
// (including the timestamp), so applying the same command sequence gives the
// same state everywhere: the control plane can replicate the catalog by
// replicating commands.
package catalog
