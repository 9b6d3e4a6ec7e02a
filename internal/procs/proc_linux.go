package procs

import (
	"os"
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill the child if its starter dies, so a
// crashed or interrupted run leaves no servers behind.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

func pause(p *os.Process) error  { return p.Signal(syscall.SIGSTOP) }
func resume(p *os.Process) error { return p.Signal(syscall.SIGCONT) }
