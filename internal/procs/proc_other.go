//go:build !linux

package procs

import (
	"errors"
	"os"
	"os/exec"
)

// dieWithParent is a no-op where the kernel has no parent-death signal.
func dieWithParent(*exec.Cmd) {}

var errNoPause = errors.New("pausing a process needs SIGSTOP, which this system lacks")

func pause(*os.Process) error  { return errNoPause }
func resume(*os.Process) error { return errNoPause }
