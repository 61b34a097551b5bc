package torture

import (
	"os/exec"
	"syscall"
)

// orphanGuard makes the kernel SIGKILL a region if the harness dies (a
// test timeout, kill -9 of the harness) so that no server outlives it.
func orphanGuard(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
