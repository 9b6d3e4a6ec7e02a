//go:build unix && !linux

package worker

import (
	"os/exec"
	"syscall"
)

// sysProcAttr: these systems have no parent-death signal; a command
// outliving a killed worker is fenced out by its lease epoch.
func sysProcAttr(id *identity) *syscall.SysProcAttr { return baseSysProcAttr(id) }

func startCmd(cmd *exec.Cmd) error { return cmd.Start() }

// Process groups are not sampled here: usage is the CPU time of rusage at
// exit, without a memory peak.
const canScanProcs = false

func scanProcs(dst []procSample) []procSample { return dst }
