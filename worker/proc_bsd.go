//go:build unix && !linux

package worker

import (
	"os/exec"
	"syscall"
	"time"
)

// sysProcAttr: these systems have no parent-death signal; a command
// outliving a killed worker is fenced out by its lease epoch.
func sysProcAttr(id *identity) *syscall.SysProcAttr { return baseSysProcAttr(id) }

// supervised runs the command as it is: with no parent-death signal there
// is nothing for a supervisor to react to.
func supervised(name string, args []string, _ time.Duration) (string, []string) { return name, args }

func startCmd(cmd *exec.Cmd) error { return cmd.Start() }

// Process groups are not sampled here: usage is the CPU time of rusage at
// exit, without a memory peak.
const canScanProcs = false

func scanProcs(dst []procSample) []procSample { return dst }
