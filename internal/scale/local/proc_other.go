//go:build !unix

package local

import (
	"os"
	"os/exec"
)

// ownGroup does nothing where there are no process groups.
func ownGroup(*exec.Cmd) {}

// killGroup kills p alone where there are no process groups.
func killGroup(p *os.Process) error { return p.Kill() }
