package bench

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill the child if bench dies, so a crashed
// or interrupted run leaves no servers behind.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
