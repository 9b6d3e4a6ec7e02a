//go:build !unix

package worker

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// On systems without Unix process groups (Windows), a command is stopped by
// killing its process; what it started is not tracked. Its late reports are
// still fenced out by the lease epoch.

func sysProcAttr(*identity) *syscall.SysProcAttr { return nil }

// supervised runs the command as it is.
func supervised(name string, args []string, _ time.Duration) (string, []string) { return name, args }

func startCmd(cmd *exec.Cmd) error { return cmd.Start() }

func signalGroup(pid int, _ bool) {
	if p, err := os.FindProcess(pid); err == nil {
		_ = p.Kill()
	}
}

func exitCode(ps *os.ProcessState) int { return ps.ExitCode() }

const canScanProcs = false

func scanProcs(dst []procSample) []procSample { return dst }

func resolveIdentity(name string) (*identity, error) {
	if name != "" {
		return nil, errors.New("Config.ShellUser is not supported on this system")
	}
	return nil, nil
}
