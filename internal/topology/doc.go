// Package topology describes an account's layout: its regions (name, id,
// client endpoint, peer address, failover priority), which region accepts
// writes, the consistency policy and the simulated WAN links between
// regions. It loads and validates the topology file used by
// `meridian serve --topology` and builds the default layout of
// `meridian dev`.
package topology
