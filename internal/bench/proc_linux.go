package bench

import (
	"os"
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill the child if bench dies, so a crashed
// or interrupted run leaves no servers behind.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// pause stops a process where it stands; resume lets it go on.
func pause(p *os.Process) error  { return p.Signal(syscall.SIGSTOP) }
func resume(p *os.Process) error { return p.Signal(syscall.SIGCONT) }
