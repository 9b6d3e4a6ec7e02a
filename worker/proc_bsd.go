//go:build unix && !linux

package worker

import (
	"os"
	"os/exec"
	"runtime"
	"syscall"
)

// sysProcAttr: these systems have no parent-death signal; a command
// outliving a killed worker is fenced out by its lease epoch.
func sysProcAttr(id *identity) *syscall.SysProcAttr { return baseSysProcAttr(id) }

func startCmd(cmd *exec.Cmd) error { return cmd.Start() }

// maxRSSMB: ru_maxrss is in bytes on Darwin, KiB on the BSDs.
func maxRSSMB(ps *os.ProcessState) float64 {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0
	}
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return float64(ru.Maxrss) / (1 << 20)
	}
	return float64(ru.Maxrss) / 1024
}

// Process groups are not sampled here; usage comes from rusage at exit.
const canScanProcs = false

func scanProcs(dst []procSample) []procSample { return dst }
