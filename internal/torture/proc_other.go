//go:build !linux

package torture

import "os/exec"

// orphanGuard does nothing outside Linux (no parent-death signal).
func orphanGuard(*exec.Cmd) {}
